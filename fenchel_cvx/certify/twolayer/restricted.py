r"""The convex program restricted to a pattern set: fast log-barrier Newton solver and its CVXPY twin.

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p. See :mod:`fenchel_cvx.certify.twolayer`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg import qr as sp_qr
from scipy.linalg.lapack import dormqr

from .arrangement import (
    chambers_at,
    cone_facets,
)
from .program import (
    TwoLayerProblem,
)


# ---------------------------------------------------------------------------------------------
# pattern sets and restricted programs
# ---------------------------------------------------------------------------------------------
class PatternSet:
    """Patterns of a restricted program: D (P x m bool), interior directions E (P x p, unit), the facet rows of each
    chamber's cone (indices into the samples). The all-zero pattern is refused (its blocks output nothing), and with a
    bias (``bias=True``) the all-one pattern too (the linear block stands for it)."""

    def __init__(self, A: np.ndarray, bias: bool = True):
        self.A = np.asarray(A, dtype=np.float64)
        self.bias = bool(bias)
        self.D = np.zeros((0, self.A.shape[0]), dtype=bool)
        self.E = np.zeros((0, self.A.shape[1]))
        self.facets: list = []
        self._keys: dict = {}

    def __len__(self):
        return self.D.shape[0]

    def add(self, D, e) -> bool:
        """Add the chamber with pattern D and interior point e; False if known or trivial."""
        D = np.asarray(D, dtype=bool)
        if not D.any() or (self.bias and D.all()):
            return False
        key = np.packbits(D).tobytes()
        if key in self._keys:
            return False
        G = (2.0 * D - 1.0)[:, None] * self.A
        self._keys[key] = len(self)
        self.D = np.vstack([self.D, D[None, :]])
        self.E = np.vstack([self.E, np.asarray(e, dtype=np.float64)[None, :]])
        self.facets.append(cone_facets(G, e))
        return True

    def add_unit(self, u) -> int:
        """Add the chambers whose closure contains the unit u = (w, b); returns how many were new."""
        return sum(self.add(D, e) for D, e in chambers_at(self.A, np.asarray(u, dtype=np.float64)))

    def keep(self, idx) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        self.D, self.E = self.D[idx], self.E[idx]
        self.facets = [self.facets[i] for i in idx]
        self._keys = {np.packbits(D).tobytes(): i for i, D in enumerate(self.D)}

    def index(self, D) -> int | None:
        return self._keys.get(np.packbits(np.asarray(D, dtype=bool)).tobytes())


@dataclass
class RestrictedSolution:
    """A point of the restricted program: blocks U (2P x p; rows 0..P−1 sign +1, P..2P−1 sign −1, block
    k and k+P belong to pattern k), linear block ``omega`` (d,) (zeros without a bias), output bias
    ``c``, predictions ``yhat`` (m,), ``value`` = (1/m)Σℓ(ŷ) + β(Σ‖u[:d]‖ + ‖ω‖) at this point (the
    restricted objective: not a bound), ``gap`` the solver's own duality-gap estimate."""

    U: np.ndarray
    omega: np.ndarray
    c: float
    yhat: np.ndarray
    value: float
    status: str
    gap: float
    iterations: int
    time: float
    t: float = 0.0
    T: np.ndarray | None = field(default=None, repr=False)


def _predict(problem: TwoLayerProblem, patterns: PatternSet, U, omega, c) -> np.ndarray:
    """ŷ = Σ_k D_k∘(A(u_k⁺ − u_k⁻)) + X0ᵀω + c (m,)."""
    P = len(patterns)
    A = problem.A
    AU = A @ (U[:P] - U[P:]).T  # m x P
    y = np.sum(AU * patterns.D.T, axis=1) + c
    if problem.bias:
        y = y + problem.X0.T @ omega
    return y


def _restricted_value(problem, patterns, U, omega, c) -> tuple:
    d = problem.d
    yhat = _predict(problem, patterns, U, omega, c)
    reg = float(np.sum(np.linalg.norm(U[:, :d], axis=1))) + (float(np.linalg.norm(omega)) if problem.bias else 0.0)
    return float(np.sum(problem.loss.value(yhat))) / problem.m + problem.beta * reg, yhat


