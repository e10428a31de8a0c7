r"""Certified lower bounds of the blocks in float64, and the one rounding allowance they all use.

Shapes: features x samples. Everything here runs on numpy float64 arrays (the blocks convert their data
exactly: a float32 or torch block is certified for the same data read as float64).

**What "certified" means** (docs/design.md, certificates): a lower bound on a block's optimum is the value of a
provably valid expression, evaluated in float64 at a point whose feasibility is checked, and then
deflated by a rigorous allowance for the rounding of that evaluation. It never rests on a solver's
tolerance: a solver's primal value, or "primal − reported gap", is not a bound. The constructions:

* **W-blocks** (:func:`w_dual_bound`; P(W, b) = H(WX + b1ᵀ) + R(W) + Q(b), H = w·ℓ(Y, ·)): the Fenchel dual
  value D(A) = −H*(A) − R*(−AXᵀ) − Q*(−A1) ≤ min P at the dual point A = w(V − Y), V = ``loss.mean_point(Y, U)``
  at U = WX + b1ᵀ (V lies in the domain of H* by construction: φ(U) projected onto dom f*, a softmax whose
  columns are rescaled to sum to s_j exactly, or U itself). With γ > 0 or no bias every such A is feasible.
  With γ = 0 and a bias the constraint A1 = 0 holds only up to rounding; it is *repaired* by concavity:
  for an anchor A_Q = w(qσᵀ − Y) with A_Q1 = −(1−θ)/θ·A1, the point (1−θ)A + θA_Q is feasible and
  D((1−θ)A + θA_Q) ≥ (1−θ)D̃(A) + θD̃(A_Q) (D̃ = D without the constraint, concave); q = (mass −
  (1−θ)r/(θw))/Σσ is known to lie in a small box around mass/Σσ (|r| is bounded, not known exactly), and
  D̃(A_Q) is bounded below over that box (``loss.anchor_conj_upper``, a norm bound for R*). No bound
  (``None`` and a reason) when the anchor would leave the domain (a row of Y on an edge of dom f*).
* **X-blocks** (:func:`x_divergence_bound`; F(V) = g(V) + h(V), g(V) = s(A V) smooth convex,
  h(V) = c[Σf*(V) − ⟨U, V⟩], c = λ/m): for any feasible V, convexity of g gives
  F(V') ≥ F(V) + ⟨∇g(V), V' − V⟩ + h(V') − h(V), and minimising over V' entrywise in closed form,

      min F ≥ F(V) − c Σ_ij B_φ(U_ij − ∇g(V)_ij / c, V_ij)          (B_φ the Fenchel divergence),

  the dual value at the dual point ∇g(V). It needs no strong-convexity constant, no normal cones at the
  domain edges and stays tight where the optimum is closer to an edge than float64 can represent
  (saturated sigmoid/tanh entries). It is at least the strong-convexity bound F(V) − ‖G‖²/(2μ) of FISTA.

**The rounding allowance** (the one place). Model (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., §2.2, §3.1, §3.5): u = 2⁻⁵³; every +, −, ×, ÷, √ of float64 numbers rounds with
relative error ≤ u; a sum of N terms, in any order and blocking (BLAS, pairwise), satisfies
|fl(Σ x_i) − Σ x_i| ≤ γ_{N−1} Σ|x_i| with γ_n = n u / (1 − n u), and a matrix product entry likewise with
|A||B|; the elementary functions (exp, log, log1p, expit, tanh, logsumexp) are taken to be accurate to
4 ulps, and f, f*, ∇f* of an activation to 4u(|value| + 2) (the +2 covers the cancelling logarithms of
the bounded-domain entropies). A quantity evaluated through at most n roundings along any path is then
exact up to γ_n·Σ|terms|; :func:`allowance` returns γ_{2n+32}·magnitude -- a factor 2 and 32 extra
roundings of margin -- and :func:`lower` / :func:`upper` move a computed value by it and one more ulp.
Every certified bound of the package (fast paths and references) passes through these three functions.
What the allowance does *not* cover: a BLAS or convolution kernel that violates the standard model
(e.g. FFT/Winograd convolutions; the certificates use numpy's im2col path), and data that are not the
problem's (a block's data are its float64-converted arrays and its float weights λ/m, ρ, γ).
"""

