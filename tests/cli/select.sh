#!/bin/sh
# train's model selection (issue 16): --cv K against its own --log, the
# refit by default after a hold-out against --no-refit (the model's
# centres), the validation figure in the summary, the default bandwidth
# grid from the median distance between rows (computed here in awk), and
# the usage errors of the options.
. "$top_srcdir/tests/cli/lib.sh"

# two classes split by a + b > 1, one noise column; 200 rows
awk 'BEGIN { srand(5); print "a,b,noise,label";
  for (i = 0; i < 200; i++) { a = rand(); b = rand(); z = rand();
    print a "," b "," z "," ((a + b > 1) ? "up" : "down") } }' >two.csv

# --cv 4 on a clear-cut grid: a bandwidth of 1e-4 makes the kernel the
# identity, whose scores of unseen rows are all 0 (a guess), so L=1 wins
expect_status 0 "$KMILL" train --cv 4 --bandwidth 1e-4,1 --log cv.tsv two.csv -o cv.kmm &&
    expect_contains err "chosen: L=1 reg=0.001 (cross-validated accuracy " &&
    expect_contains err "; 4 folds of 200 rows; refitted on all); 9 solves " &&
    expect_contains err "fold 4 of 4: L=1 reg=0.001: validation accuracy " &&
    expect_contains err "n=200 d=3 classes=2 kernel=laplace L=1 reg=0.001 "
# the log: one line per fold and bandwidth, the fold last; the summary's
# cv-accuracy is the mean of L=1's four
[ "$(head -n 1 cv.tsv)" = "$(printf 'bandwidth\treg\titeration\tval_accuracy\ttrain_accuracy\tsolve_seconds\tagop_seconds\tcg_iterations\tfold')" ] &&
    [ "$(wc -l <cv.tsv)" -eq 9 ] && [ "$(cut -f 9 cv.tsv | tail -n +2 | sort | uniq -c | awk '$1 == 2' | wc -l)" -eq 4 ] &&
    pass || fail "--cv log: $(cat cv.tsv)"
cvacc=$(awk -F'\t' 'NR > 1 && $1 == 1 { s += $4; n++ } END { printf "cv-accuracy=%.4f", s / n }' cv.tsv)
expect_contains err "train-accuracy=1.0000 $cvacc"
awk -F'\t' 'NR > 1 && $1 == 1 { ok += $4 > 0.9 } NR > 1 && $1 < 1 { bad += $4 < 0.7 } END { exit !(ok == 4 && bad == 4) }' cv.tsv &&
    pass || fail "the grid is not clear-cut: $(cat cv.tsv)"
# info says how the model was chosen
expect_status 0 "$KMILL" info cv.kmm &&
    expect_contains out "rows:       200, in 4-fold cross-validation; refitted on all" &&
    expect_contains out "validation: cross-validated accuracy "
expect_status 0 "$KMILL" info --json cv.kmm && expect_contains out '"refit":true,"folds":4}' &&
    expect_contains out '"temperature":null'

# a hold-out: refitted on all 200 rows by default, on 160 with --no-refit;
# both print the validation figure of the same choice
expect_status 0 "$KMILL" train --bandwidth 1e-4,1 --val-frac 0.2 two.csv -o r.kmm &&
    expect_contains err "n=200 d=3" &&
    expect_contains err "160 training, 40 validation rows; refitted on both)"
grep '^kmill train: n=' err | sed 's/.* val-accuracy=//' >refit.val
expect_status 0 "$KMILL" train --bandwidth 1e-4,1 --val-frac 0.2 --no-refit two.csv -o nr.kmm &&
    expect_contains err "n=160 d=3" &&
    expect_contains err "160 training, 40 validation rows)"
grep '^kmill train: n=' err | sed 's/.* val-accuracy=//' >norefit.val
[ -s refit.val ] && cmp -s refit.val norefit.val && pass ||
    fail "val-accuracy differs: $(cat refit.val) against $(cat norefit.val)"