def solve_restricted_cvxpy(problem: TwoLayerProblem, patterns: PatternSet, solver: str = "CLARABEL",
                           **solver_opts) -> RestrictedSolution:
    """The restricted program in CVXPY: every block with all m cone constraints (2D−1)∘(A u) ≥ 0 (not
    only the facets), the linear block and c with a bias; the reference twin of
    :func:`solve_restricted_fast`. Status "optimal", or "optimal (inaccurate)" when the solver says so (the
    point is still a point of the program: recovered networks are judged, the dual point certified anew).
    Raises ValueError if the solver reaches neither."""
    t0 = time.perf_counter()
    A, d, m, beta = problem.A, problem.d, problem.m, problem.beta
    P = len(patterns)
    S = (2.0 * patterns.D - 1.0)  # P x m
    Up, Um = cp.Variable((P, A.shape[1])), cp.Variable((P, A.shape[1]))
    AUp, AUm = A @ Up.T, A @ Um.T  # m x P
    yhat = cp.sum(cp.multiply(patterns.D.T.astype(float), AUp - AUm), axis=1)
    reg = cp.sum(cp.norm(Up[:, :d], 2, axis=1)) + cp.sum(cp.norm(Um[:, :d], 2, axis=1))
    cons = [cp.multiply(S.T, AUp) >= 0, cp.multiply(S.T, AUm) >= 0]
    if problem.bias:
        om, c = cp.Variable(d), cp.Variable()
        yhat = yhat + problem.X0.T @ om + c
        reg = reg + cp.norm(om, 2)
    prob = cp.Problem(cp.Minimize(problem.loss.cvx(yhat) / m + beta * reg), cons)
    try:
        prob.solve(solver=solver, **solver_opts)
    except cp.error.SolverError as e:
        raise ValueError(f"solve_restricted_cvxpy: solver {solver} failed ({e})") from e
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or Up.value is None:
        raise ValueError(f"solve_restricted_cvxpy: solver {solver} returned status {prob.status!r}")
    U = np.vstack([Up.value, Um.value])
    omega = np.asarray(om.value) if problem.bias else np.zeros(d)
    cval = float(c.value) if problem.bias else 0.0
    value, yh = _restricted_value(problem, patterns, U, omega, cval)
    return RestrictedSolution(U=U, omega=omega, c=cval, yhat=yh, value=value,
                              status="optimal" if prob.status == cp.OPTIMAL else "optimal (inaccurate)",
                              gap=float("nan"), iterations=int(prob.solver_stats.num_iters or 0),
                              time=time.perf_counter() - t0)


#: total SQS trace of the blocks left out of the Newton system's Woodbury matrix (refinement fixes it)
DROP_WEIGHT = 1e-2


