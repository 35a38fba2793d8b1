#!/bin/sh
# tests/bench/mlp_torch.sh [WORKDIR] - kmill mlp against PyTorch
# (tests/bench/torch_mlp.py), from one run so the ratios compare like with
# like on a shared machine: the first 20,000 Fashion-MNIST training rows
# (784 pixels, standardised as kmill's --scale standard does), a ReLU
# network of depth 2 in the NTK parameterisation, float32, plain SGD,
# squared error on one-hot targets, batches of 128, the same thread count
# (torch.set_num_threads), widths 64, 128, 512 and 1024. Prints per width
# the seconds per epoch (the steps alone, evaluation excluded) of each,
# their ratio torch / kmill (targets: >= 2 at width <= 128, >= 1 at >= 512)
# and the test accuracies after EPOCHS epochs (target: within noise).
# Needs dataset-fashion-mnist, python3-torch (Debian); a built tree (KMILL
# names the binary). THREADS (default 2), EPOCHS (default 3), WIDTHS (default
# "64 128 512 1024").
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-mlp}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-3}
LR=${LR:-1}
mkdir -p "$W"
cd "$W"
. "$top/tests/bench/fmdata.sh"
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "python3-torch is not installed (apt-get install python3-torch): kmill alone below"
    TORCH=0
else
    TORCH=1
fi
printf 'width\tkmill_s_per_epoch\ttorch_s_per_epoch\tratio\tkmill_test_acc\ttorch_test_acc\n'
for w in ${WIDTHS:-64 128 512 1024}; do
    "$K" mlp fm20k.kmx --sample 20000 --val-frac 0 --width $w --depth 2 --epochs $EPOCHS \
        --batch 128 --lr $LR --threads $THREADS -q -o net$w.kmm >rep$w
    ks=$(awk '/^seconds-per-epoch:/ { print $2 }' rep$w)
    kacc=$("$K" eval -q --threads $THREADS net$w.kmm fm-test.kmx | awk '$1 == "accuracy" { print $2 }')
    ts=nan tacc=nan ratio=nan
    if [ $TORCH = 1 ]; then
        set -- $(/usr/bin/python3 "$top/tests/bench/torch_mlp.py" fm20k.csv fm-test.csv $w 2 \
                 $EPOCHS 128 $LR $THREADS)
        ts=$1 tacc=$2
        ratio=$(awk -v a="$ts" -v b="$ks" 'BEGIN { printf "%.2f", a / b }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' $w "$ks" "$ts" "$ratio" "$kacc" "$tacc"
done
