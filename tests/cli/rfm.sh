#!/bin/sh
# train --rfm, model selection and `kmill features` end to end: the RFM
# authors' low-rank task through CSV, grids and the --log TSV, refit,
# spilled against in-RAM RFM runs (same M), and the bad inputs of the RFM
# issue: usage errors exit 2, a zero AGOP exits 1 leaving no model (and
# no --log: the log is written atomically too).
. "$top_srcdir/tests/cli/lib.sh"

# y = x0 x1 1[x5 > 0], x ~ N(0, 0.25 I) in d = 20 (Box-Muller in awk)
gen() {
    awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed); pi = 3.141592653589793;
      for (k = 0; k < 20; k++) printf "x%d,", k; print "y";
      for (i = 0; i < n; i++) {
        for (k = 0; k < 20; k++) {
          u = rand(); v = rand(); x[k] = 0.5 * sqrt(-2 * log(1 - u)) * cos(2 * pi * v);
          printf "%.6g,", x[k] }
        print x[0] * x[1] * (x[5] > 0) } }'
}
gen 1 4000 >lr-train.csv
gen 2 4000 >lr-test.csv

expect_status 0 "$KMILL" train --rfm --scale none --bandwidth 10 --reg 1e-3 --no-refit --val lr-test.csv \
    --log lr.tsv lr-train.csv -o lr.kmm &&
    expect_contains err "iteration 5/5: validation MSE" &&
    expect_contains err "chosen: L=10 reg=0.001 iteration="
[ "$(head -n 1 lr.tsv)" = "$(printf 'bandwidth\treg\titeration\tval_mse\ttrain_rmse\tsolve_seconds\tagop_seconds\tcg_iterations')" ] &&
    [ "$(wc -l <lr.tsv)" -eq 7 ] && pass || fail "--log: $(cat lr.tsv)"
# the test MSE falls below 0.3 of iteration 0's
awk -F'\t' 'NR == 2 { m0 = $4 } NR > 2 { last = $4 } END { exit !(last < 0.3 * m0) }' lr.tsv &&
    pass || fail "MSE did not fall below 0.3x: $(cut -f 3,4 lr.tsv | tr '\n' ' ')"
# and M's diagonal puts 90% of its trace on x0, x1, x5
expect_status 0 "$KMILL" features --top 0 lr.kmm &&
    awk -F'\t' '$1 ~ /^[0-9]+$/ && NF == 4 && $4 ~ /^x/ { if ($4 == "x0" || $4 == "x1" || $4 == "x5") s += $3 }
        /^$/ { exit } END { exit !(s >= 0.9) }' out && pass || fail "features: $(head -n 8 out)"
head -n 5 out | tail -n 3 | cut -f 4 | sort | tr '\n' ' ' | grep -q '^x0 x1 x5 $' && pass ||
    fail "top three columns: $(head -n 5 out)"
expect_contains out "full feature matrix over 20 features"
expect_status 0 "$KMILL" features --json lr.kmm &&
    expect_contains out '"metric":"full","features":20' && expect_contains out '"column":"x5"'
expect_status 0 "$KMILL" features --matrix lr.kmm
[ "$(wc -l <out)" -eq 21 ] && [ "$(head -n 1 out)" = "x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,x10,x11,x12,x13,x14,x15,x16,x17,x18,x19" ] &&
    pass || fail "--matrix: $(head -n 2 out)"
# info says what it is: an RFM with a full M, trained without a split
expect_status 0 "$KMILL" info lr.kmm &&
    expect_contains out "kind:       Recursive Feature Machine, full M (iteration " &&
    expect_contains out " of 5 kept)" && expect_contains out "M:          full, 20 x 20" &&
    expect_contains out "rows:       4000 trained on, 4000 for validation"
expect_status 0 "$KMILL" info --json lr.kmm && expect_contains out '"kind":"rfm","task":"regression"' &&
    expect_contains out '"metric":"full","centres":4000,"features":20,"outputs":1' &&
    expect_contains out '"selection":{"rfm_iterations":5,"best_iteration":'
# the model predicts like any other
expect_status 0 "$KMILL" eval lr.kmm lr-test.csv

# a kernel-only grid: 2 x 2 steps on a 20% split, then refit on all rows;
# diagonal M with a categorical column, summed back to its column
awk 'BEGIN { srand(11); print "a,b,colour,noise,label";
  for (i = 0; i < 1500; i++) { a = rand(); b = rand(); k = int(rand() * 3);
    c = (k == 0) ? "red" : (k == 1) ? "green" : "blue"; z = rand();
    print a "," b "," c "," z "," ((a + (k == 1) > 0.9) ? "yes" : "no") } }' >cat.csv
