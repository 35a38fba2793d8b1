#!/bin/sh
# tests/bench/nystrom.sh [WORKDIR] - the Nystrom (Falkon) solver's
# benchmarks (issue 17), each printing ratios against a reference run in
# the same invocation (the machine is shared: absolute times drift):
#   1. streaming: one conjugate-gradient pass over a .kmx against the same
#      pass over the same rows already in RAM (KMILL_BENCH_ROWS_IN_RAM),
#      same m, page cache warm and, separately, dropped (caches dropped
#      every 0.2 s while the pass runs, so each pass reads from the disk);
#      RUNS pairs (5), each ratio and their median; target <= 1.15
#   2. against scikit-learn Nystroem + RidgeClassifier
#      (tests/bench/sklearn_nystroem.py), same Gaussian kernel, bandwidth,
#      m and ridge, on 500,000 rows of `kmill gen mixture`: fit-time ratio
#      (target >= 5), accuracy (target within 0.3 points), peak RSS
#   3. BIG=1: 20,000,000 x 32 rows, m = 10,000, --mem 4G: wall time,
#      passes, accuracy, peak RSS (target <= 4 GB); and the same with --rfm
#      (an hour or more: PASSES and RFM_PASSES cap the solves)
#   4. FM=1: exact against Nystrom on the 60,000 Fashion-MNIST rows, m =
#      1k, 2k, 5k, 10k, 20k (needs dataset-fashion-mnist)
#   5. HUGE=1: larger than RAM, end to end: 100,000,000 x 64 rows (26 GB
#      as float32) from `kmill gen` straight to .kmx, the page cache
#      dropped before each step: dd's read rate of the file, then train
#      (m = 1000, HUGE_PASSES conjugate-gradient iterations, 1: a timing
#      run) with the time of each pass, then eval over every row; peak
#      RSS of each. About 20 minutes and 25 GB of disk in WORKDIR.
# BASE=0 leaves sections 1 and 2 out; STREAM=0 leaves section 1 out.
# Both OpenBLAS variables the machine may set are unset for the kmill and
# scikit-learn runs alike (they select slower kernels for both). Needs
# python3-sklearn, python3-pandas and /usr/bin/time; root for dropping the
# page cache (else section 1's cold half is skipped).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-nystrom}
mkdir -p "$W"
cd "$W"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pass_s() { sed -n 's/.* \([0-9.]*\) s a pass .*/\1/p' "$1" | tail -n 1; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -n 1; }
rss_mb() { awk '/Maximum resident/ { printf "%.0f", $NF / 1024 }' "$1"; }
wall() { awk -F': ' '/Elapsed/ { n = split($2, t, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s }' "$1"; }

if [ "${BASE:-1}" = 1 ]; then
if [ "${STREAM:-1}" = 1 ]; then
echo "== 1. a conjugate-gradient pass over the .kmx against the rows in RAM"
[ -s s2m.kmx ] || "$K" gen lowrank -q --task classify -n 2000000 -d 32 --seed 5 -o s2m.kmx
S="--solver nystrom --nystrom-mode cg --centers 2000 --passes 3 --early-stop 0 -v"
dropper=
for cache in warm cold; do
    if [ $cache = cold ]; then
        if ! sync || ! echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
            echo "cold: cannot drop the page cache (not root): skipped"
            break
        fi
        (while :; do echo 1 >/proc/sys/vm/drop_caches; sleep 0.2; done) &
        dropper=$!
    fi
    : >ratios
    for run in $(seq "${RUNS:-5}"); do
        "$K" train $S s2m.kmx -o s.kmm 2>kmx.log
        KMILL_BENCH_ROWS_IN_RAM=1 "$K" train $S s2m.kmx -o s.kmm 2>ram.log
        a=$(pass_s kmx.log) b=$(pass_s ram.log)
        echo "$cache run $run: pass over the .kmx ${a}s, in RAM ${b}s: ratio $(ratio "$a" "$b")"
        ratio "$a" "$b" >>ratios && echo >>ratios
    done
    echo "$cache: median ratio $(sort -n ratios | awk '{ v[NR] = $1 } END {
        print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    [ -n "$dropper" ] && kill "$dropper" && wait "$dropper" 2>/dev/null || true
done
fi

echo "== 2. 500,000 rows against scikit-learn Nystroem + RidgeClassifier"
if [ ! -s mixte.kmx ]; then
    "$K" gen mixture -q --classes 5 -d 32 --separation 2.5 -n 510000 --seed 9 -o mix.csv
    head -n 500001 mix.csv >mixtr.csv
    { head -n 1 mix.csv; tail -n 10000 mix.csv; } >mixte.csv
    "$K" convert -q mixtr.csv -o mixtr.kmx
    "$K" convert -q mixte.csv -o mixte.kmx
