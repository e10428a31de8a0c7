r"""The unit-scaled global model of one-hidden-layer ReLU networks (SCIP), and the map between networks and units.

See :mod:`fenchel_cvx.certify.scip.solve` for the reformulation (positive homogeneity: each unit's cost becomes
β‖w̃‖ for J and √(2ρ₁Ẽ) for F_λ), the perspective boxes (:mod:`fenchel_cvx.certify.scip.boxes`) and what the
bounds rest on. Shapes: X0 is d x m; a unit's per-sample arrays have shape (m,).
"""


from __future__ import annotations

import math

import numpy as np

from ..problem import (
    require_scip,
)
from .boxes import UnitBounds, output_head

__all__ = ["UnitModel", "to_units", "from_units", "canonical_units", "arrange_units"]



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
    with a sign head (:func:`~fenchel_cvx.certify.scip.boxes.output_head`) e = signs[:, None], with a ball
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


def arrange_units(signs, units, p):
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
class UnitModel:
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
