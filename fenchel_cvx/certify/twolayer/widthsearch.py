r"""Width-n upper bounds when the convex optimum needs more than n units (issue 21 item 4).

Shapes: X0 is d x m (features x samples); one-output units (W0 (r x d), b0 (r,), a (r,), c) as in
:mod:`fenchel_cvx.certify.twolayer.recovery`.

The convex program's optimum P* equals min J only for widths n ≥ r (the units of a solution); when r > n, the recovered
network is not a network of width n and bounds nothing at width n, while the certified lower bound (P* ≤ min J for every
width) still holds. An upper bound on min J at width n needs a width-n network: :func:`search_width_n` takes (1)
the **pruned solution** — the n units of largest cost β‖v‖ = ρ-balanced |a_i|‖w_i‖ — polished by L-BFGS on J, and
(2) **restarts**: L-BFGS from random initialisations of the width-n network; each is judged by
``FenchelNetwork.objective`` (float64) and the least J is kept. A local search: its J is an upper bound on min J at
width n, not its value.
"""

from __future__ import annotations

import time

import numpy as np

from ..upper import lbfgs_polish, lbfgs_train
from .program import TwoLayerProblem

__all__ = ["search_width_n"]


def search_width_n(
    problem: TwoLayerProblem,
    W0,
    b0,
    a,
    c,
    restarts: int = 3,
    seed: int = 0,
    deadline: float | None = None,
):
    r"""The best width-n network found from the pruned convex solution and from ``restarts`` random starts (module
    docstring). ``W0`` (r x d), ``b0`` (r,), ``a`` (r,), ``c``: the recovered one-output units with
    r > n = ``problem.width``. Stops starting new searches after ``deadline`` (a ``time.process_time()`` value). Returns
    ``(J, W, b, provenance)`` with (W, b) in the judged network's shapes at width n, or None when no search ran."""
    n = problem.width
    W0, b0, a = np.asarray(W0, dtype=float), np.asarray(b0, dtype=float), np.asarray(a, dtype=float)
    cost = np.abs(a) * np.linalg.norm(W0, axis=1)
    keep = np.sort(np.argsort(-cost)[:n])
    pad = n - keep.size
    Wn = np.vstack([W0[keep], np.zeros((pad, problem.d))])
    bn = np.concatenate([b0[keep], np.zeros(pad)])
    an = np.concatenate([a[keep], np.zeros(pad)])
    net = problem.network(Wn, bn, an, c)
    X0, Y = problem.X0, problem.targets
    found = []
    W, b, J, _ = lbfgs_polish(net, X0, Y, net.W, net.b)
    found.append(
        (
            float(J),
            W,
            b,
            f"the {n} largest of the r = {W0.shape[0]} units of the convex solution, "
            "polished by L-BFGS on J",
        )
    )
    for s in range(restarts):
        if deadline is not None and time.process_time() > deadline:
            break
        W, b, J, _ = lbfgs_train(net, X0, Y, seed=seed + s)
        found.append((float(J), W, b, f"L-BFGS on J at width {n} from random start {seed + s}"))
    J, W, b, how = min(found, key=lambda x: x[0])
    return (
        J,
        [w.copy() for w in W],
        [v.copy() for v in b],
        (
            f"J of a width-{n} network ({how}; best of {len(found)} local searches), "
            f"FenchelNetwork.objective "
            "in float64: an upper bound on min J at width n"
        ),
    )
