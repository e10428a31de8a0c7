r"""The shared machinery of the W-blocks (:mod:`fenchel_cvx.blocks.w_blocks` states the problem, the
reference, the fast and fixed-budget solvers and the certificate): construction, the single judge, duality,
the CVXPY reference, the solvers and the write-back. Shapes: X is n_in x m, W n_out x n_in, b (n_out,).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..backend import NotSPDError, as_float64, is_torch, like, namespace, to_numpy, to_numpy64
from ..validation import check_array, check_number
from . import certificates as cert
from .adaptive import adaptive_update
from .base import Block, BlockResult, certified_min, default_tol
from .glm import DataTerm, GLMSolver
from .mm import Proximal, augment, mm_steps, proximal_mm_steps

__all__ = ["WBlockBase", "write_layer", "check_bias_attained", "proximal_of"]


class WBlockBase(Block):
    """Shared machinery of the two W-blocks (see the module docstring)."""

    kind = "w_block"

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def _checked_args(cls, X, n_out, rho, gamma, W, b, W_prev, b_prev, bias):
        """Check the common arguments of ``from_arrays``; returns ``(X, W, b, prox)`` on X's backend (X validated
        first), the regularisation bundled as a :class:`~fenchel_cvx.blocks.mm.Proximal`."""
        X = check_array(X, "X", (None, None))
        xp = namespace(X)
        n_in, m = X.shape
        if m < 1:
            raise ValueError("X: expected at least one sample (column)")
        rho = check_number(rho, "rho", lo=0.0)
        gamma = check_number(gamma, "gamma", lo=0.0)
        if not rho + gamma > 0:
            raise ValueError(f"{cls.kind}: rho + gamma must be > 0 (W has no strongly convex "
                             f"term and the block may have no minimiser), got rho={rho}, "
                             f"gamma={gamma}")
        bias = bool(bias)
        on_x = lambda a: like(a, X)  # noqa: E731
        W = xp.zeros((n_out, n_in), like=X) if W is None else on_x(check_array(W, "W", (n_out, n_in)))
        if b is None:
            b = xp.zeros((n_out,), like=X)
        else:
            b = on_x(check_array(b, "b", (n_out,)))
            if not bias and xp.any(b != 0):
                raise ValueError("b: must be zero when bias=False")
        W_prev = None if W_prev is None else on_x(check_array(W_prev, "W_prev", (n_out, n_in)))
        b_prev = None if b_prev is None else on_x(check_array(b_prev, "b_prev", (n_out,)))
        return X, W, b, proximal_of(rho, gamma, W, b, W_prev, b_prev, bias)

    def _assign(self, X, Y, loss, weight, prox: Proximal, W, b, layer, U=None):
        """Store the block's data (trusted: no checks, no copies)."""
        self.X, self.Y = X, Y
        self.xp = namespace(X)
        self.n_in, self.m = int(X.shape[0]), int(X.shape[1])
        self.n_out = int(Y.shape[0])
        self.loss = loss
        self.term = DataTerm(loss, Y, weight)
        self.prox, self.layer = prox, layer
        self.current = (W, b)
        self._U = U  # pre-activation at ``current`` (optional cache)
        self._problem = None
        self._vars = None
        self._problems = {}

    # the regularisation, read from ``prox`` (one source)
    rho = property(lambda self: self.prox.rho, doc="ρ ≥ 0, the weight decay")
    gamma = property(lambda self: self.prox.gamma, doc="γ ≥ 0, the proximal weight")
    W_prev = property(lambda self: self.prox.W_prev, doc="the proximal centre of W (n_out x n_in)")
    b_prev = property(lambda self: self.prox.b_prev, doc="the proximal centre of b (n_out,)")
    bias = property(lambda self: self.prox.bias, doc="False: b stays 0")

    def _on_backend(self, a):
        """``a`` on the block's backend, dtype and device (those of X)."""
        return like(a, self.X)

    def name(self) -> str:
        return f"{self.kind}(layer={self.layer})"

    # ---- the single judge ---------------------------------------------------------------
    def _check_sol(self, sol, what="sol"):
        if not isinstance(sol, (tuple, list)) or len(sol) != 2:
            raise TypeError(f"{what}: expected a pair (W, b)")
        W, b = sol
        W = self._on_backend(check_array(W, f"{what} W", (self.n_out, self.n_in)))
        if b is None:
            b = self.xp.zeros((self.n_out,), like=self.X)
        b = self._on_backend(check_array(b, f"{what} b", (self.n_out,)))
        if not self.bias and self.xp.any(b != 0):
            raise ValueError(f"{what} b: must be zero when the block has no bias")
        return W, b

    def objective(self, sol) -> float:
        """P(W, b) (module docstring) at ``sol = (W, b)``, a Python float (numpy or torch)."""
        W, b = self._check_sol(sol)
        xp = self.xp
        U = W @ self.X + b[:, None]
        val = float(self.term.total(U)) + 0.5 * self.rho * float(xp.sum(W * W))
        if self.gamma > 0:
            dW, db = W - self.W_prev, b - self.b_prev
            val += 0.5 * self.gamma * (float(xp.sum(dW * dW)) + float(xp.sum(db * db)))
        return val

    # ---- duality ----------------------------------------------------------------------
    def dual_point(self, sol):
        """The natural dual point A = ∇H(U) at ``sol`` (n_out x m)."""
        W, b = self._check_sol(sol)
        return self.term.grad(W @ self.X + b[:, None])

    def dual_objective(self, A, a1_tol: float | None = None) -> float:
        """Fenchel dual value D(A) = −H*(A) − R*(−A Xᵀ) − Q*(−A 1) (module docstring) in the working dtype: a
        diagnostic, not certified (A1 = 0 and dom H* are checked only to the tolerance ``a1_tol``, default
        1e3·eps·max|A|·m; −inf outside). Certified bounds: :meth:`certified_bound`."""
        xp = self.xp
        A = self._on_backend(check_array(A, "A", (self.n_out, self.m)))
        Hs = self.term.conj(A)
        if not math.isfinite(Hs):
            return -math.inf
        S = -(A @ self.X.T) + self.gamma * self.W_prev
        mu = self.rho + self.gamma
        Rs = float(xp.sum(S * S)) / (2 * mu) - 0.5 * self.gamma * float(xp.sum(self.W_prev * self.W_prev))
        Qs = 0.0
        if self.bias:
            a1 = xp.sum(A, axis=1)
            if self.gamma > 0:
                Qs = -float(xp.sum(a1 * self.b_prev)) + float(xp.sum(a1 * a1)) / (2 * self.gamma)
            elif float(xp.max(xp.abs(a1))) > (1e3 * xp.eps(A) * (float(xp.max(xp.abs(A))) * self.m + 1e-300)
                                              if a1_tol is None else a1_tol):
                return -math.inf
        return -Hs - Rs - Qs

    # ---- reference ------------------------------------------------------------------------
    #: automatic DPP only while n_out·n_in·m² ≤ this: CVXPY's DPP canonicalisation of W @ X with a
    #: Parameter X forms a (#variables x #parameters) coefficient matrix, ~8·n_out·n_in·m² bytes
    DPP_MAX_SIZE = 2_000_000

    def problem(self, dpp: bool | None = None):
        """The block as a DCP ``cvxpy.Problem`` over Variables ``W`` (n_out x n_in) and ``b`` (n_out).

        ``dpp=True``: the data are Parameters -- ``X`` (n_in x m), ``YXt`` = Y Xᵀ (n_out x n_in,
        formed in numpy), ``Y1`` = Y 1 (n_out) and the proximal centres ``W_prev``, ``b_prev`` --
        and the problem is DPP (⟨U, Y⟩ = ⟨W, Y Xᵀ⟩ + ⟨b, Y 1⟩), so new data can be assigned to
        the parameters and re-solved without recompiling. ``dpp=False``: the same expression
        with the data as constants (CVXPY compiles this much faster, and DPP with a Parameter X
        needs memory ~ n_out·n_in·m²). ``None`` (default): DPP while
        n_out·n_in·m² ≤ :attr:`DPP_MAX_SIZE`. Cached per choice. The data term is the loss
        object's CVXPY form scaled by the block's weight (``self.term.w``).
        """
        import cvxpy as cp

        if dpp is None:
            dpp = self.n_out * self.n_in * self.m ** 2 <= self.DPP_MAX_SIZE
        dpp = bool(dpp)
        if dpp in self._problems:
            self._problem, self._vars = self._problems[dpp]
            return self._problem
        X64 = np.asarray(to_numpy(self.X), dtype=np.float64)
        Y64 = np.asarray(to_numpy(self.Y), dtype=np.float64)
        n_out, n_in = self.n_out, self.n_in

        def data(value, name):
            return cp.Parameter(value.shape, name=name, value=value) if dpp else value

        W = cp.Variable((n_out, n_in), name="W")
        Xp = data(X64, "X")
        YXt = data(Y64 @ X64.T, "YXt")
        inner = cp.sum(cp.multiply(W, YXt))
        U = W @ Xp
        b = None
        if self.bias:
            b = cp.Variable(n_out, name="b")
            Y1 = data(Y64.sum(axis=1), "Y1")
            U = U + b[:, None]
            inner = inner + Y1 @ b
        obj = self.term.w * self.loss.cvx(Y64, U, inner=inner) + (self.rho / 2) * cp.sum_squares(W)
        if self.gamma > 0:
            Wp = data(np.asarray(to_numpy(self.W_prev), dtype=np.float64), "W_prev")
            prox = cp.sum_squares(W - Wp)
            if self.bias:
                bp = data(np.asarray(to_numpy(self.b_prev), dtype=np.float64), "b_prev")
                prox = prox + cp.sum_squares(b - bp)
            obj = obj + (self.gamma / 2) * prox
        self._vars = (W, b)
        self._problem = cp.Problem(cp.Minimize(obj))
        self._problems[dpp] = (self._problem, self._vars)
        return self._problem

    def reference_solution(self):
        """(W, b) read back from ``problem()``'s variables (numpy float64) after a solve."""
        W, b = self._vars if self._vars is not None else (None, None)
        if W is None or W.value is None:
            raise RuntimeError(f"{self.name()}: solve the reference problem first (solve_reference)")
        bv = np.zeros(self.n_out) if b is None else np.asarray(b.value, dtype=np.float64)
        return np.asarray(W.value, dtype=np.float64), bv

    def set_reference_point(self, sol):
        """Set the variables of every built ``problem()`` to ``sol`` (to compare
        ``problem().objective.value`` with :meth:`objective`)."""
        W, b = self._check_sol(sol)
        self.problem()
        for _prob, (Wv, bv) in self._problems.values():
            Wv.value = np.asarray(to_numpy(W), dtype=np.float64)
            if bv is not None:
                bv.value = np.asarray(to_numpy(b), dtype=np.float64)

    # ---- certificates (float64, blocks/certificates.py) -------------------------------------
    def _sol64(self, sol):
        """(W, b) as numpy float64 after the shape checks (no rounding to the block's dtype)."""
        if not isinstance(sol, (tuple, list)) or len(sol) != 2:
            raise TypeError("sol: expected a pair (W, b)")
        W = to_numpy64(check_array(sol[0], "sol W", (self.n_out, self.n_in)))
        b = np.zeros(self.n_out) if sol[1] is None else to_numpy64(check_array(sol[1], "sol b", (self.n_out,)))
        if not self.bias and np.any(b != 0):
            raise ValueError("sol b: must be zero when the block has no bias")
        return W, b

    def _data64(self):
        """(X, Y, prox) with X, Y and the proximal centre as numpy float64 (exact conversions)."""
        prox = dataclasses.replace(self.prox, W_prev=to_numpy64(self.W_prev),
                                   b_prev=to_numpy64(self.b_prev))
        return to_numpy64(self.X), to_numpy64(self.Y), prox

    def certified_bound(self, sol):
        """``(bound or None, info)``: the certified Fenchel dual bound (module docstring) from ``sol = (W, b)``
        (any dtype; read as float64). With γ = 0 and a bias, b is first replaced by the exact float64 bias
        minimiser for W (``info["bias_step"]`` its size)."""
        W, b = self._sol64(sol)
        X, Y, prox = self._data64()
        info = {}
        w = self.term.w
        if self.bias and self.gamma == 0.0 and w > 0:
            delta = np.asarray(self.loss.bias_step(Y, W @ X + b[:, None]), dtype=np.float64).reshape(-1)
            if np.all(np.isfinite(delta)):
                b = b + delta
                info["bias_step"] = float(np.max(np.abs(delta))) if delta.size else 0.0
        lb, cinfo = cert.w_dual_bound(X, Y, self.loss, w, prox, W, b)
        return lb, {**info, **cinfo}

    def objective_interval(self, sol):
        """(lower, upper) of the exact P(W, b) at ``sol`` (float64 evaluation + the rounding allowance)."""
        W, b = self._sol64(sol)
        X, Y, prox = self._data64()
        return cert.w_objective_interval(X, Y, self.loss, self.term.w, prox, W, b)

    # ---- fast paths --------------------------------------------------------------------------
    def _glm(self, f64: bool):
        """The Newton-CG solver of this block, in the working dtype or (``f64``) in float64 on the same backend."""
        in_dtype = as_float64 if f64 else (lambda a: a)
        term = DataTerm(self.loss, in_dtype(self.Y), self.term.w) if f64 else self.term
        Theta_prev = in_dtype(self._augment_rows(self.W_prev, self.b_prev))
        return GLMSolver(term, augment(in_dtype(self.X), self.bias), self.rho, self.gamma, Theta_prev, self.bias)

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 200,
                   max_cg: int | None = None) -> BlockResult:
        """Batched preconditioned Newton-CG (:mod:`fenchel_cvx.blocks.glm`) from ``init``
        (default :attr:`current`) until the certified gap ≤ tol·(1 + |P|).

        ``max_iter`` bounds the Newton iterations (all stages together), ``max_cg`` the CG iterations per
        Newton step. In float32 the solve runs in float32 until its gap stalls at float32 rounding, then in
        float64 from there (``info["float64_iterations"]``); the solution is returned in the input dtype.
        The objective is never above the start's (else the start is returned). ``lower_bound``: the certified
        dual bound (module docstring); status "optimal" (certified gap ≤ tol·(1 + |P|), in float32 with the
        exact objective's float64 upper bound) or "max_iter" (``info["reason"]``); deferred in float64.
        """
        t0 = time.perf_counter()
        xp = self.xp
        tol = default_tol(self.X) if tol is None else check_number(tol, "tol", lo=0.0, strict=True)
        max_iter = int(max_iter)
        W0, b0 = self.current if init is None else self._check_sol(init, "init")
        f64 = xp.is_float64(self.X)
        # a fresh solver each call: its set-up (X̃, Gram matrix, preconditioner inverses) is part of the cost
        out = self._glm(False).solve(self._augment_rows(W0, b0), tol, max_iter=max_iter, max_cg=max_cg,
                                     stall_exit=25 if f64 else 4)
        Theta, used = out["Theta"], out["iterations"]
        info = {k: out[k] for k in ("reason", "cg_iterations", "factorisations")}
        info["float64_iterations"] = 0
        # certified from Θ as it is (after a float64 stage: the float64 point, not its float32 rounding)
        certify = lambda Th: self.certified_bound((Th[:, : self.n_in], Th[:, self.n_in] if self.bias else None))  # noqa: E731
        certified = None  # float32: certified at once (it decides whether to continue in float64)
        if not f64 and (out["status"] == "optimal" or out["reason"].startswith("stalled")):
            certified = certify(Theta)
        # float32: the gap is judged with the exact objective's float64 upper bound (the float32 judge's own
        # rounding, ~1e-7 of Σ|terms|, is not the solver's suboptimality)
        top = (lambda sol, o: o) if f64 else (lambda sol, o: self.objective_interval(sol)[1])  # noqa: E731
        if certified is not None and used < max_iter:
            obj32 = top(self._split(Theta), None)
            if certified[0] is None or obj32 - certified[0] > tol * (1.0 + abs(obj32)):
                # float32 cannot certify here: continue in float64 from the float32 iterate
                out2 = self._glm(True).solve(as_float64(Theta), tol, max_iter=max_iter - used, max_cg=max_cg,
                                             stall_exit=25)
                info.update(float64_iterations=out2["iterations"], reason="float32 then float64: " + out2["reason"],
                            cg_iterations=info["cg_iterations"] + out2["cg_iterations"])
                used, Theta = used + out2["iterations"], out2["Theta"]
                certified = certify(Theta) if out2["status"] == "optimal" else None
        W, b = self._split(Theta, copy=True)
        obj, obj0 = self.objective((W, b)), self.objective((W0, b0))
        if not obj <= obj0:  # never worse than the start (nor NaN)
            W, b, obj = xp.copy(W0), xp.copy(b0), obj0
            info["reason"] += "; returned the start (the solve ended above it)"
        result = BlockResult(solution=(W, b), objective=obj, lower_bound=None, iterations=used,
                             status="max_iter", method="newton-cg", info=info)
        done = out["status"] == "optimal" if f64 else certified is not None
        state = {}

        def resolve(Th=Theta):
            if not state:
                lb, cinfo = certified if certified is not None else certify(Th)
                info.update({k: v for k, v in cinfo.items() if k in ("a1_residual", "theta", "lower_bound_reason")})
                state.update(lb=certified_min(lb, obj), status="max_iter")
                if done and lb is not None and top((W, b), obj) - lb <= tol * (1.0 + abs(obj)):
                    state["status"] = "optimal"
                    info["reason"] = "certified gap <= tol*(1+|P|)" + (" (float32 then float64)"
                                                                       if info["float64_iterations"] else "")
                elif out["status"] == "optimal":
                    info["reason"] = "the solver's gap met tol but the float64 certificate (rounding allowance) did not"
            return state["lb"]

        result.lower_bound = resolve
        if done:
            result.status = lambda: (resolve(), state["status"])[1]
        result.time = time.perf_counter() - t0
        return result

    def _split(self, Theta, copy: bool = False):
        """Θ = [W | b] → (W, b) on the block's backend and dtype (b = 0 without a bias)."""
        xp = self.xp
        W = like(Theta[:, : self.n_in], self.X)
        b = like(Theta[:, self.n_in], self.X) if self.bias else xp.zeros((self.n_out,), like=self.X)
        return (xp.copy(W), xp.copy(b)) if copy else (W, b)

    def solve_fixed(self, init=None, iters: int = 1, curvature: float = 1.0,
                    cache: dict | None = None, final_u: bool = True) -> BlockResult:
        r"""``iters`` majorise–minimise ridge steps (:func:`fenchel_cvx.blocks.mm.mm_steps`) from ``init``
        (default :attr:`current`), each monotone in P; no certificate (status ``"budget"``).

        ``info["U"]`` holds U = W X + b 1ᵀ at the result (the trainers re-forward with it; ``final_u=False``:
        None where it would cost a product, :func:`~fenchel_cvx.blocks.mm.mm_steps`). The
        proximal centre enters through Θ_c; when the start is the centre (the trainers' case) its
        pre-activation is the start's. If the ridge system has no Cholesky factor (ρ + γ ≈ 0 with collinear
        inputs), proximal MM steps are taken instead: each minimises the majoriser plus δ/2‖Θ − Θ_k‖² (δ
        grown until the factorisation succeeds), which is still monotone (``info["proximal_mm"]`` = δ).
        ``curvature`` η scales the majoriser's κ (``BCDConfig.w_curvature``; η = 1 is MM, η = 0 the linearised
        proximal-gradient step; see :func:`~fenchel_cvx.blocks.mm.mm_steps`). ``cache``: the
        per-input cache of :func:`~fenchel_cvx.blocks.mm.mm_steps` (the Gram matrix's
        eigendecomposition of a recurring batch).
        """
        t0 = time.perf_counter()
        xp = self.xp
        start_is_centre = init is None and self.current[0] is self.W_prev and self.current[1] is self.b_prev
        W0, b0 = self.current if init is None else self._check_sol(init, "init")
        U = self._U if (init is None and self._U is not None) else W0 @ self.X + b0[:, None]
        U_c = None if start_is_centre else self.W_prev @ self.X + self.b_prev[:, None]
        info = {}
        try:
            W, b, Unew = mm_steps(self.term, self.X, U, self.prox, n_steps=int(iters), U_c=U_c, curvature=curvature,
                                  cache=cache, final_u=final_u)
        except NotSPDError:
            W, b, Unew, info["proximal_mm"] = proximal_mm_steps(self.term, self.X, U, W0, b0, self.prox, int(iters),
                                                                self.name())
        if not self.bias:
            b = xp.zeros((self.n_out,), like=self.X)
        return BlockResult(solution=(W, b), objective=None, lower_bound=None, iterations=int(iters),
                           time=time.perf_counter() - t0, status="budget", method="mm", info={"U": Unew, **info})

    def gradient(self, sol=None):
        """(g_W, g_b) = (∇H(U) Xᵀ + ρW, ∇H(U) 1) at ``sol`` (default :attr:`current`; U = W X + b 1ᵀ): the gradient
        of the block objective without its proximal term (the adaptive step's gradient)."""
        W, b = self.current if sol is None else self._check_sol(sol)
        U = self._U if (sol is None and self._U is not None) else W @ self.X + b[:, None]
        G = self.term.grad(U)
        gW = G @ self.X.T
        if self.rho:
            gW += self.rho * W
        gb = self.xp.sum(G, axis=1) if self.bias else self.xp.zeros_like(b)
        return gW, gb

    def solve_adaptive(self, state, lr: float, warmup_steps: float = 0.0) -> BlockResult:
        """One Adam-metric step from :attr:`current` (:mod:`fenchel_cvx.blocks.adaptive`; ``state`` is the layer's
        :class:`~fenchel_cvx.blocks.adaptive.AdaptiveState`, updated in place); no certificate (status "budget")."""
        t0 = time.perf_counter()
        W, b = self.current
        gW, gb = self.gradient()
        W, b = adaptive_update(W, b, gW, gb, state, lr, warmup_steps)
        if not self.bias:
            b = self.xp.zeros((self.n_out,), like=self.X)
        return BlockResult(solution=(W, b), objective=None, lower_bound=None, iterations=1,
                           time=time.perf_counter() - t0, status="budget", method="adaptive")

    def _augment_rows(self, W, b):
        if not self.bias:
            return self.xp.copy(W)
        Theta = self.xp.zeros((self.n_out, self.n_in + 1), like=self.X)
        Theta[:, : self.n_in] = W
        Theta[:, self.n_in] = b
        return Theta

    # ---- network glue --------------------------------------------------------------------
    def update(self, net, Xs, sol):
        """Write ``sol = (W, b)`` into ``net.W[layer]``, ``net.b[layer]`` (the net's backend/dtype); return Xs."""
        if self.layer is None:
            raise ValueError(f"{self.kind}: update needs a block built with from_network (layer is unknown)")
        W, b = self._check_sol(sol)
        write_layer(net, self.layer, W, b)
        return Xs


