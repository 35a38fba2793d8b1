"""tests/bench/torch_mlp.py - the PyTorch side of tests/bench/mlp_torch.sh:
the network kmill mlp trains (NTK parameterisation, sw2 2, sb2 0.1, ReLU,
squared error on one-hot targets, plain SGD, float32) on the same rows,
standardised as kmill's --scale standard does (mean 0, population standard
deviation 1; constant columns left at 0). Prints the mean seconds of an
epoch's steps (evaluation excluded) and the test accuracy.
Usage: torch_mlp.py TRAIN.csv TEST.csv WIDTH DEPTH EPOCHS BATCH LR THREADS"""
import math
import sys
import time

import numpy as np
import torch

train, test, width, depth, epochs, batch, lr, threads = sys.argv[1:9]
width, depth, epochs, batch, threads = map(int, (width, depth, epochs, batch, threads))
lr = float(lr)
torch.set_num_threads(threads)
torch.manual_seed(1)


def load(path):
    a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    return a[:, 1:], a[:, 0].astype(np.int64)


X, y = load(train)
Xt, yt = load(test)
mu, sd = X.mean(0), X.std(0)
scale = np.where(sd > 0, 1 / np.where(sd > 0, sd, 1), 0).astype(np.float32)
X = torch.from_numpy((X - mu) * scale)
Xt = torch.from_numpy((Xt - mu) * scale)
c = int(y.max()) + 1
Y = torch.nn.functional.one_hot(torch.from_numpy(y), c).float()
widths = [X.shape[1]] + [width] * depth + [c]
Ws = [torch.randn(widths[l + 1], widths[l], requires_grad=True) for l in range(depth + 1)]
bs = [torch.randn(widths[l + 1], requires_grad=True) for l in range(depth + 1)]
sw, sb = math.sqrt(2.0), math.sqrt(0.1)


def forward(h):
    for l in range(depth + 1):
        z = (sw / math.sqrt(widths[l])) * (h @ Ws[l].T) + sb * bs[l]
        h = torch.relu(z) if l < depth else z
    return h


opt = torch.optim.SGD(Ws + bs, lr=lr)
n = X.shape[0]
spent = 0.0
for e in range(epochs):
    perm = torch.randperm(n)
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        f = forward(X[idx])
        loss = ((f - Y[idx]) ** 2).sum() / (2 * len(idx))
        opt.zero_grad()
        loss.backward()
        opt.step()
    spent += time.perf_counter() - t0
with torch.no_grad():
    acc = (forward(Xt).argmax(1).numpy() == yt).mean()
print(f"{spent / epochs:.4g} {acc:.4f}")