from __future__ import annotations

import math

import numpy as np

from .mm import Proximal

__all__ = ["U64", "gamma_n", "allowance", "lower", "upper", "entry_error", "value_error", "grad_error",
           "w_dual_bound", "w_objective_interval",
           "x_divergence_bound"]

#: unit roundoff of float64
U64 = 2.0 ** -53


def gamma_n(n) -> float:
    """γ_{2n+32} = k u/(1 − k u), k = 2n + 32: the relative rounding allowance of an evaluation of depth n."""
    k = 2.0 * float(n) + 32.0
    if k * U64 >= 0.5:
        return math.inf
    return k * U64 / (1.0 - k * U64)


def allowance(magnitude: float, n) -> float:
    """γ_{2n+32}·magnitude (module docstring): the rounding error allowed for an evaluation of depth n whose
    terms have absolute values summing to ``magnitude``."""
    return gamma_n(n) * float(magnitude)


def lower(value: float, magnitude: float, n) -> float:
    """A guaranteed lower bound on the exact value of a float64 evaluation (``value``, depth n, Σ|terms|
    = ``magnitude``): value − allowance, one ulp further down."""
    return math.nextafter(float(value) - allowance(magnitude, n), -math.inf)


def upper(value: float, magnitude: float, n) -> float:
    """A guaranteed upper bound (see :func:`lower`)."""
    return math.nextafter(float(value) + allowance(magnitude, n), math.inf)


def entry_error(magnitude, n):
    """Entrywise allowance γ_{2n+32}·magnitude for arrays (e.g. |A||B| of a matrix product of inner length n)."""
    return gamma_n(n) * magnitude


def _sq_norm_upper(A, err) -> float:
    """An upper bound on Σ (exact entries)² given computed entries A and entrywise error bounds err."""
    B = np.abs(A) + err
    v = float(np.sum(B * B))
    return upper(v, v, A.size + 2)


def grad_error(loss, T, Z, eZ):
    """Entrywise bound on |∇ℓ(T, Z_exact) − fl ∇ℓ(T, Z)| when |Z_exact − Z| ≤ eZ: the Hessian's ∞-norm per
    column (``hess_bound``·``curvature_scale``; coupled losses use the column maximum of eZ) plus the
    evaluation error γ(|∇ℓ| + 2|T|). Returns (∇ℓ(T, Z), error)."""
    G = loss.grad(T, Z)
    c = float(loss.hess_bound) * loss.curvature_scale(T)
    shift = eZ if loss.separable else np.max(eZ, axis=0, keepdims=True)
    return G, c * shift + entry_error(np.abs(G) + 2.0 * np.abs(T), T.shape[0] + 16)


def value_error(loss, T, Z, eZ):
    """(ℓ(T, Z), bound on |ℓ(T, Z_exact) − fl ℓ(T, Z)|) when |Z_exact − Z| ≤ eZ: first order 2Σ|∇ℓ|eZ, second
    order ½ c Σ eZ², evaluation γ(2·magnitude + 2·#entries)."""
    val, mag = loss.row_values(T, Z)
    val, mag = float(np.sum(val)), float(np.sum(mag))
    G = loss.grad(T, Z)
    G = np.abs(G) + entry_error(np.abs(G) + 2.0 * np.abs(T), T.shape[0] + 16)  # ≥ |∇ℓ(T, Z)| (exact)
    c = float(loss.hess_bound) * loss.curvature_scale(T)
    first = 2.0 * float(np.sum(G * eZ)) + 0.5 * c * float(np.sum(eZ * eZ))
    return val, upper(first, first, 4) + allowance(2.0 * mag + 2.0 * T.size, T.size + T.shape[0] + 16)


