r"""Global optima of tiny networks by spatial branch-and-bound in SCIP (PySCIPOpt).

Two models, chosen automatically (``model="auto"``):

* the **unit-scaled model** (this module) for one hidden ReLU layer with a scalar output head — ``[d, n, 1]``
  with the squared loss, and ``[d, n, 2]`` with the cross-entropy, which is exactly the logistic loss of the
  output difference (:func:`~fenchel_cvx.certify.bounds.output_head`) — the fastest, exploiting positive
  homogeneity and the sign symmetry of the output weights (its "ball" head for k ≥ 2 outputs is available
  with ``model="unit"``; the direct model's Lipschitz cuts make that one the default there);
* the **direct model** (:mod:`fenchel_cvx.certify.direct`) for everything else
  :func:`~fenchel_cvx.certify.check_problem` accepts: one or two hidden layers, relu / leaky_relu /
  hardtanh, squared loss or cross-entropy, k outputs (boxes from
  :func:`~fenchel_cvx.certify.bounds.network_boxes`).

Both solve min J, and min F_μ with multipliers μ_l[i, j] > 0 (one per neuron and sample; a scalar λ is
the special case μ ≡ λ; the unit-scaled model takes multipliers shared by the units of the layer,
μ_l[i, j] = μ_j, which keeps the units interchangeable).

**What a SCIP lower bound rests on.** SCIP's dual bound is computed in floating point (no safe
rounding) on the model whose constraints are satisfied up to its feasibility tolerance ``feastol``
(absolute, on the constraints as written; LP dual feasibility to ``numerics/dualfeastol``). A relaxed
constraint enlarges the feasible set, so tolerance violations can only *lower* the model's optimum;
what the bound does not cover is floating-point error of the LP bounds themselves, which SCIP keeps at
the order of its tolerances. So every SCIP bound is reported as "valid up to SCIP's feasibility
tolerance feastol" (:attr:`GlobalResult.rests_on`), never as exact, and the brackets of
:mod:`fenchel_cvx.certify.report` show it when such a bound meets an upper bound.

**The unit-scaled model** (network ``[d, n, 1]``, ReLU, squared loss; data X0 is d x m). Scaling unit i's incoming weights, bias and activations by α > 0 and its
output weight a_i by 1/α leaves the network output unchanged. Write ṽ_i = |a_i| x_i (the
unit's contribution to the output is s_i ṽ_i, s_i = sign a_i), w̃_i = |a_i| w_i, b̃_i = |a_i| b_i,
ũ_i = w̃_i·X0 + b̃_i. Minimising the unit's cost over α gives

* J:   ρ_0/2‖w_i‖² + ρ_1/2 a_i²  →  β‖w̃_i‖ with β = √(ρ_0ρ_1) (AM–GM), and
* F_μ: Ẽ_i/a_i² + ρ_1 a_i²/2 → √(2ρ_1Ẽ_i), where Ẽ_i = (1/m)Σ_j μ_j B(ũ_ij, ṽ_ij) + ρ_0/2‖w̃_i‖²
  (B(αu, αv) = α²B(u, v) for the ReLU pair), attained at a_i² = √(2Ẽ_i/ρ_1).

So, for each sign pattern s (units are interchangeable: p = #{s_i = +1} = 0..n patterns),

    min J   = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i ≥ β‖w̃_i‖,
              ṽ ≥ 0, g̃ = ṽ − ũ ≥ 0, ṽ·g̃ = 0 (complementarity: SOS1 pairs, or ṽg̃ ≤ 0);
    min F_λ = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i² ≥ 2ρ_1Ẽ_i,

with the divergence modelled as in the design notes,
B(u, v) = min_{s ≥ max(u,0)} ½(s − v)² + v·g, g = s − u ≥ 0 (for any s, ½(s−v)² + v(s−u) =
½s² + ½v² − uv, increasing in s ≥ 0, so the minimum is at s = u₊ and equals ½u₊² + ½v² − uv).
At every minimiser s = u₊ and g = u₋, so s·g = 0: the model adds SOS1(s̃_ij, g̃_ij), which makes
SCIP branch on the sign of ũ_ij and turns B into ½(s − v)² (u ≥ 0) or ½v² + v·g (u ≤ 0). The
remaining nonconvex terms are p̃_ij ≥ ṽ_ij g̃_ij and θ_i ≤ τ_i².

Every variable lies in a perspective box τ_i·[lo, hi] from :mod:`fenchel_cvx.certify.bounds`,
and these cuts, valid at some global minimiser, are added: Σ_i τ_i ≤ F̄; τ_i ≥ τ_{i+1} within a
sign group; Σ_j (z_j − y_j) = 0 (stationarity in c); for F_λ, which is C¹ in the first layer,
the stationarity in the unpenalised bias, Σ_j s̃_ij = Σ_j ṽ_ij, and in the weights,
ρ_0 w̃_i + (1/m) Σ_j μ_j(s̃_ij − ṽ_ij) x_j = 0 (both linear; the bias one weighted by μ_j), and the
second-order cone 2ρ_1[(1/m)Σ_j μ_j ½(s̃_ij − ṽ_ij)² + ρ_0/2‖w̃_i‖²] ≤ τ_i² (p̃ ≥ 0 dropped: convex, so SCIP needs no
branching for it); SCIP branches on the τ_i first. The incumbent's sign pattern is solved first;
every pattern is cut off at (1 − gap/2)·U, U the best point known so far (judged by the
network), and a pattern proved to have nothing below the cutoff gets the cutoff as its bound.

The certified lower bound is the minimum over patterns of SCIP's dual bounds: valid up to
SCIP's feasibility tolerance ``feastol`` (violations only lower the bound, never raise it).
Constraints quadratic in the unit variables are multiplied by 1/F̄², so that the tolerance acts
relative to their size; a violation ε of such a constraint can still lower τ by about F̄√ε, so
SCIP's own objective values are accurate to about √feastol = 1e-4 relative, and the default gap
limit is 1e-3. SCIP's best point of each pattern is mapped back to a network and judged by the
network's own ``objective`` / ``lifted_objective`` (the single judge); the best one is then
polished by a local method (L-BFGS), which can only lower the judged upper bound.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ._problem import (
    SUPPORTED,
    check_problem,
    copy_network,
    expand_multipliers,
    multipliers_kind,
    require_scip,
)
from .bounds import UnitBounds, network_boxes, output_head, unit_bounds
from .direct import DirectModel
from .upper import divergences, lbfgs_polish, lbfgs_train, lifted_lbfgs, lifted_value

__all__ = ["GlobalResult", "solve_relaxation", "solve_standard", "to_units", "from_units", "canonical_units",
           "unit_model_applies",
           "SUPPORTED_GLOBAL", "MODELS"]

SUPPORTED_GLOBAL = SUPPORTED
MODELS = ("auto", "unit", "direct")

_SOLVED = ("optimal", "gaplimit", "infeasible")  # infeasible = nothing better than the objective limit


@dataclass
class GlobalResult:
    """Outcome of a global solve.

    quantity : "min F_lambda" or "min J";  lam : the scalar λ of the relaxation (None for J or finer multipliers)
    multipliers : the relaxation's multipliers, one n_{l+1} x m array per hidden layer (None for J)
    dual     : lower bound on ``quantity``: SCIP's dual bound (the minimum over sign patterns for the unit
               model), valid up to SCIP's feasibility tolerance ``feastol`` (see :attr:`rests_on`)
    primal   : SCIP's best objective value (its own, tolerance-affected, number)
    judged   : the network's own F_μ (resp. J) at the best point found, after polishing — an upper bound
    status   : "optimal" when (judged − dual) ≤ gap·judged, else the first SCIP status other than solved
    model    : "unit" (unit-scaled, sign patterns) or "direct" (network variables)
    patterns : per SCIP solve: dict(p, status, dual, primal, time, nodes) (p = sign pattern; None for direct)
    divergences : B_l(U_l, X_{l+1}) entrywise at the returned point (relaxation only): a supergradient of
               μ ↦ min F_μ when that point is a global minimiser (times 1/m)
    """

    quantity: str
    lam: float | None
    status: str
    dual: float
    primal: float
    judged: float
    time: float
    nodes: int
    Fbar: float
    patterns: list = field(default_factory=list)
    W: list = field(repr=False, default_factory=list)
    b: list = field(repr=False, default_factory=list)
    Xs: list = field(repr=False, default_factory=list)
    judged_raw: float = math.inf
    model: str = "unit"
    multipliers: list | None = field(default=None, repr=False)
    feastol: float = 1e-8
    divergences: list = field(repr=False, default_factory=list)

    @property
    def solved(self) -> bool:
        """True when SCIP proved optimality (to its gap limit) for every sign pattern."""
        return self.status == "optimal"

    @property
    def gap(self) -> float:
        """Relative gap max(judged − dual, 0) / |judged| (never negative; see :attr:`overlap`)."""
        if not math.isfinite(self.judged):
            return math.inf
        return max(self.judged - self.dual, 0.0) / max(abs(self.judged), 1e-300)

    @property
    def overlap(self) -> float:
        """max(dual − judged, 0): by how much SCIP's tolerance-based bound exceeds the judged value (0 normally)."""
        return max(self.dual - self.judged, 0.0) if math.isfinite(self.judged) else 0.0

    @property
    def rests_on(self) -> str:
        """What the lower bound ``dual`` rests on."""
        return (f"SCIP dual bound ({self.model} model), valid up to SCIP's feasibility tolerance "
                f"feastol={self.feastol:g}")


