r"""Control for experiments/pca_metric.py (a): Adam with the same PCA-subspace restriction of the first layer.

784-300-10 ReLU, cross-entropy, float32, batch 500 (samples reshuffled every epoch), Adam (lr, weight decay ρ/2‖W‖²
in the loss, as ``benchmarks/compare.py``'s Adam) from the same initial weights as the lifted runs
(``FenchelNetwork(seed=s)``). With ``--k K`` the first layer is W₀ = W₀^init + D E_Kᵀ (D: 300 x K trained, E_K the
top-K principal directions of the training split's centred inputs, as in pca_metric.py); b₀ and the output layer
are trained as usual. ``--k 0`` (or 784 spelled as none): plain Adam on W₀. Validation split only.

    python experiments/adam_subspace.py --k 0 20 25 --lr 0.01 --rho 0.001
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from first_layer_runs import report

from fenchel_cvx import FenchelNetwork, data


def run(ds, split, k, lr, rho, seed, epochs):
    """Validation accuracy [%] after each epoch of one run."""
    torch.manual_seed(seed)
    Xtr, ytr, Xva, yva = split
    X = torch.as_tensor(np.ascontiguousarray(np.asarray(Xtr, np.float32).T))  # m x d
    y = torch.as_tensor(np.asarray(ytr), dtype=torch.long)
    Xv = torch.as_tensor(np.ascontiguousarray(np.asarray(Xva, np.float32).T))
    yv = torch.as_tensor(np.asarray(yva), dtype=torch.long)
    net = FenchelNetwork([ds.n_features, 300, ds.n_classes], seed=seed, dtype="float32")
    W0i = torch.as_tensor(np.asarray(net.W[0], np.float32))
    b0 = torch.as_tensor(np.asarray(net.b[0], np.float32)).clone().requires_grad_(True)
    W1 = torch.as_tensor(np.asarray(net.W[1], np.float32)).clone().requires_grad_(True)
    b1 = torch.as_tensor(np.asarray(net.b[1], np.float32)).clone().requires_grad_(True)
    if k:
        Xc = np.asarray(Xtr, np.float64)
        Xc = Xc - Xc.mean(axis=1, keepdims=True)
        E = np.linalg.eigh(Xc @ Xc.T / Xc.shape[1])[1][:, ::-1][:, :k]
        P = torch.as_tensor(np.ascontiguousarray(E), dtype=torch.float32)
        D = torch.zeros(W0i.shape[0], k, requires_grad=True)
        first, W0 = D, (lambda: W0i + D @ P.T)
    else:
        Wf = W0i.clone().requires_grad_(True)
        first, W0 = Wf, (lambda: Wf)
    opt = torch.optim.Adam([first, b0, W1, b1], lr=lr)
    g = np.random.default_rng(seed)
    accs = []
    for _ in range(epochs):
        order = g.permutation(X.shape[0])
        for i in range(0, X.shape[0], 500):
            ii = torch.as_tensor(order[i:i + 500])
            W = W0()
            Z = torch.relu(X[ii] @ W.T + b0) @ W1.T + b1
            loss = torch.nn.functional.cross_entropy(Z, y[ii]) + 0.5 * rho * ((W ** 2).sum() + (W1 ** 2).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            Zv = torch.relu(Xv @ W0().T + b0) @ W1.T + b1
            accs.append(100.0 * float((Zv.argmax(1) == yv).float().mean()))
    return accs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--k", type=int, nargs="+", default=[0, 20])
    p.add_argument("--lr", type=float, nargs="+", default=[0.01])
    p.add_argument("--rho", type=float, nargs="+", default=[0.001])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = data.load(args.dataset, dtype=np.float32)
    split = ds.split_validation(0.1, seed=0)
    for k in args.k:
        for lr in args.lr:
            for rho in args.rho:
                a = np.mean([run(ds, split, k, lr, rho, s, args.epochs) for s in args.seeds], axis=0)
                report(f"adam k={k or 'all'} lr={lr} rho={rho}", a)


if __name__ == "__main__":
    main()
