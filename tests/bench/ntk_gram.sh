#!/bin/sh
# tests/bench/ntk_gram.sh [N] [DEPTH] [THREADS] - the analytic NTK Gram
# matrix (src/kern/dotk.c) against the machine's sgemm rate measured in
# the same run on the same sizes: N x N (default 20000) over d = 784,
# depth 3, 2 threads, the best of two runs each. Target: the NTK Gram at
# >= 50% of the sgemm rate (the recursion after the GEMM stays small).
# Builds its driver tests/bench/ntk_gram.c against the built tree's
# libkmill.a (make first) into WORK (default $TMPDIR or /tmp); about a
# minute on 2 cores.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -s "$top/libkmill.a" ] || { echo "ntk_gram.sh: build the tree first (make)" >&2; exit 1; }
bin=${WORK:-${TMPDIR:-/tmp}}/kmill-ntk-gram
cc -O2 -std=gnu11 -I"$top/include" -I"$top" -I"$top/src" "$top/tests/bench/ntk_gram.c" \
    "$top/libkmill.a" $(pkg-config --libs openblas) -llapacke -lzstd -luring -lm -pthread \
    -o "$bin"
"$bin" "${1:-20000}" "${2:-3}" "${3:-2}" 2
