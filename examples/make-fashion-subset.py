#!/usr/bin/env python3
"""Rebuild the bundled Fashion-MNIST subset from Debian's dataset-fashion-mnist.

  apt-get install dataset-fashion-mnist
  python3 examples/make-fashion-subset.py examples

Writes fashion-train.csv.gz (first 3000 training images) and
fashion-test.csv.gz (first 1000 test images): a header
label,pixel1..pixel784, the label as the class name, pixels 0..255.
"""
import gzip, struct, sys, os

SRC = "/usr/share/datasets/fashion-mnist"
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

def read(prefix, n):
    with gzip.open(f"{SRC}/{prefix}-images-idx3-ubyte.gz") as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        images = f.read(n * rows * cols)
    with gzip.open(f"{SRC}/{prefix}-labels-idx1-ubyte.gz") as f:
        f.read(8)
        labels = f.read(n)
    return labels, images, rows * cols

def write(path, prefix, n):
    labels, images, d = read(prefix, n)
    # mtime=0: the same bytes every time the script runs
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(("label," + ",".join(f"pixel{i+1}" for i in range(d)) + "\n").encode())
        for i in range(n):
            px = images[i * d:(i + 1) * d]
            f.write((NAMES[labels[i]] + "," + ",".join(map(str, px)) + "\n").encode())

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__)
write(os.path.join(out, "fashion-train.csv.gz"), "train", 3000)
write(os.path.join(out, "fashion-test.csv.gz"), "t10k", 1000)
