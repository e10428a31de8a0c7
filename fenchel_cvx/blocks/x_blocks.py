r"""The activation blocks of BCD: hidden activations X_l (1 ≤ l < L) and last activations X_L.

Shapes: features x samples. V = X_l is n_l x m, U = U_{l−1} = W_{l−1} X_{l−1} + b_{l−1} 1ᵀ is n_l x m, W = W_l is
n_{l+1} x n_l (k x n_L for the last block), b = b_l has shape (n_{l+1},). ⟨A, B⟩ = Σ A∘B; every data term carries
1/m; φ = act (layer l−1), φ_next = act_next (layer l).

**hidden_x** (docs/design.md §2), over V ∈ dom f*::

    F(V) = (1/m) { λ [Σ f*(V) − ⟨U, V⟩] + λ_next [Σ f_next(W V + b 1ᵀ) − ⟨W V + b 1ᵀ, X_next⟩] }

**last_x**, over V ∈ dom f*::

    F(V) = (1/m) { λ [Σ f*(V) − ⟨U, V⟩] + ℓ(Y, W V + b 1ᵀ) }

Both equal the lifted objective F_λ as a function of X_l minus a constant independent of V (the dropped terms are λ
Σ f(U)/m and λ_next Σ f*_next(X_next)/m). λ > 0 is required (it gives the strong convexity); λ_next ≥ 0.

Fast path: F = g + h with the smooth part g(V) = s(W V) and the elementwise part h(V) = (λ/m)[Σ f*(V) − ⟨U, V⟩],
solved by :func:`fista` (accelerated proximal gradient):

* hidden: s(Z) = (λ_next/m)[Σ f_next(Z + b) − ⟨Z + b, X_next⟩], ∇g(V) = (λ_next/m) Wᵀ(φ_next(W V + b) − X_next),
  Lip(∇g) ≤ λ_next Lip(φ_next) ‖W‖₂² / m;
* last:   s(Z) = ℓ(Y, Z + b)/m, ∇g(V) = Wᵀ ∇ℓ(Y, W V + b)/m, Lip(∇g) ≤ hess_bound(ℓ) ‖W‖₂² / m;
* prox of t h at z: ``act.prox_fconj(z + t' U, t')`` with t' = t λ / m (closed form for
  relu/leaky_relu/hardtanh/identity, vectorised Newton for sigmoid/tanh);
* h is μ-strongly convex with μ = λ·mu_conj/m (mu_conj = 1/Lip(φ)), which certifies F(V) − F* ≤ ‖G‖²/(2μ) for the
  composite gradient mapping G ∈ ∂F(V) (see :mod:`.prox_grad`).

Certified bound (:meth:`certified_bound`, the fast path's and the reference's): F(V) − c Σ B_φ(U − ∇g(V)/c, V) with
c = λ/m -- the Fenchel dual value at the dual point ∇g(V), valid at any feasible V by convexity of g -- evaluated
in float64 numpy and deflated by the rounding allowance
(:func:`fenchel_cvx.blocks.certificates.x_divergence_bound`). FISTA's own strong-convexity bound (working dtype)
only drives its stopping rule. solve_fast never returns a point whose F is above the start's.

Default tolerance (``base.default_tol``): certified relative gap 1e-10 in float64 and 1e-5 in float32 -- in float32
the objective itself is only accurate to ~1e-7·(number of entries)^½ relative, so much smaller tolerances cannot be
certified reliably.

Reference: a ``cvxpy.Problem`` over a Variable V (n x m)::

    (1/m) { λ Σ f*(V) − ⟨C, V⟩ + λ_next [Σ f_next(W V + B) − c0] }      (hidden)
    (1/m) { λ Σ f*(V) − ⟨C, V⟩ + ℓ(Y, W V + B) with ⟨Y, W V + B⟩ = ⟨Wᵀ Y, V⟩ + c0 }   (last)

with the products of data arrays precomputed in numpy: C = λ U + λ_next Wᵀ X_next (hidden) or C = λ U + Wᵀ Y
(last), B = b 1ᵀ and the scalar c0 = ⟨B, X_next⟩ (resp. ⟨Y, B⟩), so that its objective value equals
:meth:`objective` exactly (same constants). With ``dpp=True`` the data C, W, B, c0 are ``cp.Parameter``s (the
problem is DPP: new data re-uses the compilation); with ``dpp=False`` they are constants. CVXPY's DPP compilation
cost grows superlinearly with the number of parameter entries (measured, cvxpy 1.9: 30x100 block with k = 10
compiles in 3.7 s with parameters vs 0.1 s with constants; an n x m parameter of 100 x 200 takes minutes and 100 x
1000 runs out of memory), so the default ``dpp=None`` uses Parameters only up to :data:`DPP_MAX_PARAMS` parameter
entries and constants above.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .. import activations as _act
from .. import losses as _losses
from ..backend import in_order, like, namespace, same_order, scaled_in_order, to_numpy64
from ..validation import check_array, check_number
from . import certificates as cert
from .base import Block, BlockResult, certified_min, default_tol, expect
from .out_maps import DenseOut, LayerOut, checked_out_map, checked_point, layer_out_map, no_prox_term
from .prox_grad import CompositeProblem, apg_fixed, fista

__all__ = ["HiddenXBlock", "LastXBlock", "DPP_MAX_PARAMS"]

#: problem(dpp=None) builds a DPP problem (data as Parameters) up to this many parameter entries
DPP_MAX_PARAMS = 1500

_LAM_HINT = " (the X-block needs λ_{l-1} > 0: it is the block's strong convexity)"


class _XBlock(Block):
    """Shared machinery of the X-blocks: the elementwise part h, the solver, I/O.

    The next layer enters only through ``out``, the affine map V ↦ A(V) + B out of the block's variable
    (:mod:`fenchel_cvx.blocks.out_maps`: a dense W, or a conv network's ``LinearMap``); the conv X-blocks
    (:mod:`fenchel_cvx.blocks.conv_blocks`) are these classes with a ``LinearMap`` passed in.
    """

    @staticmethod
    def _checked_common(U, W, b, lam, act, current, layer, lmap):
        """Validate the arguments every ``from_arrays`` shares; returns
        ``(U, out, act, lam, current)`` (current None when not given)."""
        U = check_array(U, "U", (None if lmap is None else getattr(lmap, "n_in", None), None))
        if U.shape[0] == 0 or U.shape[1] == 0:
            raise ValueError(f"U: expected a non-empty n x m array, got shape {tuple(U.shape)}")
        act = _act.get(act)
        lam = check_number(lam, "lam", lo=0.0, strict=True, hint=_LAM_HINT)
        out = checked_out_map(W, b, U, lmap)
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or layer < 1):
            raise ValueError(f"layer: expected an integer >= 1 (the index l of X_l) or None, got {layer!r}")
        if current is not None:
            current = checked_point(current, "current", act, (int(U.shape[0]), int(U.shape[1])), U)
        return U, out, act, lam, current

    def _store(self, U, out, act, lam, current, layer):
        """The trusted constructors' common part: check the parts' kinds, store, warm start φ(U) by default."""
        expect(out, (DenseOut, LayerOut), "out", type(self))
        expect(act, _act.Activation, "act", type(self))
        self._setup(U, act, lam, layer, out)
        self.current = self.forward_value if current is None else current

    def _setup(self, U, act, lam, layer, out):
        """Store U, the activation, λ, the layer and the map out of V (trusted) and reset the caches."""
        self.n, self.m = (int(s) for s in U.shape)
        self.U = U
        self.act = act
        self.lam = float(lam)
        self.layer = None if layer is None else int(layer)
        self.xp = namespace(U)
        self.out = out
        self._problem = None
        self._problem_dpp = True
        self._tpU = None
        self._lipschitz = None
        self._V = None

    # the map out of V (read from ``out``)
    W = property(lambda self: self.out.W, doc="W_l: the weights of the map out of V")
    b = property(lambda self: self.out.b, doc="b_l: the bias of the map out of V")
    k = property(lambda self: self.out.k, doc="rows of A(V) (the next layer's size)")
    map = property(lambda self: getattr(self.out, "lmap", None), doc="the LinearMap of a conv layer (else None)")
    _bcol = property(lambda self: self.out.bcol)

    @staticmethod
    def _lifted_parts(state, l):
        """(U_{l−1}, the map out of X_l at the state's weights) at a LiftedState (trusted)."""
        return state.pre_activation(l - 1), layer_out_map(state.net, l, state.W[l], state.b[l])

    # ---- helpers ---------------------------------------------------------------
    @property
    def forward_value(self):
        """φ(U): the value X_l takes in a forward pass of the current network (from X_{l−1}); a warm start."""
        return self.act.phi(self.U)

    def name(self) -> str:
        return self.out.label + (self.kind if self.layer is None else f"{self.kind}[l={self.layer}]")

    def _check_solution(self, V, name: str, domain: bool = True):
        return checked_point(V, name, self.act if domain else None, (self.n, self.m), self.U)

    def _h(self, V):
        """h(V) = (λ/m)[Σ f*(V) − ⟨U, V⟩] (+inf outside dom f*)."""
        xp = self.xp
        return (self.lam / self.m) * (self.act.fconj_sum(V) - float(xp.sum(self.U * V)))

    def _scaled_u(self, t, like=None):
        """(t', t' U), t' = t λ / m, kept (t changes only on backtracking), in the memory order of the z it is added to
        (``like``; the same products): a conv output U is samples-first, the iterates of a dense map's block not."""
        tp, kept = t * self.lam / self.m, self._tpU
        if kept is None or kept[0] != tp or not same_order(kept[1], like):
            self._tpU = kept = (tp, scaled_in_order(self.U, tp, like))
        return kept

    def _prox_h(self, z, t):
        """argmin_V t h(V) + ½‖V − z‖² = prox_fconj(z + t' U, t'), t' = t λ / m."""
        tp, tpU = self._scaled_u(t, z)
        return self.act.prox_fconj(z + tpU, tp)

    def _prox_h_into(self, z, t):
        """:meth:`_prox_h` for a z the solver owns: computed in z (the same operations)."""
        tp, tpU = self._scaled_u(t, z)
        z += tpU
        return self.act.prox_fconj_into(z, tp)

    def _has_smooth(self) -> bool:
        return True

    def _s(self, Z):  # pragma: no cover - abstract
        raise NotImplementedError

    def _s_grad(self, Z):  # pragma: no cover - abstract
        raise NotImplementedError

    def _smooth_curvature(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mu(self) -> float:
        """Strong-convexity modulus of the block objective: λ·mu_conj/m."""
        return self.lam * self.act.mu_conj / self.m

    @property
    def lipschitz(self) -> float:
        """Upper bound on Lip(∇g) = curvature bound of s × ‖A‖₂² / m (rounded up)."""
        if self._lipschitz is None:
            c = self._smooth_curvature() if self._has_smooth() else 0.0
            if c == 0.0:
                self._lipschitz = 0.0
            else:
                w = self.out.norm_bound()
                self._lipschitz = c * w * w / self.m * (1.0 + 100.0 * self.xp.eps(self.U))
        return self._lipschitz

    def composite(self) -> CompositeProblem:
        """The block as F = s(W V) + h(V) for :func:`fista`."""
        smooth = self._has_smooth()
        return CompositeProblem(A=self.out.apply if smooth else None, At=self.out.adjoint if smooth else None,
                                s_value=self._s, s_grad=self._s_grad, h_value=self._h, prox_h=self._prox_h,
                                lipschitz=self.lipschitz, mu_h=self.mu, prox_h_into=self._prox_h_into,
                                start=self._start)

    def _start(self, V):
        """(s(A V), ∇g(V)) from A V + B kept by the map out of V (:meth:`LayerOut.known_image`: the forward pass's
        pre-activation at these weights and this V, both unmodified), else None: FISTA's start without A V."""
        Zb = self.out.known_image(V)
        return None if Zb is None else (self._s(Zb, True), self.out.adjoint(self._s_grad(Zb, True)))

    # ---- the contract ------------------------------------------------------------
    def objective(self, sol) -> float:
        """The block objective at V = ``sol`` (numpy or torch; +inf outside dom f*). The single judge."""
        V = self._check_solution(sol, "sol", domain=False)
        if not self.act.in_domain(V):
            return math.inf
        val = float(self._h(V))
        if self._has_smooth():
            val += float(self._s(self.out.apply(V)))
        return val

    def reference_solution(self):
        """V from the solved ``problem()`` (numpy float64), projected onto dom f* (solver round-off)."""
        if self._V is None or self._V.value is None:
            raise RuntimeError(f"block {self.name()}: problem() has not been solved yet")
        return self.act.project_domain(np.asarray(self._V.value, dtype=np.float64))

    def problem(self, dpp: bool | None = None):
        """The block as a ``cvxpy.Problem`` (cached); its objective value equals :meth:`objective`.

        ``dpp``: data as Parameters (True), as constants (False), or None: Parameters when the
        block has at most :data:`DPP_MAX_PARAMS` parameter entries (see the module docstring).
        """
        if dpp is None:
            dpp = self.n * self.m + self.out.n_params(self.m) <= DPP_MAX_PARAMS
        if self._problem is None or self._problem_dpp != bool(dpp):
            self._problem_dpp = bool(dpp)
            self._problem = self._build_problem()
        return self._problem

    def set_reference_point(self, V):
        """Set the CVXPY variable to ``V`` (to compare ``problem().objective.value`` with :meth:`objective`)."""
        V = self._check_solution(V, "V", domain=False)
        self.problem()
        self._V.value = to_numpy64(V)

    def _data(self, name: str, value):
        """``value`` as a cp.Parameter named ``name`` (DPP build) or as a constant."""
        import cvxpy as cp

        if not self._problem_dpp:
            return value
        value = np.asarray(value, dtype=np.float64)
        return cp.Parameter(value.shape, name=name, value=value)

    def _cvx_affine(self, V):
        """A V + B with B = b 1ᵀ (Parameters or constants; A a constant sparse matrix for a conv layer)."""
        B = np.repeat(to_numpy64(self._bcol), self.m, axis=1)
        return self.out.cvx_apply(V, self._data) + self._data("B", B)

    def _cvx_common(self, C):
        """V, the expression λ Σ f*(V) − ⟨C, V⟩, and the dom f* constraints."""
        import cvxpy as cp

        V = cp.Variable((self.n, self.m), name="V")
        expr = self.lam * cp.sum(self.act.fconj_cvx(V)) - cp.sum(cp.multiply(self._data("C", C), V))
        self._V = V
        return V, expr, self.act.domain_cvx(V)

    # ---- certificates (float64 numpy, blocks/certificates.py) ------------------------------
    def _smooth_term(self):
        """(loss, T, ws) in float64: the smooth part is s(Z) = ws·ℓ(T, Z + B) (None when absent)."""
        raise NotImplementedError

    def certified_bound(self, sol):
        """``(bound or None, info)``: F(V) − c Σ B_φ(U − ∇g(V)/c, V) at V = ``sol`` projected onto dom f*, in float64
        with the rounding allowance (module docstring; :func:`~fenchel_cvx.blocks.certificates.x_divergence_bound`)."""
        V = self.act.project_domain(to_numpy64(self._check_solution(sol, "sol", domain=False)))
        o64, oabs = self.out.float64(), self.out.float64(absolute=True)
        smooth = self._smooth_term() if self._has_smooth() else None
        return cert.x_divergence_bound(V, to_numpy64(self.U), self.act, self.lam / self.m, smooth,
                                       o64, oabs, 2 * (self.n + self.k) + 4)

    def objective_interval(self, sol):
        """(lower, upper) of the exact F(V) at ``sol`` (float64 evaluation + the rounding allowance; (inf, inf)
        outside dom f*)."""
        V = to_numpy64(self._check_solution(sol, "sol", domain=False))
        if not self.act.in_domain(V):
            return math.inf, math.inf
        return self.certified_bound(V)[1]["objective_interval"]

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 5000,
                   check_every: int = 5) -> BlockResult:
        """FISTA on F = s(W V) + h(V) (see the module docstring), vectorised over all samples.

        ``init``: None (``self.current``), ``"forward"`` (:attr:`forward_value`) or an n x m array
        (projected onto dom f*). Stops when the gap ≤ tol·(1 + |F|); ``tol`` defaults to
        :func:`default_tol` of the data (1e-10 float64, 1e-5 float32). ``lower_bound`` is the float64
        certificate (module docstring) of the returned point or of FISTA's best-bound iterate, whichever is
        higher; it is computed at once when FISTA stops at its tolerance (status "optimal" only if the
        certified gap meets tol), lazily otherwise. Never returns a point with F above the start's.
        """
        if init is None:
            V0 = self.current
        elif isinstance(init, str):
            if init != "forward":
                raise ValueError(f"init: expected None, 'forward' or an array, got {init!r}")
            V0 = self.forward_value
        else:
            V0 = self.act.project_domain(self._check_solution(init, "init", domain=False))
        tol = default_tol(self.U) if tol is None else float(tol)
        res = fista(self.composite(), V0, tol=tol, max_iter=max_iter, check_every=check_every)
        f64 = self.xp.is_float64(self.U)
        state = {}

        def objective():
            """F at the returned point (deferred: the trainers' steps never read it)."""
            if "obj" not in state:
                state["obj"] = self.objective(res.x)
            return state["obj"]

        result = BlockResult(solution=res.x, objective=objective, lower_bound=None,
                             iterations=res.iterations, time=res.time, status="max_iter",
                             method="fista", info={**res.info, "tol": tol})

        def certify():
            """The certified bound (best of res.x and FISTA's best-bound iterate) and the certified status."""
            if "lb" in state:
                return state["lb"]
            obj = objective()
            best, reason, top = None, None, math.inf
            for cand in (res.x, res.x_lb):
                if cand is None or (cand is not res.x and best is not None and top - best <= tol * (1 + abs(obj))):
                    continue
                lb, cinfo = self.certified_bound(cand)
                if cand is res.x:  # float32: the exact objective's float64 upper bound, not the float32 judge
                    top = obj if f64 or "objective_interval" not in cinfo else cinfo["objective_interval"][1]
                if lb is None:
                    reason = cinfo.get("lower_bound_reason")
                elif best is None or lb > best:
                    best = lb
            if best is None:
                result.info["lower_bound_reason"] = reason
            state["lb"] = certified_min(best, obj)
            state["status"] = "max_iter"
            if res.status == "optimal":
                if best is not None and top - best <= tol * (1.0 + abs(obj)):
                    state["status"] = "optimal"
                else:
                    result.info["reason"] = ("FISTA's gap met tol but the float64 certificate (rounding allowance) did "
                                             "not")
            return state["lb"]

        def status():
            certify()
            return state["status"]

        result.lower_bound = certify
        if res.status == "optimal":
            result.status = status  # certified on first access (BlockResult: deferred fields)
        return result

    def solve_fixed(self, init=None, iters: int = 5) -> BlockResult:
        """``iters`` iterations of accelerated proximal gradient (:func:`~fenchel_cvx.blocks.prox_grad.apg_fixed`)
        from ``init`` (default :attr:`current`, trusted); no certificate (status ``"budget"``): the trainers'
        cheap X-step."""
        t0 = time.perf_counter()
        V0 = self.current if init is None else self.act.project_domain(self._check_solution(init, "init", False))
        x = apg_fixed(self.composite(), V0, int(iters))
        return BlockResult(solution=x, objective=None, lower_bound=None, iterations=int(iters),
                           time=time.perf_counter() - t0, status="budget", method="apg")

    def update(self, net, Xs, sol) -> list:
        """A new list [X_1..X_L] with X_l replaced by ``sol`` (on the backend of the old X_l)."""
        Xs = list(Xs)
        if len(Xs) != net.L:
            raise ValueError(f"Xs: expected {net.L} hidden activation arrays [X_1..X_L], got {len(Xs)}")
        l = self.layer if self.layer is not None else net.L
        if not 1 <= l <= net.L:
            raise ValueError(f"layer: {l} is not a hidden layer of a network with L = {net.L}")
        V = self._check_solution(sol, "sol")
        Xs[l - 1] = like(V, Xs[l - 1])
        return Xs

    @staticmethod
    def _network_data(net, X0, Xs, l):
        """(X0, Xs on X0's backend, U_{l−1} = A_{l−1}(W_{l−1}, X_{l−1}) + b_{l−1} 1ᵀ, the arguments W, b, lmap of
        the map out of X_l) after validation."""
        X0 = net.check_input(X0)
        m = X0.shape[1]
        Xs = net.check_hidden([like(check_array(X, f"X[{i}]", (None, None)), X0) for i, X in enumerate(Xs, 1)], m)
        prev = X0 if l == 1 else Xs[l - 2]
        U = net.affine(l - 1, like(net.W[l - 1], X0), like(net.b[l - 1], X0), prev)
        maps = getattr(net, "maps", None)
        out = {"W": like(net.W[l], X0), "b": like(net.b[l], X0), "lmap": None if maps is None else maps[l]}
        return X0, Xs, U, out


class HiddenXBlock(_XBlock):
    r"""hidden_x: X_l for 1 ≤ l < L (see the module docstring for F and the solver).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    U : n x m        U_{l−1} = W_{l−1} X_{l−1} + b_{l−1} 1ᵀ (fixes backend, dtype and device)
    out              the map V ↦ A(V) + B out of X_l (:mod:`fenchel_cvx.blocks.out_maps`:
                     ``DenseOut(W_l, b_l)``, or ``LayerOut(lmap, W_l, b_l)`` for a layer of a conv network), k rows
    X_next : k x m   X_{l+1} (in dom f*_next)
    lam : float > 0  λ_{l−1};   lam_next : float ≥ 0  λ_l
    act, act_next    the :class:`~fenchel_cvx.activations.Activation` φ_{l−1} (domain of V) and φ_l
    current : n x m  the present X_l (default warm start; default φ(U))
    layer : int      l (used by ``update`` and in messages)
    """

    kind = "hidden_x"
    depends_on = ("activation",)  # the loss does not enter this block

    def __init__(self, U, out, X_next, lam, lam_next, act, act_next, current=None, layer=None):
        self._store(U, out, act, lam, current, layer)
        self.act_next = expect(act_next, _act.Activation, "act_next", type(self))
        self.lam_next, self.X_next, self._xn = float(lam_next), X_next, None

    @classmethod
    def from_arrays(cls, U, W, b, X_next, lam, lam_next, act="relu", act_next="relu", current=None,
                    layer=None, *, lmap=None) -> HiddenXBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named): U
        (n x m), the map out of V as W_l (k x n) and b_l (k,) -- or, with ``lmap`` (a conv network's
        :class:`~fenchel_cvx.layers.LinearMap`), W and b of ``lmap.weight_shape`` and
        ``lmap.bias_shape`` --, X_next (k x m, in dom f*_next), λ_{l−1} > 0, λ_l ≥ 0, the
        activations (names or Activation objects), ``current`` (n x m in dom f*; default φ(U)) and
        ``layer`` (an integer l ≥ 1 or None)."""
        U, out, act, lam, current = cls._checked_common(U, W, b, lam, act, current, layer, lmap)
        act_next = _act.get(act_next)
        lam_next = check_number(lam_next, "lam_next", lo=0.0)
        X_next = checked_point(X_next, "X_next", act_next, (out.k, U.shape[1]), U)
        return cls(U, out, X_next, lam, lam_next, act, act_next, current, layer)

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(1, net.L))

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> HiddenXBlock:
        """The block of X_l (``layer`` = l, 1 ≤ l < L; None when L = 2) at the state (net, X0, Xs); ``y`` unused."""
        no_prox_term(gamma, W_prev, b_prev)
        l = cls.resolve_layer(net, layer)
        X0, Xs, U, out = cls._network_data(net, X0, Xs, l)
        return cls.from_arrays(U=U, **out, X_next=Xs[l], lam=float(net.lam[l - 1]),
                               lam_next=float(net.lam[l]), act=net.activations[l - 1],
                               act_next=net.activations[l], current=Xs[l - 1], layer=l)

    @classmethod
    def from_state(cls, state, layer: int, lam_scale: float = 1.0) -> HiddenXBlock:
        """The block of X_l (``layer`` = l < L) at a :class:`~fenchel_cvx.blocks.state.LiftedState` (trusted),
        with λ_{l−1} divided by ``lam_scale``; warm start the state's X_l."""
        l = int(layer)
        U, out = cls._lifted_parts(state, l)
        acts = state.net.activations
        return cls(U, out, state.Xs[l], float(state.lam[l - 1]) / lam_scale, float(state.lam[l]),
                   acts[l - 1], acts[l], current=state.Xs[l - 1], layer=l)

    def _has_smooth(self) -> bool:
        return self.lam_next > 0

    def _smooth_term(self):
        return _losses.FenchelYoungLoss(self.act_next), to_numpy64(self.X_next), self.lam_next / self.m

    def _smooth_curvature(self) -> float:
        return self.lam_next * self.act_next.lip

    def _s(self, Z, biased: bool = False):
        """s(Z) = (λ_next/m)[Σ f_next(Z + b) − ⟨Z + b, X_next⟩] (``biased``: Z is Z + b already)."""
        xp = self.xp
        Zb = Z if biased else self.out.plus_b(Z)
        return (self.lam_next / self.m) * (xp.sum(self.act_next.f(Zb)) - xp.sum(Zb * self._x_next(Zb)))

    def _s_grad(self, Z, biased: bool = False):
        """∇s(Z) = (λ_next/m)(φ_next(Z + b) − X_next), formed in the fresh φ_next(Z + b) (the same operations;
        ``biased``: Z is Z + b already, and is not written into)."""
        Zb = Z if biased else self.out.plus_b(Z)
        G = self.act_next.phi(Zb)  # Z + b is ours (kept by plus_b: writing into it makes it stale)
        G = self.xp.copy(G) if biased and G is Z else G
        G -= self._x_next(G)
        G *= self.lam_next / self.m
        return G

    def _x_next(self, like):
        """X_next in the memory order of ``like`` (kept; :func:`~fenchel_cvx.backend.in_order`): a conv output Z is
        samples-first, the iterates X_next not; products and differences with Z keep Z's order (and sums) either way."""
        if self._xn is None or not same_order(self._xn, like):
            self._xn = in_order(self.X_next, like)
        return self._xn

    def _build_problem(self):
        import cvxpy as cp

        U, Xn = to_numpy64(self.U), to_numpy64(self.X_next)
        V, expr, cons = self._cvx_common(self.lam * U + self.lam_next * self.out.adjoint64(Xn))
        if self.lam_next > 0:
            c0 = self._data("c0", float(np.sum(to_numpy64(self._bcol) * Xn)))
            expr = expr + self.lam_next * (cp.sum(self.act_next.f_cvx(self._cvx_affine(V))) - c0)
        return cp.Problem(cp.Minimize(expr / self.m), cons)


class LastXBlock(_XBlock):
    r"""last_x: X_L (see the module docstring for F and the solver).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    U : n x m        U_{L−1} = W_{L−1} X_{L−1} + b_{L−1} 1ᵀ (fixes backend, dtype and device)
    out              the map out of X_L (as for :class:`HiddenXBlock`; W_L, b_L), k rows
    Y : k x m        targets (one-hot/probability columns for cross-entropy)
    lam : float > 0  λ_{L−1}
    act, loss        the :class:`~fenchel_cvx.activations.Activation` φ_{L−1} (domain of V) and the
                     :class:`~fenchel_cvx.losses.Loss`
    current : n x m  the present X_L (default warm start; default φ(U))
    layer : int      L (used in messages; ``update`` writes the last hidden layer)
    """

    kind = "last_x"
    depends_on = ("activation", "loss")

    def __init__(self, U, out, Y, lam, act, loss, current=None, layer=None):
        self._store(U, out, act, lam, current, layer)
        self.loss = expect(loss, _losses.Loss, "loss", type(self))
        self.Y = Y

    @classmethod
    def from_arrays(cls, U, W, b, Y, lam, act="relu", loss="cross_entropy", current=None,
                    layer=None, *, lmap=None) -> LastXBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named): U, W,
        b, lmap, λ_{L−1}, ``act``, ``current`` and ``layer`` as for
        :meth:`HiddenXBlock.from_arrays`; Y (k x m targets; one-hot/probability columns for
        cross-entropy) and ``loss`` (a name or Loss)."""
        U, out, act, lam, current = cls._checked_common(U, W, b, lam, act, current, layer, lmap)
        loss = _losses.get(loss)
        Y = like(loss.targets(check_array(Y, "Y", (out.k, U.shape[1])), out.k), U)
        return cls(U, out, Y, lam, act, loss, current, layer)

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L] if net.L >= 1 else []

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> LastXBlock:
        """The block of X_L at the state (net, X0, y, Xs); ``layer`` must be None or L."""
        no_prox_term(gamma, W_prev, b_prev)
        if net.L < 1:
            raise ValueError("net: last_x needs at least one hidden layer")
        if layer is not None and layer != net.L:
            raise ValueError(f"layer: last_x is layer L = {net.L}, got {layer!r}")
        L = net.L
        X0, Xs, U, out = cls._network_data(net, X0, Xs, L)
        Y = like(net.check_targets(y, X0.shape[1]), X0)
        return cls.from_arrays(U=U, **out, Y=Y, lam=float(net.lam[L - 1]),
                               act=net.activations[L - 1], loss=net.loss, current=Xs[L - 1],
                               layer=L)

    @classmethod
    def from_state(cls, state, layer: int | None = None, lam_scale: float = 1.0) -> LastXBlock:
        """The block of X_L at a :class:`~fenchel_cvx.blocks.state.LiftedState` (trusted), with λ_{L−1} divided
        by ``lam_scale``; warm start the state's X_L."""
        L = state.L
        U, out = cls._lifted_parts(state, L)
        lam = float(state.lam[L - 1]) / lam_scale
        return cls(U, out, state.Y, lam, state.net.activations[L - 1], state.net.loss,
                   current=state.Xs[L - 1], layer=L)

    def _smooth_curvature(self) -> float:
        return float(self.loss.hess_bound)

    def _smooth_term(self):
        return self.loss, to_numpy64(self.Y), 1.0 / self.m

    def _s(self, Z, biased: bool = False):
        """s(Z) = ℓ(Y, Z + b)/m (``biased``: Z is Z + b already)."""
        return self.loss.value(self.Y, Z if biased else self.out.plus_b(Z)) / self.m

    def _s_grad(self, Z, biased: bool = False):
        """∇s(Z) = ∇ℓ(Y, Z + b)/m (``biased``: Z is Z + b already; the loss's gradient is a fresh array)."""
        return self.loss.grad(self.Y, self.xp.copy(Z) if biased else self.out.plus_b(Z)) / self.m

    def _build_problem(self):
        import cvxpy as cp

        U, Y = to_numpy64(self.U), to_numpy64(self.Y)
        V, expr, cons = self._cvx_common(self.lam * U + self.out.adjoint64(Y))
        c0 = self._data("c0", float(np.sum(Y * to_numpy64(self._bcol))))
        expr = expr + self.loss.cvx(Y, self._cvx_affine(V), inner=c0)
        return cp.Problem(cp.Minimize(expr / self.m), cons)
