#!/bin/sh
# tests/bench/selection.sh [WORKDIR] - model selection with default
# options (issue 16): whether --rfm and --cv with their defaults do worse
# than the plain defaults. For each dataset, the test accuracy (or RMSE,
# regression) of
#   plain      kmill train DATA                       (L = 10, no search)
#   rfm-before kmill train --rfm --bandwidth 10 --no-refit
#              (what --rfm did before the bandwidth grid from the data's
#              scale and the refit by default)
#   rfm        kmill train --rfm                      (today's defaults)
#   cv5        kmill train --cv 5                     (kernel only)
#   rfm-cv5    kmill train --rfm --cv 5 (left out on fashion with
#              QUICK=1: 150 solves and AGOP passes at d = 784 take about
#              15 minutes)
# on examples/fashion-{train,test}.csv.gz (3,000 and 1,000 Fashion-MNIST
# rows) and on scikit-learn's bundled datasets, each split 80/20 with
# seed 0: digits, breast cancer, wine, iris (classification) and diabetes
# (regression). Needs a built tree (src/kmill; KMILL names another
# binary) and python3-sklearn. Prints one table, tab-separated.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
K=${KMILL:-$top/src/kmill}
W=${1:-${TMPDIR:-/tmp}/kmill-bench-selection}
mkdir -p "$W"
cd "$W"

[ -s fashion-train.csv ] || gzip -dc "$top/examples/fashion-train.csv.gz" >fashion-train.csv
[ -s fashion-test.csv ] || gzip -dc "$top/examples/fashion-test.csv.gz" >fashion-test.csv
[ -s diabetes-test.csv ] || /usr/bin/python3 - <<'PY'
import csv
from sklearn import datasets
from sklearn.model_selection import train_test_split
sets = {"digits": datasets.load_digits, "cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine, "iris": datasets.load_iris,
        "diabetes": datasets.load_diabetes}
for name, load in sets.items():
    b = load()
    X, y = b.data, b.target
    regress = name == "diabetes"
    strat = None if regress else y
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.2, random_state=0, stratify=strat)
    for part, XX, yy in (("train", Xa, ya), ("test", Xb, yb)):
        with open(f"{name}-{part}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"f{i}" for i in range(X.shape[1])] + ["label"])
            for row, t in zip(XX, yy):
                # class labels as names, so that the task is classification
                w.writerow([repr(float(v)) for v in row] + [repr(float(t)) if regress else f"c{t}"])
PY

# the test figure of one configuration: accuracy, or RMSE for regression
run() {
    name=$1
    shift
    if ! "$K" train -q "$@" "$name-train.csv" -o "$name.kmm" 2>train.err; then
        echo "$name $*: $(cat train.err)" >&2
        printf 'error'
        return
    fi
    "$K" eval --json "$name.kmm" "$name-test.csv" |
        sed -n 's/.*"accuracy": \([^,]*\),.*/\1/p; s/.*"rmse": \([^,]*\),.*/\1/p' |
        awk '{ printf "%.4f", $1 }'
}

printf 'dataset\tmetric\tplain\trfm-before\trfm\tcv5\trfm-cv5\n'
for name in digits cancer wine iris diabetes fashion; do
    metric=accuracy
    [ "$name" = diabetes ] && metric=rmse
    printf '%s\t%s' "$name" "$metric"
    printf '\t%s' "$(run "$name")"
    printf '\t%s' "$(run "$name" --rfm --bandwidth 10 --no-refit)"
    printf '\t%s' "$(run "$name" --rfm)"
    printf '\t%s' "$(run "$name" --cv 5)"
    if [ "$name" = fashion ] && [ "${QUICK:-0}" = 1 ]; then
        printf '\t-\n'
    else
        printf '\t%s\n' "$(run "$name" --rfm --cv 5)"
    fi
done
