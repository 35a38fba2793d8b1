#!/bin/sh
# tests/bench/entk_torch.sh [WORKDIR] - the empirical NTK Gram by the
# layer identity (km_entk_gram, class-averaged) against functorch's
# Jacobian-contraction recipe (tests/bench/entk_torch.py) on the same
# network and rows, in the same run and at the same threads: N = 2,000
# rows of 784 features, width 1,024, depth 3, 10 outputs. Targets: >= 5x
# faster, Grams equal to 1e-5 relative (Frobenius).
# The recipe's cost is N^2 C P multiply-adds (P = 2.9 M parameters) against
# the layer identity's N^2 sum_l (width[l-1] + C width[l]): about 90x
# fewer; torch's run at N = 2,000 therefore takes hours on two cores, so
# NT (default 200) rows are timed for both and the N = 2,000 figure of
# kmill is printed beside torch's time scaled by (2000 / NT)^2 (the
# recipe's cost is exactly quadratic in the rows: every chunk pair is
# one einsum of the same size). NT=2000 runs the whole thing.
# Needs the built tree (libkmill.a), OpenBLAS, python3 with numpy and torch.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
W=${1:-${TMPDIR:-/tmp}/kmill-bench-entk}
NT=${NT:-200}
TH=${THREADS:-2}
mkdir -p "$W/small" "$W/full"
PY=${PYTHON:-/usr/bin/python3} # Debian's, where python3-torch installs
"$PY" -c 'import torch, numpy' || { echo "entk_torch.sh: needs python3-torch and numpy" >&2; exit 1; }
cc -O2 -std=gnu11 -I"$top/include" -I"$top" -I"$top/src" "$top/tests/bench/entk_bench.c" \
    "$top/libkmill.a" $(pkg-config --libs openblas) -llapacke -lzstd -luring -lm -pthread \
    -o "$W/entk_bench"
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | tail -n 1; }

echo "== N = $NT: kmill and torch on the same network and rows, $TH threads"
"$W/entk_bench" "$NT" 784 1024 3 10 "$TH" "$W/small" | tee "$W/k.out"
"$PY" "$top/tests/bench/entk_torch.py" "$W/small" "$NT" 784 1024 3 10 "$TH" | tee "$W/t.out"
ks=$(field kmill_seconds "$W/k.out"); ts=$(field torch_seconds "$W/t.out")
rel=$(field rel_frobenius "$W/t.out")
awk -v k="$ks" -v t="$ts" -v e="$rel" 'BEGIN {
    printf "speed-up %.1fx (target >= 5), relative Frobenius difference %s (target <= 1e-5)\n", t / k, e }'

echo "== N = 2000: kmill"
"$W/entk_bench" 2000 784 1024 3 10 "$TH" "$W/full" | tee "$W/k2.out"
k2=$(field kmill_seconds "$W/k2.out")
awk -v k="$k2" -v t="$ts" -v n="$NT" 'BEGIN {
    s = t * (2000 / n) ^ 2
    printf "torch scaled to N = 2000: %.0f s; kmill %.1f s; speed-up %.0fx\n", s, k, s / k }'