fi
for m in 1000 2000; do
    /usr/bin/time -v /usr/bin/python3 "$top/tests/bench/sklearn_nystroem.py" mixtr.csv \
        mixte.csv 5 1e-3 $m >sk.out 2>sk.log
    sfit=$(sed -n 's/sklearn fit \([0-9.]*\) s.*/\1/p' sk.out)
    sacc=$(sed -n 's/.*accuracy \([0-9.]*\)$/\1/p' sk.out)
    echo "m=$m scikit-learn: fit ${sfit}s, accuracy $sacc, peak RSS $(rss_mb sk.log) MB"
    # the defaults (conjugate gradients with the early stop), and the
    # iterations run to --tol or 20 without it
    for extra in "" "--early-stop 0"; do
        /usr/bin/time -v "$K" train --solver nystrom --centers $m --kernel gaussian \
            --bandwidth 5 --reg 1e-3 --scale none $extra mixtr.kmx -o mix.kmm 2>tr.log
        kfit=$(wall tr.log)
        kacc=$("$K" eval mix.kmm mixte.kmx | sed -n 's/^accuracy\t//p')
        echo "m=$m kmill ${extra:-(defaults)}: $(field solver tr.log), $(field passes tr.log)" \
            "passes, fit ${kfit}s (the whole process), accuracy $kacc, peak RSS" \
            "$(rss_mb tr.log) MB: fit $(ratio "$sfit" "$kfit")x faster, accuracy" \
            "$(awk -v a="$kacc" -v b="$sacc" 'BEGIN { printf "%+.2f", 100 * (a - b) }') points"
    done
done

fi

if [ "${BIG:-0}" = 1 ]; then
    echo "== 3. 20,000,000 x 32 rows, m = 10,000, --mem 4G"
    [ -s big20m.kmx ] || "$K" gen subspace -q --intrinsic 4 --degree 2 --task classify \
        -n 20000000 -d 32 --seed 2 -o big20m.kmx
    # accuracy on 1% of the rows held out by the row hash, no refit
    # the defaults (conjugate gradients with the early stop) unless PASSES
    # or RFM_PASSES cap the solves: each pass is about n m (2d + 4c + 10)
    # = 1.6e13 flops here
    for extra in "${PASSES:+--passes $PASSES}" \
        "--rfm --iters 1${RFM_PASSES:+ --passes $RFM_PASSES}"; do
        /usr/bin/time -v "$K" train --mem 4G --centers 10000 --val-frac 0.01 --no-refit \
            $extra big20m.kmx -o big.kmm 2>big.log || tail -n 3 big.log
        echo "${extra:-kernel machine}: $(grep '^kmill train: n=' big.log)"
        echo "  wall $(wall big.log)s, peak RSS $(rss_mb big.log) MB"
    done
fi

if [ "${FM:-0}" = 1 ]; then
    echo "== 4. Fashion-MNIST, 60,000 rows: exact against Nystrom"
    . "$top/tests/bench/fmdata.sh"
    for m in exact 1000 2000 5000 10000 20000; do
        if [ $m = exact ]; then opt=; else opt="--solver nystrom --centers $m"; fi
        mem=4G
        [ $m = 20000 ] && mem=12G # 2 m^2 doubles: 6.4 GB
        /usr/bin/time -v "$K" train --mem $mem $opt fm-train.kmx -o fm.kmm 2>fm.log
        acc=$("$K" eval fm.kmm fm-test.kmx | sed -n 's/^accuracy\t//p')
        echo "$m: test accuracy $acc, wall $(wall fm.log)s, peak RSS $(rss_mb fm.log) MB," \
            "--mem $mem, $(field solver fm.log), $(field passes fm.log) passes"
    done
fi

if [ "${HUGE:-0}" = 1 ]; then
    echo "== 5. larger than RAM: 100,000,000 x 64 rows"
    drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
    [ -s huge.kmx ] || /usr/bin/time -v "$K" gen subspace -q --intrinsic 4 --degree 2 \
        --task classify -n 100000000 -d 64 --seed 4 -o huge.kmx 2>gen.log
    ls -l huge.kmx
    drop
    dd if=huge.kmx of=/dev/null bs=16M 2>&1 | tail -n 1
    drop
    /usr/bin/time -v "$K" train -v --mem 4G --centers 1000 --passes ${HUGE_PASSES:-1} \
        huge.kmx -o huge.kmm 2>huge.log || tail -n 3 huge.log
    grep -E "Nystrom CG:.*a pass|^kmill train: n=" huge.log
    echo "train: wall $(wall huge.log)s, peak RSS $(rss_mb huge.log) MB"
    drop
    /usr/bin/time -v "$K" eval huge.kmm huge.kmx >eval.out 2>eval.log
    echo "eval: $(sed -n 's/^accuracy\t/accuracy /p' eval.out), wall $(wall eval.log)s," \
        "peak RSS $(rss_mb eval.log) MB"
fi
