#!/bin/sh
# demo.sh KMILL EXAMPLES - the pipeline `make demo` runs on the bundled data.
set -eu
KMILL=$1
EX=$2
OUT=${DEMO_OUT:-demo-out}
mkdir -p "$OUT"
"$KMILL" --version
gzip -dc "$EX/fashion-train.csv.gz" >"$OUT/fashion-train.csv"
echo "demo: $(wc -l <"$OUT/fashion-train.csv") lines of example CSV in $OUT/"