# ---- network <-> unit-scaled variables --------------------------------------------
def _unit_energy(problem, lam, w, b, V):
    """Ẽ_i = (1/m) Σ_j μ_j B(ũ_ij, ṽ_ij) + ρ_0/2 ‖w̃_i‖² for every unit (rows of w, V); ``lam``: λ or μ (m,)."""
    net, X0 = problem.net, problem.X0
    U = w @ X0 + b[:, None]
    B = net.activations[0].divergence(U, np.maximum(V, 0.0))
    mu = np.broadcast_to(np.asarray(lam, dtype=float), (problem.m,))
    return (B * mu[None, :]).sum(axis=1) / problem.m + 0.5 * net.rho[0] * np.sum(w * w, axis=1)


def _head_weights(head, W1, b1):
    """The head's output weights (k_head x n) and biases (k_head,) from the network's W_1 (k x n), b_1 (k,)."""
    if head.loss == "logistic":
        return (W1[0] - W1[1])[None, :], np.array([b1[0] - b1[1]])
    return np.asarray(W1, dtype=float), np.asarray(b1, dtype=float)


def _network_weights(head, A, c):
    """Inverse of :func:`_head_weights` (logistic: W_1 = [a/2; −a/2], b_1 = [c/2, −c/2])."""
    if head.loss == "logistic":
        return np.vstack([0.5 * A[0], -0.5 * A[0]]), np.array([0.5 * c[0], -0.5 * c[0]])
    return A, np.asarray(c, dtype=float)


