#!/bin/sh
# tests/bench/ntk_gram.sh [N] [DEPTH] [THREADS] - the analytic NTK Gram
# matrix (src/kern/dotk.c) against the machine's sgemm rate measured in
# the same run on the same sizes: N x N (default 20000) over d = 784,
# depth 3, 2 threads, the best of two runs each. Target: the NTK Gram at
# >= 50% of the sgemm rate (the recursion after the GEMM stays small).
# Runs tests/bench/ntk_gram, which `make` builds (not installed); about a
# minute on 2 cores.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/tests/bench/ntk_gram
[ -x "$bin" ] || { echo "ntk_gram.sh: build first (make)" >&2; exit 1; }
"$bin" "${1:-20000}" "${2:-3}" "${3:-2}" 2
