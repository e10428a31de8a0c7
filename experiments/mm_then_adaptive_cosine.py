"""How close is ``mm-then-adaptive`` to Adam? Its W-step quantities against backprop's gradient.

For the shipped preset (:func:`fenchel_cvx.training.mm_then_adaptive`) trained on mnist5k
(784-300-10, ReLU, cross-entropy, batch 500, float32), at the initialisation and after epochs 1, 2,
5 and 10, on 4 batches: the batch's forward pass and X-steps as the executor takes them (the late
phase: λ = 10, its x_iters / x_solver), then per layer l the cosine between

* the lifted block gradient (g_W, g_b) of the W-block of layer l (``w_block(...).gradient()``, what
  the adaptive step feeds to Adam's metric) and backprop's gradient of J on the same batch (written
  out below: softmax cross-entropy through the ReLU layer, ρ = 0);
* the W-step the executor's Adam metric would take with either gradient from the run's current Adam
  moments (one step on a copy of the moments), i.e. the directions of the two updates.

    python experiments/mm_then_adaptive_cosine.py   # the table experiments/FINDINGS.md quotes
"""

from __future__ import annotations

import copy

import numpy as np

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.blocks import LiftedState, w_block, x_block
from fenchel_cvx.blocks.adaptive import adaptive_update
from fenchel_cvx.training import BCDConfig, Trainer, mm_then_adaptive, prepare_data


def backprop_grads(W, b, X0, Y):
    """∇J of J = (1/m) Σ cross-entropy(Y, W_1 relu(W_0 X0 + b_0) + b_1) (features x samples),
    per layer (g_W, g_b)."""
    m = X0.shape[1]
    U0 = W[0] @ X0 + b[0][:, None]
    X1 = np.maximum(U0, 0)
    Z = W[1] @ X1 + b[1][:, None]
    P = np.exp(Z - Z.max(axis=0))
    P /= P.sum(axis=0)
    GZ = (P - Y) / m
    GU = (W[1].T @ GZ) * (U0 > 0)
    return [(GU @ X0.T, GU.sum(axis=1)), (GZ @ X1.T, GZ.sum(axis=1))]


def cos(a, c):
    a = np.concatenate([np.ravel(x) for x in a]).astype(np.float64)
    c = np.concatenate([np.ravel(x) for x in c]).astype(np.float64)
    return float(a @ c / (np.linalg.norm(a) * np.linalg.norm(c)))


def measure(bcd, net, cfg, lam, batches):
    """Mean cosines over ``batches`` for each layer at the trainer's state value ``bcd`` (weights and
    the adaptive W-steps' moments): (block gradient vs backprop, Adam step from each)."""
    out = {0: [], 1: []}
    for X0, Y in batches:
        W, b = [w.copy() for w in bcd.W], [v.copy() for v in bcd.b]
        Us, Xs, _ = net.forward_pass(W, b, X0)
        state = LiftedState(net, W, b, lam, X0, Y, list(Xs), Us)
        for l in range(net.L, 0, -1):
            blk = x_block(state, l, cfg.x_weight)
            state.Xs[l - 1] = blk.solve_fixed(iters=cfg.x_iters).solution
        state.Us = None
        gb = backprop_grads(W, b, X0, Y)
        for l in (0, 1):
            gl = w_block(state, l).gradient()
            st = copy.deepcopy(bcd.adaptive[l])
            st2 = copy.deepcopy(bcd.adaptive[l])
            lifted_step = [
                n - o for n, o in zip(adaptive_update(W[l], b[l], *gl, st, 1.0), (W[l], b[l]))
            ]
            bp_step = [
                n - o for n, o in zip(adaptive_update(W[l], b[l], *gb[l], st2, 1.0), (W[l], b[l]))
            ]
            out[l].append((cos(gl, gb[l]), cos(lifted_step, bp_step)))
    return {l: np.mean(v, axis=0) for l, v in out.items()}


def main():
    ds = data.load("mnist5k", dtype=np.float32)
    net = FenchelNetwork([784, 300, 10], seed=0, dtype="float32")
    cfg = BCDConfig(
        **mm_then_adaptive(1),
        epochs=10,
        batch_size=500,
        dtype="float32",
        seed=0,
        restore_best=False,
    )
    tr = Trainer(net, prepare_data(net, ds.X_train, ds.y_train), cfg, verbose=0)
    rng = np.random.default_rng(5)
    Yall = tr.executor.Y
    batches = [
        (np.ascontiguousarray(tr.executor.X[:, i]), np.ascontiguousarray(Yall[:, i]))
        for i in (rng.choice(tr.m, 500, replace=False) for _ in range(4))
    ]
    late = cfg.at_epoch(1)
    print(
        "epoch | layer | cos(lifted block gradient, backprop gradient) | cos(Adam step from each)"
    )
    for rec in tr.iterate():
        e = rec["epoch"]
        if e in (0, 1, 2, 5, 10):
            res = measure(tr.state, net, late, np.full(net.L, float(late.lam)), batches)
            for l, (c1, c2) in res.items():
                print(f"{e:5d} | {l:5d} | {c1:.4f} | {c2:.4f}", flush=True)


if __name__ == "__main__":
    main()