def to_units(problem, W, b, Xs=None, lam=None):
    """Map a network (W, b) and, for F_μ, its hidden activations Xs = [X_1] to unit-scaled variables
    (``lam``: the scalar λ or the per-sample multipliers μ, shape (m,)).

    Returns ``(signs, units)``: units = dict(w (n x d), b (n,), V (n x m), c (k,), tau (n,), e (n x k));
    with a sign head (:func:`~fenchel_cvx.certify.bounds.output_head`) e = signs[:, None], with a ball
    head e_i = a_i/‖a_i‖ and ``signs`` is None. For J (``lam=None``) V is the forward pass and
    τ_i = β‖w̃_i‖, for F_μ τ_i = √(2ρ_1Ẽ_i). The model objective at this point is ≤ J(W, b) (resp.
    F_μ(W, b, Xs)), with equality for balanced units (and, for the logistic head, W_1[1] = −W_1[0]).
    """
    net, X0 = problem.net, problem.X0
    head = output_head(problem)
    W = [np.asarray(w, dtype=float) for w in W]
    b = [np.asarray(v, dtype=float) for v in b]
    A, c = _head_weights(head, W[1], b[1])
    alpha = np.linalg.norm(A, axis=0)
    E = np.divide(A.T, alpha[:, None], out=np.zeros_like(A.T), where=alpha[:, None] > 0)
    signs = None
    if head.kind == "sign":
        signs = np.where(A[0] >= 0, 1.0, -1.0)
        E = signs[:, None].copy()
    X1 = np.maximum(W[0] @ X0 + b[0][:, None], 0.0) if Xs is None else np.maximum(np.asarray(Xs[0], dtype=float), 0.0)
    w, bb, V = alpha[:, None] * W[0], alpha * b[0], alpha[:, None] * X1
    if lam is None:
        tau = math.sqrt(net.rho[0] * head.rho1) * np.linalg.norm(w, axis=1)
    else:
        tau = np.sqrt(2.0 * head.rho1 * _unit_energy(problem, lam, w, bb, V))
    return signs, {"w": w, "b": bb, "V": V, "c": np.array(c, dtype=float), "tau": tau, "e": E}


def from_units(problem, signs, units, lam=None):
    """Map unit-scaled variables back to a network: returns ``(W, b, Xs)``.

    A direction with 0 < ‖e_i‖ < 1 is first normalised ((w̃, b̃, ṽ) times ‖e_i‖, which lowers the cost).
    J: w = t w̃, b = t b̃, a = e/t with t⁴ = ρ_1/(ρ_0‖w̃‖²) (balanced; reg = β‖w̃‖); Xs = forward pass.
    F_μ: ‖a‖² = √(2Ẽ/ρ_1), (w, b, x) = (w̃, b̃, ṽ)/‖a‖ (F-terms of the unit = √(2ρ_1Ẽ)).
    A unit with w̃ = 0 (J) or Ẽ = 0 (F_μ) has a constant output e·b̃₊ and is folded into the output bias.
    """
    net, X0 = problem.net, problem.X0
    head = output_head(problem)
    n, d = net.sizes[1], net.sizes[0]
    rho0, rho1 = net.rho[0], head.rho1
    w, bb = np.array(units["w"], dtype=float), np.array(units["b"], dtype=float)
    V = np.maximum(np.array(units["V"], dtype=float), 0.0)
    c = np.array(units["c"], dtype=float).reshape(-1).copy()
    E = np.array(units["e"], dtype=float).reshape(n, -1) if units.get("e") is not None else np.asarray(signs)[:, None]
    norms = np.linalg.norm(E, axis=1)
    for i in range(n):
        if 0 < norms[i] < 1:
            w[i], bb[i], V[i], E[i] = w[i] * norms[i], bb[i] * norms[i], V[i] * norms[i], E[i] / norms[i]
    W0, b0, A, X1 = np.zeros((n, d)), np.zeros(n), np.zeros((head.k, n)), np.zeros((n, problem.m))
    En = _unit_energy(problem, lam, w, bb, V) if lam is not None else None
    for i in range(n):
        if not np.any(E[i]):
            continue
        if lam is None:
            nw = float(np.linalg.norm(w[i]))
            if nw > 0:
                t = (rho1 / (rho0 * nw * nw)) ** 0.25
                W0[i], b0[i], A[:, i] = t * w[i], t * bb[i], E[i] / t
            elif net.bias:
                c += E[i] * max(bb[i], 0.0)
        else:
            if En[i] > 0:
                al = (2.0 * En[i] / rho1) ** 0.25
                W0[i], b0[i], X1[i], A[:, i] = w[i] / al, bb[i] / al, V[i] / al, E[i] * al
            elif net.bias:
                c += E[i] * float(np.mean(V[i]))
    W1, b1 = _network_weights(head, A, c if net.bias else np.zeros_like(c))
    W = [W0, W1]
    b = [b0, b1]
    Xs = net.forward(X0, W, b)[0] if lam is None else [X1]
    return W, b, Xs


