#!/usr/bin/python3
"""sklearn_nystroem.py TRAIN.csv TEST.csv L REG M - the reference for
tests/bench/nystrom.sh: scikit-learn Nystroem(kernel="rbf", gamma = 1 /
(2 L^2), n_components = M) then RidgeClassifier(alpha = REG) on the raw
feature values (kmill runs with --scale none). That is kmill's Nystrom
model: with Phi = K_nm K_mm^(-1/2) and w = K_mm^(1/2) alpha, Ridge's
||Phi w - y||^2 + REG ||w||^2 is ||K_nm alpha - y||^2 + REG alpha' K_mm
alpha, whose normal equations are kmill's (K_nm' K_nm + lambda n K_mm)
alpha = K_nm' Y with lambda n = REG. Prints the fit and predict seconds
(reading the CSV excluded, as kmill's conversion is) and the accuracy."""
import sys, time
import numpy as np
import pandas as pd
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline

tr, te = sys.argv[1], sys.argv[2]
L, reg, m = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
a = pd.read_csv(tr, dtype=np.float32)
b = pd.read_csv(te, dtype=np.float32)
ytr, Xtr = a["label"].to_numpy().astype(int), a.drop(columns="label").to_numpy()
yte, Xte = b["label"].to_numpy().astype(int), b.drop(columns="label").to_numpy()
del a, b
model = make_pipeline(Nystroem(kernel="rbf", gamma=1.0 / (2 * L * L), n_components=m,
                               random_state=1), RidgeClassifier(alpha=reg))
t0 = time.time()
model.fit(Xtr, ytr)
t1 = time.time()
acc = np.mean(model.predict(Xte) == yte)
t2 = time.time()
print(f"sklearn fit {t1 - t0:.2f} s predict {t2 - t1:.2f} s accuracy {acc:.4f}")
