r"""BCD blocks of convolutional lifted networks (:class:`fenchel_cvx.conv.ConvFenchelNetwork`).

Shapes: features x samples. A lifted variable X_l is n_l x m (the flattened **pre-pooling**
activation maps); layer l's linear map A_l = op_l ∘ pool_l (:class:`~fenchel_cvx.layers.LinearMap`:
average poolings folded in, then a convolution or a dense map) sends it to U_l = A_l(W_l, X_l) +
(b_l ⊗ 1_P) 1ᵀ. With A = A_l (the map *out of* the block's variable for X-blocks), ``B`` = (b_l ⊗ 1_P) 1ᵀ
and "all data terms carry 1/m", the four blocks are those of design notes §2 with W V replaced by
A(W, V):

* ``hidden_x`` (:class:`ConvHiddenXBlock`, X_l, 1 ≤ l < L), over V ∈ dom f*_{l−1}::

      F(V) = (1/m){ λ_{l−1}[Σ f*(V) − ⟨U_{l−1}, V⟩] + λ_l[Σ f_l(A V + B) − ⟨A V + B, X_{l+1}⟩] }

* ``last_x`` (:class:`ConvLastXBlock`, X_L)::

      F(V) = (1/m){ λ_{L−1}[Σ f*(V) − ⟨U_{L−1}, V⟩] + ℓ(Y, A V + B) }

* ``hidden_w`` (:class:`ConvHiddenWBlock`, (W_l, b_l), l < L; X = X_l, Y = X_{l+1})::

      P(W, b) = (λ_l/m) Σ [f_l(U) − U∘Y] + ρ_l/2 ‖W‖² + γ/2 (‖W − W_prev‖² + ‖b − b_prev‖²),  U = A(W, X) + B

* ``last_w`` (:class:`ConvLastWBlock`, (W_L, b_L), dense output layer)::

      P(W, b) = ℓ(Y, A(W, X_L) + B)/m + ρ_L/2 ‖W‖² + γ/2 (‖W − W_prev‖² + ‖b − b_prev‖²)

Each equals F_λ minus a constant independent of the block variable (tested).

**X-blocks** (written here; the dense X-blocks' structure with a general linear map): fast path =
:func:`fenchel_cvx.blocks.prox_grad.fista` on F = s(A V) + h(V) with the elementwise prox of f*
(closed form or vectorised Newton, ``Activation.prox_fconj``); A and Aᵀ are convolutions /
transposed convolutions (torch) or im2col products (numpy), never dense matrices; Lip(∇g) ≤
c·‖A‖²/m with the certified FFT bound ``LinearMap.norm_bound``; certificate F(V) − F* ≤ ‖G‖²/(2μ),
μ = λ_{l−1}·mu_conj/m (strong convexity of h). Reference: a CVXPY problem over V (n x m) with A as an
explicit scipy sparse matrix; the data products are precomputed in numpy, C = λU + λ_next Aᵀ X_next
(hidden) or λU + Aᵀ Y (last), B and c0 = ⟨B, X_next⟩ (resp. ⟨Y, B⟩) -- Parameters (DPP) up to
:data:`fenchel_cvx.blocks.x_blocks.DPP_MAX_PARAMS` entries, constants above; A stays a constant.

**W-blocks** (reuse of the dense W-blocks): the map is linear in the weights through the im2col
*design matrix* D = ``LinearMap.design(X)`` (fan_in x P·m, fan_in = C_in·k_h·k_w; dense layers:
D = pools(X), P = 1): A(W, X) = cols⁻¹(W_mat D) with W_mat = W.reshape(C_out, fan_in). Writing
Y_d = cols(Y) (C_out x P·m), the conv W-block is exactly the dense W-block on (D, Y_d) with P·m
"samples" and λ·P in place of λ (so that λP/(mP) = λ/m): :class:`fenchel_cvx.blocks.w_blocks.HiddenWBlock`
/ :class:`~fenchel_cvx.blocks.w_blocks.LastWBlock` supply the objective, the CVXPY reference (W_mat D with
D the explicit operator of the weights), the batched Newton-CG fast path over all output channels and
its certified Fenchel-duality lower bound. Solutions are exchanged in the layer's own shapes
(kernels C_out x C_in x k_h x k_w).
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np

from .. import activations as _act
from .. import losses as _losses
from ..backend import is_torch, like, namespace, to_numpy
from ..layers import LinearMap
from ..network import check_array
from .base import Block, BlockResult, default_tol
from .instances import complete_state
from .prox_grad import CompositeProblem, fista
from .w_blocks import HiddenWBlock, LastWBlock
from .x_blocks import DPP_MAX_PARAMS

__all__ = ["ConvHiddenXBlock", "ConvLastXBlock", "ConvHiddenWBlock", "ConvLastWBlock", "CONV_BLOCKS",
           "TINY_ARCH", "random_conv_state"]

#: the architecture of the random reference instances: stride, padding, pooling into a conv and into a dense map
TINY_ARCH = "input1x8x8,conv2k4s2p1,avgpool2,conv2k3p1,avgpool2,flatten,dense4,dense3"


def _number(value, name: str, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (strict and v == 0):
        need = "> 0" if strict else ">= 0"
        extra = " (the X-block needs λ_{l-1} > 0: it is the block's strong convexity)" if strict else ""
        raise ValueError(f"{name}: must be finite and {need}{extra}, got {value}")
    return v


def _np64(x) -> np.ndarray:
    return np.asarray(to_numpy(x), dtype=np.float64)


def _check_map(lmap):
    if not isinstance(lmap, LinearMap):
        raise TypeError(f"lmap: expected a fenchel_cvx.layers.LinearMap, got {type(lmap).__name__}")
    return lmap


def _check_conv_net(net, kind):
    from ..conv import ConvFenchelNetwork

    if not isinstance(net, ConvFenchelNetwork):
        raise TypeError(f"net: {kind} conv blocks need a ConvFenchelNetwork, got {type(net).__name__} "
                        f"(use fenchel_cvx.blocks.BLOCKS for dense FenchelNetworks)")


def _no_prox_term(gamma, W_prev, b_prev):
    if gamma != 0:
        raise ValueError(f"gamma: X-blocks have no proximal term, expected 0, got {gamma}")
    if W_prev is not None or b_prev is not None:
        raise ValueError("W_prev, b_prev: X-blocks have no proximal term; pass None")


# =====================================================================================
# X-blocks
# =====================================================================================
class _ConvXBlock(Block):
    """Shared machinery of the conv X-blocks: h, its prox, the map A, the solver, I/O."""

    def _init_common(self, U, lmap, W, b, lam, act, current, layer):
        self.map = _check_map(lmap)
        U = check_array(U, "U", (lmap.n_in, None))
        self.n, self.m = (int(s) for s in U.shape)
        if self.m == 0:
            raise ValueError("U: expected at least one sample (column)")
        self.U = U
        self.act = _act.get(act)
        self.lam = _number(lam, "lam", strict=True)
        self.W = like(check_array(W, "W", lmap.weight_shape), U)
        self.b = like(check_array(b, "b", lmap.bias_shape), U)
        self.k = lmap.n_out
        self._bcol = lmap.bias_full(self.b)[:, None]
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or layer < 1):
            raise ValueError(f"layer: expected an integer >= 1 (the index l of X_l) or None, got {layer!r}")
        self.layer = None if layer is None else int(layer)
        self.xp = namespace(U)
        self._problem = None
        self._problem_dpp = True
        self._tpU = None
        self._lipschitz = None
        self._V = None
        self.current = self.forward_value if current is None else self._check_solution(current, "current")

    @property
    def forward_value(self):
        """φ(U): the value of X_l in a forward pass from X_{l−1} (a warm start)."""
        return self.act.phi(self.U)

    def name(self) -> str:
        return self.kind if self.layer is None else f"conv {self.kind}[l={self.layer}]"

    def _check_solution(self, V, name: str, domain: bool = True):
        V = like(check_array(V, name, (self.n, self.m)), self.U)
        if domain and not self.act.in_domain(V):
            lo, hi = self.act.domain
            raise ValueError(f"{name}: entries outside the domain [{lo}, {hi}] of f* for activation {self.act.name}")
        return V

    def _h(self, V):
        """h(V) = (λ/m)[Σ f*(V) − ⟨U, V⟩] (+inf outside dom f*)."""
        xp = self.xp
        return (self.lam / self.m) * (xp.sum(self.act.fconj(V)) - xp.sum(self.U * V))

    def _prox_h(self, z, t):
        """argmin_V t h(V) + ½‖V − z‖² = prox_fconj(z + t' U, t'), t' = t λ / m."""
        tp = t * self.lam / self.m
        if self._tpU is None or self._tpU[0] != tp:
            self._tpU = (tp, tp * self.U)
        return self.act.prox_fconj(z + self._tpU[1], tp)

    def _A(self, V):
        """A(W, V): n x m → k x m (convolution after pooling, or dense)."""
        return self.map.apply(self.W, V)

    def _At(self, R):
        """Aᵀ(W, R): k x m → n x m."""
        return self.map.adjoint(self.W, R)

    def _has_smooth(self) -> bool:
        return True

    @property
    def mu(self) -> float:
        """Strong-convexity modulus of the block objective: λ·mu_conj/m."""
        return self.lam * self.act.mu_conj / self.m

    @property
    def lipschitz(self) -> float:
        """Upper bound on Lip(∇g): curvature bound of s × ‖A‖₂² / m (certified operator-norm bound)."""
        if self._lipschitz is None:
            c = self._smooth_curvature() if self._has_smooth() else 0.0
            if c == 0.0:
                self._lipschitz = 0.0
            else:
                a = self.map.norm_bound(self.W)
                self._lipschitz = c * a * a / self.m * (1.0 + 100.0 * self.xp.eps(self.U))
        return self._lipschitz

    def composite(self) -> CompositeProblem:
        """The block as F = s(A V) + h(V) for :func:`fista`."""
        smooth = self._has_smooth()
        return CompositeProblem(A=self._A if smooth else None, At=self._At if smooth else None,
                                s_value=self._s, s_grad=self._s_grad, h_value=self._h, prox_h=self._prox_h,
                                lipschitz=self.lipschitz, mu_h=self.mu)

    # ---- the contract ---------------------------------------------------------------------
    def objective(self, sol) -> float:
        """The block objective at V = ``sol`` (numpy or torch; +inf outside dom f*). The single judge."""
        V = self._check_solution(sol, "sol", domain=False)
        if not self.act.in_domain(V):
            return math.inf
        val = float(self._h(V))
        if self._has_smooth():
            val += float(self._s(self._A(V)))
        return val

    def reference_solution(self):
        """V from the solved ``problem()`` (numpy float64), projected onto dom f* (solver round-off)."""
        if self._V is None or self._V.value is None:
            raise RuntimeError(f"block {self.name()}: problem() has not been solved yet")
        return self.act.project_domain(np.asarray(self._V.value, dtype=np.float64))

    def problem(self, dpp: bool | None = None) -> cp.Problem:
        """The block as a ``cvxpy.Problem`` (cached), A an explicit sparse matrix; value equals :meth:`objective`.

        ``dpp``: data C, B, c0 as Parameters (True), as constants (False), or None: Parameters up to
        ``DPP_MAX_PARAMS`` parameter entries. The sparse operator A is a constant in both cases.
        """
        if dpp is None:
            dpp = self.n * self.m + self.k * self.m + 1 <= DPP_MAX_PARAMS
        if self._problem is None or self._problem_dpp != bool(dpp):
            self._problem_dpp = bool(dpp)
            self._problem = self._build_problem()
        return self._problem

    def set_reference_point(self, V):
        """Set the CVXPY variable to ``V`` (to compare ``problem().objective.value`` with :meth:`objective`)."""
        V = self._check_solution(V, "V", domain=False)
        self.problem()
        self._V.value = _np64(V)

    def _data(self, name: str, value):
        if not self._problem_dpp:
            return value
        value = np.asarray(value, dtype=np.float64)
        return cp.Parameter(value.shape, name=name, value=value)

    def _cvx_common(self, C):
        """V, the expression λ Σ f*(V) − ⟨C, V⟩, and the dom f* constraints."""
        V = cp.Variable((self.n, self.m), name="V")
        expr = self.lam * cp.sum(self.act.fconj_cvx(V)) - cp.sum(cp.multiply(self._data("C", C), V))
        self._V = V
        return V, expr, self.act.domain_cvx(V)

    def _sparse_A(self):
        return self.map.sparse(self.W)

    def _cvx_affine(self, A, V):
        """A V + B with A a constant sparse matrix and B = (b ⊗ 1_P) 1ᵀ (Parameter or constant)."""
        B = np.repeat(_np64(self._bcol), self.m, axis=1)
        return cp.Constant(A) @ V + self._data("B", B)

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 5000, check_every: int = 5) -> BlockResult:
        """FISTA on F = s(A V) + h(V), vectorised over all samples; stops when the certified gap ≤ tol·(1 + |F|).

        ``init``: None (``self.current``), ``"forward"`` (:attr:`forward_value`) or an n x m array
        (projected onto dom f*); ``tol`` defaults to :func:`default_tol` (1e-10 float64, 1e-5 float32).
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
        obj = self.objective(res.x)
        return BlockResult(solution=res.x, objective=obj, lower_bound=min(res.lower_bound, obj),
                           iterations=res.iterations, time=res.time, status=res.status, method="fista",
                           info={**res.info, "tol": tol})

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
        """(X0, Xs on X0's backend, U_{l−1} = A_{l−1}(W_{l−1}, X_{l−1}) + B_{l−1}) after validation."""
        X0 = net.check_input(X0)
        m = X0.shape[1]
        Xs = net.check_hidden([like(check_array(X, f"X[{i}]", (None, None)), X0) for i, X in enumerate(Xs, 1)], m)
        prev = X0 if l == 1 else Xs[l - 2]
        U = net.maps[l - 1].affine(like(net.W[l - 1], X0), like(net.b[l - 1], X0), prev)
        return X0, Xs, U


class ConvHiddenXBlock(_ConvXBlock):
    r"""hidden_x of a conv network: X_l for 1 ≤ l < L (module docstring).

    Parameters
    ----------
    U : n x m          U_{l−1} (fixes backend, dtype and device); n = ``lmap.n_in``
    lmap : LinearMap   A_l, the map out of X_l (pools folded in, then conv or dense)
    W, b               W_l (``lmap.weight_shape``), b_l (``lmap.bias_shape``)
    X_next : k x m     X_{l+1} (k = ``lmap.n_out``, in dom f*_next)
    lam : float > 0    λ_{l−1};  lam_next : float ≥ 0  λ_l
    act, act_next      φ_{l−1} (domain of V) and φ_l
    current : n x m    present X_l (default warm start; default φ(U));  layer : int  l
    """

    kind = "hidden_x"
    depends_on = ("activation",)

    def __init__(self, U, lmap, W, b, X_next, lam, lam_next, act="relu", act_next="relu", current=None, layer=None):
        self._init_common(U, lmap, W, b, lam, act, current, layer)
        self.act_next = _act.get(act_next)
        self.lam_next = _number(lam_next, "lam_next")
        X_next = like(check_array(X_next, "X_next", (self.k, self.m)), self.U)
        if not self.act_next.in_domain(X_next):
            lo, hi = self.act_next.domain
            raise ValueError(f"X_next: entries outside the domain [{lo}, {hi}] of f* for activation {self.act_next.name}")
        self.X_next = X_next

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(1, net.L))

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvHiddenXBlock:
        """The block of X_l (``layer`` = l, 1 ≤ l < L) of a ConvFenchelNetwork; ``y`` is unused."""
        _check_conv_net(net, "hidden_x")
        _no_prox_term(gamma, W_prev, b_prev)
        if layer is None or layer not in cls.layers(net):
            raise ValueError(f"layer: hidden_x needs 1 <= layer < L = {net.L}, got {layer!r}")
        l = int(layer)
        X0, Xs, U = cls._network_data(net, X0, Xs, l)
        return cls(U, net.maps[l], like(net.W[l], X0), like(net.b[l], X0), Xs[l], lam=float(net.lam[l - 1]),
                   lam_next=float(net.lam[l]), act=net.activations[l - 1], act_next=net.activations[l],
                   current=Xs[l - 1], layer=l)

    def _has_smooth(self) -> bool:
        return self.lam_next > 0

    def _smooth_curvature(self) -> float:
        return self.lam_next * self.act_next.lip

    def _s(self, Z):
        """s(Z) = (λ_next/m)[Σ f_next(Z + B) − ⟨Z + B, X_next⟩]."""
        xp = self.xp
        Zb = Z + self._bcol
        return (self.lam_next / self.m) * (xp.sum(self.act_next.f(Zb)) - xp.sum(Zb * self.X_next))

    def _s_grad(self, Z):
        """∇s(Z) = (λ_next/m)(φ_next(Z + B) − X_next)."""
        return (self.lam_next / self.m) * (self.act_next.phi(Z + self._bcol) - self.X_next)

    def _build_problem(self) -> cp.Problem:
        A = self._sparse_A()
        U, Xn = _np64(self.U), _np64(self.X_next)
        V, expr, cons = self._cvx_common(self.lam * U + self.lam_next * (A.T @ Xn))
        if self.lam_next > 0:
            c0 = self._data("c0", float(np.sum(_np64(self._bcol) * Xn)))
            expr = expr + self.lam_next * (cp.sum(self.act_next.f_cvx(self._cvx_affine(A, V))) - c0)
        return cp.Problem(cp.Minimize(expr / self.m), cons)