# =====================================================================================
# W-blocks: the Fenchel dual at A = w(V − Y), with the A1 = 0 repair
# =====================================================================================
def w_dual_bound(X, Y, loss, w: float, prox: Proximal, W, b):
    r"""A certified lower bound on min P of a W-block (module docstring) from the point (W, b); numpy float64.

    X (n_in x m), Y (k x m), the data term H = w·ℓ(Y, ·), the regularisation ``prox`` (a
    :class:`~fenchel_cvx.blocks.mm.Proximal`: ρ, γ with ρ + γ > 0, the centre W_prev (k x n_in),
    b_prev (k,) in float64, the bias flag) and the point (W (k x n_in), b (k,)). For γ = 0 with a
    bias, b should be the exact bias minimiser for W (then A1 is at rounding level and the repair
    costs ~nothing). Returns ``(bound or None, info)``; ``info`` holds ``a1_residual`` (the bound
    on max|A1|), ``theta`` (the repair weight) and, when the bound is None, ``lower_bound_reason``.
    """
    rho, gamma, W_prev, b_prev, bias = prox.rho, prox.gamma, prox.W_prev, prox.b_prev, prox.bias
    k, m = Y.shape
    u = U64
    info = {"a1_residual": 0.0}
    mu_low = (rho + gamma) * (1.0 - 4.0 * u)
    absX = np.abs(X)
    if w == 0.0:  # H* = ι{A = 0}: A = 0 (V = Y) is the only dual point
        V, rep, H_up = Y, 0, 0.0
    else:
        V, rep = loss.mean_point(Y, W @ X + b[:, None])
        hv, hmag, hn = loss.conj_mean(Y, V)
        H_up = upper(w * hv, abs(w) * hmag, hn + 2)
    nS = m + rep + 8
    Dc, absD = V - Y, np.abs(V) + np.abs(Y)
    S = -w * (Dc @ X.T)
    Sabs = abs(w) * (absD @ absX.T)
    if gamma > 0:
        S, Sabs = S + gamma * W_prev, Sabs + gamma * np.abs(W_prev)
    S2 = _sq_norm_upper(S, entry_error(Sabs, nS))
    wp2 = float(np.sum(W_prev * W_prev)) if gamma > 0 else 0.0
    wp2_low = max(lower(wp2, wp2, W_prev.size + 2), 0.0)
    R_up = upper(S2 / (2.0 * mu_low) - 0.5 * gamma * wp2_low, S2 / (2.0 * mu_low) + 0.5 * gamma * wp2, 4)
    Q_up = 0.0
    r_bound = None
    if bias:
        a1 = w * Dc.sum(axis=1)
        ea1 = entry_error(abs(w) * absD.sum(axis=1), nS)
        if gamma > 0:  # Q*(s) = ⟨s, b_prev⟩ + ‖s‖²/(2γ) at s = −A1
            lin = -float(np.sum(a1 * b_prev))
            lin_mag = float(np.sum((np.abs(a1) + ea1) * np.abs(b_prev)))
            lin_err = float(np.sum(ea1 * np.abs(b_prev)))  # A1's own error, then the sum's rounding
            quad = _sq_norm_upper(a1, ea1) / (2.0 * gamma * (1.0 - 4.0 * u))
            Q_up = upper(lin + quad + upper(lin_err, lin_err, 2), lin_mag + quad + lin_err, k + 4)
        else:
            r_bound = np.abs(a1) + ea1
            r_bound = r_bound * (1.0 + 4.0 * u)
            info["a1_residual"] = float(np.max(r_bound)) if k else 0.0
    DA = -H_up - R_up - Q_up
    DA = lower(DA, abs(H_up) + abs(R_up) + abs(Q_up), 4)
    if not math.isfinite(DA):
        info["lower_bound_reason"] = "the dual value is not finite (overflow, or a dual point outside dom H*)"
        return None, info
    if r_bound is None or not np.any(r_bound > 0):
        return DA, info
    return _repaired(X, Y, loss, w, rho, DA, S2, rep, V, r_bound, info)


