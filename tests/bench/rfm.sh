#!/bin/sh
# tests/bench/rfm.sh [WORKDIR] - Recursive Feature Machine benchmarks
# (issue 5), from one run so the ratios compare like with like on a shared
# machine:
#   1. the AGOP pass (km_agop, tests/bench/agop_bench.c) against plain
#      cblas_sgemm in the same process, n = 20,000 centres, d = 784, c = 10
#      outputs, 4,096 samples: its GFLOP/s over sgemm's (target >= 0.60)
#   2. 20,000 Fashion-MNIST rows, 10% held out: kernel-only training
#      (--iters 0) against RFM with 5 iterations; per iteration the solve
#      and AGOP seconds (from --log), and one iteration (solve + AGOP) over
#      the kernel-only solve (target <= 2.5)
#   3. all 60,000 rows, --mem 4G, --rfm (5 iterations, 10% held out): wall
#      time, peak RSS (target <= 4.5 GB), test accuracy of iteration 0
#      (a --iters 0 run on the same split) and of the best iteration.
#      SKIP_60K=1 leaves it out (it takes about 25 minutes).
# Needs a built tree (libkmill.a, src/kmill; KMILL names another binary),
# dataset-fashion-mnist and /usr/bin/time. Data files are shared with
# tests/bench/krr.sh (same WORKDIR default layout).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-krr}
mkdir -p "$W"
cd "$W"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -n 1; }

echo "== 1. AGOP pass against sgemm (same process)"
cc -O2 -std=gnu11 -I"$top/include" -I"$top" -I"$top/src" "$top/tests/bench/agop_bench.c" \
    "$top/libkmill.a" $(pkg-config --libs openblas) -llapacke -lzstd -luring -lm -pthread \
    -o agop_bench
./agop_bench 20000 784 10 4096 2

. "$top/tests/bench/fmdata.sh"

echo "== 2. 20,000 rows: one RFM iteration against kernel-only training"
"$K" train --rfm --iters 0 fm20k.kmx -o k0.kmm 2>k0.log
"$K" train --rfm --iters 5 --log rfm20.tsv fm20k.kmx -o rfm20.kmm 2>rfm20.log
k0=$(awk -F'\t' 'NR == 2 { print $6 }' rfm20.tsv)
kk=$(sed -n 's/.*solve \([0-9.]*\)s.*/\1/p' k0.log | head -n 1)
echo "kernel-only solve (separate run): ${kk}s; RFM iteration 0 solve: ${k0}s"
awk -F'\t' -v k="$kk" 'NR > 1 { printf "iteration %d: solve %.1fs AGOP %.1fs validation accuracy %s; (solve+AGOP)/kernel-only %.2f\n", $3, $6, $7, $4, ($6 + $7) / k }' rfm20.tsv
awk -F'\t' -v k="$kk" 'NR > 1 && $7 > 0 { s += $6 + $7; n++ } END { printf "mean RFM iteration / kernel-only training: %.2f (target <= 2.5)\n", s / n / k }' rfm20.tsv
echo "test accuracy: kernel $("$K" eval k0.kmm fm-test.kmx | sed -n 's/^accuracy\t//p'), RFM $("$K" eval rfm20.kmm fm-test.kmx | sed -n 's/^accuracy\t//p') ($(grep chosen rfm20.log | sed 's/^kmill train: //'))"

[ "${SKIP_60K:-0}" = 1 ] && exit 0
echo "== 3. all 60,000 rows, --mem 4G"
for it in 0 5; do
    /usr/bin/time -v "$K" train -v --mem 4G --rfm --iters $it --log rfm60-$it.tsv fm-train.kmx \
        -o rfm60-$it.kmm 2>rfm60-$it.log
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' rfm60-$it.log)
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' rfm60-$it.log)
    acc=$("$K" eval rfm60-$it.kmm fm-test.kmx | sed -n 's/^accuracy\t//p')
    echo "--iters $it: wall $wall, peak RSS $(awk -v k="$rss" 'BEGIN { printf "%.2f GB", k * 1024 / 1e9 }') (target <= 4.5), test accuracy $acc"
    grep -E "chosen|spilled" rfm60-$it.log | sed 's/^kmill train: /  /'
    cut -f 3,4,6,7,8 rfm60-$it.tsv | sed 's/^/  /'
done