class ConvLastXBlock(_ConvXBlock):
    r"""last_x of a conv network: X_L (module docstring).

    Parameters
    ----------
    U : n x m          U_{L−1};  lmap : LinearMap A_L (pools/flatten, then the dense output map)
    W, b               W_L, b_L;  Y : k x m targets (one-hot/probability columns for cross-entropy)
    lam : float > 0    λ_{L−1};  act: φ_{L−1};  loss: name or Loss
    current : n x m    present X_L;  layer : int  L
    """

    kind = "last_x"
    depends_on = ("activation", "loss")

    def __init__(self, U, lmap, W, b, Y, lam, act="relu", loss="cross_entropy", current=None, layer=None):
        self._init_common(U, lmap, W, b, lam, act, current, layer)
        self.loss = _losses.get(loss)
        self.Y = like(self.loss.targets(check_array(Y, "Y", (self.k, self.m)), self.k), self.U)

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L] if net.L >= 1 else []

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvLastXBlock:
        """The block of X_L of a ConvFenchelNetwork; ``layer`` must be None or L."""
        _check_conv_net(net, "last_x")
        _no_prox_term(gamma, W_prev, b_prev)
        if net.L < 1:
            raise ValueError("net: last_x needs at least one hidden layer")
        if layer is not None and layer != net.L:
            raise ValueError(f"layer: last_x is layer L = {net.L}, got {layer!r}")
        L = net.L
        X0, Xs, U = cls._network_data(net, X0, Xs, L)
        Y = like(net.check_targets(y, X0.shape[1]), X0)
        return cls(U, net.maps[L], like(net.W[L], X0), like(net.b[L], X0), Y, lam=float(net.lam[L - 1]),
                   act=net.activations[L - 1], loss=net.loss, current=Xs[L - 1], layer=L)

    def _smooth_curvature(self) -> float:
        return float(self.loss.hess_bound)

    def _s(self, Z):
        """s(Z) = ℓ(Y, Z + B)/m."""
        return self.loss.value(self.Y, Z + self._bcol) / self.m

    def _s_grad(self, Z):
        """∇s(Z) = ∇ℓ(Y, Z + B)/m."""
        return self.loss.grad(self.Y, Z + self._bcol) / self.m

    def _build_problem(self) -> cp.Problem:
        A = self._sparse_A()
        U, Y = _np64(self.U), _np64(self.Y)
        V, expr, cons = self._cvx_common(self.lam * U + A.T @ Y)
        c0 = self._data("c0", float(np.sum(Y * _np64(self._bcol))))
        expr = expr + self.loss.cvx(Y, self._cvx_affine(A, V), inner=c0)
        return cp.Problem(cp.Minimize(expr / self.m), cons)


