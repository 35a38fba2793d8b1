#!/usr/bin/python3
"""sklearn_krr.py TRAIN.csv TEST.csv L REG - the reference for tests/bench/krr.sh:
scikit-learn KernelRidge(kernel="rbf") with gamma = 1 / (2 L^2) (kmill's
Gaussian bandwidth L), alpha = REG, on the raw feature values (kmill runs
with --scale none), fitted on one-hot class indicators and predicting the
largest score, as kmill does. Prints fit and predict seconds and the test
accuracy on one line."""
import sys, time
import numpy as np
import pandas as pd
from sklearn.kernel_ridge import KernelRidge

tr, te, L, reg = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
a = pd.read_csv(tr, dtype=np.float64)
b = pd.read_csv(te, dtype=np.float64)
ytr, Xtr = a["label"].to_numpy().astype(int), a.drop(columns="label").to_numpy()
yte, Xte = b["label"].to_numpy().astype(int), b.drop(columns="label").to_numpy()
classes = np.unique(ytr)
Y = (ytr[:, None] == classes[None, :]).astype(np.float64)
m = KernelRidge(kernel="rbf", gamma=1.0 / (2 * L * L), alpha=reg)
t0 = time.time()
m.fit(Xtr, Y)
t1 = time.time()
pred = classes[np.argmax(m.predict(Xte), axis=1)]
t2 = time.time()
print(f"sklearn fit {t1 - t0:.2f} s predict {t2 - t1:.2f} s accuracy {np.mean(pred == yte):.4f}")