class _Barrier:
    r"""The log-barrier problem of a restricted program at parameter t:

        Φ_t = t·[(1/m)Σ_j ℓ_j(ŷ_j) + β(Σ_b τ_b + τ_ω)] − Σ_b Σ_{facets f} log(r_bfᵀu_b)
              − Σ_b log(τ_b² − ‖u_b[:d]‖²) − log(τ_ω² − ‖ω‖²),

    variables: blocks z_b = (u_b, τ_b) ∈ ℝ^{p+1} (b = 0..2P−1; block b has sign s_b = ±1 and the
    pattern D_b, F_b = s_b diag(D_b) A), and the free part f = (ω, τ_ω, c) with a bias.
    ν = Σ_b(#facets_b + 2) + 2 is the barrier parameter: at the minimiser of Φ_t the duality gap of
    the restricted program is ν/t. Facet rows are stored compactly (all blocks' rows stacked, block
    by block), block QR factorisations are batched in buckets of similar facet counts.
    """

    def __init__(self, problem: TwoLayerProblem, patterns: PatternSet):
        self.pb = problem
        A, D = problem.A, patterns.D
        P = len(patterns)
        self.P, self.B, self.p, self.d, self.m = P, 2 * P, A.shape[1], problem.d, problem.m
        sgn = np.concatenate([np.ones(P), -np.ones(P)])
        Dbl = np.vstack([D, D]).astype(float)  # B x m
        self.A = A
        self.AA = (A[:, :, None] * A[:, None, :]).reshape(A.shape[0], -1)  # rows a_j a_jᵀ
        self.Dabs = Dbl.T  # m x B
        self.DS = Dbl.T * sgn[None, :]  # m x B: F_b = diag(DS[:, b]) A
        facets = list(patterns.facets) * 2
        counts = np.array([len(f) for f in facets], dtype=np.int64)
        if np.any(counts == 0):
            raise ValueError("patterns: a chamber without facet rows")
        rows = [(2.0 * D[k % P, f] - 1.0)[:, None] * A[f] for k, f in enumerate(facets)]
        self.Rr = np.vstack(rows)  # N x p
        self.rb = np.repeat(np.arange(self.B), counts)  # block of each row
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.counts = counts
        self.buckets = []  # (blocks, row-index matrix padded with N (a zero row))
        N = len(self.Rr)
        for lo, hi in ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10 ** 9)):
            bl = np.flatnonzero((counts > lo) & (counts <= hi))
            if bl.size:
                fb = int(counts[bl].max())
                idx = np.full((bl.size, fb), N, dtype=np.int64)
                for i, b in enumerate(bl):
                    idx[i, :counts[b]] = np.arange(self.starts[b], self.starts[b] + counts[b])
                self.buckets.append((bl, idx))
        self.nu = float(N + 2 * self.B + (2 if problem.bias else 0))
        self.free = problem.bias
        if self.free:
            self.Ff = np.hstack([problem.X0.T, np.zeros((self.m, 1)), np.ones((self.m, 1))])  # m x (d+2)

    def fmul(self, U):
        """Σ_b F_b u_b = Σ_b s_b D_b∘(A u_b)  (m,)."""
        return np.sum((self.A @ U.T) * self.DS, axis=1)

    def ftmul(self, v):
        """(F_bᵀ v)_b = s_b Aᵀ(D_b∘v)  (B x p)."""
        return (self.DS * v[:, None]).T @ self.A

    def rows(self, U):
        """Facet values r_bfᵀu_b of every row (N,)."""
        return np.einsum("np,np->n", self.Rr, U[self.rb])

    def segsum(self, V):
        """Per-block sums of row quantities V (N x k) -> (B x k)."""
        return np.add.reduceat(V, self.starts, axis=0)

    # state: U (B x p), T (B,), f = (ω, τ_ω, c) or empty
    def yhat(self, U, f):
        y = self.fmul(U)
        if self.free:
            y = y + self.Ff @ f
        return y

    def feasible(self, U, T, f) -> bool:
        if np.any(self.rows(U) <= 0):
            return False
        w = U[:, :self.d]
        if np.any(T <= 0) or np.any(T * T - np.sum(w * w, axis=1) <= 0):
            return False
        if self.free:
            om, to = f[:self.d], f[self.d]
            if to <= 0 or to * to - om @ om <= 0:
                return False
        return True

    def objective(self, U, T, f):
        y = self.yhat(U, f)
        obj = (float(np.sum(self.pb.loss.value(y))) / self.m
               + self.pb.beta * (float(np.sum(T)) + (f[self.d] if self.free else 0.0)))
        return obj, y

    def phi(self, t, U, T, f):
        obj, y = self.objective(U, T, f)
        w = U[:, :self.d]
        s = T * T - np.sum(w * w, axis=1)
        val = t * obj - float(np.sum(np.log(self.rows(U)))) - float(np.sum(np.log(s)))
        if self.free:
            om, to = f[:self.d], f[self.d]
            val -= math.log(to * to - om @ om)
        return val, obj, y

    def max_step(self, U, dU) -> float:
        """Largest a ≤ 1 with 0.99 of the way to the first facet row reaching 0 along U + a dU."""
        g, dg = self.rows(U), self.rows(dU)
        neg = dg < 0
        return min(1.0, 0.99 * float(np.min(-g[neg] / dg[neg]))) if neg.any() else 1.0

    @staticmethod
    def _soc_factor(w, T):
        """Square root of the Hessian of −log(τ² − ‖w‖²) (rows (…, d+1, d+1), in (w, τ) coordinates):
        √(2/s)·Λ with Λ = [[I + w̄w̄ᵀ/(1+τ̄), −w̄], [−w̄ᵀ, τ̄]], (w̄, τ̄) = (w, τ)/√s, s = τ² − ‖w‖²
        (a Lorentz boost; Λ² = 2Jx̄x̄ᵀJ − J, J = diag(−I, 1), which is the Hessian times s/2)."""
        d = w.shape[-1]
        s = T * T - np.sum(w * w, axis=-1)
        rs = np.sqrt(s)
        wb, tb = w / rs[..., None], T / rs
        Lam = np.zeros(w.shape[:-1] + (d + 1, d + 1))
        Lam[..., :d, :d] = np.eye(d) + np.einsum("...i,...j->...ij", wb, wb) / (1.0 + tb)[..., None, None]
        Lam[..., :d, d] = -wb
        Lam[..., d, :d] = -wb
        Lam[..., d, d] = tb
        return Lam * np.sqrt(2.0 / s)[..., None, None]

    def newton(self, t, U, T, f, y):
        r"""Newton direction (ΔU, ΔT, Δf) of Φ_t and the decrement² = −∇Φᵀ Δ.

        Hessian K = blockdiag(H_b, H_ω) ⊕ 0_c + t·F̂ᵀ diag(ℓ''/m) F̂ (F̂: blocks, linear block and c to ŷ).
        Each block Hessian is used in factored form H_b = M_bᵀM_b (facet rows r/g and the SOC square
        root), inverted through the QR factor of M_b, never formed (its condition number reaches 1e20).
        With S = diag(√(tℓ''/m)), Q = F H_rest⁻¹ Fᵀ and C = I + SQS (≥ I, Cholesky), K Δ = r is solved
        in ŷ-space: ζ = S z (z = F̂Δ) solves C ζ = S F H⁻¹ r_rest + S1 Δc, the c-row gives
        (S1)ᵀζ = r_c (no Schur complement that could cancel), Δ_rest = H⁻¹(r_rest − FᵀSζ). Blocks of
        negligible loss coupling (:data:`DROP_WEIGHT`) are left out of C, and three steps of iterative
        refinement with the matrix-free product K·Δ follow.
        """
        pb, m, d, p, B = self.pb, self.m, self.d, self.p, self.B
        gl = pb.loss.grad(y) / m
        h = t * pb.loss.hess(y) / m
        sq = np.sqrt(h)
        g = self.rows(U)
        Rw = self.Rr / g[:, None]  # scaled facet rows r/g (N x p)
        w = U[:, :d]
        s = T * T - np.sum(w * w, axis=1)
        gradU = t * self.ftmul(gl) - self.segsum(Rw)
        gradU[:, :d] += 2 * w / s[:, None]
        gradT = t * pb.beta - 2 * T / s
        gb = np.concatenate([gradU, gradT[:, None]], axis=1)
        soc = self._soc_factor(w, T)  # B x (d+1) x (d+1)
        cols = list(range(d)) + [p]
        Rinv = np.empty((B, p + 1, p + 1))
        Rw_pad = np.vstack([Rw, np.zeros((1, p))])
        for bl, idx in self.buckets:
            Mk = np.zeros((bl.size, idx.shape[1] + d + 1, p + 1))
            Mk[:, :idx.shape[1], :p] = Rw_pad[idx]
            Mk[:, idx.shape[1]:, cols] = soc[bl]
            Rinv[bl] = np.linalg.inv(np.linalg.qr(Mk, mode="r"))  # H_b⁻¹ = Rinv Rinvᵀ
        X = Rinv[:, :p, :]  # (H_b⁻¹)_uu = X_b X_bᵀ
        # share of block b in SQS: trace = ⟨X_bX_bᵀ, Aᵀdiag(h∘D_b)A⟩; the blocks of least trace, up to a
        # total of DROP_WEIGHT (at large t: the blocks at 0), are left out of C, which moves by at most
        # that much in norm: the iterative refinement below (contraction ≤ DROP_WEIGHT) absorbs it
        Gb = ((self.Dabs * h[:, None]).T @ self.AA).reshape(B, p, p)
        weight = np.einsum("bpq,bpq->b", X @ np.swapaxes(X, 1, 2), Gb)
        order = np.argsort(weight)
        small = np.cumsum(weight[order]) <= DROP_WEIGHT
        big = np.sort(order[~small])
        AX = (self.A @ np.transpose(X[big], (1, 0, 2)).reshape(p, -1)).reshape(m, len(big), p + 1)
        FXb = (self.DS[:, big, None] * AX).reshape(m, -1)  # F_b X_b of the kept blocks
        if self.free:
            om, to = f[:d], f[d]
            sf = to * to - om @ om
            g_om = np.concatenate([t * (pb.X0 @ gl) + 2 * om / sf, [t * pb.beta - 2 * to / sf]])
            g_c = t * float(np.sum(gl))
            Mf = self._soc_factor(om, np.asarray(to))
            Rinv_f = np.linalg.inv(np.linalg.qr(Mf, mode="r"))
            FXf = pb.X0.T @ Rinv_f[:d, :]  # m x (d+1)
            grad = (gb, g_om, g_c)
        else:
            grad = (gb, None, 0.0)
        csolve = _ones_plus_low_rank(sq[:, None] * (np.hstack([FXb, FXf]) if self.free else FXb))
        s1 = csolve(sq) if self.free else None  # C⁻¹S1

        def hinv_b(V):
            return np.einsum("bpq,bq->bp", Rinv, np.einsum("bqp,bq->bp", Rinv, V))

        def solve(rb, rf, rc):
            yb = hinv_b(rb)
            z = self.fmul(yb[:, :p])
            if self.free:
                yf = Rinv_f @ (Rinv_f.T @ rf)
                z = z + pb.X0.T @ yf[:d]
            v0 = csolve(sq * z)
            if self.free:
                dc = (rc - sq @ v0) / (sq @ s1)
                zeta = v0 + s1 * dc
            else:
                dc, zeta = 0.0, v0
            hz = sq * zeta  # H z
            corr = np.zeros_like(rb)
            corr[:, :p] = self.ftmul(hz)
            Db = yb - hinv_b(corr)
            if not self.free:
                return Db, None, 0.0
            cf_ = np.zeros(d + 1)
            cf_[:d] = pb.X0 @ hz
            return Db, yf - Rinv_f @ (Rinv_f.T @ cf_), dc

        def kmul(Db, Dfo, Dc):  # K·Δ, matrix-free
            out_b = np.zeros_like(Db)
            out_b[:, :p] = self.segsum(Rw * np.einsum("np,np->n", Rw, Db[self.rb, :p])[:, None])
            sw = np.einsum("bij,bj->bi", soc, Db[:, cols])
            out_b[:, cols] += np.einsum("bij,bi->bj", soc, sw)
            z = self.fmul(Db[:, :p])
            if self.free:
                z = z + pb.X0.T @ Dfo[:d] + Dc
            hz = h * z
            out_b[:, :p] += self.ftmul(hz)
            if not self.free:
                return out_b, None, 0.0
            out_f = Mf.T @ (Mf @ Dfo)
            out_f[:d] += pb.X0 @ hz
            return out_b, out_f, float(np.sum(hz))

        rhs = (-grad[0], None if grad[1] is None else -grad[1], -grad[2])
        D = solve(*rhs)
        for _ in range(3):  # iterative refinement
            K = kmul(*D)
            e = solve(rhs[0] - K[0], None if K[1] is None else rhs[1] - K[1], rhs[2] - K[2])
            D = (D[0] + e[0], None if e[1] is None else D[1] + e[1], D[2] + e[2])
        Db, Dfo, Dc = D
        dec = -float(np.sum(gb * Db)) - (float(grad[1] @ Dfo) + grad[2] * Dc if self.free else 0.0)
        df = np.concatenate([Dfo, [Dc]]) if self.free else np.zeros(0)
        return Db[:, :p], Db[:, p], df, dec