# =====================================================================================
# W-blocks: the dense W-blocks on the im2col design matrix
# =====================================================================================
class _ConvWBlock(Block):
    """A conv/pooled W-block as a dense W-block (``self.inner``) on (D, Y_d) (module docstring)."""

    def _to_inner(self, sol, what="sol"):
        if not isinstance(sol, (tuple, list)) or len(sol) != 2:
            raise TypeError(f"{what}: expected a pair (W, b)")
        W, b = sol
        W = check_array(W, f"{what} W", self.map.weight_shape)
        if b is not None:
            b = check_array(b, f"{what} b", self.map.bias_shape)
        return self.map.weight_matrix(W), b

    def _from_inner(self, sol):
        W, b = sol
        return self.map.weight_from_matrix(W), b

    @property
    def current(self):
        """The present (W, b) in the layer's shapes (default warm start)."""
        return self._from_inner(self.inner.current)

    @property
    def W_prev(self):
        return self.map.weight_from_matrix(self.inner.W_prev)

    @property
    def b_prev(self):
        return self.inner.b_prev

    def name(self) -> str:
        return f"conv {self.kind}(layer={self.layer})"

    def objective(self, sol) -> float:
        """P(W, b) (module docstring) at ``sol = (W, b)`` in the layer's shapes. The single judge."""
        return self.inner.objective(self._to_inner(sol))

    def problem(self, dpp: bool | None = None) -> cp.Problem:
        """The dense W-block's ``cvxpy.Problem`` on the design matrix D (variables W_mat, b); see HiddenWBlock.problem."""
        return self.inner.problem(dpp)

    def reference_solution(self):
        """(W, b) in the layer's shapes (numpy float64) from the solved ``problem()``."""
        return self._from_inner(self.inner.reference_solution())

    def set_reference_point(self, sol):
        """Set the CVXPY variables to ``sol`` (to compare ``problem().objective.value`` with :meth:`objective`)."""
        self.inner.set_reference_point(self._to_inner(sol))

    def dual_objective(self, A, a1_tol: float | None = None) -> float:
        """Fenchel dual value D(A) at a dual point A (C_out x P·m, the design layout); see HiddenWBlock."""
        return self.inner.dual_objective(A, a1_tol)

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 200, max_cg: int | None = None) -> BlockResult:
        """Batched Newton-CG of the dense W-block on (D, Y_d); the certified bound is its Fenchel dual value."""
        res = self.inner.solve_fast(init=None if init is None else self._to_inner(init, "init"), tol=tol,
                                    max_iter=max_iter, max_cg=max_cg)
        res.solution = self._from_inner(res.solution)
        return res

    def update(self, net, Xs, sol):
        """Write ``sol = (W, b)`` into ``net.W[layer]``, ``net.b[layer]`` (the net's backend/dtype); return Xs."""
        if self.layer is None:
            raise ValueError(f"{self.kind}: update needs a block built with from_network (layer is unknown)")
        W, b = self._to_inner(sol)
        W = self.map.weight_from_matrix(W)
        if b is None:
            b = namespace(W).zeros(self.map.bias_shape, like=W)
        l = self.layer
        out = []
        for new, old in ((W, net.W[l]), (b, net.b[l])):
            if is_torch(old):
                out.append(like(new, old).clone())
            else:
                out.append(np.array(to_numpy(new), dtype=np.asarray(old).dtype, copy=True))
        net.W[l], net.b[l] = out
        return Xs

    def _inner_weights(self, X, W, b, W_prev, b_prev):
        conv = lambda a, name, shape: None if a is None else like(check_array(a, name, shape), X)  # noqa: E731
        W = conv(W, "W", self.map.weight_shape)
        W_prev = conv(W_prev, "W_prev", self.map.weight_shape)
        b = conv(b, "b", self.map.bias_shape)
        b_prev = conv(b_prev, "b_prev", self.map.bias_shape)
        mat = lambda a: None if a is None else self.map.weight_matrix(a)  # noqa: E731
        return mat(W), b, mat(W_prev), b_prev


