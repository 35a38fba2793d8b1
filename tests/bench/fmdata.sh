# tests/bench/fmdata.sh - sourced by the benchmarks (cwd: their work
# directory, $K: the kmill binary): the Fashion-MNIST training and test
# sets as CSV (from dataset-fashion-mnist's idx files) and .kmx, and the
# first 20,000 training rows (fm20k); made once, reused by later runs.
if [ ! -s fm-train.csv ]; then
    /usr/bin/python3 - <<'PY'
import gzip
src = "/usr/share/datasets/fashion-mnist"
for p, name in (("train", "fm-train.csv"), ("t10k", "fm-test.csv")):
    with gzip.open(f"{src}/{p}-images-idx3-ubyte.gz") as f:
        f.read(16); im = f.read()
    with gzip.open(f"{src}/{p}-labels-idx1-ubyte.gz") as f:
        f.read(8); lb = f.read()
    with open(name, "w") as o:
        o.write("label," + ",".join(f"pixel{i+1}" for i in range(784)) + "\n")
        for i in range(len(lb)):
            o.write(str(lb[i]) + "," + ",".join(map(str, im[i*784:(i+1)*784])) + "\n")
PY
fi
[ -s fm20k.csv ] || head -n 20001 fm-train.csv >fm20k.csv
for f in fm-train fm-test fm20k; do
    [ -s $f.kmx ] || "$K" convert -q $f.csv -o $f.kmx
done