def _repaired(X, Y, loss, w, rho, DA, S2, rep, V, r_bound, info):
    r"""The γ = 0 repair of A1 = 0 (module docstring): the better of two feasible points near A.

    With r = A1 (exact, |r| ≤ R, sign unknown), both candidates are A' = A − diag(r)Π for a nonnegative Π
    with unit row sums (so A'1 = 0 exactly) and are bounded below over all such r:

    * *proportional*: Π spreads each row's correction over the entries' room to the domain edges
      (separable losses: Π_ij ∝ room_ij, uniform where the domain is unbounded; cross-entropy: Π_ij = π_j ∝
      min_i V_ij, which keeps every column in s_j·simplex because Σ_i r_i = 0). Feasible when R_i/w is at
      most half the row's total room; costs O(R): −H*(A') ≥ −max over the box V ± (R/w)Π, and
      ‖S'‖ ≤ ‖S‖ + ‖diag(R)Π|X|ᵀ‖.
    * *uniform anchor* (always feasible when mass/Σσ has room): (1−θ)A + θA_Q with A_Q = w(qσᵀ − Y),
      q = (mass − (1−θ)r/(θw))/Σσ in a box around mass/Σσ; by concavity D ≥ (1−θ)D̃(A) + θD̃(A_Q). Costs
      θ·|D̃(A) − D̃(A_Q)|, larger (D̃(A_Q) is far from optimal), hence the fallback.
    """
    k, m = Y.shape
    u = U64
    tau = r_bound / w * (1.0 + 4.0 * u)
    mu_low = rho * (1.0 - 4.0 * u)
    absX = np.abs(X)
    best, reasons = None, []
    # ---- proportional correction
    room = np.asarray(loss.dual_room(V), dtype=np.float64)
    if loss.separable:
        unb = ~np.all(np.isfinite(room), axis=1, keepdims=True)  # rows with an unbounded domain: uniform Π
        fin = np.where(np.isfinite(room), room, 0.0)
        total = fin.sum(axis=1, keepdims=True)
        cap = np.where(unb[:, 0], math.inf, total[:, 0])
        Pi = np.where(unb, 1.0 / m, fin / np.maximum(total, 1e-300))
    else:
        c = np.min(room, axis=0)
        cap = np.full(k, float(np.sum(c)))
        Pi = np.broadcast_to(c / max(float(np.sum(c)), 1e-300), (k, m))
    need = r_bound > 0
    # the real Π̂ = Π / (its exact row sums) has unit row sums exactly; |Π̂ − Π| ≤ γ_{m+4} Π
    pi_rel = 1.0 + gamma_n(m + 4)
    if np.all(~need | (tau <= 0.5 * cap)):
        box = tau[:, None] * Pi * (pi_rel * (1.0 + 8.0 * u))
        if rep:  # V represents the real point V̂ (cross-entropy): the box must hold V̂'s entries too
            box = box + entry_error(np.abs(V), rep + 2)
        hv, hmag, hn = loss.conj_box_upper(Y, V - box, V + box)
        H_up = upper(w * hv, w * hmag, hn + 2)
        E = r_bound[:, None] * (Pi @ absX.T) * pi_rel
        nE = math.sqrt(_sq_norm_upper(E, entry_error(E, m + 4)))
        N = (math.sqrt(S2) + nE) * (1.0 + 16.0 * u)
        R_up = upper(N * N / (2.0 * mu_low), N * N / (2.0 * mu_low), 4)
        best = lower(-H_up - R_up, abs(H_up) + abs(R_up), 2)
        info["repair"] = "proportional"
    else:
        reasons.append("no room for a proportional correction")
    # ---- uniform anchor
    sigma, mass = loss.anchor(Y)  # computed sums of the data stand for the exact ones: k + m roundings
    sig_sum = float(np.sum(sigma))
    sig_low = lower(sig_sum, float(np.sum(np.abs(sigma))), m + k + 4)
    q0 = mass / sig_sum
    eq0 = entry_error(np.abs(Y).sum(axis=1) / max(sig_low, 1e-300) + np.abs(q0), 2 * m + k + 8)
    qroom = np.asarray(loss.dual_room(q0), dtype=np.float64)
    room_q = np.where(np.isfinite(qroom), 0.25 * qroom, 1.0 + np.abs(q0))
    if sig_low > 0 and w > 0 and np.all(~need | (room_q > eq0)):
        thetas = r_bound / (r_bound + w * sig_low * room_q)
        theta = min(1.0, float(np.max(np.where(need, thetas, 0.0))) * (1.0 + 16.0 * u))
        delta = (1.0 - theta) * r_bound / (theta * w * sig_low) * (1.0 + 16.0 * u) + eq0
        delta = delta + entry_error(np.abs(q0) + delta, 2)  # the box ends q0 ± δ are rounded outwards
        if theta < 1.0 and np.all(delta <= 2.0 * room_q):
            lo_q, hi_q = (q0 - delta)[:, None] * sigma[None, :], (q0 + delta)[:, None] * sigma[None, :]
            hq, hqmag, hqn = loss.conj_box_upper(Y, lo_q, hi_q)
            HQ_up = upper(w * hq, w * hqmag, hqn + 2)
            # S_Q = −A_Q Xᵀ = w (Y Xᵀ − q (Xσ)ᵀ);  ‖S_Q‖ ≤ ‖|S0| + e‖ + w ‖δ‖ ‖Xσ‖
            xs, xs_abs = X @ sigma, absX @ np.abs(sigma)
            S0 = w * (Y @ X.T - q0[:, None] * xs[None, :])
            S0abs = w * (np.abs(Y) @ absX.T + np.abs(q0)[:, None] * xs_abs[None, :])
            n0 = math.sqrt(_sq_norm_upper(S0, entry_error(S0abs, m + k + 8)))
            nd = math.sqrt(_sq_norm_upper(delta, 0.0)) * math.sqrt(_sq_norm_upper(xs, entry_error(xs_abs, m + k + 8)))
            NQ = (n0 + w * nd) * (1.0 + 16.0 * u)
            RQ_up = upper(NQ * NQ / (2.0 * mu_low), NQ * NQ / (2.0 * mu_low), 4)
            DQ = lower(-HQ_up - RQ_up, abs(HQ_up) + abs(RQ_up), 2)
            lb = lower((1.0 - theta) * DA + theta * DQ, abs(DA) + abs(theta * DQ), 6)
            if math.isfinite(lb) and (best is None or lb > best):
                best = lb
                info.update(repair="uniform anchor", theta=theta)
        else:
            reasons.append("the anchor box leaves the dual domain")
    else:
        reasons.append("the anchor mass/Σσ has no room in the dual domain")
    if best is None or not math.isfinite(best):
        rows = np.flatnonzero(need).tolist()
        info["lower_bound_reason"] = (f"A1 = 0 (gamma = 0 with a bias) holds only up to rounding in rows {rows[:10]} "
                                      "and "
                                      f"no feasible dual point nearby is known ({'; '.join(reasons)}); use gamma > 0")
        return None, info
    return best, info


