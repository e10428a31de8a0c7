r"""Heuristic maximisers of the dual oracle F_λ for any input dimension d (they find units; they bound nothing).

Shapes: X0 is d x m (features x samples); λ has m entries; a unit is (w, b) with ‖w‖ = 1.

For λ ∈ ℝ^m the dual oracle is S(λ) = sup_{‖w‖≤1, b} |F_λ(w, b)| with F_λ(w, b) = Σ_j λ_j (x_jᵀw + b)₊
(:mod:`fenchel_cvx.certify.twolayer.arrangement`). Column generation needs units of large |F_λ|, not the supremum
itself; :func:`search_oracle` finds them by *alternating ascent* from many starting directions:

1. **best bias** for the current w: with a bias, b ↦ F_λ(w, b) is piecewise linear with breakpoints b = −x_kᵀw (and
   1ᵀλ = 0), so its maximum over b is the best breakpoint. With the projections sorted decreasingly, p_(1) ≥ … ≥ p_(m),
   the value at b = −p_(k) is
   F_k = Σ_{i<k} λ_(i) p_(i) − p_(k) Σ_{i<k} λ_(i) (prefix sums, O(m log m) per start);
2. **best direction** for the active set D = {i < k*} of that breakpoint: the linear function
   gᵀw with g = Σ_{j∈D} λ_j (x_j − x_k*) is maximised over the unit ball by w = g/‖g‖;

repeated until the value stops improving (or ``iters`` steps). The same search runs on −λ for the minimum of F_λ.
Without a bias there is no breakpoint to choose: D = {j : x_jᵀw > 0}, g = Σ_{j∈D} λ_j x_j.
Starts: the caller's units (the current network's hidden units, previous maximisers), sample
directions x_j, differences x_i − x_j of random pairs and random Gaussian directions.

The values returned are F_λ at the units found, evaluated directly: a *lower* estimate of S(λ). A
certified *upper* bound on S(λ) for d ≥ 4 comes from :mod:`fenchel_cvx.certify.twolayer.mipbound`.
"""

from __future__ import annotations

import time

import numpy as np

from .arrangement import OracleResult

__all__ = ["search_oracle", "unit_values"]


def unit_values(X0, lam, W, b) -> np.ndarray:
    r"""F_λ(w_i, b_i) = Σ_j λ_j (x_jᵀw_i + b_i)₊ for the units (rows of W (N x d), b (N,)); X0 is d x m, ``lam`` (m,).
    Returns (N,)."""
    X0 = np.asarray(X0, dtype=np.float64)
    return np.maximum(np.asarray(W) @ X0 + np.asarray(b)[:, None], 0.0) @ np.asarray(
        lam, dtype=np.float64
    )


def _best_breakpoint(P: np.ndarray, lam: np.ndarray):
    """For projections P (S x m) and weights λ: the breakpoint k* per row maximising
    F_k = Σ_{i<k} λ_(i) p_(i) − p_(k) Σ_{i<k} λ_(i) over the decreasing order, its value and the
    active mask {j : p_j > p_(k*)} (S x m); returns (values (S,), the sample index of k* (S,), mask)."""
    order = np.argsort(-P, axis=1, kind="stable")
    Ps = np.take_along_axis(P, order, axis=1)
    Ls = lam[order]
    cl = np.cumsum(Ls, axis=1) - Ls  # Σ_{i<k} λ_(i)
    clp = np.cumsum(Ls * Ps, axis=1) - Ls * Ps
    F = clp - Ps * cl
    k = np.argmax(F, axis=1)
    r = np.arange(P.shape[0])
    pk = Ps[r, k]
    act = P > pk[:, None]
    return F[r, k], order[r, k], act