def canonical_units(problem, signs, units, relaxed):
    """The WLOG moves of the bounds module on a point: shift all-active units (c compensates), drop dead
    units (J only), order units (positive signs first, then by decreasing τ); returns (signs, units, p)
    (p = number of positive signs; 0 for a ball head, whose ``signs`` is None)."""
    X0 = problem.X0
    w, bb, V = units["w"].copy(), units["b"].copy(), units["V"].copy()
    c, tau, E = np.array(units["c"], dtype=float).copy(), units["tau"].copy(), units["e"].copy()
    if problem.net.bias:
        for i in range(len(tau)):
            U = w[i] @ X0 + bb[i]
            if relaxed:
                delta = float(min(U.min(), V[i].min()))
                if delta > 0:
                    bb[i] -= delta
                    V[i] -= delta
                    c += E[i] * delta
            else:
                if U.min() > 0:
                    bb[i] -= U.min()
                    c += E[i] * U.min()
                elif U.max() <= 0:
                    w[i], bb[i], tau[i] = 0.0, 0.0, 0.0
                V[i] = np.maximum(w[i] @ X0 + bb[i], 0.0)
    sg = signs if signs is not None else np.ones(len(tau))
    order = np.lexsort((-tau, -sg))
    units = {"w": w[order], "b": bb[order], "V": V[order], "c": c, "tau": tau[order], "e": E[order]}
    if signs is None:
        return None, units, 0
    return signs[order], units, int(np.sum(signs > 0))


