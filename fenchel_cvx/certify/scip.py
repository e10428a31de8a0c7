r"""Global optima of tiny ReLU networks by spatial branch-and-bound in SCIP (PySCIPOpt).

Scope: one hidden ReLU layer, one output, squared loss, weight decay ρ_0, ρ_1 > 0
(network ``[d, n, 1]``; data X0 is d x m, one column per sample). Both problems are
solved exactly (to SCIP's tolerances) after an exact reformulation that uses the positive
homogeneity of the ReLU and of its Fenchel divergence:

**Unit scaling.** Scaling unit i's incoming weights, bias and activations by α > 0 and its
output weight a_i by 1/α leaves the network output unchanged. Write ṽ_i = |a_i| x_i (the
unit's contribution to the output is s_i ṽ_i, s_i = sign a_i), w̃_i = |a_i| w_i, b̃_i = |a_i| b_i,
ũ_i = w̃_i·X0 + b̃_i. Minimising the unit's cost over α gives

* J:   ρ_0/2‖w_i‖² + ρ_1/2 a_i²  →  β‖w̃_i‖ with β = √(ρ_0ρ_1) (AM–GM), and
* F_λ: Ẽ_i/a_i² + ρ_1 a_i²/2 → √(2ρ_1Ẽ_i), where Ẽ_i = (λ/m)Σ_j B(ũ_ij, ṽ_ij) + ρ_0/2‖w̃_i‖²
  (B(αu, αv) = α²B(u, v) for the ReLU pair), attained at a_i² = √(2Ẽ_i/ρ_1).

So, for each sign pattern s (units are interchangeable: p = #{s_i = +1} = 0..n patterns),

    min J   = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i ≥ β‖w̃_i‖,
              ṽ ≥ 0, g̃ = ṽ − ũ ≥ 0, ṽ·g̃ = 0 (complementarity: SOS1 pairs, or ṽg̃ ≤ 0);
    min F_λ = min (1/m)Σ_j ½(Σ_i s_i ṽ_ij + c − y_j)² + Σ_i τ_i,   τ_i² ≥ 2ρ_1Ẽ_i,

with the divergence modelled as in docs/design.md §5,
B(u, v) = min_{s ≥ max(u,0)} ½(s − v)² + v·g, g = s − u ≥ 0 (for any s, ½(s−v)² + v(s−u) =
½s² + ½v² − uv, increasing in s ≥ 0, so the minimum is at s = u₊ and equals ½u₊² + ½v² − uv).
At every minimiser s = u₊ and g = u₋, so s·g = 0: the model adds SOS1(s̃_ij, g̃_ij), which makes
SCIP branch on the sign of ũ_ij and turns B into ½(s − v)² (u ≥ 0) or ½v² + v·g (u ≤ 0). The
remaining nonconvex terms are p̃_ij ≥ ṽ_ij g̃_ij and θ_i ≤ τ_i².

Every variable lies in a perspective box τ_i·[lo, hi] from :mod:`fenchel_cvx.certify.bounds`,
and these cuts, valid at some global minimiser, are added: Σ_i τ_i ≤ F̄; τ_i ≥ τ_{i+1} within a
sign group; Σ_j (z_j − y_j) = 0 (stationarity in c); for F_λ, which is C¹ in the first layer,
the stationarity in the unpenalised bias, Σ_j s̃_ij = Σ_j ṽ_ij, and in the weights,
ρ_0 w̃_i + (λ/m) Σ_j (s̃_ij − ṽ_ij) x_j = 0 (both linear), and the second-order cone
2ρ_1[(λ/m)Σ_j ½(s̃_ij − ṽ_ij)² + ρ_0/2‖w̃_i‖²] ≤ τ_i² (p̃ ≥ 0 dropped: convex, so SCIP needs no
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

from ._problem import check_problem, copy_network, require_scip
from .bounds import UnitBounds, unit_bounds
from .upper import lbfgs_train, lifted_lbfgs

__all__ = ["GlobalResult", "solve_relaxation", "solve_standard", "to_units", "from_units", "SUPPORTED_GLOBAL"]

SUPPORTED_GLOBAL = ("networks [d, n, 1] with one hidden ReLU layer, one output, the squared loss and "
                    "weight decay rho_0, rho_1 > 0")

_SOLVED = ("optimal", "gaplimit", "infeasible")  # infeasible = nothing better than the objective limit


@dataclass
class GlobalResult:
    """Outcome of a global solve (all sign patterns together).

    quantity : "min F_lambda" or "min J";  lam : λ of the relaxation (None for J)
    dual     : certified lower bound on ``quantity`` (minimum over sign patterns of SCIP's dual bounds)
    primal   : SCIP's best objective value (its own, tolerance-affected, number)
    judged   : the network's own F_λ (resp. J) at the best point found, after polishing — an upper bound
    status   : "optimal" when (judged − dual) ≤ gap·judged, else the first SCIP status other than solved
    patterns : per sign pattern: dict(p, status, dual, primal, time, nodes)
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

    @property
    def solved(self) -> bool:
        """True when SCIP proved optimality (to its gap limit) for every sign pattern."""
        return self.status == "optimal"

    @property
    def gap(self) -> float:
        """Relative gap (judged − dual) / |judged|."""
        if not math.isfinite(self.judged):
            return math.inf
        return (self.judged - self.dual) / max(abs(self.judged), 1e-300)


# ---- network <-> unit-scaled variables --------------------------------------------
def _unit_energy(problem, lam, w, b, V):
    """Ẽ_i = (λ/m) Σ_j B(ũ_ij, ṽ_ij) + ρ_0/2 ‖w̃_i‖² for every unit (rows of w, V)."""
    net, X0 = problem.net, problem.X0
    U = w @ X0 + b[:, None]
    B = net.activations[0].divergence(U, np.maximum(V, 0.0))
    return (lam / problem.m) * B.sum(axis=1) + 0.5 * net.rho[0] * np.sum(w * w, axis=1)


def to_units(problem, W, b, Xs=None, lam=None):
    """Map a network (W, b) and, for F_λ, its hidden activations Xs = [X_1] to unit-scaled variables.

    Returns ``(signs, units)`` with units = dict(w (n x d), b (n,), V (n x m), c, tau (n,)); for J
    (``lam=None``) V is the forward pass and τ_i = β‖w̃_i‖, for F_λ τ_i = √(2ρ_1Ẽ_i). The model
    objective at this point is ≤ J(W, b) (resp. F_λ(W, b, Xs)), with equality for balanced units.
    """
    net, X0 = problem.net, problem.X0
    W = [np.asarray(w, dtype=float) for w in W]
    b = [np.asarray(v, dtype=float) for v in b]
    a = W[1][0]
    alpha = np.abs(a)
    signs = np.where(a >= 0, 1.0, -1.0)
    X1 = np.maximum(W[0] @ X0 + b[0][:, None], 0.0) if Xs is None else np.maximum(np.asarray(Xs[0], dtype=float), 0.0)
    w, bb, V = alpha[:, None] * W[0], alpha * b[0], alpha[:, None] * X1
    c = float(b[1][0])
    if lam is None:
        tau = math.sqrt(net.rho[0] * net.rho[1]) * np.linalg.norm(w, axis=1)
    else:
        tau = np.sqrt(2.0 * net.rho[1] * _unit_energy(problem, lam, w, bb, V))
    return signs, {"w": w, "b": bb, "V": V, "c": c, "tau": tau}


def from_units(problem, signs, units, lam=None):
    """Map unit-scaled variables back to a network: returns ``(W, b, Xs)``.

    J: w = t w̃, b = t b̃, a = s/t with t⁴ = ρ_1/(ρ_0‖w̃‖²) (balanced; reg = β‖w̃‖); Xs = forward pass.
    F_λ: a² = √(2Ẽ/ρ_1), (w, b, x) = (w̃, b̃, ṽ)/|a| (F-terms of the unit = √(2ρ_1Ẽ)).
    A unit with w̃ = 0 (J) or Ẽ = 0 (F_λ) has constant output s·b̃₊ and is folded into the output bias.
    """
    net, X0 = problem.net, problem.X0
    n, d = net.sizes[1], net.sizes[0]
    rho0, rho1 = net.rho[0], net.rho[1]
    w, bb, V = np.asarray(units["w"]), np.asarray(units["b"]), np.maximum(np.asarray(units["V"]), 0.0)
    c = float(units["c"])
    W0, b0, a, X1 = np.zeros((n, d)), np.zeros(n), np.zeros(n), np.zeros((n, problem.m))
    E = _unit_energy(problem, lam, w, bb, V) if lam is not None else None
    for i in range(n):
        if lam is None:
            nw = float(np.linalg.norm(w[i]))
            if nw > 0:
                t = (rho1 / (rho0 * nw * nw)) ** 0.25
                W0[i], b0[i], a[i] = t * w[i], t * bb[i], signs[i] / t
            elif net.bias:
                c += signs[i] * max(bb[i], 0.0)
        else:
            if E[i] > 0:
                al = (2.0 * E[i] / rho1) ** 0.25
                W0[i], b0[i], X1[i], a[i] = w[i] / al, bb[i] / al, V[i] / al, signs[i] * al
            elif net.bias:
                c += signs[i] * float(np.mean(V[i]))
    W = [W0, a[None, :]]
    b = [b0, np.array([c if net.bias else 0.0])]
    Xs = net.forward(X0, W, b)[0] if lam is None else [X1]
    return W, b, Xs


def _canonical(problem, signs, units, relaxed):
    """WLOG moves of the bounds module on a point: shift all-active units (c compensates), drop dead
    units (J only), order units (positive signs first, then by decreasing τ); returns (signs, units, p)."""
    X0 = problem.X0
    w, bb, V = units["w"].copy(), units["b"].copy(), units["V"].copy()
    c, tau = float(units["c"]), units["tau"].copy()
    if problem.net.bias:
        for i in range(len(tau)):
            U = w[i] @ X0 + bb[i]
            if relaxed:
                delta = float(min(U.min(), V[i].min()))
                if delta > 0:
                    bb[i] -= delta
                    V[i] -= delta
                    c += signs[i] * delta
            else:
                if U.min() > 0:
                    bb[i] -= U.min()
                    c += signs[i] * U.min()
                elif U.max() <= 0:
                    w[i], bb[i], tau[i] = 0.0, 0.0, 0.0
                V[i] = np.maximum(w[i] @ X0 + bb[i], 0.0)
    order = np.lexsort((-tau, -signs))
    signs = signs[order]
    units = {"w": w[order], "b": bb[order], "V": V[order], "c": c, "tau": tau[order]}
    return signs, units, int(np.sum(signs > 0))


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
    τ, then zero units), then the negative ones; zero units (τ = 0) may take either sign."""
    tau = units["tau"]
    pos = [i for i in np.argsort(-tau, kind="stable") if signs[i] > 0 and tau[i] > 0]
    neg = [i for i in np.argsort(-tau, kind="stable") if signs[i] < 0 and tau[i] > 0]
    zero = [i for i in range(len(tau)) if tau[i] == 0]
    k = p - len(pos)
    order = pos + zero[:k] + neg + zero[k:]
    return {key: (val[order] if isinstance(val, np.ndarray) else val) for key, val in units.items()}


# ---- the SCIP model -----------------------------------------------------------------------
class _UnitModel:
    """SCIP model of one sign pattern (``relaxed``: F_λ, else J). Variables are arrays of pyscipopt Variables."""

    def __init__(self, problem, relaxed, lam, signs, bnd: UnitBounds, complementarity, cuts):
        scip = require_scip()
        qs = scip.quicksum
        net, X0, Y, m = problem.net, problem.X0, problem.Y, problem.m
        n, d = net.sizes[1], net.sizes[0]
        self.problem, self.relaxed, self.lam, self.signs, self.bnd = problem, relaxed, lam, signs, bnd
        self.M = M = scip.Model("fenchel_" + ("relaxation" if relaxed else "standard"))
        M.hideOutput()
        F = bnd.Fbar
        y = Y[0]
        rho0, rho1 = float(net.rho[0]), float(net.rho[1])

        # energy-scale constraints (quadratic in the unit variables, which are O(τ) ≤ O(F̄)) are
        # multiplied by K = 1/F̄², so that SCIP's absolute feasibility tolerance acts relative to their size
        K = 1.0 / (F * F)

        def var(name, lb, ub):
            return M.addVar(name, lb=float(lb), ub=float(ub))

        self.tau = [var(f"tau{i}", 0, F) for i in range(n)]
        self.w = [[var(f"w{i},{k}", -F * bnd.w, F * bnd.w) for k in range(d)] for i in range(n)]
        self.b = [var(f"b{i}", F * bnd.b_lo, F * bnd.b_hi) for i in range(n)] if net.bias else [0.0] * n
        self.c = var("c", -bnd.c_hi, bnd.c_hi) if net.bias else 0.0
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
                u = qs(float(X0[k, j]) * wi[k] for k in range(d)) + bi
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
                # the convex part alone (p̃ ≥ 0): 2ρ_1 [(λ/m) Σ_j ½(s̃ − ṽ)² + ρ_0/2 ‖w̃‖²] ≤ τ², a second-order cone
                M.addCons(K * (lam / m) * qs(0.5 * (self.S[i][j] - self.V[i][j]) * (self.S[i][j] - self.V[i][j]) for j in range(m))
                              + K * 0.5 * rho0 * qs(wk * wk for wk in wi) <= K * t * t / (2.0 * rho1))
                M.addCons(K * (lam / m) * qs(self.D[i][j] + self.P[i][j] for j in range(m))
                          + K * 0.5 * rho0 * qs(wk * wk for wk in wi) <= K * th / (2.0 * rho1))
                if cuts and net.bias:  # stationarity in the unpenalised bias b̃_i
                    M.addCons(qs(self.S[i][j] for j in range(m)) == qs(self.V[i][j] for j in range(m)))
                if cuts:  # stationarity in w̃_i: ρ_0 w̃_i + (λ/m) Σ_j (s̃_ij − ṽ_ij) x_j = 0
                    for k in range(d):
                        M.addCons(rho0 * wi[k] + (lam / m) * qs(float(X0[k, j]) * (self.S[i][j] - self.V[i][j])
                                                              for j in range(m)) == 0)
        if cuts:
            M.addCons(qs(self.tau) <= F)
            for i in range(n - 1):
                if signs[i] == signs[i + 1]:
                    M.addCons(self.tau[i] >= self.tau[i + 1])
        self.Z = []
        for j in range(m):
            z = qs(float(signs[i]) * self.V[i][j] for i in range(n)) + self.c
            self.Z.append(z)
            M.addCons(0.5 * (z - float(y[j])) * (z - float(y[j])) <= self.E[j])
        if cuts and net.bias:  # stationarity in the output bias
            M.addCons(qs(self.Z) == float(np.sum(y)))
        M.setObjective(qs(self.E) * (1.0 / m) + qs(self.tau), "minimize")
        if relaxed:  # branch on the unit scales first: θ ≤ τ² is the one nonconvexity every unit carries
            for t in self.tau:
                M.chgVarBranchPriority(t, 10)

    def add_point(self, units) -> bool:
        """Offer a unit-scaled point (dict w, b, V, c, tau) to SCIP as a starting solution."""
        M, net, X0, m = self.M, self.problem.net, self.problem.X0, self.problem.m
        n, d = net.sizes[1], net.sizes[0]
        w, bb, V, c, tau = units["w"], units["b"], units["V"], units["c"], units["tau"]
        sol = M.createSol()
        put = lambda var, val: M.setSolVal(sol, var, float(val))  # noqa: E731
        U = w @ X0 + bb[:, None]
        for i in range(n):
            put(self.tau[i], tau[i])
            for k in range(d):
                put(self.w[i][k], w[i, k])
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
        if net.bias:
            put(self.c, c)
        Z = self.signs @ V + c
        for j in range(m):
            put(self.E[j], 0.5 * (Z[j] - self.problem.Y[0, j]) ** 2)
        return bool(M.addSol(sol, free=True))

    def solution(self):
        """The best solution as unit-scaled arrays (dict w, b, V, c, tau)."""
        M = self.M
        sol = M.getBestSol()
        val = lambda v: v if isinstance(v, float) else M.getSolVal(sol, v)  # noqa: E731
        return {"w": np.array([[val(v) for v in row] for row in self.w]),
                "b": np.array([val(v) for v in self.b]),
                "V": np.array([[val(v) for v in row] for row in self.V]),
                "c": float(val(self.c)), "tau": np.array([val(v) for v in self.tau])}


def check_scope(problem):
    """Refuse a problem outside :data:`SUPPORTED_GLOBAL` (ValueError listing what is supported)."""
    net = problem.net
    if net.L != 1 or net.sizes[-1] != 1 or problem.loss != "squared":
        raise ValueError(f"the global SCIP models support {SUPPORTED_GLOBAL}; got sizes {net.sizes} and loss "
                         f"{problem.loss!r} (cross-entropy and several outputs would put the output weights "
                         f"into bilinear terms with the activations, which is not implemented)")


def _solve(problem, relaxed, lam, incumbent, time_limit, gap, seed, feastol, complementarity, cuts, polish):
    net, X0, y = problem.net, problem.X0, problem.y
    n = net.sizes[1]
    t_start = time.perf_counter()
    # incumbent: J(W, b) bounds both min J and min F_λ (F_λ(W, forward W) = J(W)); for F_λ a local
    # minimisation of F from it gives a tighter bound F̄ and a better starting point
    W_inc, b_inc = incumbent
    Fbar = net.objective(X0, y, W_inc, b_inc)
    Xs_inc = None
    if relaxed:
        Wl, bl, Xl, Fl = lifted_lbfgs(net, X0, y, W_inc, b_inc, lam=lam)
        if Fl < Fbar:
            W_inc, b_inc, Xs_inc, Fbar = Wl, bl, Xl, Fl
    signs_inc, units_inc = to_units(problem, W_inc, b_inc, Xs_inc, lam if relaxed else None)
    signs_inc, units_inc, p_inc = _canonical(problem, signs_inc, units_inc, relaxed)
    n_zero = int(np.sum(units_inc["tau"] == 0))
    lam_j = lam if relaxed else None
    judge = (lambda W_, b_, X_: net.lifted_objective(X0, y, X_, W_, b_, lam=lam)) if relaxed else \
            (lambda W_, b_, X_: net.objective(X0, y, W_, b_))
    if Xs_inc is None:
        Xs_inc = net.forward(X0, W_inc, b_inc)[0]
    # best point known (judged by the network): every pattern is cut off at (1 − gap/2) times its value,
    # and a pattern proved to have nothing below that cutoff gets the cutoff as its lower bound
    upper, best = Fbar, (W_inc, b_inc, Xs_inc)
    judged_raw = math.inf
    patterns = []
    order = [p_inc] + [p for p in range(n + 1) if p != p_inc]
    for k, p in enumerate(order):
        signs = np.array([1.0] * p + [-1.0] * (n - p))
        mod = _UnitModel(problem, relaxed, lam, signs, unit_bounds(problem, upper, relaxed, lam),
                         complementarity, cuts)
        M = mod.M
        remaining = time_limit - (time.perf_counter() - t_start)
        M.setParam("limits/time", max(remaining / (n + 1 - k), 1.0))
        M.setParam("limits/gap", float(gap))
        M.setParam("numerics/feastol", float(feastol))
        M.setParam("randomization/randomseedshift", int(seed))
        cutoff = upper * (1.0 - 0.5 * gap)
        M.setObjlimit(cutoff)
        if p_inc <= p <= p_inc + n_zero:  # the incumbent fits this pattern (its zero units take either sign)
            mod.add_point(_arrange(signs_inc, units_inc, p))
        with _quiet_fds():
            M.optimize()
        status = M.getStatus()
        dual = cutoff if status == "infeasible" else min(float(M.getDualbound()), cutoff)
        primal = float(M.getPrimalbound()) if M.getNSols() else math.inf
        patterns.append({"p": p, "status": status, "dual": dual, "primal": primal,
                         "time": float(M.getSolvingTime()), "nodes": int(M.getNNodes())})
        if M.getNSols():
            W, b, Xs = from_units(problem, signs, mod.solution(), lam_j)
            val = judge(W, b, Xs)
            judged_raw = min(judged_raw, val)
            if val < upper:
                upper, best = val, (W, b, Xs)
    patterns.sort(key=lambda r: r["p"])
    dual = min(r["dual"] for r in patterns)
    W, b, Xs = best
    judged = upper
    if polish:  # a local method from the best point: can only lower the (judged) upper bound
        if relaxed:
            Wp, bp, Xp, Fp = lifted_lbfgs(net, X0, y, W, b, Xs, lam=lam)
        else:
            Wp, bp, Fp, _ = _polish_J(net, X0, y, W, b)
            Xp = net.forward(X0, Wp, bp)[0]
        if Fp < judged:
            W, b, Xs, judged = Wp, bp, Xp, Fp
    if (judged - dual) <= gap * abs(judged):
        status = "optimal"
    else:
        bad = [r["status"] for r in patterns if r["status"] not in _SOLVED]
        status = bad[0] if bad else "optimal"
    return GlobalResult(quantity="min F_lambda" if relaxed else "min J", lam=float(lam) if relaxed else None,
                        status=status, dual=float(dual), primal=min((r["primal"] for r in patterns), default=math.inf),
                        judged=float(judged), time=float(sum(r["time"] for r in patterns)),
                        nodes=int(sum(r["nodes"] for r in patterns)), Fbar=float(Fbar), patterns=patterns,
                        W=W, b=b, Xs=Xs, judged_raw=float(judged_raw))


def _polish_J(net, X0, y, W, b):
    """Local L-BFGS on J started at (W, b) (through a copy of the network)."""
    from scipy.optimize import minimize

    from .upper import objective_and_grad, pack_params, single_thread, unpack_params

    Y = np.asarray(net.check_targets(y, X0.shape[1]), dtype=float)

    def fun(theta):
        Wt, bt = unpack_params(theta, net.sizes, net.bias)
        J, gW, gb = objective_and_grad(net, X0, Y, Wt, bt)
        return J, pack_params(gW, gb, net.bias)

    with single_thread():
        res = minimize(fun, pack_params(W, b, net.bias), jac=True, method="L-BFGS-B",
                       options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-11})
    Wt, bt = unpack_params(res.x, net.sizes, net.bias)
    return Wt, bt, net.objective(X0, y, Wt, bt), res


def _incumbent(problem, incumbent):
    if incumbent is None:
        W, b, _, _ = lbfgs_train(problem.net, problem.X0, problem.y, seed=0)
        return W, b
    W, b = incumbent
    net = copy_network(problem.net, W=W, b=b)  # validates shapes and finiteness
    return net.W, net.b


def _check_options(time_limit, gap, feastol, complementarity="sos1"):
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not (0 < time_limit < math.inf):
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not (0 <= gap < 1):
        raise ValueError(f"gap: expected a relative gap limit in [0, 1), got {gap!r}")
    if isinstance(feastol, bool) or not isinstance(feastol, (int, float)) or not (1e-10 <= feastol <= 1e-4):
        raise ValueError(f"feastol: expected a feasibility tolerance in [1e-10, 1e-4], got {feastol!r}")
    if complementarity not in ("sos1", "bilinear"):
        raise ValueError(f"complementarity: expected 'sos1' or 'bilinear', got {complementarity!r}")


def solve_relaxation(net, X0, y, lam=None, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3,
                     seed: int = 0, feastol: float = 1e-8, cuts: bool = True, polish: bool = True,
                     allow_large: bool = False) -> GlobalResult:
    """min F_λ over (W, b, X) by SCIP (module docstring).

    ``lam`` overrides the network's λ; ``incumbent`` = (W, b) of a trained network (default: one
    L-BFGS run on J) supplies F̄ ≥ min F_λ (after a local descent on F_λ) and a starting point;
    ``time_limit`` (seconds) covers all sign patterns. Returns a :class:`GlobalResult` whose ``dual``
    is a certified lower bound on min F_λ, hence on min J.
    """
    problem = check_problem(net, X0, y, allow_large=allow_large)
    check_scope(problem)
    lam = float(problem.net.lam[0]) if lam is None else lam
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.floating)) or not (0 < lam < math.inf):
        raise ValueError(f"lam: expected a finite lam > 0, got {lam!r}")
    _check_options(time_limit, gap, feastol)
    require_scip()
    return _solve(problem, True, float(lam), _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  "sos1", cuts, polish)


def solve_standard(net, X0, y, incumbent=None, time_limit: float = 60.0, gap: float = 1e-3, seed: int = 0,
                   feastol: float = 1e-8, complementarity: str = "sos1", cuts: bool = True, polish: bool = True,
                   allow_large: bool = False) -> GlobalResult:
    """min J over (W, b) by SCIP, the ReLU as the complementarity ṽ ≥ 0, ṽ ≥ ũ, ṽ(ṽ − ũ) = 0 (module docstring)."""
    problem = check_problem(net, X0, y, need_lam=False, allow_large=allow_large)
    check_scope(problem)
    _check_options(time_limit, gap, feastol, complementarity)
    require_scip()
    return _solve(problem, False, None, _incumbent(problem, incumbent), time_limit, gap, seed, feastol,
                  complementarity, cuts, polish)
