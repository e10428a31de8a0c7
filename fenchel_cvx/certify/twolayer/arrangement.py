r"""Hyperplane arrangements of a data set, and the exact dual oracle of the two-layer convex program.

Shapes: data X0 is d x m (one column per sample x_j); A = [X0ᵀ 1] (m x (d+1)) with a bias, A = X0ᵀ
without; a unit is u = (w, b) ∈ ℝ^p (p = d+1 with a bias, p = d without).

**Activation patterns.** A ReLU unit acts on sample j through (a_jᵀu)₊ = D_j·a_jᵀu with the pattern
D = 1[A u > 0] ∈ {0,1}^m. The patterns of the open chambers of the central arrangement {u : a_jᵀu = 0}
are enumerated for d ≤ 2 by sort-based sweeps (:func:`enumerate_patterns_sweep`): with a bias, a
pattern is the set {j : x_jᵀw > −b}, i.e. a *prefix* of the samples sorted by x_jᵀw; the order only
changes when w crosses a direction orthogonal to some x_i − x_j, so the prefixes of one direction per
arc between those critical directions give every chamber — O(m²) patterns for d = 2, found in
O(m³ log m) time (only the prefixes that change from one arc to the next are emitted). Critical
directions closer than 1e-11 rad are merged (collinear samples), so a chamber whose directions span
less than that could be missed; the dual oracle below does not rely on this enumeration.

**Dual oracle.** For λ ∈ ℝ^m (with 1ᵀλ = 0 exactly when there is a bias) the oracle computes

    S(λ) = sup_{‖w‖ ≤ 1, b ∈ ℝ} |F_λ(w, b)|,     F_λ(w, b) = Σ_j λ_j (x_jᵀw + b)₊.

Derivation (bias). For fixed w, b ↦ F_λ(w, b) is continuous and piecewise linear with breakpoints
b = −x_kᵀw; it is 0 for b below all of them and equals λᵀX0ᵀw (slope 1ᵀλ = 0) above all of them, so
its supremum and infimum over b are attained at breakpoints. With b = −x_kᵀw,
F_λ = h_k(w) := Σ_j λ_j ((x_j − x_k)ᵀw)₊, which is positively homogeneous in w; hence

    S(λ) = max(0, max_k sup_{‖w‖=1} h_k(w), max_k sup_{‖w‖=1} −h_k(w))        (w = 0 gives 0).

Without a bias the same holds with the single function h(w) = Σ_j λ_j (x_jᵀw)₊ (no b, no 1ᵀλ = 0).
For d = 1 the "sphere" is w = ±1: 2m sums per k, O(m²) in all. For d = 2, h_k(w(θ)) on the circle
is linear, gᵀw with g = Σ_{j active} λ_j d_j (d_j = x_j − x_k), on each arc between consecutive
breakpoints θ = φ_j ± π/2 (φ_j the angle of d_j); on an arc gᵀw is maximised at g/‖g‖ (value ‖g‖)
if that direction lies inside the arc, else at an endpoint, and minimised likewise at −g/‖g‖. The
oracle sorts the 2m breakpoints, reads the active set of the longest arc at its midpoint, gets every
other arc's g by cumulative sums of ±λ_j d_j over the sorted events, and takes the arc maxima and
minima: O(m log m) per k, O(m² log m) in all, vectorised. Degenerate cases: d_j = 0 (j = k,
duplicate samples) contribute nothing; coinciding breakpoints give empty arcs (their g is never
"inside"), and the value 0 (w = 0) is always a candidate.

**Rounding, stated once** (:func:`oracle_allowance`). Let L_k = Σ_j |λ_j|‖d_j‖ and u = 2⁻⁵³. An arc
gradient is a sum of at most 3m terms ±λ_j d_j (initial set, then events), so its error is
ε₁ ≤ (3m+2)·u·3√2·L_k; a breakpoint direction is off by an angle ≤ 25u (atan2, ±π/2, wrap,
cos/sin), costing ≤ 25u·L_k by Lipschitz continuity of h_k; an endpoint value gᵀw adds a dot product.
An interior maximum ‖g‖ is computed within ε₁; if rounding misjudges "g inside its arc", g lies
within an angle δ of an endpoint and the endpoint value is ≥ ‖g‖cos δ − ε₁ ≥ ‖g‖ − 2ε₁ − 25u·L_k
(misjudging the other way only overestimates, which is safe). Events misordered by rounding bound
arcs of width O(u), covered by the endpoint term. In all the true supremum exceeds the computed one
by less than 32(m+4)·u·max_k L_k — the *allowance* added to give the certified upper bound
``bound = value + allowance``.

d = 3 (:func:`_sphere_3d`): a maximiser of h_k on S² lies on a great circle d_i^⊥ — then the exact
2-D sweep on that circle finds it — or inside a face of the arrangement of circles, at g_F/‖g_F‖;
every face borders an arc of some circle, and the sweep's lifted arc sums give the gradients of the
two faces along each arc. O(m²) candidates per k, evaluated directly: O(m⁴) time in all, affordable
for m up to ~100. The allowance doubles (64(m+4)·u·L) for the projections onto the circles, plus
2·δ·L_k where δ ≤ 1e-9 is the largest angle between two differences d_i, d_j that are taken as
parallel (0 for exactly collinear samples up to rounding).
d ≥ 4: the exact supremum is a maximum over O(m^{d−1}) candidates per k; not implemented — the oracle raises.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["data_matrix", "enumerate_patterns_sweep", "dual_oracle", "OracleResult", "oracle_allowance",
           "chambers_at", "cone_facets", "U_ROUND", "ORACLE_DIMS", "SWEEP_DIMS"]

#: unit roundoff of float64, u = 2⁻⁵³
U_ROUND = 2.0 ** -53
#: input dimensions d for which the exact oracle is implemented (d = 3: O(m⁴) time, small m)
ORACLE_DIMS = (1, 2, 3)
#: cone_facets computes hulls (qhull) only up to p = d + 1 = 6; beyond, every nonzero row is kept
MAX_HULL_P = 6
#: input dimensions d for which the sweep enumeration is implemented
SWEEP_DIMS = (1, 2)


def data_matrix(X0, bias: bool) -> np.ndarray:
    """A = [X0ᵀ 1] (m x (d+1)) with a bias, X0ᵀ (m x d) without; X0 is d x m."""
    X0 = np.asarray(X0, dtype=np.float64)
    return np.hstack([X0.T, np.ones((X0.shape[1], 1))]) if bias else X0.T.copy()


def _check_X0(X0, name="X0") -> np.ndarray:
    X0 = np.asarray(X0, dtype=np.float64)
    if X0.ndim != 2 or X0.shape[1] < 1:
        raise ValueError(f"{name}: expected a d x m array (one column per sample), got shape {X0.shape}")
    if not np.all(np.isfinite(X0)):
        raise ValueError(f"{name}: contains NaN or inf")
    return X0


# ---------------------------------------------------------------------------------------------
# pattern enumeration by sweeps (d <= 2)
# ---------------------------------------------------------------------------------------------
def _critical_angles(V: np.ndarray, tol: float = 1e-11) -> np.ndarray:
    """Sorted distinct angles in [−π, π) of the directions orthogonal to the rows of V (k x 2, nonzero).

    Angles closer than ``tol`` are merged: parallel differences (collinear samples) give one critical
    direction in exact arithmetic but several rounded ones, and the spurious arcs between them would
    order nearly tied projections by rounding (emitting patterns no halfplane realises). A genuine arc
    narrower than ``tol`` radians is lost with them.
    """
    ang = np.arctan2(V[:, 1], V[:, 0])
    ev = np.concatenate([ang - np.pi / 2, ang + np.pi / 2])
    ev = np.sort((ev + np.pi) % (2 * np.pi) - np.pi)
    if ev.size == 0:
        return ev
    keep = np.concatenate([[True], np.diff(ev) > tol])
    ev = ev[keep]
    if ev.size > 1 and ev[0] + 2 * np.pi - ev[-1] <= tol:
        ev = ev[:-1]
    return ev


def _arc_midpoints(ev: np.ndarray) -> np.ndarray:
    """Unit directions (k x 2) at the midpoints of the arcs between consecutive sorted angles (cyclic)."""
    if ev.size == 0:
        return np.array([[1.0, 0.0]])
    nxt = np.append(ev[1:], ev[0] + 2 * np.pi)
    mid = 0.5 * (ev + nxt)
    return np.column_stack([np.cos(mid), np.sin(mid)])


def _prefix_patterns(P: np.ndarray, chunk: int = 256) -> np.ndarray:
    """All prefix sets {j : P[a, j] > t} of the rows P[a] (projections; n_dir x mu, distinct per row).

    Only the prefixes that differ from the previous row's are emitted (a prefix of row a equals one of
    row a−1 iff the ranks in row a−1 of its elements are 0..k−1); every pattern of every row is the
    pattern of the first row it appears in, or was emitted, so the union is complete. Returns a
    boolean array (n_patterns x mu), duplicates removed.
    """
    n_dir, mu = P.shape
    out, prev_rank = [], None
    for s in range(0, n_dir, chunk):
        Pc = P[s:s + chunk]
        order = np.argsort(-Pc, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(mu), order.shape).copy(), axis=1)
        if prev_rank is None:  # the very first direction: all its prefixes
            out.append(rank[:1] < np.arange(mu + 1)[:, None])
            rows = np.arange(1, len(Pc))
            prevs = rank[:-1]
        else:
            rows = np.arange(len(Pc))
            prevs = np.vstack([prev_rank[None, :], rank[:-1]])
        if rows.size:
            r_in_prev = np.take_along_axis(prevs, order[rows], axis=1)  # previous ranks, in this order
            new = np.maximum.accumulate(r_in_prev, axis=1) != np.arange(mu)[None, :]  # prefix k+1 is new
            a_idx, k_idx = np.nonzero(new)
            out.append(rank[rows[a_idx]] < (k_idx + 1)[:, None])
        prev_rank = rank[-1]
    pats = np.vstack(out) if out else np.zeros((0, mu), dtype=bool)
    return np.unique(pats, axis=0)


def enumerate_patterns_sweep(X0, bias: bool = True, max_patterns: int | None = None) -> np.ndarray:
    """All patterns 1[A u > 0] of the open chambers of {u : a_jᵀu = 0}, for d ≤ 2, by sweeps (module docstring).

    ``X0`` is d x m. Returns a P x m float 0/1 array (rows sorted, distinct; the all-zero and all-one
    patterns included when they are chambers). With a bias, duplicate samples get identical columns;
    without a bias, a sample x_j = 0 gets D_j = 0 everywhere. Raises ValueError for d ≥ 3 or when more
    than ``max_patterns`` patterns are found.
    """
    X0 = _check_X0(X0)
    d, m = X0.shape
    if d not in SWEEP_DIMS:
        raise ValueError(f"X0: sweep enumeration supports d in {SWEEP_DIMS} features, got d = {d}")
    if bias:
        Xu, inv = np.unique(X0.T, axis=0, return_inverse=True)
        inv = np.asarray(inv).reshape(-1)
        if d == 1:
            P = np.vstack([Xu[:, 0], -Xu[:, 0]])
        else:
            iu, ju = np.triu_indices(len(Xu), 1)
            dirs = _arc_midpoints(_critical_angles(Xu[iu] - Xu[ju]))
            P = dirs @ Xu.T
        pats = _prefix_patterns(P)[:, inv]
    else:
        nz = np.any(X0 != 0, axis=0)
        if d == 1:
            dirs = np.array([[1.0], [-1.0]])
        else:
            dirs = _arc_midpoints(_critical_angles(X0.T[nz])) if nz.any() else np.array([[1.0, 0.0]])
        pats = np.unique((dirs @ X0) > 0, axis=0)
    if max_patterns is not None and len(pats) > max_patterns:
        raise ValueError(f"X0: {len(pats)} activation patterns exceed max_patterns={max_patterns}")
    return pats.astype(float)


# ---------------------------------------------------------------------------------------------
# the exact dual oracle (d <= 2)
# ---------------------------------------------------------------------------------------------
@dataclass
class OracleResult:
    """What :func:`dual_oracle` returns.

    value     : max(0, best candidate |F_λ|), the supremum S(λ) up to rounding (attained, up to rounding, at the
                first candidate)
    allowance : :func:`oracle_allowance`, the most by which S(λ) can exceed ``value``
    bound     : value + allowance, a rigorous upper bound on S(λ)
    F, W, b   : the ``top`` candidates with the largest |F_λ(w, b)| among the best of each sign per k, best first:
                values (N,), unit directions w (N x d) and biases b (N,) (b = −x_kᵀw; 0 without a bias)
    n_evals   : number of candidate points evaluated
    kind      : "exact" (this module: ``bound`` is a rigorous upper bound on S(λ)), "search" (heuristic
                maximisers of :mod:`~fenchel_cvx.certify.twolayer.search`: ``bound`` = inf) or "scip"
                (:mod:`~fenchel_cvx.certify.twolayer.mipbound`: ``bound`` rests on SCIP's dual bound)
    """

    value: float
    allowance: float
    bound: float
    F: np.ndarray
    W: np.ndarray
    b: np.ndarray
    n_evals: int
    kind: str = "exact"


#: events per chunk of the d ≤ 2 sweep (K breakpoints x 2m events): measured 2.2–2.5 CPU-s
#: instead of 5.0–5.3 per call at m = 2,000 (two moons) with 6e4 instead of 2e6
CHUNK_2D = 6e4


def oracle_allowance(m: int, L: float, d: int = 2) -> float:
    """The rounding allowance of the oracle: 32(m+4)·u·L for d ≤ 2, 64(m+4)·u·L for d = 3 (the circle bases and
    projections add a few u·L), with L = max_k Σ_j |λ_j|‖x_j − x_k‖ (bias) or Σ_j |λ_j|‖x_j‖ (no bias) and u = 2⁻⁵³
    (derivation in the module docstring); inflated by 1e-12 relative for the rounding of L itself."""
    return (32.0 if d <= 2 else 64.0) * (m + 4) * U_ROUND * L * (1.0 + 1e-12)


def _top(values: np.ndarray, n: int) -> np.ndarray:
    a = np.abs(values)
    if n >= a.size:
        return np.argsort(-a)
    idx = np.argpartition(-a, n)[:n]
    return idx[np.argsort(-a[idx])]


def dual_oracle(X0, lam, bias: bool = True, top: int = 64, chunk: int | None = None) -> OracleResult:
    r"""S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| exactly (d ≤ 3), with a rigorous rounding allowance.

    ``X0`` is d x m, ``lam`` has m entries; with ``bias`` the formula needs 1ᵀλ = 0 *exactly* (in real
    arithmetic on the given floats: the caller must construct λ so, see
    :func:`fenchel_cvx.certify.twolayer.exact_zero_sum`); this is checked with math.fsum and a
    ValueError is raised otherwise. Cost O(m² log m) time for d ≤ 2, O(m⁴) for d = 3 (module docstring).
    The best candidate of each sign for each k (the best unit through each x_k) is kept and the
    ``top`` of those with the largest |F_λ| are returned (distinct units for column generation).
    """
    X0 = _check_X0(X0)
    d, m = X0.shape
    lam = np.asarray(lam, dtype=np.float64).reshape(-1)
    if lam.shape != (m,):
        raise ValueError(f"lam: expected {m} entries (one per sample), got shape {lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError("lam: contains NaN or inf")
    if d not in ORACLE_DIMS:
        raise ValueError(f"X0: the exact dual oracle supports d in {ORACLE_DIMS} features, got d = {d}; "
                         "for d >= 4 the supremum is a maximum over O(m^(d-1)) candidates per sample "
                         "(not implemented)")
    if bias and math.fsum(lam.tolist()) != 0.0:
        raise ValueError("lam: with a bias the oracle needs 1ᵀλ = 0 exactly (use exact_zero_sum)")
    Xt = X0.T
    ks = np.arange(m) if bias else np.array([-1])
    if chunk is None:  # d ≤ 2: chunks of ~CHUNK_2D events stay in cache (2x faster at m = 2,000)
        chunk = max(1, int((CHUNK_2D if d <= 2 else 2e6) // (2 * m + 1)))
    Fs, Ws, bs, L, n_evals, extra3 = [], [], [], 0.0, 0, 0.0
    for s in range(0, len(ks), chunk):
        kk = ks[s:s + chunk]
        Dk = (Xt[None, :, :] - Xt[kk][:, None, :]) if bias else Xt[None, :, :]  # (K, m, d)
        L = max(L, float(np.max(np.linalg.norm(Dk, axis=2) @ np.abs(lam))))
        if d == 1:
            vals = np.stack([np.maximum(Dk[..., 0], 0.0) @ lam, np.maximum(-Dk[..., 0], 0.0) @ lam], axis=1)
            dirs = np.broadcast_to(np.array([[1.0], [-1.0]]), (len(kk), 2, 1))
            n_evals += vals.size
            for sel in (np.argmax(vals, axis=1), np.argmin(vals, axis=1)):
                r = np.arange(len(kk))
                Fs.append(vals[r, sel])
                Ws.append(dirs[r, sel])
        elif d == 2:
            F, W = _sweep_2d(Dk, lam)
            n_evals += Dk.shape[0] * Dk.shape[1] * 2
            Fs += [F[:, 0], F[:, 1]]
            Ws += [W[:, 0], W[:, 1]]
        else:
            F, W, ex = _sphere_3d(Dk, lam)
            extra3 = max(extra3, float(ex.max()))
            n_evals += Dk.shape[0] * Dk.shape[1] ** 3 * 8
            Fs += [F[:, 0], F[:, 1]]
            Ws += [W[:, 0], W[:, 1]]
        for _ in range(2):
            bs.append(kk)
    F = np.concatenate(Fs)
    W = np.concatenate(Ws)
    kidx = np.concatenate(bs)
    b = -np.einsum("ni,ni->n", Xt[kidx], W) if bias else np.zeros(len(F))
    order = _top(F, top)
    F, W, b = F[order], W[order], b[order]
    value = max(0.0, float(np.max(np.abs(F)))) if F.size else 0.0
    allowance = oracle_allowance(m, L, d) + extra3 * (1.0 + 1e-12)
    return OracleResult(value=value, allowance=allowance, bound=value + allowance, F=F, W=W, b=b,
                        n_evals=n_evals)


def _sweep_2d(Dk: np.ndarray, lam: np.ndarray, lift: np.ndarray | None = None):
    r"""max and min over the unit circle of h_k(w) = Σ_j λ_j (d_jᵀw)₊ for each k (rows of Dk: K x m x 2).

    Breakpoints: term j is active on the open half circle (φ_j − π/2, φ_j + π/2). The 2m events are
    sorted; the active set of the longest arc is read off at its midpoint (≥ π/(2m) from every
    breakpoint, so no sign is in doubt), and the arc gradients g_i = Σ_{active} λ_j d_j of the other
    arcs follow by cumulative sums of ±λ_j d_j over the events. On arc i, h = g_iᵀw: its maximum is ‖g_i‖
    if g_i's angle lies in the arc, else the larger endpoint value (the minimum likewise with −g_i).
    Returns F (K x 2: max, min) and the maximising/minimising directions W (K x 2 x 2); with ``lift``
    (K x m x q) also the lifted arc sums Σ_{j active on arc} λ_j lift_j (K x 2m x q).
    """
    K, m, _ = Dk.shape
    two_pi = 2 * np.pi
    ang = np.arctan2(Dk[..., 1], Dk[..., 0])
    ev = np.concatenate([ang - np.pi / 2, ang + np.pi / 2], axis=1)
    ev = (ev + np.pi) % two_pi - np.pi  # (K, 2m) in [−π, π)
    contrib = lam[None, :, None] * Dk  # λ_j d_j
    contrib = np.concatenate([contrib, -contrib], axis=1)  # entering adds, leaving subtracts
    order = np.argsort(ev, axis=1, kind="stable")
    evs = np.take_along_axis(ev, order, axis=1)
    con = np.take_along_axis(contrib, order[:, :, None], axis=1)
    gaps = np.diff(evs, axis=1, append=evs[:, :1] + two_pi)
    i0 = np.argmax(gaps, axis=1)
    n = 2 * m
    roll = (i0[:, None] + np.arange(n)[None, :]) % n
    evr = np.take_along_axis(evs, roll, axis=1)
    gapr = np.take_along_axis(gaps, roll, axis=1)
    conr = np.take_along_axis(con, roll[:, :, None], axis=1)
    mid = evr[:, 0] + 0.5 * gapr[:, 0]
    wmid = np.stack([np.cos(mid), np.sin(mid)], axis=1)  # (K, 2)
    act = np.einsum("kji,ki->kj", Dk, wmid) > 0
    g0 = np.einsum("kj,kji->ki", act * lam[None, :], Dk)
    G = g0[:, None, :] + np.concatenate([np.zeros((K, 1, 2)), np.cumsum(conr[:, 1:, :], axis=1)], axis=1)
    GL = None
    if lift is not None:
        cl = lam[None, :, None] * lift
        cl = np.take_along_axis(np.concatenate([cl, -cl], axis=1), order[:, :, None], axis=1)
        cl = np.take_along_axis(cl, roll[:, :, None], axis=1)
        gl0 = np.einsum("kj,kjq->kq", act * lam[None, :], lift)
        GL = gl0[:, None, :] + np.concatenate([np.zeros((K, 1, lift.shape[2])), np.cumsum(cl[:, 1:, :], axis=1)],
                                              axis=1)
    a_ang, b_ang = evr, evr + gapr
    wa = np.stack([np.cos(a_ang), np.sin(a_ang)], axis=2)
    wb = np.stack([np.cos(b_ang), np.sin(b_ang)], axis=2)
    va, vb = np.sum(G * wa, axis=2), np.sum(G * wb, axis=2)
    nG = np.linalg.norm(G, axis=2)
    psi = np.arctan2(G[..., 1], G[..., 0])
    in_p = ((psi - a_ang) % two_pi) <= gapr
    in_m = ((psi + np.pi - a_ang) % two_pi) <= gapr
    gdir = np.divide(G, nG[..., None], out=np.zeros_like(G), where=nG[..., None] > 0)
    # maximum of h per arc and where
    vmax = np.where(va >= vb, va, vb)
    wmax = np.where((va >= vb)[..., None], wa, wb)
    use = in_p & (nG > vmax)
    vmax = np.where(use, nG, vmax)
    wmax = np.where(use[..., None], gdir, wmax)
    # minimum of h per arc (maximum of −h)
    vmin = np.where(va <= vb, va, vb)
    wmin = np.where((va <= vb)[..., None], wa, wb)
    use = in_m & (-nG < vmin)
    vmin = np.where(use, -nG, vmin)
    wmin = np.where(use[..., None], -gdir, wmin)
    r = np.arange(K)
    imax, imin = np.argmax(vmax, axis=1), np.argmin(vmin, axis=1)
    F = np.stack([vmax[r, imax], vmin[r, imin]], axis=1)
    W = np.stack([wmax[r, imax], wmin[r, imin]], axis=1)
    return (F, W) if lift is None else (F, W, GL)


def _sphere_3d(Dk: np.ndarray, lam: np.ndarray):
    r"""max and min over the unit sphere S² of h_k(w) = Σ_j λ_j (d_jᵀw)₊ for each k (Dk: K x m x 3).

    A maximiser w* either lies on a great circle C_i = d_i^⊥ (some d_jᵀw* = 0): then it maximises h
    on C_i, which :func:`_sweep_2d` solves exactly on the projections E_iᵀd_j (E_i an orthonormal basis
    of d_i^⊥); or it is interior to a face of the arrangement of circles, where h = g_Fᵀw and
    w* = g_F/‖g_F‖. Every face has an arc of some circle C_i on its boundary, and the two faces along
    an arc of C_i have gradients g_arc + Σ_{d_j = αd_i, ±α > 0} λ_j d_j (g_arc: the lifted arc sum of
    the sweep on C_i; samples with d_j ∥ d_i vanish on C_i and are active on one side). So the
    candidates are the circle maxima and ±g_F/‖g_F‖ for both faces of every arc, evaluated directly:
    O(m²) candidates and O(m³) work per k. Returns F (K x 2) and W (K x 2 x 3) as :func:`_sweep_2d`,
    and per k the extra allowance 2·δ·L_k for the samples taken as parallel at angle δ ≤ 1e-9.
    """
    K, m, _ = Dk.shape
    Fo, Wo, extra = np.zeros((K, 2)), np.zeros((K, 2, 3)), np.zeros(K)
    for k in range(K):
        D = Dk[k]
        nrm = np.linalg.norm(D, axis=1)
        circ = np.flatnonzero(nrm > 0)
        if circ.size == 0:
            Wo[k, :, 0] = 1.0
            continue
        n = D[circ] / nrm[circ, None]  # circle normals
        # orthonormal bases of n_i^⊥: e1 ⊥ n (Householder-free: cross with the least aligned axis), e2 = n × e1
        axis = np.eye(3)[np.argmin(np.abs(n), axis=1)]
        e1 = np.cross(n, axis)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(n, e1)
        E = np.stack([e1, e2], axis=2)  # (c, 3, 2)
        Dp = np.einsum("jq,cqr->cjr", D, E)  # projections (c, m, 2)
        sin = np.linalg.norm(Dp, axis=2) / np.maximum(nrm[None, :], 1e-300)  # sine of the angle (d_j, d_i)
        par = sin <= 1e-9  # d_j ∥ d_i (or 0), up to rounding of collinear samples
        par[np.arange(circ.size), circ] = True  # a circle's own normal, always
        # treating an angle δ ≤ 1e-9 as 0 moves h on the circle by ≤ δ·L_k, and can hide a lune of width δ
        # between two faces, whose maximum exceeds its boundary's by ≤ δ·L_k: 2·δ_max·L_k is added to the allowance
        Lk = float(nrm @ np.abs(lam))
        delta = float(np.max(np.where(par, sin, 0.0)))
        extra[k] = 2.0 * delta * Lk
        Dp = np.where(par[:, :, None], 0.0, Dp)
        lift = np.where(par[:, :, None], 0.0, D[None, :, :])
        F2, W2, GL = _sweep_2d(Dp, lam, lift)
        cands = [np.einsum("cqr,cxr->cxq", E, W2).reshape(-1, 3)]  # circle maxima and minima, lifted
        alpha = D @ n.T  # (m, c): d_jᵀn_i, the sign of α for parallel j
        for side in (1.0, -1.0):
            sel = par & (side * alpha.T > 0)  # (c, m)
            gface = GL + np.einsum("cj,jq->cq", sel * lam[None, :], D)[:, None, :]  # (c, 2m, 3)
            gn = np.linalg.norm(gface, axis=2, keepdims=True)
            gd = np.divide(gface, gn, out=np.zeros_like(gface), where=gn > 0).reshape(-1, 3)
            cands += [gd, -gd]
        C = np.vstack(cands)
        V = np.maximum(C @ D.T, 0.0) @ lam
        imax, imin = int(np.argmax(V)), int(np.argmin(V))
        Fo[k] = (V[imax], V[imin])
        Wo[k] = (C[imax], C[imin])
    return Fo, Wo, extra


# ---------------------------------------------------------------------------------------------
# chambers through a point, and the facets of a chamber's cone
# ---------------------------------------------------------------------------------------------
def chambers_at(A: np.ndarray, u: np.ndarray, max_ties: int = 3, rel_tol: float = 1e-9):
    """Open chambers whose closure contains u: a list of (D, e) with D = 1[A e > 0] (bool, m) and e an
    interior point of the chamber's cone {v : (2D−1)∘(A v) ≥ 0} (unit norm).

    Samples with |a_jᵀu| ≤ ``rel_tol``·Σ_i|a_ji u_i| count as ties (u lies on their hyperplanes); every
    sign assignment σ of the ties is tried by the step u + εδ with A_T δ = σ (least squares) and ε half
    the distance to the first sign change elsewhere; assignments that do not produce a strict interior
    point (degenerate ties) are skipped. With more than ``max_ties`` ties only random directions δ are
    tried (2^max_ties of them).
    """
    A = np.asarray(A, dtype=np.float64)
    a = A @ u
    scale = np.abs(A) @ np.abs(u)
    tie = np.abs(a) <= rel_tol * scale
    if not tie.any():
        return [(a > 0, u / np.linalg.norm(u))]
    T = np.flatnonzero(tie)
    rng = np.random.default_rng(len(T))
    if len(T) <= max_ties:
        sigmas = [np.array(s, dtype=float) for s in itertools.product((1.0, -1.0), repeat=len(T))]
        deltas = [np.linalg.lstsq(A[T], s, rcond=None)[0] for s in sigmas]
    else:
        deltas = [rng.normal(size=u.shape) for _ in range(2 ** max_ties)]
    out, seen = [], set()
    free = ~tie
    for delta in deltas:
        ad = A @ delta
        if np.any(np.abs(ad[T]) <= 1e-9 * (np.abs(A[T]) @ np.abs(delta))):
            continue
        ratios = np.abs(a[free]) / np.maximum(np.abs(ad[free]), 1e-300)
        eps = 0.5 * float(np.min(ratios)) if free.any() else 1.0
        eps = min(eps, 0.5 * np.linalg.norm(u) / max(np.linalg.norm(delta), 1e-300))
        v = u + eps * delta
        av = A @ v
        ok = np.all(np.sign(av[free]) == np.sign(a[free])) and np.all(np.sign(av[T]) == np.sign(ad[T]))
        if not ok or np.min(np.abs(av)) <= 1e-12 * (np.abs(A) @ np.abs(v)).max():
            continue
        D = av > 0
        key = np.packbits(D).tobytes()
        if key in seen:
            continue
        seen.add(key)
        out.append((D, v / np.linalg.norm(v)))
    return out


def _hull_2d(z: np.ndarray, tol: float) -> np.ndarray:
    """Indices of the points z (n x 2) on the boundary of their convex hull (monotone chain; points
    within ``tol`` of an edge are kept, so the result is a superset of the vertices)."""
    order = np.lexsort((z[:, 1], z[:, 0]))

    def cross(o, a, b):
        return (z[a, 0] - z[o, 0]) * (z[b, 1] - z[o, 1]) - (z[a, 1] - z[o, 1]) * (z[b, 0] - z[o, 0])

    def chain(idx):
        h = []
        for i in idx:
            while len(h) >= 2 and cross(h[-2], h[-1], i) < -tol:
                h.pop()
            h.append(i)
        return h

    lower = chain(order)
    upper = chain(order[::-1])
    return np.unique(np.array(lower + upper, dtype=np.int64))


def cone_facets(G: np.ndarray, e: np.ndarray) -> np.ndarray:
    r"""Indices of the rows of G that define facets of the cone K = {u : G u ≥ 0} (a superset).

    ``e`` must be an interior point (G e > 0 on the nonzero rows). Facets of K are the extreme rays of
    the dual cone cone{g_j}; on the section {r : rᵀe = 1} they are the vertices of the convex hull of
    the points g_j/(g_jᵀe). Zero rows (trivial constraints) are dropped. Hull in p−1 = 1 dimension:
    the two extremes; in 2: monotone chain keeping near-collinear points; in ≥ 3: qhull, falling back
    to all rows if it fails; for p > :data:`MAX_HULL_P` all nonzero rows. Removing redundant rows does not change K.
    """
    G = np.asarray(G, dtype=np.float64)
    nz = np.flatnonzero(np.any(G != 0, axis=1))
    if nz.size == 0:
        return nz
    ge = G[nz] @ e
    if np.any(ge <= 0):
        raise ValueError("e: not an interior point of the cone (some g_jᵀe <= 0)")
    R = G[nz] / ge[:, None]
    p = G.shape[1]
    if p == 1:
        return nz[:1]
    Q, _ = np.linalg.qr(np.column_stack([e, np.eye(p)]))
    Z = R @ Q[:, 1:p]  # coordinates in e^⊥
    if p == 2:
        z = Z[:, 0]
        keep = np.flatnonzero((z <= z.min() + 1e-12 * (1 + abs(z.min()))) | (z >= z.max() - 1e-12 * (1 + abs(z.max()))))
        return nz[keep]
    if p == 3:
        tol = 1e-12 * float(np.max(np.abs(Z)) ** 2 + 1e-300)
        return nz[_hull_2d(Z, tol)]
    if p > MAX_HULL_P:  # qhull in many dimensions costs more than the rows it removes
        return nz
    try:  # 3 <= d <= MAX_HULL_P - 1
        from scipy.spatial import ConvexHull

        return nz[np.unique(ConvexHull(Z).vertices)]
    except Exception:  # degenerate (flat) point sets: keep every row
        return nz