@contextlib.contextmanager
def _quiet_fds():
    """Silence SCIP's C-level chatter (sub-solvers print warnings past ``hideOutput``) by pointing file
    descriptors 1 and 2 at /dev/null while SCIP runs; Python-level streams are flushed and restored."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no usable descriptors (embedded interpreters): leave them alone
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved + [null]:
            os.close(fd)


def _arrange(signs, units, p):
    """Reorder a canonical point for sign pattern p: p positive units (nonzero ones first, by decreasing
    τ, then zero units), then the negative ones; zero units (τ = 0) may take either sign (and then get it)."""
    tau = units["tau"]
    if signs is None:
        return units
    pos = [i for i in np.argsort(-tau, kind="stable") if signs[i] > 0 and tau[i] > 0]
    neg = [i for i in np.argsort(-tau, kind="stable") if signs[i] < 0 and tau[i] > 0]
    zero = [i for i in range(len(tau)) if tau[i] == 0]
    k = p - len(pos)
    order = pos + zero[:k] + neg + zero[k:]
    out = {key: (val[order] if isinstance(val, np.ndarray) and key != "c" else val) for key, val in units.items()}
    out["e"] = np.array([1.0] * p + [-1.0] * (len(tau) - p))[:, None]
    return out


# ---- the SCIP model -----------------------------------------------------------------------
class _UnitModel:
    """SCIP model of one sign pattern (sign head) or of all units (ball head); ``relaxed``: F_μ, else J.
    Variables are arrays of pyscipopt Variables."""

    def __init__(self, problem, relaxed, lam, signs, bnd: UnitBounds, complementarity, cuts):
        scip = require_scip()
        qs = scip.quicksum
        net, X0, m = problem.net, problem.X0, problem.m
        head = output_head(problem)
        n, d, k = net.sizes[1], net.sizes[0], head.k
        self.problem, self.relaxed, self.lam, self.signs, self.bnd, self.head = problem, relaxed, lam, signs, bnd, head
        mu = np.broadcast_to(np.asarray(lam if relaxed else 1.0, dtype=float), (problem.m,))
        self.M = M = scip.Model("fenchel_" + ("relaxation" if relaxed else "standard"))
        M.hideOutput()
        F = bnd.Fbar
        rho0, rho1 = float(net.rho[0]), head.rho1

        # energy-scale constraints (quadratic in the unit variables, which are O(τ) ≤ O(F̄)) are
        # multiplied by K = 1/F̄², so that SCIP's absolute feasibility tolerance acts relative to their size
        K = 1.0 / (F * F)

        def var(name, lb, ub):
            return M.addVar(name, lb=float(lb), ub=float(ub))

        self.tau = [var(f"tau{i}", 0, F) for i in range(n)]
        self.w = [[var(f"w{i},{kk}", -F * bnd.w, F * bnd.w) for kk in range(d)] for i in range(n)]
        self.b = [var(f"b{i}", F * bnd.b_lo, F * bnd.b_hi) for i in range(n)] if net.bias else [0.0] * n
        self.c = ([var(f"c{kk}", bnd.c_lo[kk], bnd.c_box_hi[kk]) for kk in range(k)] if net.bias else [0.0] * k)
        self.V = [[var(f"v{i},{j}", 0, F * bnd.v_hi[j]) for j in range(m)] for i in range(n)]
        self.G = [[var(f"g{i},{j}", 0, F * bnd.g_hi[j]) for j in range(m)] for i in range(n)]
        self.E = [var(f"e{j}", 0, bnd.e_hi) for j in range(m)]
        if relaxed:
            self.S = [[var(f"s{i},{j}", 0, F * bnd.s_hi[j]) for j in range(m)] for i in range(n)]
            self.P = [[var(f"p{i},{j}", 0, F * F * bnd.v_hi[j] * bnd.g_hi[j]) for j in range(m)] for i in range(n)]
            self.D = [[var(f"d{i},{j}", 0, 0.5 * (F * max(bnd.v_hi[j], bnd.s_hi[j])) ** 2) for j in range(m)]
                      for i in range(n)]
            self.theta = [var(f"theta{i}", 0, F * F) for i in range(n)]
        for i in range(n):
            t, wi, bi = self.tau[i], self.w[i], self.b[i]
            if d == 1:  # ‖w̃‖ ≤ τ/β, linear when d = 1 (exact, no tolerance amplification)
                M.addCons(wi[0] <= bnd.w * t)
                M.addCons(-wi[0] <= bnd.w * t)
            else:
                M.addCons(K * qs(wk * wk for wk in wi) <= K * (bnd.w * bnd.w) * t * t)
                for wk in wi:
                    M.addCons(wk <= bnd.w * t)
                    M.addCons(-wk <= bnd.w * t)
            if net.bias:
                M.addCons(bi <= bnd.b_hi * t)
                M.addCons(bi >= bnd.b_lo * t)
            for j in range(m):
                u = qs(float(X0[kk, j]) * wi[kk] for kk in range(d)) + bi
                v, g = self.V[i][j], self.G[i][j]
                M.addCons(v <= float(bnd.v_hi[j]) * t)
                M.addCons(g <= float(bnd.g_hi[j]) * t)
                if relaxed:
                    s = self.S[i][j]
                    M.addCons(s - g == u)
                    M.addCons(s <= float(bnd.s_hi[j]) * t)
                    M.addConsSOS1([s, g])
                    M.addCons(K * 0.5 * (s - v) * (s - v) <= K * self.D[i][j])
                    M.addCons(K * v * g <= K * self.P[i][j])
                else:
                    M.addCons(v - g == u)
                    if complementarity == "sos1":
                        M.addConsSOS1([v, g])
                    else:
                        M.addCons(v * g <= 0)
            if relaxed:
                th = self.theta[i]
                M.addCons(K * th <= K * t * t)
                # the convex part alone (p̃ ≥ 0): 2ρ_1 [(1/m) Σ_j μ_j ½(s̃ − ṽ)² + ρ_0/2 ‖w̃‖²] ≤ τ², a second-order cone
                M.addCons(K * qs(float(mu[j] / m) * 0.5 * (self.S[i][j] - self.V[i][j]) * (self.S[i][j] - self.V[i][j])
                                 for j in range(m))
                          + K * 0.5 * rho0 * qs(wk * wk for wk in wi) <= K * t * t / (2.0 * rho1))
                M.addCons(K * qs(float(mu[j] / m) * (self.D[i][j] + self.P[i][j]) for j in range(m))
                          + K * 0.5 * rho0 * qs(wk * wk for wk in wi) <= K * th / (2.0 * rho1))
                if cuts and net.bias:  # stationarity in the unpenalised bias b̃_i: Σ_j μ_j(s̃_ij − ṽ_ij) = 0
                    M.addCons(qs(float(mu[j]) * (self.S[i][j] - self.V[i][j]) for j in range(m)) == 0)
                if cuts:  # stationarity in w̃_i: ρ_0 w̃_i + (1/m) Σ_j μ_j (s̃_ij − ṽ_ij) x_j = 0
                    for kk in range(d):
                        M.addCons(rho0 * wi[kk] + qs(float(mu[j] * X0[kk, j] / m) * (self.S[i][j] - self.V[i][j])
                                                     for j in range(m)) == 0)
        if cuts:
            M.addCons(qs(self.tau) <= F)
            for i in range(n - 1):
                if signs is None or signs[i] == signs[i + 1]:
                    M.addCons(self.tau[i] >= self.tau[i + 1])
        self._output(cuts)
        M.setObjective(qs(self.E) * (1.0 / m) + qs(self.tau), "minimize")
        if relaxed:  # branch on the unit scales first: θ ≤ τ² is the one nonconvexity every unit carries
            for t in self.tau:
                M.chgVarBranchPriority(t, 10)

    def _output(self, cuts):
        """Outputs z_kj = Σ_i e_ik ṽ_ij + c_k and the loss epigraphs E_j (head of the bounds module)."""
        M, head, m, n = self.M, self.head, self.problem.m, len(self.tau)
        qs = require_scip().quicksum
        bias = self.problem.net.bias
        T, k = head.targets, head.k
        if head.kind == "sign":
            self.Z = [[qs(float(self.signs[i]) * self.V[i][j] for i in range(n)) + self.c[0] for j in range(m)]]
        else:  # directions ‖e_i‖ ≤ 1 and products P_ikj = e_ik ṽ_ij, |P_ikj| ≤ ṽ_ij, ‖P_i·j‖ ≤ ṽ_ij
            self.e = [[M.addVar(f"dir{i},{kk}", lb=-1.0, ub=1.0) for kk in range(k)] for i in range(n)]
            self.Pk = [[[M.addVar(f"pk{i},{kk},{j}", lb=-self.V[i][j].getUbOriginal(), ub=self.V[i][j].getUbOriginal())
                         for j in range(m)] for kk in range(k)] for i in range(n)]
            for i in range(n):
                M.addCons(qs(x * x for x in self.e[i]) <= 1.0)
                for j in range(m):
                    col = [self.Pk[i][kk][j] for kk in range(k)]
                    for kk in range(k):
                        M.addCons(col[kk] == self.e[i][kk] * self.V[i][j])
                        M.addCons(col[kk] <= self.V[i][j])
                        M.addCons(-col[kk] <= self.V[i][j])
                    M.addCons(qs(x * x for x in col) <= self.V[i][j] * self.V[i][j])
                if cuts and head.loss == "cross_entropy":  # the rows of W_1 sum to zero at every minimiser
                    M.addCons(qs(self.e[i]) == 0.0)
            self.Z = [[qs(self.Pk[i][kk][j] for i in range(n)) + self.c[kk] for j in range(m)] for kk in range(k)]
        exp = require_scip().exp
        for j in range(m):
            if head.loss == "squared":
                M.addCons(0.5 * qs((self.Z[kk][j] - float(T[kk, j])) * (self.Z[kk][j] - float(T[kk, j]))
                                   for kk in range(k)) <= self.E[j])
            elif head.loss == "logistic":  # E_j ≥ log(1 + exp(−σ_j δ_j))
                sg = float(T[0, j])
                M.addCons(exp(-self.E[j]) + exp(-sg * self.Z[0][j] - self.E[j]) <= 1.0)
                M.addCons(self.E[j] >= -sg * self.Z[0][j])
            else:  # E_j ≥ logsumexp(z_j) − z_{y_j j}
                t = int(np.argmax(T[:, j]))
                M.addCons(qs(exp(self.Z[kk][j] - self.Z[t][j] - self.E[j]) for kk in range(k)) <= 1.0)
                for kk in range(k):
                    if kk != t:
                        M.addCons(self.E[j] >= self.Z[kk][j] - self.Z[t][j])
        if cuts and head.kind == "ball" and not self.relaxed:
            # Lipschitz cut (J): ‖z_j − z_k‖ ≤ Σ_i |ṽ_ij − ṽ_ik| ≤ Σ_i ‖w̃_i‖‖x_j − x_k‖ ≤ (‖x_j − x_k‖/β) Σ_i τ_i
            X0 = self.problem.X0
            beta = 1.0 / self.bnd.w
            for j in range(m):
                for jj in range(j + 1, m):
                    rhs = float(np.linalg.norm(X0[:, j] - X0[:, jj])) / beta * qs(self.tau)
                    M.addCons(qs((self.Z[kk][j] - self.Z[kk][jj]) * (self.Z[kk][j] - self.Z[kk][jj])
                                 for kk in range(k)) <= rhs * rhs)
        if cuts and bias and head.loss == "squared":  # stationarity in the output bias
            for kk in range(k):
                M.addCons(qs(self.Z[kk]) == float(np.sum(T[kk])))
        if cuts and bias and head.loss == "cross_entropy":  # WLOG (the loss is shift invariant)
            M.addCons(qs(self.c) == 0.0)

    def add_point(self, units) -> bool:
        """Offer a unit-scaled point (dict w, b, V, c, tau, e) to SCIP as a starting solution."""
        M, net, X0, m, head = self.M, self.problem.net, self.problem.X0, self.problem.m, self.head
        n, d = net.sizes[1], net.sizes[0]
        w, bb, V, c, tau, E = units["w"], units["b"], units["V"], units["c"], units["tau"], units["e"]
        sol = M.createSol()
        put = lambda var, val: M.setSolVal(sol, var, float(val))  # noqa: E731
        U = w @ X0 + bb[:, None]
        for i in range(n):
            put(self.tau[i], tau[i])
            for kk in range(d):
                put(self.w[i][kk], w[i, kk])
            if net.bias:
                put(self.b[i], bb[i])
            for j in range(m):
                put(self.V[i][j], V[i, j])
                if self.relaxed:
                    s, g = max(U[i, j], 0.0), max(-U[i, j], 0.0)
                    put(self.S[i][j], s)
                    put(self.G[i][j], g)
                    put(self.D[i][j], 0.5 * (s - V[i, j]) ** 2)
                    put(self.P[i][j], V[i, j] * g)
                else:
                    put(self.G[i][j], V[i, j] - U[i, j])
            if self.relaxed:
                put(self.theta[i], tau[i] ** 2)
            if head.kind == "ball":
                for kk in range(head.k):
                    put(self.e[i][kk], E[i, kk])
                    for j in range(m):
                        put(self.Pk[i][kk][j], E[i, kk] * V[i, j])
        if net.bias:
            for kk in range(head.k):
                put(self.c[kk], c[kk])
        Z = E.T @ V + np.asarray(c, dtype=float).reshape(-1, 1)
        T = head.targets
        for j in range(m):
            if head.loss == "squared":
                val = 0.5 * float(np.sum((Z[:, j] - T[:, j]) ** 2))
            elif head.loss == "logistic":
                val = float(np.logaddexp(0.0, -T[0, j] * Z[0, j]))
            else:
                val = float(np.logaddexp.reduce(Z[:, j]) - Z[int(np.argmax(T[:, j])), j])
            put(self.E[j], val)
        return bool(M.addSol(sol, free=True))

    def solution(self):
        """The best solution as unit-scaled arrays (dict w, b, V, c, tau, e)."""
        M = self.M
        sol = M.getBestSol()
        val = lambda v: v if isinstance(v, float) else M.getSolVal(sol, v)  # noqa: E731
        e = (np.array([[val(x) for x in row] for row in self.e]) if self.head.kind == "ball"
             else np.asarray(self.signs, dtype=float)[:, None])
        return {"w": np.array([[val(v) for v in row] for row in self.w]),
                "b": np.array([val(v) for v in self.b]),
                "V": np.array([[val(v) for v in row] for row in self.V]),
                "c": np.array([val(v) for v in self.c]), "tau": np.array([val(v) for v in self.tau]), "e": e}


def unit_model_applies(problem, mu=None) -> bool:
    """True when the unit-scaled model represents the problem: one hidden ReLU layer [d, n, k] (any supported
    loss: squared with k ≥ 1, cross-entropy with k ≥ 2) and, for the relaxation, multipliers shared by the
    units, μ_0[i, j] = μ_j."""
    net = problem.net
    if not (net.L == 1 and problem.activation_names == ["relu"]):
        return False
    return mu is None or bool(np.all(mu[0] == mu[0][:1, :]))


def _set_params(M, time_limit, gap, feastol, seed):
    # time limits count CPU seconds of this process (SCIP's clock type 1), so that a solve does the same work
    # on a loaded, shared machine as on an idle one
    M.setParam("timing/clocktype", 1)
    M.setParam("limits/time", float(time_limit))
    M.setParam("limits/gap", float(gap))
    M.setParam("numerics/feastol", float(feastol))
    M.setParam("randomization/randomseedshift", int(seed))
    M.setParam("parallel/maxnthreads", 1)
    M.setParam("lp/threads", 1)


def _solve(problem, relaxed, mu, incumbent, time_limit, gap, seed, feastol, complementarity, cuts, polish, model):
    """Global solve of min F_μ (``relaxed``) or min J by the chosen model; see the module docstring."""
    net, X0, y = problem.net, problem.X0, problem.y
    t_start = time.process_time()  # CPU seconds, as SCIP's limits
    # incumbent: J(W, b) bounds both min J and min F_μ (F_μ(W, forward W) = J(W)); for F_μ a local
    # minimisation of F from it gives a tighter bound F̄ and a better starting point
    W_inc, b_inc = incumbent
    Fbar = net.objective(X0, y, W_inc, b_inc)
    Xs_inc = net.forward(X0, W_inc, b_inc)[0]
    if relaxed:
        Wl, bl, Xl, Fl = lifted_lbfgs(net, X0, y, W_inc, b_inc, lam=mu)
        if Fl < Fbar:
            W_inc, b_inc, Xs_inc, Fbar = Wl, bl, Xl, Fl

    def judge(W_, b_, X_):
        return lifted_value(net, X0, y, W_, b_, X_, mu) if relaxed else net.objective(X0, y, W_, b_)

    if model == "auto":  # the unit-scaled model where it is strongest: scalar heads (sign patterns)
        unit = unit_model_applies(problem, mu if relaxed else None) and output_head(problem).kind == "sign"
        model = "unit" if unit else "direct"
    elif model == "unit" and not unit_model_applies(problem, mu if relaxed else None):
        raise ValueError("model: the unit-scaled model needs one hidden relu layer and multipliers shared by the "
                         "units; use model='direct' or 'auto'")
    if model == "unit":
        patterns, upper, best, judged_raw = _solve_unit(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge,
                                                        time_limit, gap, seed, feastol, complementarity, cuts,
                                                        t_start)
    else:
        patterns, upper, best, judged_raw = _solve_direct(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge,
                                                          time_limit, gap, seed, feastol, cuts)
    dual = min(r["dual"] for r in patterns)
    W, b, Xs = best
    judged = upper
    if polish:  # a local method from the best point: can only lower the (judged) upper bound
        if relaxed:
            Wp, bp, Xp, Fp = lifted_lbfgs(net, X0, y, W, b, Xs, lam=mu)
        else:
            Wp, bp, Fp, _ = lbfgs_polish(net, X0, y, W, b)
            Xp = net.forward(X0, Wp, bp)[0]
        if Fp < judged:
            W, b, Xs, judged = Wp, bp, Xp, Fp
    if (judged - dual) <= gap * abs(judged):
        status = "optimal"
    else:
        bad = [r["status"] for r in patterns if r["status"] not in _SOLVED]
        status = bad[0] if bad else "optimal"
    scalar = relaxed and multipliers_kind(mu) == "scalar"
    return GlobalResult(quantity="min F_lambda" if relaxed else "min J", lam=float(mu[0].flat[0]) if scalar else None,
                        status=status, dual=float(dual), primal=min((r["primal"] for r in patterns), default=math.inf),
                        judged=float(judged), time=float(sum(r["time"] for r in patterns)),
                        nodes=int(sum(r["nodes"] for r in patterns)), Fbar=float(Fbar), patterns=patterns,
                        W=W, b=b, Xs=Xs, judged_raw=float(judged_raw), model=model,
                        multipliers=mu if relaxed else None, feastol=float(feastol),
                        divergences=divergences(net, X0, W, b, Xs) if relaxed else [])


def _run(M, cutoff):
    """Optimise a SCIP model cut off at ``cutoff``; returns (status, certified dual ≤ cutoff, primal, time, nodes)."""
    M.setObjlimit(cutoff)
    with _quiet_fds():
        M.optimize()
    status = M.getStatus()
    # "infeasible" = SCIP proved that nothing lies below the cutoff: the cutoff is the bound
    dual = cutoff if status == "infeasible" else min(float(M.getDualbound()), cutoff)
    primal = float(M.getPrimalbound()) if M.getNSols() else math.inf
    return status, dual, primal, float(M.getSolvingTime()), int(M.getNNodes())


def _solve_unit(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge, time_limit, gap, seed, feastol,
                complementarity, cuts, t_start):
    n = problem.net.sizes[1]
    mu_row = mu[0][0] if relaxed else None
    signs_inc, units_inc = to_units(problem, W_inc, b_inc, Xs_inc if relaxed else None, mu_row)
    signs_inc, units_inc, p_inc = canonical_units(problem, signs_inc, units_inc, relaxed)
    n_zero = int(np.sum(units_inc["tau"] == 0))
    # best point known (judged by the network): every pattern is cut off at (1 − gap/2) times its value,
    # and a pattern proved to have nothing below that cutoff gets the cutoff as its lower bound
    upper, best = Fbar, (W_inc, b_inc, Xs_inc)
    judged_raw = math.inf
    patterns = []
    ball = signs_inc is None
    order = [None] if ball else [p_inc] + [p for p in range(n + 1) if p != p_inc]
    for k, p in enumerate(order):
        signs = None if ball else np.array([1.0] * p + [-1.0] * (n - p))
        mod = _UnitModel(problem, relaxed, mu_row, signs, unit_bounds(problem, upper, relaxed, mu_row),
                         complementarity, cuts)
        remaining = time_limit - (time.process_time() - t_start)
        _set_params(mod.M, max(remaining / (len(order) - k), 1.0), gap, feastol, seed)
        if ball or p_inc <= p <= p_inc + n_zero:  # the incumbent fits this pattern (zero units take either sign)
            mod.add_point(_arrange(signs_inc, units_inc, p))
        status, dual, primal, t, nodes = _run(mod.M, upper * (1.0 - 0.5 * gap))
        patterns.append({"p": p, "status": status, "dual": dual, "primal": primal, "time": t, "nodes": nodes})
        if mod.M.getNSols():
            W, b, Xs = from_units(problem, signs, mod.solution(), mu_row)
            val = judge(W, b, Xs)
            judged_raw = min(judged_raw, val)
            if val < upper:
                upper, best = val, (W, b, Xs)
    patterns.sort(key=lambda r: -1 if r["p"] is None else r["p"])
    return patterns, upper, best, judged_raw


def _solve_direct(problem, relaxed, mu, W_inc, b_inc, Xs_inc, Fbar, judge, time_limit, gap, seed, feastol, cuts):
    boxes = network_boxes(problem, Fbar, relaxed, mu if relaxed else None)
    mod = DirectModel(problem, relaxed, mu, boxes, cuts=cuts)
    _set_params(mod.M, time_limit, gap, feastol, seed)
    status, dual, primal, t, nodes = _run(mod.M, Fbar * (1.0 - 0.5 * gap))
    upper, best, judged_raw = Fbar, (W_inc, b_inc, Xs_inc), math.inf
    if mod.M.getNSols():
        W, b, Xs = mod.solution()
        Xs = [a.project_domain(X) for a, X in zip(problem.net.activations, Xs)]
        if not relaxed:
            Xs = problem.net.forward(problem.X0, W, b)[0]
        val = judge(W, b, Xs)
        judged_raw = val
        if val < upper:
            upper, best = val, (W, b, Xs)
    return [{"p": None, "status": status, "dual": dual, "primal": primal, "time": t, "nodes": nodes}], upper, best, \
        judged_raw


def _incumbent(problem, incumbent):
    if incumbent is None:
        W, b, _, _ = lbfgs_train(problem.net, problem.X0, problem.y, seed=0)
        return W, b
    W, b = incumbent
    net = copy_network(problem.net, W=W, b=b)  # validates shapes and finiteness
    return net.W, net.b


def _check_options(time_limit, gap, feastol, complementarity="sos1", model="auto"):
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not (0 < time_limit < math.inf):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not (0 <= gap < 1):
        raise ValueError(f"gap: expected a relative gap limit in [0, 1), got {gap!r}")
    if isinstance(feastol, bool) or not isinstance(feastol, (int, float)) or not (1e-10 <= feastol <= 1e-4):
        raise ValueError(f"feastol: expected a feasibility tolerance in [1e-10, 1e-4], got {feastol!r}")
    if complementarity not in ("sos1", "bilinear"):
        raise ValueError(f"complementarity: expected 'sos1' or 'bilinear', got {complementarity!r}")
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")


def solve_relaxation(net, X0, y, lam=None, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3,
                     seed: int = 0, feastol: float = 1e-8, cuts: bool = True, polish: bool = True,
                     allow_large: bool = False, model: str = "auto") -> GlobalResult:
    """min F_μ over (W, b, X) by SCIP (module docstring).

    ``lam`` overrides the network's λ: a scalar, one value per hidden layer, or finer multipliers (per
    sample, neuron or entry; :func:`~fenchel_cvx.certify.expand_multipliers`). ``incumbent`` = (W, b) of a
    trained network (default: one L-BFGS run on J) supplies F̄ ≥ min F_μ (after a local descent on F_μ);
    ``time_limit`` (seconds) covers all SCIP solves; ``model``: "auto", "unit" or "direct". Returns a
    :class:`GlobalResult` whose ``dual`` is a lower bound on min F_μ, hence on min J (valid up to SCIP's
    feasibility tolerance ``feastol``).
    """
    problem = check_problem(net, X0, y, need_lam=lam is None, allow_large=allow_large)
    mu = expand_multipliers(problem.net, problem.m, problem.net.lam if lam is None else lam)
    _check_options(time_limit, gap, feastol, model=model)
    require_scip()
    return _solve(problem, True, mu, _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  "sos1", cuts, polish, model)


def solve_standard(net, X0, y, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3, seed: int = 0,
                   feastol: float = 1e-8, complementarity: str = "sos1", cuts: bool = True, polish: bool = True,
                   allow_large: bool = False, model: str = "auto") -> GlobalResult:
    """min J over (W, b) by SCIP: the activations as exact complementarity models (module docstring;
    for the ReLU ṽ ≥ 0, ṽ ≥ ũ, ṽ(ṽ − ũ) = 0)."""
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    _check_options(time_limit, gap, feastol, complementarity, model)
    require_scip()
    return _solve(problem, False, None, _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  complementarity, cuts, polish, model)
