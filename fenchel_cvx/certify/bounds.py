r"""Finite variable bounds for the global models, derived from weight decay and an incumbent.

The global models (:mod:`fenchel_cvx.certify.scip`) use the *unit-scaled* variables of a
one-hidden-layer ReLU network with one output: unit i has output sign s_i = ±1, a scale
τ_i ≥ 0 (its share of the objective), first-layer weights w̃_i, bias b̃_i, and per sample
j the pre-activation ũ_ij = w̃_i·x_j + b̃_i and activation ṽ_ij (the network's X_1 entry
times |a_i|, a = W_1). Spatial branch-and-bound needs every variable in a box; the boxes
below are *perspective* boxes, proportional to τ_i, so a unit that is switched off
(τ_i = 0) has all its variables fixed to 0. Every box contains at least one global
minimiser, so restricting the problem to it leaves the optimal value unchanged.

Inputs: ``Fbar`` ≥ the optimal value (an incumbent), data radius R = max_j ‖x_j‖,
β = √(ρ_0ρ_1), and γ = √(2mF̄) ≥ |z_j − y_j| (each sample's loss ½(z_j − y_j)² ≤ mF̄).

* **Both models.** The unit's cost is τ_i ≥ β‖w̃_i‖ (in J it is exactly β‖w̃_i‖; in F_λ,
  τ_i = √(2ρ_1 Ẽ_i) ≥ √(2ρ_1 ρ_0/2)‖w̃_i‖), so ‖w̃_i‖ ≤ τ_i/β, τ_i ≤ F̄ and Σ_i τ_i ≤ F̄.
* **Standard problem J.** A unit with ũ_ij > 0 for all j is shifted, b̃_i → b̃_i − min_j ũ_ij,
  with the output bias c compensating (same J); a unit with ũ_ij ≤ 0 for all j outputs 0
  and is removed (τ_i = 0). So WLOG min_j ũ_ij ≤ 0 ≤ max_j ũ_ij, hence
  |b̃_i| ≤ ‖w̃_i‖R ≤ τ_iR/β and |ũ_ij| ≤ τ_i(‖x_j‖ + R)/β; ṽ = ũ₊ and g̃ = ũ₋ obey the same bound.
* **Relaxation F_λ.** F_λ is differentiable in b̃_i with ∂/∂b̃_i ∝ Σ_j (ũ_ij₊ − ṽ_ij), so
  Σ_j ũ_ij₊ = Σ_j ṽ_ij at a minimiser; a unit with ũ_ij ≤ 0 for all j then has ṽ_i = 0 and is
  removed: b̃_i ≥ −τ_iR/β. A unit with ũ_ij > 0 and ṽ_ij > 0 for all j is shifted
  ((b̃_i, ṽ_i) − min_j min(ũ_ij, ṽ_ij), c compensating; F unchanged since B(u−δ, v−δ) = B(u, v)
  for u−δ, v−δ ≥ 0). Afterwards some ũ_ij ≤ 0 (b̃_i ≤ τ_iR/β), or some ṽ_ij = 0 < ũ_ij, where
  the KKT condition of ṽ_ij ≥ 0 reads (ρ_1/τ_i)(λ/m)(ṽ_ij − ũ_ij) + s_i r_j/m ≥ 0 (dτ/dẼ = ρ_1/τ),
  so ũ_ij ≤ τ_i γ/(λρ_1); also (λ/m)·½ũ_ij² = (λ/m)B(ũ_ij, 0) ≤ Ẽ_i ≤ τ_i²/(2ρ_1), so ũ_ij ≤ τ_i δ
  with δ = √(m/(λρ_1)); let κ = min(γ/(λρ_1), δ). Hence b̃_i ≤ τ_i(R/β + κ), ũ_ij ∈ [−τ_i(‖x_j‖+R)/β,
  τ_i((‖x_j‖+R)/β + κ)], and ṽ_ij ≤ ũ_ij,max + τ_i κ (the divergence gives |ũ₊ − ṽ| ≤ τ_i δ;
  the KKT condition gives ṽ > 0 ⇒ ṽ = ũ − s_i r_j τ_i/(λρ_1)).
* **Output bias.** ∂/∂c = 0 gives c = mean_j (y_j − Σ_i s_i ṽ_ij), so |c| ≤ max_j |y_j| + Σ_i max_j ṽ_ij.

Without biases (``bias=False``) b̃ = c = 0 and |ũ_ij| ≤ τ_i‖x_j‖/β.
Shapes: per-sample coefficient arrays have shape (m,) (one entry per column of X0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["UnitBounds", "unit_bounds"]


@dataclass
class UnitBounds:
    """Perspective bounds of one unit, as multiples of its scale τ (τ ∈ [0, ``tau_hi``]).

    ``w``: ‖w̃‖ ≤ w·τ;  ``b_lo``, ``b_hi``: b̃ ∈ [b_lo·τ, b_hi·τ];  ``u_lo``, ``u_hi``, ``v_hi``
    (shape (m,)): ũ_j ∈ [u_lo_j·τ, u_hi_j·τ], ṽ_j ≤ v_hi_j·τ, s̃_j ≤ max(u_hi_j, 0)·τ,
    g̃_j ≤ max(−u_lo_j, 0)·τ. ``c_hi`` bounds |c| and ``e_hi`` each sample's loss; ``Fbar`` is the incumbent.
    """

    w: float
    b_lo: float
    b_hi: float
    u_lo: np.ndarray
    u_hi: np.ndarray
    v_hi: np.ndarray
    tau_hi: float
    c_hi: float
    e_hi: float
    Fbar: float

    @property
    def s_hi(self) -> np.ndarray:
        return np.maximum(self.u_hi, 0.0)

    @property
    def g_hi(self) -> np.ndarray:
        return np.maximum(-self.u_lo, 0.0)


def unit_bounds(problem, Fbar: float, relaxed: bool, lam: float | None = None) -> UnitBounds:
    """Perspective bounds (module docstring) for the relaxation (``relaxed=True``, multiplier ``lam``)
    or the standard problem, given an upper bound ``Fbar`` on the optimal value."""
    Fbar = float(Fbar)
    if not (math.isfinite(Fbar) and Fbar > 0):
        raise ValueError(f"Fbar: expected a finite positive incumbent value, got {Fbar}")
    net, m, X0, Y = problem.net, problem.m, problem.X0, problem.Y
    rho0, rho1 = float(net.rho[0]), float(net.rho[1])
    beta = math.sqrt(rho0 * rho1)
    xn = np.linalg.norm(X0, axis=0)
    R = float(xn.max())
    bias = net.bias
    if not bias:
        u_hi = xn / beta
        u_lo = -u_hi
        b_lo = b_hi = 0.0
        kappa = 0.0
    elif not relaxed:
        u_hi = (xn + R) / beta
        u_lo = -u_hi
        b_lo, b_hi = -R / beta, R / beta
        kappa = 0.0
    else:
        lam = float(lam)
        if not (lam > 0 and math.isfinite(lam)):
            raise ValueError(f"lam: expected a finite lam > 0, got {lam}")
        gamma = math.sqrt(2.0 * m * Fbar)
        kappa = min(gamma / (lam * rho1), math.sqrt(m / (lam * rho1)))
        u_lo = -(xn + R) / beta
        u_hi = (xn + R) / beta + kappa
        b_lo, b_hi = -R / beta, R / beta + kappa
    if relaxed:
        slack = min(math.sqrt(m / (float(lam) * rho1)), math.sqrt(2.0 * m * Fbar) / (float(lam) * rho1))
        v_hi = np.maximum(u_hi, 0.0) + slack
    else:
        v_hi = np.maximum(u_hi, 0.0)
    n = net.sizes[1]
    c_hi = float(np.max(np.abs(Y))) + n * Fbar * float(v_hi.max()) if bias else 0.0
    return UnitBounds(w=1.0 / beta, b_lo=b_lo, b_hi=b_hi, u_lo=u_lo, u_hi=u_hi, v_hi=v_hi,
                      tau_hi=Fbar, c_hi=c_hi, e_hi=m * Fbar, Fbar=Fbar)
