#!/bin/sh
# tests/bench/scaling.sh [KMILL] [WORKDIR] - the evidence for train's
# default --scale: test accuracy (classification) or RMSE (regression) of
# kmill train with default options but --scale standard, minmax and none,
# on every real tabular set at hand: scikit-learn's bundled digits, breast
# cancer, wine, iris and diabetes (80/20 split, seed 0, as
# train_test_split makes it) and the bundled Fashion-MNIST sample
# (examples/, its own split). Also the same with --rfm, whose learned
# metric rescales the features itself. Needs /usr/bin/python3 with
# python3-sklearn (apt-get install python3-sklearn).
set -eu
K=${1:-$(dirname "$0")/../../src/kmill}
K=$(cd "$(dirname "$K")" && pwd)/$(basename "$K")
EX=$(cd "$(dirname "$0")/../../examples" && pwd)
W=${2:-${TMPDIR:-/tmp}/kmill-bench-scaling}
mkdir -p "$W"
cd "$W"
/usr/bin/python3 - <<'PY'
import csv
from sklearn import datasets
from sklearn.model_selection import train_test_split
sets = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine, "iris": datasets.load_iris, "diabetes": datasets.load_diabetes}
for name, load in sets.items():
    b = load()
    Xtr, Xte, ytr, yte = train_test_split(b.data, b.target, test_size=0.2, random_state=0)
    cls = name != "diabetes"
    for part, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
        with open(f"{name}-{part}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"f{i}" for i in range(X.shape[1])] + ["label"])
            for row, t in zip(X, y):
                w.writerow([repr(float(v)) for v in row] + [("c%d" % t) if cls else repr(float(t))])
PY
zcat "$EX/fashion-train.csv.gz" >fashion-train.csv
zcat "$EX/fashion-test.csv.gz" >fashion-test.csv
metric() { # MODEL TEST: accuracy or rmse
    "$K" eval -q "$1" "$2" | awk -F'\t' '$1 == "accuracy" || $1 == "rmse" { print $2; exit }'
}
printf '%-14s %-8s %10s %10s %10s\n' set mode standard minmax none
for s in digits breast_cancer wine iris diabetes fashion; do
    for mode in plain rfm; do
        line=$(printf '%-14s %-8s' $s $mode)
        for sc in standard minmax none; do
            opt=""; [ $mode = rfm ] && opt=--rfm
            "$K" train -q $opt --scale $sc $s-train.csv -o m.kmm
            line="$line $(printf '%10s' "$(metric m.kmm $s-test.csv)")"
        done
        echo "$line"
    done
done
echo "(accuracy for every set but diabetes, test RMSE there)"
