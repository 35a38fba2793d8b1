#!/bin/sh
# tests/bench/ntk_fm.sh [WORKDIR] - kernel regression with the analytic
# NTK of a depth-3 ReLU network (train --kernel ntk --depth 3) on all
# 60,000 Fashion-MNIST training rows within --mem 4G (the exact solver,
# its kernel tiles spilled or recomputed beyond the budget), beside the
# Laplace model with the defaults, in the same run: test accuracy on the
# 10,000 test rows, wall time and peak RSS of each (target: completes
# within --mem 4G). Needs dataset-fashion-mnist and /usr/bin/time.
# MEM (default 4G), DEPTH (default 3), KERNELS (default "ntk laplace").
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-ntk-fm}
mkdir -p "$W"
cd "$W"
. "$top/tests/bench/fmdata.sh"
rss_mb() { awk '/Maximum resident/ { printf "%.0f", $NF / 1024 }' "$1"; }
wall() { awk -F': ' '/Elapsed/ { n = split($2, t, ":"); s = 0;
    for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.1f", s }' "$1"; }
for k in ${KERNELS:-ntk laplace}; do
    opt="--kernel $k"
    [ "$k" = ntk ] || [ "$k" = nngp ] && opt="$opt --depth ${DEPTH:-3}"
    /usr/bin/time -v "$K" train --mem "${MEM:-4G}" $opt fm-train.kmx -o fm-$k.kmm 2>fm-$k.log ||
        { tail -n 3 fm-$k.log; continue; }
    acc=$("$K" eval fm-$k.kmm fm-test.kmx | sed -n 's/^accuracy\t//p')
    echo "$k: test accuracy $acc, wall $(wall fm-$k.log)s, peak RSS $(rss_mb fm-$k.log) MB" \
        "(--mem ${MEM:-4G}); $(grep '^kmill train: n=' fm-$k.log | sed 's/^kmill train: //')"
done