def _ascent(X0: np.ndarray, lam: np.ndarray, W: np.ndarray, bias: bool, iters: int):
    """Alternating ascent of F_λ from the start directions W (S x d, nonzero); returns the best value, direction and
    bias reached per start (S,), (S x d), (S,)."""
    Xt = X0.T
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    best_v = np.full(W.shape[0], -np.inf)
    best_w, best_b = W.copy(), np.zeros(W.shape[0])
    alive = np.ones(W.shape[0], dtype=bool)
    for _ in range(iters):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        Wi = W[idx]
        P = Wi @ X0  # (S, m)
        if bias:
            v, kk, act = _best_breakpoint(P, lam)
            b = -P[np.arange(idx.size), kk]
        else:
            act = P > 0
            v = np.maximum(P, 0.0) @ lam
            b = np.zeros(idx.size)
        better = v > best_v[idx] * (1.0 + 1e-12) + 1e-300
        upd = idx[better]
        best_v[upd], best_w[upd], best_b[upd] = v[better], Wi[better], b[better]
        alive[idx[~better]] = False
        # best direction for the active set D at the breakpoint sample k*: F = Σ_{j∈D} λ_j (x_j − x_k*)ᵀw
        G = (act * lam[None, :]) @ Xt
        if bias:
            G = G - np.sum(act * lam[None, :], axis=1)[:, None] * Xt[kk]
        nG = np.linalg.norm(G, axis=1)
        ok = nG > 0
        alive[idx[~ok]] = False
        W[idx[ok]] = G[ok] / nG[ok, None]
    return best_v, best_w, best_b


def search_oracle(
    X0,
    lam,
    bias: bool = True,
    starts=None,
    n_random: int = 256,
    n_pairs: int = 256,
    iters: int = 50,
    top: int = 64,
    seed: int = 0,
    time_limit: float | None = None,
) -> OracleResult:
    r"""Units of large |F_λ(w, b)| by alternating ascent (module docstring); any d.

    ``X0`` d x m, ``lam`` (m,) (with ``bias`` 1ᵀλ = 0 is assumed: then the sup over b sits at a breakpoint); ``starts``
    (N x d) extra start directions (e.g. the current hidden units); ``n_random`` Gaussian directions and ``n_pairs``
    differences of random sample pairs are added, and every sample direction x_j (centred when there is a bias). Returns
    an :class:`OracleResult` with ``kind`` "search": ``value`` = the largest |F_λ| found (a *lower* estimate of S(λ)),
    ``allowance`` = inf and ``bound`` = inf (no upper bound), and the ``top`` distinct units of largest |F_λ| (both
    signs). ``time_limit`` (seconds) caps the searches (checked between the two signs).
    """
    t0 = time.perf_counter()
    X0 = np.asarray(X0, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    d, m = X0.shape
    if lam.shape != (m,):
        raise ValueError(f"lam: expected {m} entries (one per sample), got shape {lam.shape}")
    rng = np.random.default_rng(seed)
    Xc = X0 - X0.mean(axis=1, keepdims=True) if bias else X0
    cand = [rng.normal(size=(n_random, d)), Xc.T]
    if m >= 2:
        i, j = rng.integers(0, m, size=(2, n_pairs))
        cand.append(X0.T[i] - X0.T[j])
    if starts is not None:
        S = np.asarray(starts, dtype=np.float64).reshape(-1, d)
        cand += [S, -S]
    W = np.vstack(cand)
    W = W[np.linalg.norm(W, axis=1) > 1e-12 * (1.0 + float(np.max(np.abs(X0), initial=0.0)))]
    Fs, Ws, bs = [], [], []
    for sgn in (1.0, -1.0):
        if time_limit is not None and sgn < 0 and time.perf_counter() - t0 > time_limit:
            break
        v, w, b = _ascent(X0, sgn * lam, W.copy(), bias, iters)
        Fs.append(sgn * v)
        Ws.append(w)
        bs.append(b)
    F, Wu, bu = np.concatenate(Fs), np.vstack(Ws), np.concatenate(bs)
    F = unit_values(X0, lam, Wu, bu)  # re-evaluated directly
    order = np.argsort(-np.abs(F))
    keep, seen = [], set()
    for i in order:  # distinct units (rounded keys)
        key = (np.round(Wu[i], 9).tobytes(), round(float(bu[i]), 9))
        if key in seen:
            continue
        seen.add(key)
        keep.append(i)
        if len(keep) >= top:
            break
    keep = np.asarray(keep, dtype=np.int64)
    value = max(0.0, float(np.max(np.abs(F)))) if F.size else 0.0
    return OracleResult(
        value=value,
        allowance=np.inf,
        bound=np.inf,
        F=F[keep],
        W=Wu[keep],
        b=bu[keep],
        n_evals=int(W.shape[0] * iters * 2),
        kind="search",
    )