def proximal_of(rho, gamma, W, b, W_prev=None, b_prev=None, bias=True) -> Proximal:
    """The :class:`~fenchel_cvx.blocks.mm.Proximal` of a W-block at the present (W, b) (trusted
    arrays: W n_out x n_in, b (n_out,)): ρ, γ as floats, the centre (W_prev, b_prev) defaulting to
    (W, b), b_prev = 0 (shape of b) without a bias."""
    if not bias:
        b_prev = namespace(b).zeros_like(b)
    return Proximal(float(rho), float(gamma), W if W_prev is None else W_prev,
                    b if b_prev is None else b_prev, bool(bias))


def write_layer(net, l: int, W, b):
    """net.W[l], net.b[l] ← copies of (W, b) on the backend and dtype of the arrays they replace."""
    out = []
    for new, old in ((W, net.W[l]), (b, net.b[l])):
        if is_torch(old):
            out.append(like(new, old).clone())
        else:
            out.append(np.array(to_numpy(new), dtype=np.asarray(old).dtype, copy=True))
    net.W[l], net.b[l] = out


def check_bias_attained(loss, Y, what: str):
    """With γ = 0 an unpenalised bias needs a minimiser: refuse rows where the loss says there is none."""
    rows = loss.bias_blockers(Y)
    if rows:
        raise ValueError(f"Y: {what} {rows[:10]} have no minimiser of their bias with gamma = 0 (it drifts to "
                         f"±inf: {loss!r}); use gamma > 0")


def check_strongly_convex(net, l: int, gamma) -> None:
    """A W-block of layer ``l`` built from ``net`` needs ρ_l + γ > 0 (else W has no strongly convex term and the
    block may have no minimiser); a ``ValueError`` naming ``gamma`` and the two remedies otherwise."""
    g = check_number(gamma, "gamma", lo=0.0)
    if float(net.rho[l]) + g <= 0.0:
        raise ValueError(f"gamma: the network's weight decay rho[{l}] is 0 (FenchelNetwork's default) and gamma is 0, "
                         f"so the W-block of layer {l} has no strongly convex term and may have no minimiser; pass "
                         f"a proximal weight gamma > 0 (from_network(..., gamma=1.0)) or build the network with "
                         f"rho > 0")
