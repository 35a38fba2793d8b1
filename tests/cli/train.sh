#!/bin/sh
# train / predict / eval end to end: a round trip through CSV from a pipe,
# spilled against in-RAM training, and every bad input of the kernel-machine
# issue: one clear line, exit 1 (2 for usage), nothing left behind.
. "$top_srcdir/tests/cli/lib.sh"

# two noisy classes in the plane plus a categorical column; some rows
# have a missing feature value, two have no label
awk 'BEGIN { srand(7); print "x,y,shape,label";
  for (i = 0; i < 3000; i++) {
    c = i % 2; x = rand() + c * 0.8; y = rand() - c * 0.5; s = (i % 3 == 0) ? "round" : "square";
    if (i % 97 == 5) x = "NA";
    l = c ? "blue" : "red"; if (i == 10 || i == 20) l = "";
    print x "," y "," s "," l } }' >train.csv
awk 'BEGIN { srand(8); print "label,y,x,shape,extra";
  for (i = 0; i < 500; i++) {
    c = i % 2; x = rand() + c * 0.8; y = rand() - c * 0.5; s = (i % 3 == 0) ? "round" : "square";
    print (c ? "blue" : "red") "," y "," x "," s ",zzz" } }' >test.csv

# CSV from a pipe, converted on the fly
expect_status 0 sh -c "cat train.csv | '$KMILL' train --tmpdir . --bandwidth 1 - -o m.kmm" &&
    expect_contains err "2 of 3000 rows dropped: their label 'label' is missing" &&
    expect_contains err "n=2998 d=4 classes=2"
[ "$(ls -A | grep -c kmill-input)" -eq 0 ] && pass || fail "temporary dataset left: $(ls -A)"
# columns are matched by name; an extra one is ignored
expect_status 0 "$KMILL" predict m.kmm test.csv -o pred.csv
[ "$(head -n 1 pred.csv)" = prediction ] && [ "$(wc -l <pred.csv)" -eq 501 ] && pass ||
    fail "predict output: $(head -n 3 pred.csv)"
expect_status 0 "$KMILL" eval --json m.kmm test.csv &&
    awk -F'"accuracy": ' '{ split($2, a, ","); exit !(a[1] > 0.85) }' out && pass ||
    fail "eval accuracy too low: $(cat out)"
expect_status 0 "$KMILL" predict --scores m.kmm test.csv
[ "$(head -n 1 out)" = "prediction,score_blue,score_red" ] || [ "$(head -n 1 out)" = "prediction,score_red,score_blue" ] &&
    pass || fail "scores header: $(head -n 1 out)"

# spilled tiles (and recomputed ones) give the model trained in RAM
"$KMILL" convert -q train.csv -o train.kmx
"$KMILL" convert -q test.csv -o test.kmx
for store in spill recompute; do
    mkdir -p sp
    expect_status 0 "$KMILL" train -v --threads 2 --rank 100 --solver pcg --store $store --mem 96M --tmpdir sp --bandwidth 1 \
        train.kmx -o s.kmm && expect_contains err "kernel tiles:"
    "$KMILL" train -q --threads 2 --rank 100 --solver pcg --mem 8G --bandwidth 1 train.kmx -o r.kmm
    "$KMILL" predict --scores s.kmm test.kmx >s.csv
    "$KMILL" predict --scores r.kmm test.kmx >r.csv
    cmp -s s.csv r.csv && pass || fail "--store $store: predictions differ from the in-RAM run"
    [ -z "$(ls -A sp)" ] && pass || fail "spill left behind: $(ls -A sp)"
done

# regression: a smooth function of two inputs; eval reports its errors
awk 'BEGIN { srand(3); print "u,v,target";
  for (i = 0; i < 1500; i++) { u = rand(); v = rand(); print u "," v "," sin(3 * u) + v * v } }' >reg.csv
expect_status 0 "$KMILL" train --kernel gaussian --bandwidth 1 --reg 1e-4 reg.csv -o reg.kmm &&
    expect_contains err "train-rmse="
awk 'BEGIN { srand(4); print "v,u,target";
  for (i = 0; i < 300; i++) { u = rand(); v = rand(); print v "," u "," sin(3 * u) + v * v } }' >regtest.csv
expect_status 0 "$KMILL" eval --json reg.kmm regtest.csv &&
    awk -F'"r2": ' '{ split($2, a, "}"); exit !(a[1] > 0.999) }' out && pass ||
    fail "regression R^2 too low: $(cat out)"
expect_status 0 "$KMILL" predict reg.kmm regtest.csv &&
    [ "$(sed -n 2p out | awk -F, '{ print ($1 > -2 && $1 < 3) }')" = 1 ] && pass || fail "regression predictions: $(head -n 3 out)"

# bad input -------------------------------------------------------------
printf 'a,b\n1,2\n3,4\n' >nolabel.csv
expect_status 1 "$KMILL" train nolabel.csv -o x.kmm && expect_contains err "label"
[ ! -e x.kmm ] && pass || fail "model written despite the error"

printf 'label,y,shape\nred,1,round\n' >lacks.csv
expect_status 1 "$KMILL" predict m.kmm lacks.csv &&
    expect_err_line "kmill predict: the data has no column 'x', which the model needs"

printf 'x,y,shape\n0.5,0.5,triangle\n0.5,NA,round\n' >unseen.csv
expect_status 0 "$KMILL" predict m.kmm unseen.csv &&
    expect_contains err "1 categorical values unseen in training" &&
    [ "$(wc -l <out)" -eq 3 ] && pass || fail "unseen/NA rows not predicted"

expect_status 2 "$KMILL" train --reg -1 train.kmx -o x.kmm && expect_contains err "--reg"
expect_status 2 "$KMILL" train --bandwidth 0 train.kmx -o x.kmm && expect_contains err "--bandwidth"
expect_status 2 "$KMILL" train --kernel cosine train.kmx -o x.kmm

# a singular kernel (repeated rows) without a ridge
printf 'x,label\n1,0\n1,1\n2,0\n2,1\n' >sing.csv
expect_status 1 "$KMILL" train --reg 0 --solver direct --task regress sing.csv -o x.kmm &&
    expect_contains err "--reg"

# too small a budget: the minimum is stated
expect_status 1 "$KMILL" train --solver pcg --mem 40M train.kmx -o x.kmm &&
    expect_contains err "needs at least"

# the disk fills while spilling: clear error, spill removed, no model
mkdir -p full
KMILL_FAULT_ENOSPC_AFTER=100000 expect_status 1 "$KMILL" train --threads 2 --rank 100 --solver pcg --store spill --mem 96M \
    --tmpdir full train.kmx -o x.kmm && expect_contains err "No space left on device"
[ -z "$(ls -A full)" ] && [ ! -e x.kmm ] && pass || fail "left behind: $(ls -A full) $(ls x.kmm 2>&1)"

# a damaged model: one flipped byte, then a truncated copy
cp m.kmm bad.kmm
size=$(wc -c <bad.kmm)
printf '\377' | dd of=bad.kmm bs=1 seek=$((size - 200)) conv=notrunc 2>/dev/null
expect_status 1 "$KMILL" predict bad.kmm test.kmx && expect_contains err "checksum mismatch"
head -c $((size / 2)) m.kmm >short.kmm
expect_status 1 "$KMILL" eval short.kmm test.kmx && expect_contains err "truncated"
expect_status 1 "$KMILL" predict train.csv test.kmx && expect_contains err "not a kmill model file"

finish
