#!/bin/sh
# run.sh OUT SRCDIR SECONDS JOBS TARGET... - run the libFuzzer harnesses
# built into OUT (by fuzz.mk), JOBS at a time, each for SECONDS seconds.
#
# For each target: first the saved reproducers in SRCDIR/tests/fuzz/crashes/
# TARGET/ (regression inputs: each must now run clean), then fuzzing from
# the seeds in SRCDIR/tests/fuzz/corpus/TARGET/ (read only) and the inputs
# found so far in OUT/corpus/TARGET/ (kept between runs). A crash, leak,
# timeout or out-of-memory stops that target; the input is kept in
# OUT/findings/TARGET/ and the log in OUT/logs/TARGET.log. Exits 1 when any
# target failed, after printing every target's figures.
set -u
out=$1 src=$2 secs=$3 jobs=$4
shift 4
opts="-rss_limit_mb=2048 -timeout=10"
# FUZZ_SEED fixes libFuzzer's random choices: a run of S seconds then tries
# a prefix of the inputs a longer run with the same seed tries, from the
# same seeds (CI fuzzes from a fresh corpus with seed 1, so a longer local
# run with seed 1 has tried everything CI will)
[ -n "${FUZZ_SEED:-}" ] && opts="$opts -seed=$FUZZ_SEED"
# stacks for UBSan reports too
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS
mkdir -p "$out/logs" || exit 1

one() {
    t=$1
    bin=$out/fuzz-$t
    log=$out/logs/$t.log
    mkdir -p "$out/corpus/$t" "$out/findings/$t" "$out/tmp/$t"
    # the harnesses' temporary directories (one left behind by a crash)
    TMPDIR=$out/tmp/$t
    export TMPDIR
    : >"$log"
    reg=$src/tests/fuzz/crashes/$t
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
        # shellcheck disable=SC2086
        if ! "$bin" $opts -runs=1 -artifact_prefix="$out/findings/$t/" "$reg"/* >>"$log" 2>&1; then
            echo "FAIL $t: a saved reproducer in tests/fuzz/crashes/$t still fails" >>"$log"
            rm -rf "$out/tmp/$t"
            return 1
        fi
    fi
    # shellcheck disable=SC2086
    "$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$out/findings/$t/" "$out/corpus/$t" "$src/tests/fuzz/corpus/$t" \
        >>"$log" 2>&1
    rc=$?
    rm -rf "$out/tmp/$t"
    return $rc
}

summary() {
    t=$1 rc=$2
    log=$out/logs/$t.log
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        echo "fuzz $t: ok, ${execs:-?} executions (${speed:-?}/s) in ${secs}s; ${last:-no stats}"
    else
        echo "fuzz $t: FAILED (exit $rc); log: $log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|kmill fuzz:|FAIL |.*runtime error)' "$log" | head -n 5 | sed 's/^/    /'
        for f in "$out/findings/$t"/*; do
            [ -f "$f" ] && echo "    kept: $f"
        done
    fi
}

# run the targets JOBS at a time; wait for each batch
status=0
while [ $# -gt 0 ]; do
    n=0
    while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
        n=$((n + 1))
        one "$1" &
        eval "pid_$n=\$! name_$n=\$1"
        shift
    done
    i=0
    while [ "$i" -lt "$n" ]; do
        i=$((i + 1))
        eval "pid=\$pid_$i t=\$name_$i"
        wait "$pid"
        rc=$?
        summary "$t" "$rc"
        [ "$rc" = 0 ] || status=1
    done
done
exit $status