expect_status 0 "$KMILL" train --bandwidth 1,10 --reg 1e-3,1e-2 --val-frac 0.2 --refit \
    --log grid.tsv cat.csv -o grid.kmm &&
    expect_contains err "(validation accuracy" &&
    expect_contains err "1200 training, 300 validation rows; refitted on both" &&
    expect_contains err "n=1500 "
[ "$(wc -l <grid.tsv)" -eq 5 ] && [ "$(cut -f 1,2 grid.tsv | sort -u | wc -l)" -eq 5 ] && pass ||
    fail "grid log: $(cat grid.tsv)"
expect_status 0 "$KMILL" info grid.kmm && expect_contains out "kind:       kernel machine" &&
    expect_contains out "centres:    1500" &&
    expect_contains out "rows:       1200 trained on, 300 for validation; refitted on both"
expect_status 1 "$KMILL" features grid.kmm &&
    expect_err_line "kmill features: grid.kmm: no learned feature matrix (trained without --rfm): nothing to rank"
expect_status 0 "$KMILL" train --rfm --diag --iters 2 --center-grads cat.csv -o diag.kmm &&
    expect_contains err "iteration 2/2"
expect_status 0 "$KMILL" features diag.kmm &&
    expect_contains out "diagonal feature matrix over 6 features" &&
    [ "$(grep -c 'colour$' out)" -eq 1 ] && pass || fail "one-hot levels not summed: $(cat out)"

# RFM on spilled tiles gives the M of the run in RAM
"$KMILL" convert -q cat.csv -o cat.kmx
mkdir sp
expect_status 0 "$KMILL" train -v --rfm --iters 2 --threads 2 --solver pcg --rank 100 --scale standard --store spill \
    --mem 70M --tmpdir sp cat.kmx -o s.kmm && expect_contains err "spilled"
expect_status 0 "$KMILL" train --rfm --iters 2 --threads 2 --solver pcg --rank 100 --scale standard --mem 8G cat.kmx -o r.kmm
"$KMILL" features --matrix s.kmm | tail -n +2 | tr ',' '\n' >s.txt
"$KMILL" features --matrix r.kmm | tail -n +2 | tr ',' '\n' >r.txt
paste s.txt r.txt | awk '{ d += ($1 - $2)^2; n += $2^2 } END { exit !(n > 0 && sqrt(d / n) <= 1e-4) }' &&
    pass || fail "spilled and in-RAM M differ"
[ -z "$(ls -A sp)" ] && pass || fail "spill left behind: $(ls -A sp)"

# bad input
for bad in "--iters -1" "--val-frac 0" "--val-frac 1.5" "--bandwidth 1,0" "--reg 0,1e-3" \
    "--bandwidth -3" "--reg 1e-3,-2"; do
    # shellcheck disable=SC2086
    expect_status 2 "$KMILL" train --rfm $bad cat.csv -o bad.kmm
done
expect_contains err "must be a list of positive numbers"
cut -d, -f 1,2,5 cat.csv >other.csv
expect_status 2 "$KMILL" train --rfm --val other.csv cat.csv -o bad.kmm &&
    expect_err_line "kmill train: the validation data other.csv lacks the training data's column 'colour'"
awk 'BEGIN { print "p,q,target"; for (i = 0; i < 200; i++) print rand() "," rand() ",0" }' >zero.csv
echo "the previous log" >keep.tsv
# (a constant label is refused before any solve; the AGOP of a constant
# predictor: unit test agop/zero_coefficients_are_an_error_not_a_nan_metric)
expect_status 1 "$KMILL" train --rfm --log keep.tsv zero.csv -o bad.kmm &&
    expect_contains err "the label 'target' has one value, 0, in every labelled row"
[ ! -e bad.kmm ] && pass || fail "a model was left after an error"
# the log is renamed into place only when training succeeds
[ "$(cat keep.tsv)" = "the previous log" ] && pass || fail "--log replaced after an error: $(cat keep.tsv)"
[ -z "$(ls -A | grep '^\.keep\.tsv\.tmp')" ] && pass || fail "--log left its temporary file"
expect_status 1 "$KMILL" train --rfm --log nodir/x.tsv cat.csv -o bad.kmm &&
    expect_contains err "cannot create nodir/x.tsv" && [ ! -e bad.kmm ] && pass ||
    fail "--log into a missing folder"
finish