# --refit is the default, still accepted
expect_status 0 "$KMILL" train --bandwidth 1e-4,1 --val-frac 0.2 --refit two.csv -o r2.kmm &&
    expect_contains err "n=200 d=3"
# without a search there is no validation figure
expect_status 0 "$KMILL" train --bandwidth 1 two.csv -o p.kmm &&
    expect_contains err "train-accuracy=1.0000" &&
    ! grep -q "val-accuracy\|cv-accuracy" err && pass || fail "a validation figure without one"

# regression: the root of the validation MSE beside train-rmse
awk -F, 'NR == 1 { print "a,b,y"; next } { print $1 "," $2 "," $1 * $1 + $2 }' two.csv >reg.csv
expect_status 0 "$KMILL" train --cv 3 --reg 1e-3,1e-1 reg.csv -o reg.kmm &&
    expect_contains err "(cross-validated MSE " && expect_contains err " cv-rmse="

# the default bandwidths: 10 and 0.5, 1, 2, 4 x the median distance
# between the 200 rows (no scaling, so the features are the columns; --cv
# trains on all rows, a hold-out on the others)
awk -F, 'NR > 1 { a[NR] = $1; b[NR] = $2; n = NR }
    END { k = 0; for (i = 2; i <= n; i++) for (j = i + 1; j <= n; j++)
            d[++k] = sqrt((a[i] - a[j])^2 + (b[i] - b[j])^2);
          print k; for (i = 1; i <= k; i++) print d[i] }' reg.csv >pairs.txt
med=$(tail -n +2 pairs.txt | sort -g | awk -v k="$(head -n 1 pairs.txt)" '
    { v[NR] = $1 } END { m = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2; printf "%.17g", m }')
line=$(awk -v m="$med" 'BEGIN { printf "bandwidths to try: 10,%.4g,%.4g,%.4g,%.4g (the default and 0.5, 1, 2, 4 x the median distance between rows, %.4g)", m / 2, m, 2 * m, 4 * m, m }')
expect_status 0 "$KMILL" train --scale none --cv 2 reg.csv -o g.kmm &&
    expect_contains err "kmill train: $line"
# a given bandwidth is kept: no grid
expect_status 0 "$KMILL" train --scale none --rfm --iters 1 --bandwidth 3 reg.csv -o g.kmm &&
    ! grep -q "bandwidths to try" err && expect_contains err "chosen: L=3 "

# usage errors, and too few rows for the folds
expect_status 2 "$KMILL" train --cv 1 two.csv -o bad.kmm &&
    expect_err_line "kmill train: invalid --cv '1' (expected an integer from 2 to 100)"
expect_status 2 "$KMILL" train --cv 101 two.csv -o bad.kmm
expect_status 2 "$KMILL" train --cv 3 --val-frac 0.2 two.csv -o bad.kmm &&
    expect_err_line "kmill train: --cv and --val-frac exclude each other: the folds are the validation rows"
expect_status 2 "$KMILL" train --cv 3 --val reg.csv two.csv -o bad.kmm &&
    expect_err_line "kmill train: --cv and --val exclude each other: the folds are the validation rows"
expect_status 2 "$KMILL" train --cv 3 --no-refit two.csv -o bad.kmm &&
    expect_err_line "kmill train: --cv and --no-refit exclude each other: cross-validation keeps no model of its folds"
expect_status 2 "$KMILL" train --refit --no-refit --rfm two.csv -o bad.kmm &&
    expect_err_line "kmill train: --refit and --no-refit exclude each other"
head -n 6 two.csv >five.csv
expect_status 1 "$KMILL" train --cv 6 five.csv -o bad.kmm &&
    expect_err_line "kmill train: 5 labelled rows are too few for 6 folds"
[ ! -e bad.kmm ] && pass || fail "a model was left after an error"
expect_status 0 "$KMILL" train --no-refit --bandwidth 1 two.csv -o p.kmm &&
    expect_err_line "kmill train: warning: --refit, --no-refit and --log apply only when there is validation data (--rfm, a grid, --cv, --val or --val-frac)"
finish