#: the QR form of :func:`_ones_plus_low_rank` is used only from this many samples on (below, the m x m
#: Cholesky is cheap, and it is the form the solver was tuned with)
LOW_RANK_MIN_M = 500


def _ones_plus_low_rank(V: np.ndarray):
    r"""x ↦ C⁻¹x for C = I + VVᵀ (V: m x K): Cholesky of C (m x m) when K ≥ m/2 or m < LOW_RANK_MIN_M, else through the
    thin QR V = QR: C = (I − QQᵀ) + Q(I + RRᵀ)Qᵀ, so C⁻¹x = (x − QQᵀx) + Q(I + RRᵀ)⁻¹Qᵀx with a K x K Cholesky (cost mK²
    instead of m³/3: many samples, few blocks). No cancellation between large terms (the plain
    Woodbury form x − V(I + VᵀV)⁻¹Vᵀx loses all digits when ‖V‖ is large, i.e. late on the barrier path).
    Q is kept as Householder reflectors (LAPACK geqrf, applied by ormqr), never formed: with the full
    orthogonal H = [Q, Q⊥], C⁻¹x = H·[(I + RRᵀ)⁻¹(Hᵀx)[:K]; (Hᵀx)[K:]] (half the cost of forming Q:
    12 instead of 31 ms at m = 2,000, K = 250)."""
    m, K = V.shape
    if 2 * K >= m or m < LOW_RANK_MIN_M:
        cf = cho_factor(np.eye(m) + V @ V.T)
        return lambda x: cho_solve(cf, x)
    (h, tau), _ = sp_qr(V, mode="raw", check_finite=False)
    R = np.triu(h[:K, :K])
    ck = cho_factor(np.eye(K) + R @ R.T)
    lwork = max(1, 64 * K)

    def solve(x):
        hx = dormqr("L", "T", h, tau, x[:, None].copy(), lwork)[0]  # Hᵀx
        hx[:K, 0] = cho_solve(ck, hx[:K, 0])
        return dormqr("L", "N", h, tau, hx, lwork)[0][:, 0]

    return solve


