"""entk_torch.py DIR N D WIDTH DEPTH C THREADS [ROWS] - functorch's recipe
for the empirical NTK (torch.func: per-example Jacobians by vmap(jacrev),
contracted with einsum, as in PyTorch's "Neural Tangent Kernels" tutorial)
on the network and rows entk_bench wrote to DIR, class-averaged like
km_entk_gram's KM_ENTK_MEAN; timed, and compared with DIR/K.f32.

The per-example Jacobians of all N rows at once need N * C * P float32
(P parameters): with N = 2,000, C = 10, D = 784, width 1,024, depth 3,
P = 2.9 M, that is 232 GB. So the rows go in chunks of ROWS (default 16:
2 x 16 x 10 x 2.9 M x 4 B = 3.7 GB of Jacobians), each pair of chunks
contracted by one einsum; the Jacobians of the column chunk are remade for
each row chunk, as the recipe makes them per call.
Prints "torch_seconds=S rel_frobenius=E"."""
import sys
import time

import numpy as np
import torch
try:
    from torch.func import functional_call, jacrev, vmap
except ImportError:  # torch 1.13 (Debian 12): the same recipe under functorch
    from functorch import jacrev, vmap
    from torch.nn.utils.stateless import functional_call

d_, N, D, W, L, C, T = sys.argv[1], *map(int, sys.argv[2:8])
ROWS = int(sys.argv[8]) if len(sys.argv) > 8 else 16
torch.set_num_threads(T)
widths = [D] + [W] * L + [C]
X = torch.from_numpy(np.fromfile(f"{d_}/X.f32", "<f4").reshape(N, D))


class Net(torch.nn.Module):
    """kmill's forward pass: z = sw/sqrt(n) h W^T + sb b, ReLU between."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.ModuleList(
            torch.nn.Linear(widths[l], widths[l + 1]) for l in range(L + 1))

    def forward(self, x):
        h = x
        for l, lin in enumerate(self.lin):
            z = (2.0 / widths[l]) ** 0.5 * (h @ lin.weight.T) + 0.1 ** 0.5 * lin.bias
            h = torch.relu(z) if l < L else z
        return h


net = Net()
with torch.no_grad():
    for l, lin in enumerate(net.lin):
        lin.weight.copy_(torch.from_numpy(
            np.fromfile(f"{d_}/W{l + 1}.f32", "<f4").reshape(widths[l + 1], widths[l])))
        lin.bias.copy_(torch.from_numpy(np.fromfile(f"{d_}/b{l + 1}.f32", "<f4")))
params = {k: v.detach() for k, v in net.named_parameters()}


def f(p, x):
    return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)


def jac(x):
    j = vmap(jacrev(f), (None, 0))(params, x)
    return [t.flatten(2) for t in j.values()]  # each (rows, C, P_k)


t0 = time.perf_counter()
K = torch.empty(N, N)
for i0 in range(0, N, ROWS):
    ja = jac(X[i0:i0 + ROWS])
    for j0 in range(0, N, ROWS):
        jb = ja if j0 == i0 else jac(X[j0:j0 + ROWS])
        K[i0:i0 + ROWS, j0:j0 + ROWS] = sum(
            torch.einsum("acp,bcp->ab", a, b) for a, b in zip(ja, jb)) / C
t = time.perf_counter() - t0
R = np.fromfile(f"{d_}/K.f32", "<f4").reshape(N, N).astype(np.float64)
Kt = K.numpy().astype(np.float64)
print(f"torch_seconds={t:.3f} rel_frobenius={np.linalg.norm(R - Kt) / np.linalg.norm(Kt):.3g}")
