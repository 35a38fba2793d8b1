#!/bin/sh
# predict --proba (issue 16): class probabilities softmax(scores / T),
# with T fitted at training on the validation rows (kmill/calib.h). Each
# row's probabilities sum to 1, their largest is the prediction's, and
# they are the softmax of the --scores columns at the temperature train
# -v reports. A model with no temperature (no validation rows, or
# cross-validation) or a regression is refused in one line, nothing written.
. "$top_srcdir/tests/cli/lib.sh"

# three classes on two features, with noise near the boundaries
awk 'BEGIN { srand(3); print "x,y,label"
    for (i = 0; i < 400; i++) { x = rand() * 4 - 2; y = rand() * 4 - 2
        l = (x * x + y * y + (rand() - 0.5) < 1.5) ? "in" : (x > 0 ? "right" : "left")
        print x "," y "," l } }' >c.csv
expect_status 0 "$KMILL" train -v c.csv --label label --val-frac 0.25 -o c.kmm
T=$(sed -n 's/^kmill train: probabilities: temperature \([^,]*\), validation log-loss .* on 100 rows$/\1/p' err)
[ -n "$T" ] && pass || fail "train -v did not report the temperature: $(cat err)"
expect_status 0 "$KMILL" info c.kmm && expect_contains out "proba:      softmax temperature $T, fitted on 100 validation rows (log-loss "
expect_status 0 "$KMILL" info --json c.kmm && expect_contains out '"temperature":{"T":' &&
    expect_contains out ',"rows":100,"log_loss":'

expect_status 0 "$KMILL" predict -q c.kmm c.csv --scores --proba -o p.csv
[ ! -s out ] && pass || fail "-o also wrote to standard output"
expect_status 0 "$KMILL" predict -q c.kmm c.csv --scores
sh=$(head -n 1 out)
[ "$(head -n 1 p.csv)" = "$sh,$(echo "$sh" | sed 's/^prediction,//; s/score_/prob_/g')" ] && pass ||
    fail "header: $(head -n 1 p.csv)"
# the predictions and scores are those without --proba
cut -d, -f1-4 p.csv | cmp -s - out && pass || fail "--proba changed the predictions or scores"

# per row: probabilities in [0, 1] summing to 1, the largest the
# prediction's class, and each softmax(score / T)
awk -F, -v T="$T" 'NR == 1 { for (j = 2; j <= 4; j++) cls[j] = substr($j, 7); next }
    { mx = $2; for (j = 3; j <= 4; j++) if ($j > mx) mx = $j
      z = 0; for (j = 2; j <= 4; j++) z += exp(($j - mx) / T)
      sum = 0; best = 5
      for (j = 5; j <= 7; j++) {
          if ($j < 0 || $j > 1) { print "row " NR ": probability " $j; bad++ }
          sum += $j; if ($j > $best) best = j
          want = exp(($(j - 3) - mx) / T) / z
          if ((d = $j - want) > 1e-5 || d < -1e-5) { print "row " NR ": " $j " not " want; bad++ }
      }
      if ((d = sum - 1) > 1e-5 || d < -1e-5) { print "row " NR ": sum " sum; bad++ }
      if (cls[best - 3] != $1) { print "row " NR ": largest " cls[best - 3] ", predicted " $1; bad++ }
      rows++ }
    END { if (rows != 400) { print rows " rows"; bad++ } exit bad > 0 }' p.csv >check &&
    pass || fail "probabilities: $(head -n 5 check)"

# a model trained with a validation file has a temperature too
head -n 301 c.csv >tr.csv
{ head -n 1 c.csv; tail -n 100 c.csv; } >va.csv
expect_status 0 "$KMILL" train -q tr.csv --label label --val va.csv -o v.kmm
expect_status 0 "$KMILL" predict -q v.kmm va.csv --proba && [ "$(wc -l <out)" -eq 101 ] && pass ||
    fail "--val model: $(head -n 3 out)"

# none: no validation rows, or cross-validation; a regression
msg="no class probabilities (--proba): the model has no temperature fitted on validation rows; train it with --val-frac or --val"
expect_status 0 "$KMILL" train -q c.csv --label label -o n.kmm
expect_status 1 "$KMILL" predict n.kmm c.csv --proba -o q.csv &&
    expect_err_line "kmill predict: n.kmm: $msg"
[ ! -e q.csv ] && [ ! -s out ] && pass || fail "refused, yet wrote: $(ls)"
expect_status 0 "$KMILL" train -q c.csv --label label --cv 4 -o r.kmm
expect_status 1 "$KMILL" predict r.kmm c.csv --proba && expect_err_line "kmill predict: r.kmm: $msg"
awk -F, 'NR == 1 { print "x,y,v"; next } { print $1 "," $2 "," $1 * $2 }' c.csv >g.csv
expect_status 0 "$KMILL" train -q g.csv --label v --val-frac 0.25 -o g.kmm
expect_status 1 "$KMILL" predict g.kmm g.csv --proba &&
    expect_err_line "kmill predict: g.kmm: a regression model has no class probabilities (--proba)"

finish