class ConvHiddenWBlock(_ConvWBlock):
    r"""Hidden-layer kernel and bias (W_l, b_l), l < L, of a conv network (module docstring).

    Parameters
    ----------
    X : n_in x m       input activations X_l (pre-pooling map; X_0 = data), n_in = ``lmap.n_in``
    Y : n_out x m      next activations X_{l+1} (in dom f*_l), n_out = ``lmap.n_out``
    lmap : LinearMap   A_l;  activation: φ_l;  lam: λ_l ≥ 0;  rho: ρ_l ≥ 0;  gamma: γ ≥ 0 (ρ + γ > 0)
    W, b               present value in the layer's shapes (default warm start; zeros if omitted)
    W_prev, b_prev     proximal centres (default W, b);  bias: if False b stays 0;  layer: l
    """

    kind = "hidden_w"
    depends_on = ("activation",)

    def __init__(self, X, Y, lmap, activation, lam, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None,
                 bias=True, layer=None):
        self.map = _check_map(lmap)
        X = check_array(X, "X", (lmap.n_in, None))
        m = X.shape[1]
        Y = like(check_array(Y, "Y", (lmap.n_out, m)), X)
        self.lam = _number(lam, "lam")
        self.layer = layer
        Wm, b, Wpm, bp = self._inner_weights(X, W, b, W_prev, b_prev)
        D = lmap.design(X)
        Yd = lmap.to_design_rows(Y)
        self.inner = HiddenWBlock(D, Yd, activation, self.lam * lmap.positions, rho, gamma=gamma, W=Wm, b=b,
                                  W_prev=Wpm, b_prev=bp, bias=bias, layer=layer)
        self.act, self.rho, self.gamma, self.bias = self.inner.act, self.inner.rho, self.inner.gamma, self.inner.bias
        self.X, self.Y, self.m = X, Y, m

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(net.L))

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvHiddenWBlock:
        """Block of weight layer ``layer`` (0 ≤ layer < L) of a ConvFenchelNetwork at activations ``Xs``."""
        _check_conv_net(net, "hidden_w")
        if layer is None or isinstance(layer, bool) or int(layer) != layer or not 0 <= int(layer) < net.L:
            raise ValueError(f"layer: hidden_w needs a weight layer in 0..{net.L - 1}, got {layer}")
        l = int(layer)
        X0 = net.check_input(X0)
        Xs = net.check_hidden([like(check_array(X, f"X[{i}]", (None, None)), X0) for i, X in enumerate(Xs, 1)],
                              X0.shape[1])
        prev = [X0] + list(Xs)
        return cls(prev[l], Xs[l], net.maps[l], net.activations[l], float(net.lam[l]), float(net.rho[l]),
                   gamma=gamma, W=like(net.W[l], X0), b=like(net.b[l], X0),
                   W_prev=None if W_prev is None else like(W_prev, X0),
                   b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias, layer=l)


