r"""Fast solver of the W-blocks: regularised GLMs over all rows (neurons/classes) at once.

Shapes follow the project convention (features x samples). With a bias the variable is
the augmented weight matrix Θ = [W | b] (n_out x n, n = n_in + 1) acting on
X̃ = [X; 1ᵀ] (n x m); without a bias Θ = W and X̃ = X. The problem solved is

.. math::

    \min_Θ\; P(Θ) = H(Θ X̃) + \sum_{i,c} \tfrac{r_c}{2} Θ_{ic}^2 - ⟨C, Θ⟩ + \text{const},

with r_c = ρ + γ on the W columns and r_b = γ on the bias column, C = γ Θ_prev and
const = γ/2 ‖Θ_prev‖², which is ρ/2‖W‖² + γ/2(‖W − W_prev‖² + ‖b − b_prev‖²) + H(ΘX̃).
H(U) = w·ℓ(Y, U) is a :class:`DataTerm` (U = Θ X̃ is n_out x m): a loss object of
:mod:`fenchel_cvx.losses` scaled by w, which supplies every fact the solver uses:

* hidden W-block: the Fenchel–Young loss of the activation, H(U) = (λ/m) Σ_ij [f(U_ij) − U_ij Y_ij];
  ∇H = (λ/m)(φ(U) − Y), generalised Hessian (λ/m) φ'(U) elementwise; rows decouple.
* last W-block, cross-entropy: H(U) = (1/m) Σ_j [lse(U_j) − ⟨Y_j, U_j⟩];
  ∇H = (softmax(U) − Y)/m, Hessian (diag p_j − p_j p_jᵀ)/m per column (≼ ½ I/m); rows couple.
* last W-block, squared loss (ridge): H(U) = ½‖U − Y‖²/m; Hessian I/m.

Method: truncated Newton (Newton-CG) on all rows at once. Each Hessian-vector product
is two matmuls, ∇²P[V] = (∇²H[V X̃]) X̃ᵀ + V ∘ r. For separable losses the conjugate
gradient recursions and the line search run per row (n_out independent Newton problems
in lockstep, no Python loop over rows); the line search is a safeguarded 1-D Newton
method on ψ'(t) (elementwise work only) followed by an Armijo check. U = Θ X̃ is carried
along the CG products and recomputed exactly before a certificate is accepted. CG is
preconditioned with the shared Gram matrix K = X̃X̃ᵀ/m: row i uses
M_i = c_i (K + diag(r)/ĉ_k), where c_i is the row's curvature scale (Σ_j of its Hessian
diagonal in U, so that H_i ≈ c_i K) and ĉ_k is the representative of the row's
log₄-bucket of c; the inverse of K + diag(r)/ĉ_k is formed once per bucket and cached for
the whole solve, so applying M⁻¹ is one matrix product (rows whose data curvature is
negligible use the Jacobi preconditioner). For the squared loss every c_i = 1, so M is
the exact Hessian and the first Newton step is the closed-form ridge solution (a linear
solve with K + diag(r)); later steps are iterative refinement.

Cost per CG iteration: 2 n_out·n·m (HVP) + n_out·n² (preconditioner) multiply-adds; per
solve add the Gram n²m and one n x n inverse per bucket. Relu blocks far from their
optimum need ~10 Newton iterations (the generalised Hessian misses the kinks that a step
crosses); sigmoid/tanh ~5; warm starts from a nearby point 1-3.

Certificate (Fenchel duality). Write P = H(ΘX̃) + R(W) + Q(b) with
R(W) = ρ/2‖W‖² + γ/2‖W − W_prev‖², Q(b) = γ/2‖b − b_prev‖² (γ > 0), Q ≡ 0 (γ = 0) or
Q = ι{b = 0} (no bias). The dual is D(A) = −H*(A) − R*(−AXᵀ) − Q*(−A1) with
R*(S) = ‖S + γW_prev‖²/(2(ρ+γ)) − γ/2‖W_prev‖²,  Q*(s) = ⟨s, b_prev⟩ + ‖s‖²/(2γ) (γ > 0),
Q* = ι{s = 0} (γ = 0, i.e. the constraint A1 = 0), Q* ≡ 0 (no bias). At the dual point
A = ∇H(U) the Fenchel–Young equality H(U) + H*(A) = ⟨A, U⟩ holds and the duality gap is exactly

    P − D(A) = ‖G_W‖²/(2(ρ+γ)) + ‖G_b‖²/(2γ)   (γ > 0),

with G = ∇P (G_b = A1). When γ = 0 (and there is a bias) the bias is first minimised
exactly with W fixed ("polished": a vectorised 1-D safeguarded Newton per row for the
hidden block, a k-dimensional damped Newton for cross-entropy, closed form for the
squared loss), so A1 = 0 up to floating-point rounding; the gap is then
‖G_W‖²/(2(ρ+γ)) + |⟨A1, b⟩| and the residual max|A1| is reported. This gap, evaluated in the
working dtype, drives the stopping rule only: the bound the W-blocks report is D(A) evaluated in
float64 with the rounding allowance and the exact repair of A1 = 0
(:func:`fenchel_cvx.blocks.certificates.w_dual_bound`).

Everything runs on numpy or torch (any device, float32/float64) through
:func:`fenchel_cvx.backend.namespace` (the preconditioner's SPD inverses follow the backend's one SPD
policy: Cholesky in the working dtype, float64 when a float32 factorisation fails).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..backend import namespace
from .precond import GramPreconditioner

__all__ = ["DataTerm", "GLMSolver"]


# ---------------------------------------------------------------------------------
# the data term: a loss composed with the weight w
# ---------------------------------------------------------------------------------
class DataTerm:
    r"""H(U) = w·ℓ(Y, U) for a :class:`fenchel_cvx.losses.Loss` ℓ (U, Y are n_out x m, w ≥ 0).

    The hidden W-block's data term is w = λ/m with the Fenchel–Young loss of its activation
    (:class:`~fenchel_cvx.losses.FenchelYoungLoss`), the output W-block's w = 1/m with the network's
    loss. Every fact comes from the loss object (value, gradient, curvature, Hessian-vector product,
    curvature bound, conjugate, exact bias step); this class only scales them by w:

    * ``value(U)``: per-row values and magnitudes (1 x 1 totals for coupled losses);
    * ``grad(U)`` = w∇ℓ;  ``curvature(U)``: the loss's Hessian data at U;  ``hvp(D, R)`` = w∇²ℓ[R];
      ``row_scale(D)`` = w·Σ_j of the Hessian diagonal per row;  ``kappa`` = w·c_ℓ (∇²H ≼ κ I per sample);
    * ``polish(U)``: the exact bias step δ (argmin over δ of H(U + δ1ᵀ), independent of w > 0);
    * ``conj(A)`` = H*(A) = w ℓ*(Y, A/w) (w > 0; ι{A = 0} for w = 0);  ``total(U)`` = H(U).
    """

    def __init__(self, loss, Y, weight: float):
        self.loss, self.Y, self.w = loss, Y, float(weight)
        self.separable = loss.separable
        self.m = Y.shape[1]

    @staticmethod
    def curvature_bound(loss, weight: float) -> float:
        """κ = w·c_ℓ: ∇²H ≼ κ I per sample (the MM steps' majoriser; needs no data)."""
        return float(weight) * float(loss.hess_bound)

    @property
    def kappa(self) -> float:
        return self.curvature_bound(self.loss, self.w)

    def total(self, U):
        return self.w * self.loss.value(self.Y, U)

    def value(self, U):
        val, scale = self.loss.row_values(self.Y, U)
        return self.w * val, self.w * scale

    def grad(self, U):
        G = self.loss.grad(self.Y, U)
        if G is U or G is self.Y:
            return self.w * G
        G *= self.w  # the loss's fresh gradient scaled in place (the same operations)
        return G

    def curvature(self, U):
        return self.loss.curvature(self.Y, U)

    def hvp(self, D, R):
        return self.w * self.loss.hvp(D, R)

    def row_scale(self, D):
        return self.w * self.loss.row_scale(D, self.Y)

    def polish(self, U):
        if self.w == 0.0:
            return namespace(U).zeros((U.shape[0], 1), like=U)
        return self.loss.bias_step(self.Y, U)

    def conj(self, A) -> float:
        xp = namespace(A)
        if self.w == 0.0:
            return 0.0 if not xp.any(A != 0) else math.inf
        val = self.loss.conj(self.Y, A * (1.0 / self.w))
        return math.inf if not math.isfinite(float(val)) else self.w * float(val)


# ---------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------
class GLMSolver:
    r"""Newton-CG for P(Θ) = H(ΘX̃) + Σ r_c/2 Θ_ic² − ⟨C, Θ⟩ + const (module docstring).

    Parameters
    ----------
    loss : one of the U-space losses of this module (holds Y)
    Xt : X̃, n x m (``augment(X, bias)``)
    rho, gamma : weight decay ρ ≥ 0 and proximal weight γ ≥ 0, ρ + γ > 0
    Theta_prev : proximal centre [W_prev | b_prev] (n_out x n), used when γ > 0
    bias : whether the last column of Θ is a bias (then X̃'s last row is 1ᵀ)
    """

    def __init__(self, loss, Xt, rho: float, gamma: float, Theta_prev, bias: bool):
        xp = namespace(Xt)
        self.xp, self.loss, self.Xt = xp, loss, Xt
        self.rho, self.gamma, self.bias = float(rho), float(gamma), bool(bias)
        self.mu = self.rho + self.gamma
        if not self.mu > 0:
            raise ValueError("rho + gamma must be > 0")
        n = Xt.shape[0]
        self.n_w = n - 1 if bias else n
        r = np.full(n, self.mu)
        if bias:
            r[-1] = self.gamma
        self.r_row = xp.asarray(r.reshape(1, n), like=Xt)
        self.C = None
        self.const_rows = None
        if self.gamma > 0:
            self.C = self.gamma * Theta_prev
            self.const_rows = 0.5 * self.gamma * xp.sum(Theta_prev * Theta_prev, axis=1, keepdims=True)
        self.polish_bias = bias and self.gamma == 0.0
        self.pre = None
        self.stall_above_rounding = False  # set by each line search (read when the solve stalls)

    # ---- objective pieces ------------------------------------------------------
    def _rdot(self, A, B):
        xp = self.xp
        if self.loss.separable:
            return xp.sum(A * B, axis=1, keepdims=True)
        return xp.sum(A * B).reshape(1, 1)

    def reg_rows(self, Theta):
        """Per-row (or total, (1,1), for coupled losses) regulariser value and magnitude."""
        xp = self.xp
        q = 0.5 * Theta * Theta * self.r_row
        if self.C is not None:
            lin = self.C * Theta
            val = xp.sum(q - lin, axis=1, keepdims=True) + self.const_rows
            scale = xp.sum(q + xp.abs(lin), axis=1, keepdims=True) + self.const_rows
        else:
            val = xp.sum(q, axis=1, keepdims=True)
            scale = val
        if not self.loss.separable:
            val, scale = xp.sum(val).reshape(1, 1), xp.sum(scale).reshape(1, 1)
        return val, scale

    def values(self, Theta, U):
        lv, ls = self.loss.value(U)
        rv, rs = self.reg_rows(Theta)
        return lv + rv, ls + rs

    def gradient(self, Theta, U):
        G = self.loss.grad(U) @ self.Xt.T + Theta * self.r_row
        if self.C is not None:
            G = G - self.C
        return G

    def certificate(self, Theta, G):
        """(gap, residual): the duality gap P − D(∇H(U)) (module docstring) and max|A1| (γ = 0)."""
        xp = self.xp
        GW = G[:, : self.n_w]
        gap = float(xp.sum(GW * GW)) / (2.0 * self.mu)
        residual = 0.0
        if self.bias:
            Gb = G[:, self.n_w]
            if self.gamma > 0:
                gap += float(xp.sum(Gb * Gb)) / (2.0 * self.gamma)
            else:
                gap += abs(float(xp.sum(Gb * Theta[:, self.n_w])))
                residual = float(xp.max(xp.abs(Gb))) if Gb.shape[0] else 0.0
        return gap, residual

    def _polish_due(self, G, D, target) -> bool:
        """(γ = 0 with a bias) Is the point close enough to optimal that the exact bias step and the
        certificate are worth computing? Estimates the gap as ‖G_W‖²/(2μ) + Σ_i G_b,i²/(2 h_i) with
        h_i = Σ_j of the row's Hessian diagonal in U (= ∂²P/∂b_i²; its diagonal for cross-entropy).
        A row with h_i = 0 but G_b,i ≠ 0 (no curvature in b, e.g. a dead relu neuron whose target
        row is not zero) also calls for the exact bias step, which Newton cannot take there."""
        xp = self.xp
        GW, Gb = G[:, : self.n_w], G[:, self.n_w: self.n_w + 1]
        h = self.loss.row_scale(D)
        if xp.any((h <= 0) & (Gb != 0)):
            return True
        est = float(xp.sum(GW * GW)) / (2.0 * self.mu)
        est += float(xp.sum(xp.where(h > 0, Gb * Gb / xp.where(h > 0, h, 1.0), 0.0))) / 2.0
        return est <= 4.0 * target

    # ---- Newton-CG -------------------------------------------------------------
    def _pcg(self, D, G, eta, max_cg):
        xp = self.xp
        Xt = self.Xt
        r = -G
        z = self.pre.apply(r)
        p = z
        rz = self._rdot(r, z)
        gnorm = xp.sqrt(self._rdot(G, G))
        d = xp.zeros_like(G)
        dU = None
        active = gnorm > 0
        it = 0
        for it in range(1, max_cg + 1):  # noqa: B007 (the count is returned)
            pU = p @ Xt
            Hp = self.loss.hvp(D, pU) @ Xt.T + p * self.r_row
            pHp = self._rdot(p, Hp)
            good = active & (pHp > 0) & (rz > 0)
            alpha = xp.where(good, rz / xp.where(good, pHp, 1.0), 0.0)
            d = d + alpha * p
            dU = alpha * pU if dU is None else dU + alpha * pU
            r = r - alpha * Hp
            rn = xp.sqrt(self._rdot(r, r))
            active = good & (rn > eta * gnorm)
            if not xp.any(active):
                break
            z = self.pre.apply(r)
            rz_new = self._rdot(r, z)
            beta = xp.where(active, rz_new / xp.where(rz > 0, rz, 1.0), 0.0)
            p = z + beta * p
            rz = rz_new
        return d, dU, it

    def _line_search(self, Theta, U, d, dU, vals0, scale0, G):
        """Step t per row (per problem for coupled losses) along (d, dU = d X̃).

        A safeguarded 1-D Newton method on ψ'(t) = 0, ψ(t) = P(Θ + t d) (convex; ψ' and ψ''
        cost elementwise work only: ψ'(t) = ⟨∇H(U + t dU), dU⟩ + ⟨Θ∘r − C, d⟩ + t⟨d∘r, d⟩),
        stopped when |ψ'(t)| ≤ 0.1 |ψ'(0)| (a strong Wolfe point) on the bracket [lo, hi]
        (hi found by doubling from t = 1). The value is then checked against
        Armijo's condition with a rounding slack; rows that fail fall back to halving (and to t = 0:
        no row's value ever rises beyond the slack).
        """
        xp = self.xp
        eps = xp.eps(Theta)
        loss = self.loss
        rdot = self._rdot
        slope = rdot(G, d)
        slack = 64.0 * eps * (scale0 + xp.abs(vals0))
        lin = Theta * self.r_row if self.C is None else Theta * self.r_row - self.C
        reg1 = rdot(lin, d)
        reg2 = rdot(d * self.r_row, d)
        lo = xp.zeros_like(vals0)
        hi = xp.full_like(vals0, math.inf)
        t = xp.ones_like(vals0)
        tiny = -slope <= slack  # predicted decrease below rounding: take the Newton step
        active = (~tiny) & (slope < 0)
        for _ in range(30):
            Ut = U + t * dU
            dpsi = rdot(loss.grad(Ut), dU) + reg1 + t * reg2
            done = xp.abs(dpsi) <= 0.1 * xp.abs(slope)
            active = active & ~done
            if not xp.any(active):
                break
            lo = xp.where(active & (dpsi < 0), t, lo)
            hi = xp.where(active & (dpsi > 0), t, hi)
            d2 = rdot(loss.hvp(loss.curvature(Ut), dU), dU) + reg2
            newton = t - dpsi / xp.where(d2 > 0, d2, 1.0)
            bracket = xp.isfinite(hi)
            ok = (d2 > 0) & (newton > lo) & (newton < hi)
            mid = 0.5 * (lo + xp.where(bracket, hi, 0.0))
            alt = xp.where(bracket, mid, 2.0 * t)
            t = xp.where(active, xp.where(ok, newton, alt), t)
            if float(xp.min(xp.where(bracket, hi - lo, 1.0))) <= 0 and not xp.any(active & ~bracket):
                break
        # Armijo with a rounding slack for every row -- including the "tiny" ones, whose full Newton step is
        # taken only if it does not raise the value beyond rounding (with ρ + γ ≈ 0 a step whose predicted
        # decrease is below rounding can be huge and raise P by orders of magnitude)
        vals, _s = self.values(Theta + t * d, U + t * dU)
        ok = vals <= vals0 + 1e-4 * t * slope + slack
        for _ in range(40):
            if xp.all(ok):
                break
            t = xp.where(ok, t, 0.5 * t)
            vals, _s = self.values(Theta + t * d, U + t * dU)
            ok = vals <= vals0 + 1e-4 * t * slope + slack
        t = xp.where(ok, t, 0.0)
        rescue = (t <= 0) & (-slope > slack)  # a decrease above rounding is predicted, none was found
        if xp.any(rescue):
            t = xp.where(rescue, self._model_step(Theta, U, d, dU, vals0, slope, slack, reg2), t)
        # whether a row left at t = 0 had a predicted decrease above rounding (the stall is then no rounding)
        self.stall_above_rounding = bool(xp.any((t <= 0) & (-slope > slack)))
        return t

    def _model_step(self, Theta, U, d, dU, vals0, slope, slack, reg2):
        """Backtracking (Armijo) from the minimiser t_q = −ψ'(0)/ψ''(0) of the quadratic model of ψ at 0, for
        the rows whose search from t = 1 found no decrease: an inexact Newton-CG direction of a nearly
        singular Hessian (ρ + γ ≈ 0, saturated logits) can be so long (‖d‖ ~ 1e24) that 2⁻⁴⁰ of it still
        overshoots, although ψ'(0) < 0 promises a decrease above rounding. Returns t (0 where none works)."""
        xp = self.xp
        d2 = self._rdot(self.loss.hvp(self.loss.curvature(U), dU), dU) + reg2
        t = xp.where(d2 > 0, -slope / xp.where(d2 > 0, d2, 1.0), 0.0)
        ok = xp.zeros_like(t) > 0
        for _ in range(120):  # 2^-120 spans the float64 range of t_q's error
            vals, _s = self.values(Theta + t * d, U + t * dU)
            ok = ok | ((t > 0) & (vals <= vals0 + 1e-4 * t * slope + slack))
            if xp.all(ok | (t <= 0)):
                break
            t = xp.where(ok, t, 0.5 * t)
        return xp.where(ok, t, 0.0)

    def solve(self, Theta, tol: float, max_iter: int = 200, max_cg: int | None = None, eta_max: float = 0.1,
              stall_exit: int | None = None):
        """Run Newton-CG from Θ until the certified gap ≤ tol·(1 + |P|).

        CG stops (per row) when ‖residual‖ ≤ η‖∇P‖ with the forcing term
        η = min(eta_max, (‖∇P‖/‖∇P₀‖)^½) (superlinear local convergence). ``eta_max = 0.1`` was
        the best compromise measured on relu/sigmoid blocks of 784-300-10 networks (0.5 halves
        the CG work when m ≫ n_in but doubles it when m < n_in, where relu kinks spoil crude steps).

        Safeguards: the line search never raises a row's value beyond rounding; the best iterate whose
        value was evaluated at an exactly recomputed U is kept and returned if the last one is worse by
        more than rounding (``reason`` then says so). ``stall_exit`` = s: stop (reason "stalled") when the
        gap has not halved in s iterations -- the float32 stage of a two-precision solve, whose gradient
        rounding floor may lie above the target (the caller continues in float64).

        Returns a dict: Theta, gap, residual (max|A1| when γ = 0 with a bias), status
        ("optimal" / "max_iter"), iterations (Newton steps taken), cg_iterations, reason, time,
        objective_internal (P at the returned Θ as evaluated here).
        """
        xp = self.xp
        t0 = time.perf_counter()
        Xt = self.Xt
        n = Xt.shape[0]
        if max_cg is None:
            max_cg = max(20, min(n * Theta.shape[0], 200))
        Theta = xp.copy(Theta)
        status, reason = "max_iter", "max_iter reached"
        cg_total = 0
        stuck = False
        steps = 0
        g0 = None
        it = 0
        gap, residual, P = math.inf, 0.0, math.inf
        U, exact, verify = None, False, False
        best = None  # (P, scale, Θ) of the best iterate evaluated at an exact U
        best_gap, best_gap_it = math.inf, 0
        for it in range(max_iter + 1):
            last = it == max_iter or stuck
            # U = Θ X̃ is updated along the CG products between iterations; it is recomputed exactly
            # before any certificate is accepted (and every 10 iterations against drift)
            if U is None or (not exact and (last or verify or it % 10 == 0)):
                U, exact = Theta @ Xt, True
            verify = False
            G = self.gradient(Theta, U)
            D = self.loss.curvature(U)
            vals, scale = self.values(Theta, U)
            P = float(xp.sum(vals))
            polished = not self.polish_bias
            # exact bias step (γ = 0): first iterate, near the end, or where Newton is stuck in b
            if not polished and (it == 0 or last or self._polish_due(G, D, tol * (1.0 + abs(P)))):
                delta = self.loss.polish(U)
                Theta[:, self.n_w:] = Theta[:, self.n_w:] + delta
                U = U + delta
                G = self.gradient(Theta, U)
                D = self.loss.curvature(U)
                vals, scale = self.values(Theta, U)
                P = float(xp.sum(vals))
                polished = True
            gap, residual = self.certificate(Theta, G)
            target = tol * (1.0 + abs(P))
            if exact and math.isfinite(P) and (best is None or P < best[0]):
                best = (P, float(xp.sum(scale)), xp.copy(Theta))
            if polished and gap <= 0.5 * best_gap:
                best_gap, best_gap_it = gap, it
            elif polished and gap < best_gap:
                best_gap = gap
            if stall_exit and polished and it - best_gap_it >= stall_exit and gap > target:
                floor = 64.0 * xp.eps(Theta) * (float(xp.sum(scale)) + abs(P))  # rounding of P's terms
                why = "rounding floor" if gap <= floor else f"gap {gap:.1e} above the rounding floor {floor:.1e}"
                reason = f"stalled: the gap has not halved in {stall_exit} iterations ({why})"
                break
            if polished and gap <= target:
                if exact:
                    status, reason = "optimal", "certified gap <= tol*(1+|P|)"
                    break
                verify = True  # re-evaluate at the same iterate with U recomputed exactly
                continue
            if last:
                floor = 64.0 * xp.eps(Theta) * (float(xp.sum(scale)) + abs(P))  # rounding of P's terms
                if stuck and gap <= floor:
                    reason = "stalled: the line search found no decrease (rounding level)"
                elif stuck:
                    reason = (f"stalled: neither the Newton-CG direction nor steepest descent decreased P at a "
                              f"gap {gap:.1e} far above rounding ({floor:.1e}): an ill-conditioned block "
                              f"(rho + gamma near 0, more inputs than samples, or saturated outputs)")
                break
            gn = xp.sqrt(self._rdot(G, G))
            if g0 is None:
                g0 = gn
            eta = xp.minimum(xp.sqrt(gn / xp.where(g0 > 0, g0, 1.0)), eta_max)  # forcing term
            if self.pre is None:
                self.pre = GramPreconditioner(Xt, self.r_row, self.mu)
            self.pre.set_scale(self.loss.row_scale(D))
            with np.errstate(over="ignore", invalid="ignore"):  # CG on a nearly singular system may overflow:
                d, dU, k = self._pcg(D, G, eta, max_cg)  # a non-finite d falls back to steepest descent below
            cg_total += k
            steps += 1
            with np.errstate(over="ignore", invalid="ignore"):  # far trial points may overflow: their
                t = self._line_search(Theta, U, d, dU, vals, scale, G)  # inf/NaN values fail Armijo's test
                broken = not bool(xp.all(xp.isfinite(d)))  # CG on a nearly singular system can overflow
                if self.stall_above_rounding or (broken and bool(xp.any(t <= 0))):
                    dg = -G  # Newton-CG failed on some rows: a steepest-descent step there
                    tg = self._line_search(Theta, U, dg, dg @ Xt, vals, scale, G)
                    use = (t <= 0) & (tg > 0)
                    d, dU = xp.where(use, dg, d), xp.where(use, dg @ Xt, dU)
                    t = xp.where(use, tg, t)
            stuck = not xp.any(t > 0)
            d, dU = xp.where(t > 0, d, 0.0), xp.where(t > 0, dU, 0.0)  # 0 · (inf or NaN) would poison Θ
            U = U + t * dU
            exact = False
            Theta = Theta + t * d
        if best is not None and status != "optimal":
            if not exact:
                U = Theta @ Xt
                vals, scale = self.values(Theta, U)
                P = float(xp.sum(vals))
            if not P <= best[0] + 64.0 * xp.eps(Theta) * (best[1] + abs(best[0])):
                P, Theta = best[0], best[2]
                gap, residual = math.inf, 0.0
                reason += "; returned the best earlier iterate (the last one was worse)"
        return {"Theta": Theta, "gap": gap, "residual": residual, "objective_internal": P,
                "status": status, "reason": reason, "iterations": steps, "cg_iterations": cg_total,
                "factorisations": 0 if self.pre is None else self.pre.n_factorisations,
                "time": time.perf_counter() - t0}
