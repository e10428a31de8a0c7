r"""Warm start of column generation from L-BFGS-trained width-n networks (issue 21 item 2).

Shapes: X0 is d x m (features x samples); one-output units (W0 (r x d), b0 (r,), a (r,), c) as in
:mod:`fenchel_cvx.certify.twolayer.recovery`; blocks are rows u = (w, b) ∈ ℝ^p (p = d + 1 with a bias).

Column generation (:func:`~fenchel_cvx.certify.twolayer.convex_certificate`) needs the activation patterns
of the convex optimum's units. A width-n network trained by L-BFGS on J usually sits at (or near) the
optimum of the convex program when n is at least the units it needs: its alive units u_i = (w_i, b_i) then
lie in (the closures of) the optimum's chambers, D_i = 1[A u_i > 0]. :func:`seed_patterns` adds the
chambers whose closure contains each alive unit (:func:`~fenchel_cvx.certify.twolayer.arrangement.chambers_at`,
ties within ``CHAMBER_TOL`` relative tried both ways). Two by-products:

* the trained network is a width-n network, so its J (``FenchelNetwork.objective``, float64) is an upper
  bound on min J at width n, hence on P* (P* ≤ min J at every width);
* its predictions ŷ give a dual point λ = ℓ'(ŷ) (for the cross-entropy ``[d, n, 2]`` form ŷ = z₀ − z₁,
  the one-output form of :class:`~fenchel_cvx.certify.twolayer.TwoLayerProblem`), certified like any other
  (:func:`~fenchel_cvx.certify.twolayer.certified_dual_bound`).

Measured (two moons m = 2,000, d = 2, logistic, ρ = 0.01, width 100; one core): L-BFGS reaches J = 0.2914611
in 6.5 CPU-s; its 32 seeded patterns and one restricted solve at barrier tolerance 1e-11 gave the bracket
[0.29146005, 0.29146016] (gap 3.7e-7) in 16.8 CPU-s (a prototype, without the constant-model units); in
:func:`~fenchel_cvx.certify.twolayer.convex_certificate` the same route gave gap 3.6e-7 in 37–48 CPU-s on a
shared machine (``benchmarks/certify_realdata.py --only moons``), where the constant-model start alone ended at
gap 0.156 after 60 CPU-s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..upper import lbfgs_train
from .arrangement import chambers_at
from .program import TwoLayerProblem
from .restricted import PatternSet

__all__ = ["WarmStart", "WARM_PROVENANCE", "WARM_SHARE", "one_output_units", "train_width_n", "seed_patterns"]

#: start of the provenance text of an upper bound from a warm start (reports recognise it by this prefix)
WARM_PROVENANCE = "J of an L-BFGS-trained width-n network"
#: share of ``time_limit`` after which no new warm start begins and L-BFGS stops (CPU seconds)
WARM_SHARE = 0.25
#: a unit i is alive when |a_i|·‖w_i‖ > ALIVE_TOL · max_k |a_k|·‖w_k‖ (its share of the output path norm)
ALIVE_TOL = 1e-8
#: samples with |a_jᵀu| ≤ CHAMBER_TOL·Σ_i|a_ji u_i| count as on the unit's hyperplane (both sides tried)
CHAMBER_TOL = 1e-6
#: L-BFGS iterations per warm start (moons m = 2,000, width 100 converged in fewer)
MAXITER = 5000


@dataclass
class WarmStart:
    """One L-BFGS-trained width-n network in one-output form: units ``W0`` (r x d), ``b0`` (r,), ``a`` (r,),
    output bias ``c`` (the r alive units, or all n when pruning the dead ones raised J); ``J`` its objective
    (``FenchelNetwork.objective`` of ``problem.network(W0, b0, a, c)``, float64); ``yhat`` (m,) its one-output
    predictions ŷ = aᵀ(W0 X0 + b0 1ᵀ)₊ + c; ``start`` its index, ``seed`` its initialisation, ``seconds``
    its CPU seconds, ``info`` L-BFGS's iterations and message."""

    J: float
    W0: np.ndarray
    b0: np.ndarray
    a: np.ndarray
    c: float
    yhat: np.ndarray
    start: int
    seed: int
    seconds: float
    info: dict = field(default_factory=dict)

    @property
    def r(self) -> int:
        return int(self.W0.shape[0])

    @property
    def provenance(self) -> str:
        return f"{WARM_PROVENANCE} (start {self.start}), FenchelNetwork.objective in float64"


