r"""The general global model: min J and min F_μ in the network's own variables, for SCIP.

Scope: every problem :func:`~fenchel_cvx.certify.check_problem` accepts — one or two hidden layers
``[d, n_1, (n_2,) k]``, activations relu / leaky_relu(a) / hardtanh (per layer), the squared loss or
the cross-entropy, weight decay ρ_l > 0. Shapes: X0 is d x m, W_l is n_{l+1} x n_l, U_l and X_{l+1}
are n_{l+1} x m, Z is k x m; multipliers μ_l are n_{l+1} x m (one per neuron and sample).

Variables: W_l, b_l, U_l (pre-activations), X_{l+1} (activations), Z (logits), E_j (loss of sample j),
A_l ≥ ρ_l/2‖W_l‖² (a convex quadratic), and per hidden entry the pieces below. Every variable lies in
the box of :func:`~fenchel_cvx.certify.scip.boxes.network_boxes`, which contains a global minimiser (the
derivation is in that module). U_0 = W_0X0 + b_0 is linear; U_l = W_lX_l + b_l (l ≥ 1) and
Z = W_LX_L + b_L are bilinear equalities, which SCIP relaxes by McCormick envelopes on the boxes and branches on.

**Activation pieces** (u an entry of U_l, x / v the matching entry of X_{l+1}). Each piecewise linear
activation is written as a split of u into parts that are zero or not on each linear piece; the
complementarity of the parts is exact for J and, for F, holds at every minimiser of the split (so it is
a valid cut); SCIP enforces it by SOS1 branching:

* relu:      u = s − g, s, g ≥ 0, SOS1(s, g).  J: x = s.
             F: B(u, v) = min_split ½s² + ½v² − (s − g)v = ½(s − v)² + v·g, v ≥ 0.
* leaky (a): u = s − g as above.  J: x = s − a·g.
             F: also v = p − q, p, q ≥ 0, SOS1(p, q); with f(u) = min ½s² + (a/2)g² and
             f*(v) = min ½p² + q²/(2a) over the splits,
             B(u, v) = ½(s − p)² + (ag − q)²/(2a) + s·q + g·p.
* hardtanh:  u = c + p − q, c ∈ [−1, 1], p, q ≥ 0, SOS1(p, 1 − c), SOS1(q, 1 + c), SOS1(p, q)
             (½huber(u) = min ½c² + p + q over these splits).  J: x = c.
             F: B(u, v) = ½c² + p + q + ½v² − (c + p − q)v = ½(c − v)² + p(1 − v) + q(1 + v), v ∈ [−1, 1].

In F every divergence is a convex square (an epigraph d ≥ ½(·)², convex, cut by outer approximation)
plus products of two nonnegative variables (epigraphs t ≥ x·y: the only nonconvexity of the
divergence, relaxed by McCormick and branched on). Each model value is ≥ B(u, v) for any split and = B
at the complementary one, so min over the model = min F_μ.

**Losses.** Squared: E_j ≥ ½‖z_j − y_j‖² (convex). Cross-entropy: E_j ≥ logsumexp(z_j) − z_{y_j j},
written Σ_k exp(z_kj − z_{y_j j} − E_j) ≤ 1 (a convex constraint SCIP recognises; it enforces it by
gradient cuts of exp up to its feasibility tolerance: a violation ε lets E_j sit about ε low, which can
only lower the bound), with the linear cuts E_j ≥ z_rj − z_{y_j j}.

**Cuts valid at some global minimiser** (bounds module): A_l ≤ its balance cap; squared loss:
Σ_j (z_kj − y_kj) = 0; cross-entropy: Σ_k b_L[k] = 0 and Σ_k W_L[k, :] = 0; F: stationarity in the
unpenalised bias of every hidden layer, Σ_j μ_ij(φ(u_ij) − v_ij) = 0, and in W_0,
ρ_0W_0[i] + (1/m)Σ_j μ_ij(φ(u_ij) − v_ij)x_j = 0 (both linear in the pieces; F is C¹ in W_0, b); units of
a hidden layer whose multiplier rows are equal are interchangeable: W_l[i, 0] ≥ W_l[i+1, 0]; hardtanh
is odd: W_l[i, 0] ≥ 0. The objective is written as one cost per hidden unit (its share of the weight
decay and its divergences) with *pricing* cuts tying that cost to the unit's contribution to the next
layer (:meth:`DirectModel._unit_costs`), and the *Lipschitz chain* ‖z_j − z_k‖ ≤ Π_l‖W_l‖_F‖x_j − x_k‖
(+ divergence residuals for F) with the balance equalities (:meth:`DirectModel._lipschitz`). Without the
last two the root bound of a two-layer or vector-output problem is 0 (McCormick envelopes let the LP fit
any targets at no cost); with them it is the cost of the least Lipschitz constant that fits the data.
"""