class ConvLastWBlock(_ConvWBlock):
    r"""Output weights (W_L, b_L) of a conv network: a dense map of pools(X_L) (module docstring).

    Parameters
    ----------
    X : n_in x m       last hidden activations X_L (pre-pooling map), n_in = ``lmap.n_in``
    Y : targets, k x m (or integer labels (m,) for cross-entropy);  lmap: the dense output LinearMap
    loss, rho, gamma, W, b, W_prev, b_prev, bias, layer: as for :class:`ConvHiddenWBlock`
    """

    kind = "last_w"
    depends_on = ("loss",)

    def __init__(self, X, Y, lmap, loss, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None, bias=True,
                 layer=None):
        self.map = _check_map(lmap)
        if lmap.is_conv:
            raise ValueError(f"lmap: the output layer must be dense, got {lmap!r}")
        X = check_array(X, "X", (lmap.n_in, None))
        self.layer = layer
        Wm, b, Wpm, bp = self._inner_weights(X, W, b, W_prev, b_prev)
        k = lmap.n_out
        loss = _losses.get(loss)
        if is_torch(Y) or isinstance(Y, np.ndarray):
            Y = like(loss.targets(Y, k), X)
        else:
            Y = like(loss.targets(np.asarray(Y), k), X)
        D = lmap.design(X)
        if Wm is None:
            Wm = namespace(X).zeros((k, lmap.n_mid), like=X)
        self.inner = LastWBlock(D, Y, loss, rho, gamma=gamma, W=Wm, b=b, W_prev=Wpm, b_prev=bp, bias=bias,
                                layer=layer)
        self.loss, self.rho, self.gamma, self.bias = self.inner.loss, self.inner.rho, self.inner.gamma, self.inner.bias
        self.X, self.Y, self.m = X, self.inner.Y, X.shape[1]

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L]

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvLastWBlock:
        """Block of the output layer L of a ConvFenchelNetwork (``layer`` None or L)."""
        _check_conv_net(net, "last_w")
        if layer is not None and layer != net.L:
            raise ValueError(f"layer: last_w is the output layer {net.L}, got {layer}")
        X0 = net.check_input(X0)
        m = X0.shape[1]
        Xs = net.check_hidden([like(check_array(X, f"X[{i}]", (None, None)), X0) for i, X in enumerate(Xs, 1)], m)
        Y = like(net.check_targets(y, m), X0)
        L = net.L
        X = Xs[-1] if L > 0 else X0
        return cls(X, Y, net.maps[L], net.loss, float(net.rho[L]), gamma=gamma, W=like(net.W[L], X0),
                   b=like(net.b[L], X0), W_prev=None if W_prev is None else like(W_prev, X0),
                   b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias, layer=L)