def one_output_units(problem: TwoLayerProblem, W, b) -> tuple:
    r"""(W0 (n x d), b0 (n,), a (n,), c) of a judged network's parameters W = [W0, W1], b = [b0, b1]:
    a = W1[0], c = b1[0] for the ``[d, n, 1]`` squared form; a = W1[0] − W1[1], c = b1[0] − b1[1] for the
    ``[d, n, 2]`` cross-entropy form (the logit difference z₀ − z₁ of :meth:`TwoLayerProblem.network`)."""
    W0, W1 = np.asarray(W[0], dtype=np.float64), np.asarray(W[1], dtype=np.float64)
    b0, b1 = np.asarray(b[0], dtype=np.float64), np.asarray(b[1], dtype=np.float64)
    if problem.outputs == 1:
        return W0.copy(), b0.copy(), W1[0].copy(), float(b1[0])
    return W0.copy(), b0.copy(), W1[0] - W1[1], float(b1[0] - b1[1])


def _predict(problem: TwoLayerProblem, W0, b0, a, c) -> np.ndarray:
    """ŷ = aᵀ(W0 X0 + b0 1ᵀ)₊ + c, shape (m,)."""
    return a @ np.maximum(W0 @ problem.X0 + b0[:, None], 0.0) + c


def train_width_n(problem: TwoLayerProblem, start: int, seed: int, deadline: float | None = None,
                  maxiter: int = MAXITER) -> WarmStart:
    r"""L-BFGS on J of the width-n network ``problem.network`` from the initialisation ``seed``
    (:func:`~fenchel_cvx.certify.upper.lbfgs_train`, stopping past ``deadline``, a ``time.process_time()``
    value), in one-output form. The units with |a_i|·‖w_i‖ ≤ ALIVE_TOL·max are dropped when that does not raise
    J (both judged by ``FenchelNetwork.objective``); any width-n network's J ≥ min J at width n ≥ P*."""
    c0 = time.process_time()
    n, d = problem.width, problem.d
    net = problem.network(np.zeros((n, d)), np.zeros(n), np.zeros(n), 0.0)
    W, b, _, info = lbfgs_train(net, problem.X0, problem.targets, seed=seed, maxiter=maxiter, deadline=deadline)
    # judged in one-output form (cross-entropy: output rows (a/2, −a/2), the same logits' difference and no more
    # weight decay than the trained rows), with and without the dead units; the lesser J is kept
    W0, b0, a, c = one_output_units(problem, W, b)
    J = problem.judge(W0, b0, a, c)
    path = np.abs(a) * np.linalg.norm(W0, axis=1)
    alive = path > ALIVE_TOL * max(float(path.max(initial=0.0)), 1e-300)
    if alive.any() and not alive.all():
        Jp = problem.judge(W0[alive], b0[alive], a[alive], c)
        if Jp <= J:
            W0, b0, a, J = W0[alive], b0[alive], a[alive], Jp
    return WarmStart(J=J, W0=W0, b0=b0, a=a, c=c, yhat=_predict(problem, W0, b0, a, c), start=start, seed=seed,
                     seconds=time.process_time() - c0, info=info)


def seed_patterns(problem: TwoLayerProblem, patterns: PatternSet, ws: WarmStart, limit: int | None = None) -> int:
    r"""Add to ``patterns`` the chambers whose closure contains an alive unit u_i = (w_i, b_i) of ``ws`` (w_i
    without a bias): D = 1[A v > 0] for v next to u_i (:func:`~fenchel_cvx.certify.twolayer.arrangement.chambers_at`
    with ``rel_tol`` = CHAMBER_TOL), units in decreasing order of |a_i|·‖w_i‖, stopping once ``limit`` new
    patterns were added (None: all; every pattern is a restricted-program block, and ties multiply them:
    the diabetes data's width-100 network gave 282). Returns how many patterns were new."""
    path = np.abs(ws.a) * np.linalg.norm(ws.W0, axis=1)
    alive = np.flatnonzero(path > ALIVE_TOL * max(float(path.max(initial=0.0)), 1e-300))
    added = 0
    for i in alive[np.argsort(-path[alive], kind="stable")]:
        u = np.append(ws.W0[i], ws.b0[i]) if problem.bias else ws.W0[i]
        for D, e in chambers_at(problem.A, u, rel_tol=CHAMBER_TOL):
            added += patterns.add(D, e)
        if limit is not None and added >= limit:
            break
    return added
