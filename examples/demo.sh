#!/bin/sh
# demo.sh KMILL EXAMPLES - the pipeline `make demo` runs on the bundled data:
# convert the example CSV (from a pipe) into a dataset, describe and verify
# it, print a few sampled rows back as CSV; then train a kernel machine,
# evaluate it on the test sample and print a few predictions; train a
# Recursive Feature Machine and print the features it learned to weigh.
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
echo "== kmill train: a Laplace kernel machine on the 3000 rows (direct solve)"
"$KMILL" train "$OUT/fashion-train.kmx" -o "$OUT/fashion.kmm"
echo "== kmill eval on the 1000 test rows (CSV from a pipe, converted on the fly)"
gzip -dc "$EX/fashion-test.csv.gz" | "$KMILL" eval "$OUT/fashion.kmm" - | head -n 2
echo "== kmill predict: the first predictions"
gzip -dc "$EX/fashion-test.csv.gz" | "$KMILL" predict "$OUT/fashion.kmm" - | head -n 4
echo "== kmill train --rfm: a Recursive Feature Machine (2 iterations, diagonal M, 10% validation)"
"$KMILL" train --rfm --iters 2 --diag "$OUT/fashion-train.kmx" -o "$OUT/fashion-rfm.kmm"
gzip -dc "$EX/fashion-test.csv.gz" | "$KMILL" eval "$OUT/fashion-rfm.kmm" - | grep "^accuracy"
echo "== kmill features: the pixels the RFM weighs most"
"$KMILL" features --top 5 "$OUT/fashion-rfm.kmm"