#: the conv block registry (same kinds as ``fenchel_cvx.blocks.BLOCKS``), keyed for check-blocks
CONV_BLOCKS = {
    "conv_hidden_x": ConvHiddenXBlock,
    "conv_last_x": ConvLastXBlock,
    "conv_hidden_w": ConvHiddenWBlock,
    "conv_last_w": ConvLastWBlock,
}


# =====================================================================================
# random instances
# =====================================================================================
def random_conv_state(activation="relu", loss="cross_entropy", arch: str = TINY_ARCH, m: int = 4, seed: int = 0,
                      lam=None, rho=None, edge_fraction: float = 0.25, backend: str = "numpy", dtype: str = "float64",
                      device: str = "cpu", weight_scale: float = 2.0, noise: float = 0.3):
    """``(net, X0, y, Xs)``: a random conv instance that reaches kinks and domain edges (cf. ``instances.random_state``).

    ``arch``: a layer string or preset (default :data:`TINY_ARCH`: 1x8x8 input, a stride-2 padded conv,
    pooling into a conv and into a dense map). λ, ρ default to random values in [0.5, 2] and [1e-3, 1e-1];
    the initial weights are scaled by ``weight_scale``; the hidden activations are the forward pass
    perturbed by ``noise``·N(0, 1), projected onto dom f*, with a fraction ``edge_fraction`` of entries put
    on the domain edges. ``backend`` ``"numpy"`` or ``"torch"`` (tensors of ``dtype`` on ``device``).
    """
    from ..conv import ConvFenchelNetwork

    rng = np.random.default_rng(seed)
    probe = ConvFenchelNetwork(arch, activation=activation, loss=loss)
    L = probe.L
    lam = rng.uniform(0.5, 2.0, size=L) if lam is None else lam
    rho = rng.uniform(1e-3, 1e-1, size=L + 1) if rho is None else rho
    net = ConvFenchelNetwork(arch, activation=activation, loss=loss, lam=lam, rho=rho, seed=seed)
    net.W = [weight_scale * w for w in net.W]
    return complete_state(net, rng, m, noise=noise, edge_fraction=edge_fraction, backend=backend,
                          dtype=dtype, device=device)
