#!/bin/sh
# Progress (issue 16): on a terminal every long phase of train, predict and
# eval redraws one line saying what it does, how far it is, the rate and
# an ETA; --no-progress and -q show none; without a terminal --progress
# forces the lines. A terminal is a pty from script(1) (util-linux). And
# every output is checked before any work: a missing directory for train
# -o, train --log or predict -o is one line and exit 1, with nothing
# converted and nothing left.
. "$top_srcdir/tests/cli/lib.sh"

command -v script >/dev/null || { fail "script(1) (util-linux, bsdutils) is not installed"; finish; }

# 8000 rows, 100 features, 10 classes: enough work that the solve's and
# the prediction's lines are drawn (the first after 1/6 s)
awk 'BEGIN { srand(5); printf "label"; for (j = 0; j < 100; j++) printf ",x%d", j; print ""
             for (i = 0; i < 8000; i++) { k = i % 10; printf "c%d", k
                 for (j = 0; j < 100; j++) printf ",%.3f", rand() + (j == k); print "" } }' >w.csv
head -n 2001 w.csv >small.csv
{ cat w.csv; tail -n +2 w.csv; } >twice.csv
mkdir td

# on_tty CMD: run CMD (a string) on a pty; its output, each '\r'-drawn
# line on a line of its own, trailing blanks and ANSI sequences removed
on_tty() {
    script -qec "$1" /dev/null </dev/null >raw 2>&1
    st=$?
    tr '\r' '\n' <raw | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/ *$//' | grep -v '^$' >lines
}
# has_line REGEX: a line of the output matches REGEX (extended) whole
has_line() {
    grep -E -q "^$1\$" lines && pass || fail "no line matching '$1' in: $(head -c 1500 lines)"
}
num='[0-9]+'
pct=' *[0-9]+\.[0-9]%'
eta="eta $num:[0-9][0-9]:[0-9][0-9]"

on_tty "$KMILL train --tmpdir td w.csv -o m.kmm"
[ $st -eq 0 ] && pass || fail "train on a pty: exit $st: $(cat lines)"
has_line "kmill train: conjugate gradients:$pct $num iterations, $num iterations/s, $eta, residual [0-9.e+-]+, target 0\.0001"
has_line "kmill train: n=8000 d=100 classes=10 kernel=laplace .* time=[0-9.]+s train-accuracy=.*"
on_tty "$KMILL train small.csv -o s.kmm"
has_line "kmill train: direct solve: Cholesky factorisation of the 2000 x 2000 kernel matrix"

on_tty "$KMILL predict m.kmm twice.csv -o p.csv"
[ $st -eq 0 ] && [ "$(wc -l <p.csv)" -eq 16001 ] && pass || fail "predict on a pty: exit $st"
has_line "kmill predict: predicting:$pct $num rows, $num rows/s, $eta"
on_tty "$KMILL eval m.kmm twice.csv"
has_line "kmill eval: evaluating:$pct $num rows, $num rows/s, $eta"
has_line "rows	16000"

# none with --no-progress or -q: the summary alone, or nothing (not even
# the direct solve's line, drawn at once)
for opt in --no-progress:1 -q:0; do
    want=${opt#*:} opt=${opt%:*}
    on_tty "$KMILL train $opt small.csv -o m2.kmm"
    [ $st -eq 0 ] && [ "$(wc -l <lines)" -eq "$want" ] && pass ||
        fail "train $opt on a pty: exit $st, showed: $(head -c 600 lines)"
    on_tty "$KMILL eval $opt m.kmm twice.csv"
    [ $st -eq 0 ] && ! grep -q 'evaluating' lines && pass || fail "eval $opt showed progress"
done

# without a terminal: nothing within 10 s, unless forced
expect_status 0 "$KMILL" train small.csv -o m2.kmm
! grep -q "$(printf '\r')" err && [ "$(wc -l <err)" -eq 1 ] && pass ||
    fail "progress without a terminal: $(head -c 600 err)"
expect_status 0 "$KMILL" train --progress w.csv -o m2.kmm
tr '\r' '\n' <err | sed 's/ *$//' >lines
has_line "kmill train: conjugate gradients:$pct $num iterations, $num iterations/s, $eta, .*"
expect_status 0 "$KMILL" eval --progress m.kmm twice.csv
tr '\r' '\n' <err | sed 's/ *$//' >lines
has_line "kmill eval: evaluating:$pct $num rows, $num rows/s, $eta"

# outputs checked before any work: one line (-v would say "converting"),
# exit 1, nothing in td or here that was not there
before=$(ls -A . td)
nowork() {
    msg=$1
    shift
    expect_status 1 "$@"
    expect_err_line "$msg"
    [ "$(wc -l <err)" -eq 1 ] && pass || fail "'$*' said more: $(cat err)"
    [ "$(ls -A . td)" = "$before" ] && pass || fail "'$*' left: $(ls -A . td)"
}
nowork "kmill train: cannot create nodir/x.kmm: No such file or directory" \
    "$KMILL" train -v --tmpdir td w.csv -o nodir/x.kmm
nowork "kmill train: cannot create nodir/x.tsv: No such file or directory" \
    "$KMILL" train -v --rfm --tmpdir td --log nodir/x.tsv w.csv -o x.kmm
nowork "kmill train: cannot create w.csv/x.kmm: Not a directory" \
    "$KMILL" train -v --tmpdir td w.csv -o w.csv/x.kmm
nowork "kmill predict: cannot create nodir/p.csv: No such file or directory" \
    "$KMILL" predict -v --tmpdir td m.kmm w.csv -o nodir/p.csv
# and the same without O_TMPFILE, where the probe has a name
KMILL_FAULT_NO_TMPFILE=1
export KMILL_FAULT_NO_TMPFILE
nowork "kmill predict: cannot create nodir/p.csv: No such file or directory" \
    "$KMILL" predict -v --tmpdir td m.kmm w.csv -o nodir/p.csv
expect_status 0 "$KMILL" predict m.kmm small.csv -o p2.csv
[ "$(ls -A | grep -c '\.tmp\.')" -eq 0 ] && [ -s p2.csv ] && pass || fail "left: $(ls -A)"

finish
