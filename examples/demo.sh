#!/bin/sh
# demo.sh KMILL EXAMPLES - the pipeline `make demo` runs on the bundled data:
# convert the example CSV (from a pipe) into a dataset, describe and verify
# it, and print a few sampled rows back as CSV.
set -eu
KMILL=$1
EX=$2
OUT=${DEMO_OUT:-demo-out}
mkdir -p "$OUT"
echo "== kmill convert: Fashion-MNIST sample (3000 rows) from a pipe"
gzip -dc "$EX/fashion-train.csv.gz" | "$KMILL" convert - -o "$OUT/fashion-train.kmx"
echo "== kmill info --verify"
"$KMILL" info --verify "$OUT/fashion-train.kmx" | head -n 14
echo "== kmill cat --sample 3 --columns label,400-405 (columns are named or numbered from 1)"
"$KMILL" cat --sample 3 --seed 1 --columns label,400-405 "$OUT/fashion-train.kmx"