#: the barrier path stops before t·objective exceeds this: Φ_t is then evaluated with an absolute
#: rounding error ~1e-4, the limit of a float64 line search
T_OBJ_MAX = 1e12


def solve_restricted_fast(problem: TwoLayerProblem, patterns: PatternSet, tol: float = 1e-11,
                          warm: RestrictedSolution | None = None, warm_map=None, mu: float = 20.0,
                          max_newton: int = 400, deadline: float | None = None) -> RestrictedSolution:
    r"""The restricted program by a primal log-barrier method (:class:`_Barrier`), numpy float64.

    Path following: t ← μt after each centring (damped Newton with backtracking, feasibility kept)
    until ν/t ≤ ``tol``·max(1e-12, objective), or until t·objective would exceed :data:`T_OBJ_MAX`
    (status "optimal (precision limit)"; ``gap`` = ν/t says what was reached). Each block's cone is given by its facet
    rows only (:func:`~fenchel_cvx.certify.twolayer.arrangement.cone_facets`; the same cone). ``warm`` (a previous
    solution) with ``warm_map`` (old pattern index for each current pattern, −1 for new) starts from the previous
    blocks, nudged into the interior. Damped Newton (Armijo) outside the quadratic region, pure Newton steps inside it
    (decrement² < 1/16), where the Armijo test would only see the rounding of Φ_t. Status "optimal" when the gap target
    was met after a converged centring, "optimal (precision limit)", "not centred at t = … " (the point is returned; the
    dual certificate built from it is still valid, only weaker), "max_newton", or "time limit" when ``deadline`` (a
    ``time.process_time()`` value: CPU seconds) passes (checked at every Newton step; the point reached is returned).
    """
    t_start = time.perf_counter()
    bar = _Barrier(problem, patterns)
    P, d = bar.P, bar.d
    scale = 1.0 / max(1.0, float(np.max(np.linalg.norm(problem.A, axis=1))))
    alpha0 = 1e-2 * scale
    E2 = np.vstack([patterns.E, patterns.E])
    c0 = problem.loss.best_constant()
    if warm is not None and warm_map is not None:
        Pold = warm.U.shape[0] // 2
        U = alpha0 * 1e-3 * E2
        for k, ko in enumerate(warm_map):
            if ko >= 0:
                U[k] += warm.U[ko]
                U[k + P] += warm.U[ko + Pold]
        f = np.concatenate([warm.omega, [0.0], [warm.c]]) if bar.free else np.zeros(0)
    else:
        U = alpha0 * E2
        f = np.concatenate([np.zeros(d), [0.0], [c0]]) if bar.free else np.zeros(0)
    T = 1.5 * np.linalg.norm(U[:, :d], axis=1) + alpha0 * 1e-3
    if bar.free:
        f[d] = 1.5 * np.linalg.norm(f[:d]) + alpha0 * 1e-3
    if not bar.feasible(U, T, f):  # warm start off the cones (pattern set changed): cold start
        U = alpha0 * E2
        T = 1.5 * np.linalg.norm(U[:, :d], axis=1) + alpha0 * 1e-3
    obj0, _ = bar.objective(U, T, f)
    t = bar.nu / max(obj0, 1e-12)
    if warm is not None and warm.t > 0:
        t = max(t, warm.t / mu ** 3)
    n_newton, status = 0, "max_newton"
    while True:
        dec, numerical = math.inf, ""
        for _ in range(100):  # centring at t
            val, obj, y = bar.phi(t, U, T, f)
            try:
                dU, dT, df, dec = bar.newton(t, U, T, f, y)
            except np.linalg.LinAlgError:
                numerical = "singular Newton system"
                break
            n_newton += 1
            if not (math.isfinite(dec) and dec >= -1e-9 * (1 + abs(val))):
                numerical = f"Newton decrement {dec:.1e} not positive"
                break
            if dec <= 1e-12:
                break
            # largest step keeping the facet constraints, then feasibility of the cones
            a = bar.max_step(U, dU)
            while a > 1e-14 and not bar.feasible(U + a * dU, T + a * dT, f + a * df):
                a *= 0.5
            if not (a == 1.0 and dec < 0.0625):  # outside the quadratic region (Newton decrement ≥ 1/4): Armijo
                while a > 1e-14:
                    if bar.phi(t, U + a * dU, T + a * dT, f + a * df)[0] <= val - 0.25 * a * dec:
                        break
                    a *= 0.5
            if a <= 1e-14:
                numerical = f"line search failed at Newton decrement² {dec:.1e}, t = {t:.1e}"
                break
            U, T, f = U + a * dU, T + a * dT, f + a * df
            if n_newton >= max_newton or (deadline is not None and time.process_time() > deadline):
                break
        centred = dec <= 1e-6
        gap = bar.nu / t
        obj, _ = bar.objective(U, T, f)
        if centred and (gap <= tol * max(obj, 1e-12) or mu * t * max(obj, 1e-12) > T_OBJ_MAX):
            status = "optimal" if gap <= tol * max(obj, 1e-12) else "optimal (precision limit)"
            break
        if deadline is not None and time.process_time() > deadline:
            status = "time limit"
            break
        if not centred:
            status = f"not centred at t = {t:.1e} (Newton decrement² {dec:.1e}{'; ' + numerical if numerical else ''})"
            break
        if n_newton >= max_newton:
            break
        t *= mu
    omega = f[:d].copy() if bar.free else np.zeros(d)
    cval = float(f[d + 1]) if bar.free else 0.0
    value, yhat = _restricted_value(problem, patterns, U, omega, cval)
    return RestrictedSolution(U=U, omega=omega, c=cval, yhat=yhat, value=value, status=status, gap=bar.nu / t,
                              iterations=n_newton, time=time.perf_counter() - t_start, t=t, T=T)
