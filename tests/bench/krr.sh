#!/bin/sh
# tests/bench/krr.sh [WORKDIR] - kernel-machine benchmarks (issue 4), all
# from one run so the ratios compare like with like on a shared machine:
#   1. kmill train (Gaussian kernel, PCG + Nystrom) against scikit-learn
#      KernelRidge(kernel="rbf") (tests/bench/sklearn_krr.py) on the first
#      20,000 Fashion-MNIST training rows, raw pixels (--scale none), the
#      same bandwidth and ridge: fit-time ratio (target >= 4) and the test
#      accuracies (target: within 0.2 points)
#   2. the Nystrom preconditioner: PCG iterations without it over with it,
#      same data and tolerance (target >= 5)
#   3. out of core: all 60,000 training rows, Laplace kernel (defaults),
#      --mem 4G against --mem 20G: peak RSS (target <= 4.5 GB for 4G), wall
#      time, iterations, bytes spilled, test accuracy, and the share of test
#      rows predicted alike (target >= 99.9%). SKIP_60K=1 leaves it out.
# Needs dataset-fashion-mnist, python3-sklearn, python3-pandas (Debian) and
# /usr/bin/time; a built tree (KMILL names the binary). About 10 minutes,
# most of it in step 3 and scikit-learn; 8 GB of RAM for scikit-learn.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-krr}
L=${L:-1500}
REG=${REG:-0.1}
mkdir -p "$W"
cd "$W"

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -n 1; }

. "$top/tests/bench/fmdata.sh"

echo "== 1. Gaussian L=$L reg=$REG on 20,000 rows: kmill against scikit-learn"
G="--scale none --kernel gaussian --bandwidth $L --reg $REG"
t0=$(now)
"$K" train $G fm20k.kmx -o g20.kmm 2>g20.log
t1=$(now)
kfit=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
t0=$(now)
kacc=$("$K" eval g20.kmm fm-test.kmx | sed -n 's/^accuracy\t//p')
t1=$(now)
kpred=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "kmill   fit $kfit s predict $kpred s accuracy $kacc   ($(tail -n 1 g20.log | sed 's/^kmill train: //'))"
/usr/bin/python3 "$top/tests/bench/sklearn_krr.py" fm20k.csv fm-test.csv "$L" "$REG" | tee sk.txt
sfit=$(sed -n 's/.*fit \([0-9.]*\) s.*/\1/p' sk.txt)
spred=$(sed -n 's/.*predict \([0-9.]*\) s.*/\1/p' sk.txt)
sacc=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' sk.txt)
echo "fit time sklearn/kmill: $(ratio "$sfit" "$kfit") (target >= 4); fit+predict: $(ratio "$(awk -v a="$sfit" -v b="$spred" 'BEGIN{print a+b}')" "$(awk -v a="$kfit" -v b="$kpred" 'BEGIN{print a+b}')")"
echo "accuracy kmill - sklearn: $(awk -v a="$kacc" -v b="$sacc" 'BEGIN { printf "%+.2f points", 100 * (a - b) }') (target within 0.2)"

echo "== 2. Nystrom preconditioner: iterations to the same tolerance (1e-4), same 20,000 rows"
"$K" train $G --max-iter 600 fm20k.kmx -o p1.kmm 2>p1.log
"$K" train $G --max-iter 600 --precond none fm20k.kmx -o p0.kmm 2>p0.log
i1=$(field iters p1.log)
i0=$(field iters p0.log)
echo "with Nystrom (rank 1000): $i1 iterations, residual $(field residual p1.log), $(field time p1.log)"
echo "without:                  $i0 iterations, residual $(field residual p0.log), $(field time p0.log)"
echo "iterations none/nystrom: $(ratio "$i0" "$i1") (target >= 5; 600 is the cap)"

[ "${SKIP_60K:-0}" = 1 ] && exit 0
echo "== 3. all 60,000 rows, Laplace (defaults), --mem 4G against --mem 20G"
for mem in 4G 20G; do
    /usr/bin/time -v "$K" train -v --mem $mem --tmpdir "$W" fm-train.kmx -o l60-$mem.kmm 2>l60-$mem.log
    "$K" predict l60-$mem.kmm fm-test.kmx >l60-$mem.pred
    acc=$("$K" eval l60-$mem.kmm fm-test.kmx | sed -n 's/^accuracy\t//p')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' l60-$mem.log)
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' l60-$mem.log)
    echo "--mem $mem: wall $wall, peak RSS $(awk -v k="$rss" 'BEGIN { printf "%.2f GB", k * 1024 / 1e9 }'), iterations $(field iters l60-$mem.log), test accuracy $acc"
    grep -e "kernel tiles:" -e "reading a spilled" l60-$mem.log | sed 's/^kmill train: /    /'
done
same=$(paste -d' ' l60-4G.pred l60-20G.pred | tail -n +2 | awk '$1 == $2 { s++ } END { printf "%.4f", 100 * s / NR }')
echo "test rows predicted alike: $same% (target >= 99.9)"