def w_objective_interval(X, Y, loss, w: float, prox: Proximal, W, b):
    """(lower, upper): a bracket of the exact P(W, b) = w·ℓ(Y, W X + b 1ᵀ) + R(W, b) of a W-block
    from a float64 evaluation (numpy; X n_in x m, Y k x m, R the regularisation of ``prox``, its centre in float64)."""
    rho, gamma, W_prev, b_prev, bias = prox.rho, prox.gamma, prox.W_prev, prox.b_prev, prox.bias
    n_in = X.shape[0]
    U = W @ X + b[:, None]
    eU = entry_error(np.abs(W) @ np.abs(X) + np.abs(b)[:, None], n_in + 2)
    val, err = value_error(loss, Y, U, eU)
    reg = 0.5 * rho * float(np.sum(W * W))
    if gamma > 0:
        dW, db = W - W_prev, (b - b_prev) if bias else 0.0 * b
        reg += 0.5 * gamma * (float(np.sum(dW * dW)) + float(np.sum(db * db)))
    P = w * val + reg
    e = abs(w) * err + allowance(abs(w * val) + reg, W.size + b.size + 8)
    return lower(P, 0.0, 0) - e, upper(P, 0.0, 0) + e


# =====================================================================================
# X-blocks: F(V) − c Σ B_φ(U − ∇g(V)/c, V)
# =====================================================================================
def x_divergence_bound(V, U, act, c: float, smooth, out, out_abs, n_chain: int):
    r"""A certified lower bound on min F of an X-block (module docstring) from a feasible V; numpy float64.

    F(V) = s(A V) + c[Σ f*(V) − ⟨U, V⟩] (V, U n x m) with ``smooth`` = (loss, T, ws) (s(Z) =
    ws·ℓ(T, Z + B), T k x m) or None (no smooth part); ``out`` the map out of V on float64 data
    (``out.apply`` = A, ``out.adjoint`` = Aᵀ, ``out.bcol`` = B's column, k x 1:
    :mod:`fenchel_cvx.blocks.out_maps`), ``out_abs`` the same map with |weights| and |B|
    (magnitudes), ``n_chain`` the longest rounding chain of one entry of A V (or Aᵀ R). Returns
    ``(bound or None, info)`` with ``info["objective_interval"]`` = the exact F(V) bracket.
    """
    A, At, A_abs, At_abs = out.apply, out.adjoint, out_abs.apply, out_abs.adjoint
    bcol, bcol_abs = out.bcol, out_abs.bcol
    info = {}
    if not act.in_domain(V):
        info["lower_bound_reason"] = "the point is outside dom f*"
        return None, info
    n_el = V.size
    absV, absU = np.abs(V), np.abs(U)
    fc = act.fconj(V)
    h_val = c * (float(np.sum(fc)) - float(np.sum(U * V)))
    h_err = allowance(c * (float(np.sum(np.abs(fc) + 2.0)) + float(np.sum(absU * absV))), n_el + 8)
    if smooth is None:
        F, F_err = h_val, h_err
        Up, eUp = U, np.zeros_like(U)
    else:
        loss, T, ws = smooth
        Z = A(V) + bcol
        eZ = entry_error(A_abs(absV) + bcol_abs, n_chain + 2)
        s_val, s_err = value_error(loss, T, Z, eZ)
        F, F_err = ws * s_val + h_val, abs(ws) * s_err + h_err
        Gs, eGs = grad_error(loss, T, Z, eZ)
        R, eR = ws * Gs, abs(ws) * eGs
        g = At(R)
        e_g = At_abs(eR) + entry_error(At_abs(np.abs(R)), n_chain + 2)
        Up = U - g / c
        eUp = (e_g / c) * (1.0 + 4.0 * U64) + entry_error(absU + np.abs(g) / c, 4)
    F_low = lower(F, abs(F), 2) - F_err
    # c Σ B_φ(Up, V) with B = f(Up) + f*(V) − Up V; sensitivity |∂B/∂Up| = |φ(Up) − V|
    fU = act.f(Up)
    B = fU + fc - Up * V
    B_val = c * float(np.sum(B))
    B_mag = c * float(np.sum(np.abs(fU) + np.abs(fc) + np.abs(Up * V) + 4.0))
    sens = float(np.sum(np.abs(act.phi(Up) - V) * eUp)) + 0.5 * float(act.lip) * float(np.sum(eUp * eUp))
    B_up = upper(B_val, B_mag, n_el + 16) + upper(2.0 * c * sens, 2.0 * c * sens, 4)
    lb = lower(F_low - B_up, abs(F_low) + B_up, 2)
    info["objective_interval"] = (F_low, upper(F, abs(F), 2) + F_err)
    info["divergence"] = B_val
    if not math.isfinite(lb):
        info["lower_bound_reason"] = "the divergence bound is not finite"
        return None, info
    return lb, info