from __future__ import annotations

import numpy as np

from ..problem import require_scip
from .boxes import NetworkBoxes, input_geometry

__all__ = ["DirectModel"]


class DirectModel:
    """The SCIP model of the module docstring for a validated problem.

    ``relaxed``: F_μ (``mu`` = one n_{l+1} x m array per hidden layer) or J; ``boxes`` from
    :func:`~fenchel_cvx.certify.scip.boxes.network_boxes` for the same (relaxed, μ, F̄); ``cuts``: add the
    valid cuts. After ``M.optimize()``, :meth:`solution` returns SCIP's best point as (W, b, Xs).
    """

    def __init__(self, problem, relaxed: bool, mu, boxes: NetworkBoxes, cuts: bool = True):
        scip = require_scip()
        self.qs = qs = scip.quicksum
        self.exp = scip.exp
        net, X0, Y, m = problem.net, problem.X0, problem.Y, problem.m
        self.problem, self.relaxed, self.mu, self.boxes = problem, relaxed, mu, boxes
        self.M = M = scip.Model("fenchel_" + ("relaxation" if relaxed else "standard") + "_direct")
        M.hideOutput()
        sizes, L = net.sizes, net.L
        self.W, self.b, self.A, self.P = [], [], [], {}
        for l in range(L + 1):
            bx = boxes.layers[l]
            n_out, n_in = sizes[l + 1], sizes[l]
            self.W.append([[M.addVar(f"W{l}_{i}_{r}", lb=-bx.w, ub=bx.w) for r in range(n_in)] for i in range(n_out)])
            self.b.append([M.addVar(f"b{l}_{i}", lb=float(bx.b_lo[i]), ub=float(bx.b_hi[i])) if net.bias else 0.0
                           for i in range(n_out)])
            A = M.addVar(f"A{l}", lb=0.0, ub=bx.reg_hi)  # the balance cap A_l = ρ_l/2‖W_l‖² ≤ cap (a cut)
            M.addCons(0.5 * float(net.rho[l]) * qs(w * w for row in self.W[l] for w in row) <= A)
            self.A.append(A)
        self.X = [None]  # X[l] for l ≥ 1: lists of variables (n_l x m)
        self.Phi = []  # per hidden layer: φ(U_l) as expressions (F: for the stationarity cuts)
        self.div = []  # per hidden layer: (1/m)Σ_j μ_ij B_ij per unit, as expressions (F)
        self.ent = []  # per hidden layer: the model of B_ij per entry (F)
        prev = [[float(X0[r, j]) for j in range(m)] for r in range(sizes[0])]
        for l in range(L):
            bx = boxes.layers[l]
            act = net.activations[l]
            n_out = sizes[l + 1]
            U = self._affine(l, prev, bx.u_lo, bx.u_hi, "U")
            Xn, Phi, div, ent = [], [], [], []
            for i in range(n_out):
                row_x, row_phi, row_div, row_ent = [], [], [], []
                for j in range(m):
                    x, phi, d = self._piece(act, U[i][j], l, i, j, bx)
                    row_x.append(x)
                    row_phi.append(phi)
                    row_ent.append(d)
                    if relaxed:
                        row_div.append(float(mu[l][i, j]) / m * d)
                Xn.append(row_x)
                Phi.append(row_phi)
                ent.append(row_ent)
                div.append(qs(row_div) if relaxed else 0.0)
            self.ent.append(ent)
            self.X.append(Xn)
            self.Phi.append(Phi)
            self.div.append(div)
            if relaxed and cuts:
                self._stationarity(l, prev, Phi, Xn)
            if cuts:
                self._symmetry(l, act)
            prev = Xn
        bx = boxes.layers[L]
        self.Z = self._affine(L, prev, bx.u_lo, bx.u_hi, "Z")
        self.E = [M.addVar(f"E{j}", lb=0.0, ub=boxes.e_hi) for j in range(m)]
        self._loss(Y, cuts)
        Q = self._unit_costs(cuts)
        M.setObjective(qs(self.E) * (1.0 / m) + qs(Q), "minimize")
        if cuts:
            M.addCons(qs(self.A) <= qs(Q))  # Σ_l ρ_l/2‖W_l‖² ≤ Σ_i Q_i (the shares partition the weight decay)
            self._lipschitz(X0)
        # branch on the weights that multiply activations first: once their boxes are small, every product
        # W_l[r, i]·X_l[i, j] is nearly linear (few weights, many products)
        for l in range(1, L + 1):
            for row in self.W[l]:
                for w in row:
                    M.chgVarBranchPriority(w, 10)

    # ---- building blocks --------------------------------------------------------------------
    def _shares(self):
        """ρ of the incoming and outgoing weights charged to the units of each hidden layer: W_l[i, :] to unit i
        of layer l, W_{l+1}[:, i] too; a weight matrix between two hidden layers is charged half to each."""
        rho, L = self.problem.net.rho, self.problem.net.L
        rin = [float(rho[0])] + [0.5 * float(rho[l]) for l in range(1, L)]
        rout = [0.5 * float(rho[l + 1]) for l in range(L - 1)] + [float(rho[L])]
        return rin, rout

    def _unit_costs(self, cuts):
        r"""The objective's weight decay and divergences as one cost Q_i per hidden unit (the shares partition
        Σ_l ρ_l/2‖W_l‖² + Σ div), with the *pricing* cuts that tie a unit's cost to its contribution
        P_{·ij} = W_{l+1}[:, i]·x_ij to the next layer (valid at the minimiser of the bounds module):

        * relu / leaky, J: |x_ij| ≤ ‖w_i‖D_j (item 2; N_j without biases), so
          ‖P_{·ij}‖ ≤ ‖a_i‖‖w_i‖D_j ≤ Q_i D_j/β_i with β_i = √(ρ_in ρ_out) (AM–GM);
        * relu / leaky, F: with E_i = ρ_in/2‖w_i‖² + (1/m)Σ_j μ_ij B_ij: ‖w_i‖ ≤ √(2E_i/ρ_in), the bias offset
          κ_i ≤ √(2mE_i/min_j μ_ij) (divided by √a for leaky) and |v_ij − φ(u_ij)| ≤ √(2mE_i/μ_ij), so
          |v_ij| ≤ c_ij√E_i and ‖P_{·ij}‖ ≤ ‖a_i‖√E_i c_ij ≤ Q_i c_ij/√(2ρ_out)
          (AM–GM: Q_i ≥ E_i + ρ_out/2‖a_i‖² ≥ √(2ρ_out E_i)‖a_i‖);
        * hardtanh: |x_ij| ≤ 1, so Q_i ≥ ρ_out/2‖a_i‖² ≥ ρ_out/2‖P_{·ij}‖².
        """
        M, qs, net, m = self.M, self.qs, self.problem.net, self.problem.m
        rin, rout = self._shares()
        Q = []
        for l in range(net.L):
            act = net.activations[l]
            D, N = self._geometry(l)
            for i in range(len(self.W[l])):
                inc = qs(w * w for w in self.W[l][i])
                out = qs(self.W[l + 1][r][i] * self.W[l + 1][r][i] for r in range(len(self.W[l + 1])))
                E = M.addVar(f"Eu{l}_{i}", lb=0.0, ub=self.boxes.Fbar)
                M.addCons(0.5 * rin[l] * inc + self.div[l][i] <= E)
                q = M.addVar(f"Q{l}_{i}", lb=0.0, ub=self.boxes.Fbar)
                M.addCons(E + 0.5 * rout[l] * out <= q)
                Q.append(q)
                if not cuts:
                    continue
                P = self.P[l + 1]
                for j in range(m):
                    col = [P[r][i][j] for r in range(len(P))]
                    if act.name == "hardtanh":
                        M.addCons(0.5 * rout[l] * qs(p * p for p in col) <= q)
                        continue
                    if not self.relaxed:
                        scale = (D[j] if net.bias else N[j]) / np.sqrt(rin[l] * rout[l])
                    else:
                        mu = self.mu[l][i]
                        a = act.a if act.name == "leaky_relu" else 1.0
                        kap = np.sqrt(2.0 * m / mu.min() / a) if net.bias else 0.0
                        c = np.sqrt(2.0 / rin[l]) * (D[j] if net.bias else N[j]) + kap + np.sqrt(2.0 * m / mu[j])
                        scale = c / np.sqrt(2.0 * rout[l])
                    if len(col) == 1:
                        M.addCons(col[0] <= scale * q)
                        M.addCons(-col[0] <= scale * q)
                    else:
                        M.addCons(qs(p * p for p in col) <= (scale * scale) * q * q)
        return Q

    def _lipschitz(self, X0):
        r"""The *Lipschitz chain* cuts, valid at the minimiser of the bounds module.

        With ω_l = ‖W_l‖_F (ρ_l/2 ω_l² ≤ A_l) and 1-Lipschitz activations, the spread of layer l+1 obeys
        ‖x^{l+1}_j − x^{l+1}_k‖ ≤ ω_l‖x^l_j − x^l_k‖ + R^l_j + R^l_k, where R^l_j ≥ ‖X_{l+1}[:, j] − φ(U_l[:, j])‖ is
        zero for J and, for F, obeys (R^l_j)² ≤ 2Σ_i B_l[i, j] (f* is 1-strongly convex: B ≥ ½(v − φ(u))²).
        Unrolled to the outputs, with Γ_l = Π_{l' ≥ l} ω_l' (bilinear) and T^l_j = Γ_{l+1}R^l_j (bilinear):
        ‖z_j − z_k‖ ≤ Γ_0‖x_j − x_k‖ + Σ_{l<L} (T^l_j + T^l_k), a second-order cone per pair of samples.
        Balance (bounds module, item 1) adds the linear equalities A_{l+1} = A_l (J) or A_{l+1} = A_l + Div_l
        (F) for every homogeneous hidden layer l. Together they price the variation of the outputs: the
        weight decay of a function that varies by Δ over distance d is at least of order (Δ/d)^{2/(L+1)}.
        """
        M, qs, net, m = self.M, self.qs, self.problem.net, self.problem.m
        L, relaxed = net.L, self.relaxed
        for l in range(L):
            if net.activations[l].name in ("relu", "leaky_relu"):
                M.addCons(self.A[l + 1] == self.A[l] + (qs(self.div[l]) if relaxed else 0.0))
        om = [M.addVar(f"omega{l}", lb=0.0, ub=self.boxes.layers[l].w) for l in range(L + 1)]
        for l in range(L + 1):
            M.addCons(0.5 * float(self.problem.net.rho[l]) * om[l] * om[l] <= self.A[l])
        gam = [None] * (L + 1)
        gam[L] = om[L]
        for l in range(L - 1, -1, -1):
            hi = float(np.prod([self.boxes.layers[q].w for q in range(l, L + 1)]))
            gam[l] = M.addVar(f"Gamma{l}", lb=0.0, ub=hi)
            M.addCons(gam[l] == om[l] * gam[l + 1])
        T = []
        if relaxed:
            for l in range(L):
                row = []
                hi_g = float(np.prod([self.boxes.layers[q].w for q in range(l + 1, L + 1)]))
                for j in range(m):
                    r_hi = float(np.sqrt(2.0 * np.sum(m * self.boxes.Fbar / self.mu[l][:, j])))
                    R = M.addVar(f"R{l}_{j}", lb=0.0, ub=r_hi)
                    M.addCons(R * R <= 2.0 * qs(self.ent[l][i][j] for i in range(len(self.ent[l]))))
                    t = M.addVar(f"T{l}_{j}", lb=0.0, ub=hi_g * r_hi)
                    M.addCons(t == gam[l + 1] * R)
                    row.append(t)
                T.append(row)
        k = len(self.Z)
        for j in range(m):
            for jj in range(j + 1, m):
                dist = float(np.linalg.norm(X0[:, j] - X0[:, jj]))
                rhs = dist * gam[0] + qs(T[l][j] + T[l][jj] for l in range(len(T)))
                diff = [self.Z[c][j] - self.Z[c][jj] for c in range(k)]
                if k == 1:
                    M.addCons(diff[0] <= rhs)
                    M.addCons(-diff[0] <= rhs)
                else:
                    M.addCons(qs(x * x for x in diff) <= rhs * rhs)

    def _geometry(self, l):
        """(D_j, N_j) of the inputs of weight layer l (bounds module)."""
        if l == 0:
            return input_geometry(self.problem.X0, self.problem.X0)
        prev = self.boxes.layers[l - 1]
        return input_geometry(prev.x_lo, prev.x_hi)

    def _affine(self, l, prev, lo, hi, name):
        """Variables V = W_l·prev + b_l 1ᵀ in [lo, hi]: linear for the data (l = 0); for l ≥ 1 through product
        variables P_l[r][i][j] = W_l[r, i]·X_l[i, j] (bilinear equalities), kept in ``self.P[l]``."""
        M, qs = self.M, self.qs
        W, b = self.W[l], self.b[l]
        m = len(prev[0])
        P = None
        if l > 0:
            w = self.boxes.layers[l].w
            xb = self.boxes.layers[l - 1]
            xmax = np.maximum(np.abs(xb.x_lo), np.abs(xb.x_hi))
            P = [[[M.addVar(f"P{l}_{r}_{i}_{j}", lb=-w * float(xmax[i, j]), ub=w * float(xmax[i, j]))
                   for j in range(m)] for i in range(len(prev))] for r in range(len(W))]
            for r in range(len(W)):
                for i in range(len(prev)):
                    for j in range(m):
                        M.addCons(P[r][i][j] == W[r][i] * prev[i][j])
            self.P[l] = P
        out = []
        for r in range(len(W)):
            row = []
            for j in range(m):
                v = M.addVar(f"{name}{l}_{r}_{j}", lb=float(lo[r, j]), ub=float(hi[r, j]))
                if P is None:
                    M.addCons(v == qs(W[r][i] * prev[i][j] for i in range(len(prev))) + b[r])
                else:
                    M.addCons(v == qs(P[r][i][j] for i in range(len(prev))) + b[r])
                row.append(v)
            out.append(row)
        return out

    def _var(self, name, lb, ub):
        return self.M.addVar(name, lb=float(lb), ub=float(ub))

    def _piece(self, act, u, l, i, j, bx):
        """Model one entry: returns (x, φ(u), divergence) — x the activation (J) / lifted variable (F)."""
        M = self.M
        tag = f"{l}_{i}_{j}"
        ulo, uhi = float(bx.u_lo[i, j]), float(bx.u_hi[i, j])
        xlo, xhi = float(bx.x_lo[i, j]), float(bx.x_hi[i, j])
        # each term (μ_ij/m)·(part of B) of the objective is ≤ F̄ at a minimiser: parts ≤ mF̄/μ_ij
        cap = self.problem.m * self.boxes.Fbar / float(self.mu[l][i, j]) if self.relaxed else 0.0
        self._cap = cap
        name = act.name
        if name in ("relu", "leaky_relu"):
            s = self._var(f"s{tag}", 0.0, max(uhi, 0.0))
            g = self._var(f"g{tag}", 0.0, max(-ulo, 0.0))
            M.addCons(s - g == u)
            M.addConsSOS1([s, g])
            a = act.a if name == "leaky_relu" else 0.0
            phi = s - a * g if a else s
            if not self.relaxed:
                if not a:
                    return s, s, None
                x = self._var(f"x{tag}", xlo, xhi)
                M.addCons(x == s - a * g)
                return x, x, None
            v = self._var(f"v{tag}", xlo, xhi)
            if not a:
                d = self._var(f"d{tag}", 0.0, min(cap, _sq_hi(0.0, max(uhi, 0.0), xlo, xhi)))  # B = ½(s − v)² + v·g
                M.addCons(0.5 * (s - v) * (s - v) <= d)
                t = self._product(f"t{tag}", v, g)
                return v, phi, d + t
            p = self._var(f"p{tag}", 0.0, max(xhi, 0.0))
            q = self._var(f"q{tag}", 0.0, max(-xlo, 0.0))
            M.addCons(p - q == v)
            M.addConsSOS1([p, q])
            d = self._var(f"d{tag}", 0.0, cap)
            M.addCons(0.5 * (s - p) * (s - p) + (0.5 / a) * (a * g - q) * (a * g - q) <= d)
            t1 = self._product(f"t1{tag}", s, q)
            t2 = self._product(f"t2{tag}", g, p)
            return v, phi, d + t1 + t2
        if name == "hardtanh":
            c = self._var(f"c{tag}", max(-1.0, min(1.0, ulo)), min(1.0, max(-1.0, uhi)))
            p = self._var(f"p{tag}", 0.0, max(uhi - 1.0, 0.0))
            q = self._var(f"q{tag}", 0.0, max(-1.0 - ulo, 0.0))
            M.addCons(c + p - q == u)
            r1 = self._var(f"r1{tag}", 0.0, 2.0)
            r2 = self._var(f"r2{tag}", 0.0, 2.0)
            M.addCons(r1 == 1.0 - c)
            M.addCons(r2 == 1.0 + c)
            M.addConsSOS1([p, r1])
            M.addConsSOS1([q, r2])
            M.addConsSOS1([p, q])
            if not self.relaxed:
                return c, c, None
            v = self._var(f"v{tag}", xlo, xhi)
            d = self._var(f"d{tag}", 0.0, min(cap, _sq_hi(-1.0, 1.0, xlo, xhi)))
            M.addCons(0.5 * (c - v) * (c - v) <= d)
            w1 = self._var(f"w1{tag}", 0.0, 2.0)
            w2 = self._var(f"w2{tag}", 0.0, 2.0)
            M.addCons(w1 == 1.0 - v)
            M.addCons(w2 == 1.0 + v)
            t1 = self._product(f"t1{tag}", p, w1)
            t2 = self._product(f"t2{tag}", q, w2)
            return v, c, d + t1 + t2
        raise ValueError(f"activation {name!r} has no piece in the direct model")  # pragma: no cover

    def _product(self, name, x, y):
        """t ≥ x·y for x, y ≥ 0 (the nonconvex part of a divergence); a fixed-zero factor gives 0."""
        ux, uy = x.getUbOriginal(), y.getUbOriginal()
        if ux <= 0.0 or uy <= 0.0:
            return 0.0
        t = self._var(name, 0.0, min(ux * uy, self._cap))
        self.M.addCons(x * y <= t)
        return t

    def _stationarity(self, l, prev, Phi, Xn):
        """F is C¹ in (W_l, b_l): Σ_j μ_ij(φ_ij − v_ij) = 0 (bias); for l = 0 also
        ρ_0W_0[i] + (1/m)Σ_j μ_ij(φ_ij − v_ij)x_j = 0."""
        M, qs, net, m = self.M, self.qs, self.problem.net, self.problem.m
        mu = self.mu[l]
        for i in range(len(Phi)):
            r = [float(mu[i, j]) * (Phi[i][j] - Xn[i][j]) for j in range(m)]
            if net.bias:
                M.addCons(qs(r) == 0.0)
            if l == 0:
                for k in range(len(prev)):
                    M.addCons(float(net.rho[0]) * self.W[0][i][k]
                              + (1.0 / m) * qs(prev[k][j] * r[j] for j in range(m)) == 0.0)

    def _symmetry(self, l, act):
        """Units with equal multiplier rows are interchangeable: W_l[i, 0] ≥ W_l[i+1, 0]; hardtanh is odd: ≥ 0."""
        W = self.W[l]
        equal_rows = (not self.relaxed) or bool(np.all(self.mu[l] == self.mu[l][:1, :]))
        if equal_rows:
            for i in range(len(W) - 1):
                self.M.addCons(W[i][0] >= W[i + 1][0])
        if act.name == "hardtanh":
            if equal_rows:
                self.M.addCons(W[-1][0] >= 0.0)
            else:
                for row in W:
                    self.M.addCons(row[0] >= 0.0)

    def _loss(self, Y, cuts):
        M, qs, net, m = self.M, self.qs, self.problem.net, self.problem.m
        Z, E = self.Z, self.E
        k = len(Z)
        L = net.L
        if net.loss.name == "squared":
            for j in range(m):
                M.addCons(0.5 * qs((Z[c][j] - float(Y[c, j])) * (Z[c][j] - float(Y[c, j])) for c in range(k)) <= E[j])
            if cuts and net.bias:
                for c in range(k):
                    M.addCons(qs(Z[c]) == float(Y[c].sum()))
            return
        labels = np.argmax(Y, axis=0)
        for j in range(m):
            t = int(labels[j])
            M.addCons(qs(self.exp(Z[c][j] - Z[t][j] - E[j]) for c in range(k)) <= 1.0)
            for c in range(k):
                if c != t:
                    M.addCons(E[j] >= Z[c][j] - Z[t][j])
        if cuts:
            if net.bias:
                M.addCons(qs(self.b[L]) == 0.0)
            for r in range(len(self.W[L][0])):
                M.addCons(qs(self.W[L][c][r] for c in range(k)) == 0.0)

    # ---- reading the solution ----------------------------------------------------------------
    def solution(self):
        """SCIP's best point as network parameters and activations: ``(W, b, Xs)``."""
        M = self.M
        sol = M.getBestSol()
        val = lambda v: v if isinstance(v, float) else M.getSolVal(sol, v)  # noqa: E731
        W = [np.array([[val(w) for w in row] for row in Wl]) for Wl in self.W]
        b = [np.array([val(v) for v in bl]) for bl in self.b]
        Xs = [np.array([[val(x) for x in row] for row in X]) for X in self.X[1:]]
        return W, b, Xs


def _sq_hi(a_lo, a_hi, b_lo, b_hi) -> float:
    """max ½(a − b)² over a ∈ [a_lo, a_hi], b ∈ [b_lo, b_hi]."""
    return 0.5 * max(abs(a_hi - b_lo), abs(b_hi - a_lo)) ** 2
