#!/bin/sh
# Signals and temporaries (issue 15, finding 8): SIGTERM, SIGHUP, SIGQUIT
# and SIGINT stop a run at the next safe point with 128 + the signal's
# number, nothing left behind; kill -9 leaves nothing where the file
# system has O_TMPFILE, and where it has not (simulated), what it leaves
# carries the dead process's pid and the next run removes it.
. "$top_srcdir/tests/cli/lib.sh"

awk 'BEGIN { print "a,b,c"; for (i = 0; i < 200000; i++) print i "," i * 0.5 "," i % 7 }' >big.csv
head -n 2000 big.csv >small.csv
mkdir td

# run_stalled SIGNAL CMD...: CMD reads a pipe that stalls after 2 MB;
# send SIGNAL after a second; $st is its exit status
run_stalled() {
    sig=$1
    shift
    rm -f slow
    mkfifo slow
    ( head -c 2000000 big.csv; sleep 30 ) >slow &
    feeder=$!
    "$@" 2>err &
    pid=$!
    sleep 1
    kill -"$sig" $pid
    wait $pid
    st=$?
    kill $feeder 2>/dev/null
    wait $feeder 2>/dev/null
    rm -f slow
}

# left: the names of temporaries in . and td
left() { ls -A . td | grep -e '\.tmp\.' -e 'kmill-input' -e '^out\.kmx$'; }

for s in TERM:143:SIGTERM HUP:129:SIGHUP QUIT:131:SIGQUIT INT:130:; do
    sig=${s%%:*} rest=${s#*:}
    want=${rest%%:*} name=${rest#*:}
    run_stalled $sig "$KMILL" convert slow -o out.kmx
    [ $st -eq $want ] && pass || fail "convert, SIG$sig: exit $st, expected $want: $(cat err)"
    if [ -n "$name" ]; then
        expect_err_line "kmill convert: stopped by $name"
    else
        expect_err_line "kmill convert: interrupted"
    fi
    [ -z "$(left)" ] && pass || fail "left after SIG$sig: $(left)"
done
# the on-the-fly conversion of train, into --tmpdir
run_stalled TERM "$KMILL" train --tmpdir td --label c slow -o m.kmm
[ $st -eq 143 ] && pass || fail "train, SIGTERM: exit $st: $(cat err)"
[ -z "$(left)" ] && [ ! -e m.kmm ] && pass || fail "left after train's SIGTERM: $(left)"

# kill -9: with O_TMPFILE the data never had a name
run_stalled KILL "$KMILL" convert slow -o out.kmx
[ $st -eq 137 ] && pass || fail "kill -9 exit $st"
[ -z "$(left)" ] && pass || fail "left after kill -9: $(left)"
# without O_TMPFILE (simulated) a named temporary is left, with the pid ...
KMILL_FAULT_NO_TMPFILE=1
export KMILL_FAULT_NO_TMPFILE
run_stalled KILL "$KMILL" convert slow -o out.kmx
[ "$(left | grep -c "^\.out\.kmx\.tmp\..*\.$pid\.......\$")" -eq 1 ] && pass ||
    fail "kill -9 without O_TMPFILE left: $(left)"
run_stalled KILL "$KMILL" train --tmpdir td --label c slow -o m.kmm
[ "$(ls -A td | grep -c "\.$pid\.")" -ge 1 ] && pass || fail "train's kill -9 left: $(ls -A td)"
# ... which the next run in the same directory removes (and not a live one's)
sleep 60 &
live=$!
host=$(ls -A td | sed -n 's/^\.kmill-input\.tmp\.\(.*\)\.[0-9]*\.......$/\1/p' | head -n 1)
: >".keep.tmp.$host.$live.abcdef"
expect_status 0 "$KMILL" convert small.csv -o small.kmx
expect_status 0 "$KMILL" train --tmpdir td --label c small.csv -o m.kmm
[ -z "$(left | grep -v "^\.keep\.tmp\.")" ] && pass || fail "not removed by the next run: $(left)"
[ -e ".keep.tmp.$host.$live.abcdef" ] && pass || fail "a live process's temporary was removed"
kill $live
wait $live 2>/dev/null
# an interrupted run without O_TMPFILE removes its own temporary too
run_stalled TERM "$KMILL" convert slow -o out.kmx
[ $st -eq 143 ] && [ -z "$(left | grep -v "^\.keep\.tmp\.")" ] && pass ||
    fail "SIGTERM without O_TMPFILE: exit $st, left: $(left)"
# and the output is the same either way
expect_status 0 "$KMILL" cat small.kmx
cmp -s out small.csv && pass || fail "named-temporary output differs"
# SIGINT during the AGOP of --rfm (20 classes: 6 s here) takes effect
# within a second or so: the pass checks after every tile of centres. The
# signal goes once its progress line (forced) says the AGOP runs.
unset KMILL_FAULT_NO_TMPFILE
awk 'BEGIN { srand(5); printf "label"; for (j = 0; j < 100; j++) printf ",x%d", j; print ""
             for (i = 0; i < 12000; i++) { k = i % 20; printf "c%d", k
                 for (j = 0; j < 100; j++) printf ",%.3f", rand() + (j == k); print "" } }' >w.csv
expect_status 0 "$KMILL" convert w.csv -o w.kmx
"$KMILL" train --rfm --iters 1 --progress w.kmx -o w.kmm 2>err &
pid=$!
i=0
while ! grep -q 'AGOP: ' err && [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
grep -q 'AGOP: ' err && pass || fail "no AGOP line within 120 s: $(tr '\r' '\n' <err | tail -n 3)"
t0=$(date +%s%N)
kill -INT $pid
wait $pid
st=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $st -eq 130 ] && pass || fail "SIGINT in the AGOP: exit $st"
[ $ms -lt 3000 ] && pass || fail "SIGINT in the AGOP took $ms ms to take effect"
[ "$(tr '\r' '\n' <err | tail -n 1)" = "kmill train: interrupted" ] && pass ||
    fail "SIGINT in the AGOP said: $(tr '\r' '\n' <err | tail -n 2)"
[ ! -e w.kmm ] && [ -z "$(left)" ] && pass || fail "left after SIGINT in the AGOP: $(left)"
finish
