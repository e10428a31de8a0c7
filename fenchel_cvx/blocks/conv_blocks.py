r"""BCD blocks of convolutional lifted networks (:class:`fenchel_cvx.conv.ConvFenchelNetwork`).

Shapes: features x samples. A lifted variable X_l is n_l x m (the flattened **pre-pooling**
activation maps); layer l's linear map A_l = op_l ∘ pool_l (:class:`~fenchel_cvx.layers.LinearMap`:
average poolings folded in, then a convolution or a dense map) sends it to U_l = A_l(W_l, X_l) +
(b_l ⊗ 1_P) 1ᵀ. With A = A_l (the map *out of* the block's variable for X-blocks), ``B`` = (b_l ⊗ 1_P) 1ᵀ
and "all data terms carry 1/m", the four blocks are those of docs/design.md §2 with W V replaced by
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

**X-blocks** (the dense X-blocks with the map out of V passed as a LinearMap,
:class:`fenchel_cvx.blocks.out_maps.LayerOut`): fast path =
:func:`fenchel_cvx.blocks.prox_grad.fista` on F = s(A V) + h(V) with the elementwise prox of f*
(closed form or vectorised Newton, ``Activation.prox_fconj``); A and Aᵀ are convolutions /
transposed convolutions (torch) or im2col products (numpy), never dense matrices; Lip(∇g) ≤
c·‖A‖²/m with the certified FFT bound ``LinearMap.norm_bound``; certified lower bound: the dense X-blocks'
Fenchel dual bound F(V) − c Σ B_φ(U − ∇g(V)/c, V), c = λ_{l−1}/m, evaluated in float64 with A, Aᵀ the numpy
im2col maps (:meth:`HiddenXBlock.certified_bound`; FISTA's strong-convexity bound only drives its stopping
rule). Reference: a CVXPY problem over V (n x m) with A as an
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
its certified Fenchel-duality lower bound (evaluated in float64 with the rounding allowance of
:mod:`fenchel_cvx.blocks.certificates`; the conv X-blocks' certificate is the dense X-blocks' divergence bound
with A and Aᵀ the numpy im2col maps). Solutions are exchanged in the layer's own shapes
(kernels C_out x C_in x k_h x k_w).
"""

from __future__ import annotations

import time

import numpy as np

from .. import losses as _losses
from ..backend import is_torch, like, namespace
from ..layers import LinearMap
from ..validation import check_array, check_number
from .adaptive import adaptive_update
from .base import Block, BlockResult
from .glm import DataTerm
from .instances import complete_state
from .mm import Proximal
from .w_blocks import HiddenWBlock, LastWBlock, write_layer
from .x_blocks import HiddenXBlock, LastXBlock

__all__ = ["ConvHiddenXBlock", "ConvLastXBlock", "ConvHiddenWBlock", "ConvLastWBlock", "CONV_BLOCKS",
           "TINY_ARCH", "random_conv_state"]

#: the architecture of the random reference instances: stride, padding, pooling into a conv and into a dense map
TINY_ARCH = "input1x8x8,conv2k4s2p1,avgpool2,conv2k3p1,avgpool2,flatten,dense4,dense3"


def _check_map(lmap):
    if not isinstance(lmap, LinearMap):
        raise TypeError(f"lmap: expected a fenchel_cvx.layers.LinearMap, got {type(lmap).__name__}")
    return lmap


def _check_conv_net(net, kind):
    from ..conv import ConvFenchelNetwork

    if not isinstance(net, ConvFenchelNetwork):
        raise TypeError(f"net: {kind} conv blocks need a ConvFenchelNetwork, got {type(net).__name__} "
                        f"(use fenchel_cvx.blocks.BLOCKS for dense FenchelNetworks)")


# =====================================================================================
# X-blocks: the dense X-blocks with the map out of V a LinearMap (composition: blocks/out_maps.py)
# =====================================================================================
class ConvHiddenXBlock(HiddenXBlock):
    r"""hidden_x of a conv network: X_l for 1 ≤ l < L (module docstring): :class:`HiddenXBlock` with the map out
    of V given by ``lmap`` (:class:`~fenchel_cvx.blocks.out_maps.LayerOut`: A(W, V) = ``lmap.apply``, Aᵀ =
    ``lmap.adjoint``, ‖A‖₂ ≤ ``lmap.norm_bound(W)``, B = (b ⊗ 1_P) 1ᵀ, a sparse A in the CVXPY reference).

    Parameters
    ----------
    U : n x m          U_{l−1} (fixes backend, dtype and device); n = ``lmap.n_in``
    lmap : LinearMap   A_l, the map out of X_l (pools folded in, then conv or dense)
    W, b               W_l (``lmap.weight_shape``), b_l (``lmap.bias_shape``)
    X_next : k x m     X_{l+1} (k = ``lmap.n_out``, in dom f*_next)
    lam : float > 0    λ_{l−1};  lam_next : float ≥ 0  λ_l
    act, act_next      φ_{l−1} (domain of V) and φ_l
    current : n x m    present X_l (default warm start; default φ(U));  layer : int  l
    validate : bool    as for :class:`HiddenXBlock`
    """

    def __init__(self, U, lmap, W, b, X_next, lam, lam_next, act="relu", act_next="relu", current=None, layer=None,
                 *, validate=True):
        super().__init__(U, W, b, X_next, lam, lam_next, act, act_next, current, layer,
                         lmap=_check_map(lmap) if validate else lmap, validate=validate)

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvHiddenXBlock:
        """The block of X_l of a ConvFenchelNetwork (:meth:`HiddenXBlock.from_network`)."""
        _check_conv_net(net, cls.kind)
        return super().from_network(net, X0, y, Xs, layer, gamma, W_prev, b_prev)


class ConvLastXBlock(LastXBlock):
    r"""last_x of a conv network: X_L (module docstring): :class:`LastXBlock` with the map out of V given by
    ``lmap`` (as :class:`ConvHiddenXBlock`).

    Parameters
    ----------
    U : n x m          U_{L−1};  lmap : LinearMap A_L (pools/flatten, then the dense output map)
    W, b               W_L, b_L;  Y : k x m targets (one-hot/probability columns for cross-entropy)
    lam : float > 0    λ_{L−1};  act: φ_{L−1};  loss: name or Loss
    current : n x m    present X_L;  layer : int  L;  validate : as for :class:`LastXBlock`
    """

    def __init__(self, U, lmap, W, b, Y, lam, act="relu", loss="cross_entropy", current=None, layer=None, *,
                 validate=True):
        super().__init__(U, W, b, Y, lam, act, loss, current, layer, lmap=_check_map(lmap) if validate else lmap,
                         validate=validate)

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvLastXBlock:
        """The block of X_L of a ConvFenchelNetwork (:meth:`LastXBlock.from_network`)."""
        _check_conv_net(net, cls.kind)
        return super().from_network(net, X0, y, Xs, layer, gamma, W_prev, b_prev)


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

    def _wrap(self, lmap, inner, X, Y, layer, term=None, current=None, rho=None, gamma=None, bias=None):
        """Store the map, the dense block on (D, Y_d) (or a function that builds it: the design matrix is formed
        only when a solver needs it) and the shared attributes; ``term`` is the data term on the natural layout."""
        self.map, self.layer = lmap, layer
        self._inner, self._build = (None, inner) if callable(inner) else (inner, None)
        if self._inner is not None:
            rho, gamma, bias = self._inner.rho, self._inner.gamma, self._inner.bias
        self.rho, self.gamma, self.bias = rho, gamma, bias
        self.X, self.Y, self.m = X, Y, X.shape[1]
        self._term, self._current = term, current
        return self

    @property
    def inner(self):
        """The dense W-block on the design matrix D (:meth:`LinearMap.design`), built on first use."""
        if self._inner is None:
            self._inner = self._build()
        return self._inner

    def _trusted(self, lmap, X, target, loss, weight, head, W, b, prox: Proximal, layer, U=None):
        """Store trusted data (``validate=False``): the dense block on the design matrix is built on first use, as
        ``INNER(D, Y_d, *head, ρ, γ, W_mat, b, ...)`` with the data term's weight ``weight`` of the
        natural layout. ``U`` (n_out x m, A(W, X) + B at the present weights, or None) is handed
        to it as cols(U), so that the MM step does not form W_mat D again; a centre that is the
        present value stays the same array (the MM step then knows its start is the centre)."""
        mat = lambda a: None if a is None else lmap.weight_matrix(a)  # noqa: E731

        def build():
            Wm = mat(W)
            Wpm = Wm if prox.W_prev is W else mat(prox.W_prev)
            Ud = None if U is None else lmap.to_design_rows(U)
            return self.INNER(lmap.design(X), lmap.to_design_rows(target), *head, prox.rho,
                              prox.gamma, Wm, b, Wpm, prox.b_prev, prox.bias, layer, weight=weight,
                              validate=False, U=Ud)

        return self._wrap(lmap, build, X, target, layer, term=DataTerm(loss, target, weight), current=(W, b),
                          rho=prox.rho, gamma=prox.gamma, bias=prox.bias)

    @property
    def current(self):
        """The present (W, b) in the layer's shapes (default warm start)."""
        if self._inner is None and self._current is not None:
            return self._current
        return self._from_inner(self.inner.current)

    def gradient(self, sol=None):
        """(g_W, g_b) of the block objective without its proximal term, in the layer's shapes, through the
        LinearMap's weight gradient (no design matrix): g = (∂/∂W, ∂/∂b)⟨∇H(U), A(W, X) + B⟩ + (ρW, 0)."""
        W, b = self.current if sol is None else sol
        G = self._term.grad(self.map.affine(W, b, self.X))
        gW, gb = self.map.weight_grad(G, self.X)
        if self.rho:
            gW += self.rho * W
        if not self.bias:
            gb = namespace(gb).zeros_like(gb)
        return gW, gb

    def solve_adaptive(self, state, lr: float, warmup_steps: float = 0.0) -> BlockResult:
        """One Adam-metric step (:mod:`fenchel_cvx.blocks.adaptive`) in the layer's shapes; no design matrix."""
        t0 = time.perf_counter()
        W, b = self.current
        gW, gb = self.gradient()
        W, b = adaptive_update(W, b, gW, gb, state, lr, warmup_steps)
        return BlockResult(solution=(W, b), objective=None, lower_bound=None, iterations=1,
                           time=time.perf_counter() - t0, status="budget", method="adaptive")

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

    def problem(self, dpp: bool | None = None):
        """The dense W-block's ``cvxpy.Problem`` on the design matrix D (variables W_mat, b); see HiddenWBlock.problem."""
        return self.inner.problem(dpp)

    def reference_solution(self):
        """(W, b) in the layer's shapes (numpy float64) from the solved ``problem()``."""
        return self._from_inner(self.inner.reference_solution())

    def set_reference_point(self, sol):
        """Set the CVXPY variables to ``sol`` (to compare ``problem().objective.value`` with :meth:`objective`)."""
        self.inner.set_reference_point(self._to_inner(sol))

    def certified_bound(self, sol):
        """The dense W-block's certified Fenchel dual bound (:meth:`HiddenWBlock.certified_bound`) from ``sol`` in the
        layer's shapes."""
        return self.inner.certified_bound(self._to_inner(sol))

    def objective_interval(self, sol):
        """A bracket of the exact P(W, b) at ``sol`` (float64 + rounding allowance)."""
        return self.inner.objective_interval(self._to_inner(sol))

    def dual_objective(self, A, a1_tol: float | None = None) -> float:
        """Fenchel dual value D(A) at a dual point A (C_out x P·m, the design layout); see HiddenWBlock."""
        return self.inner.dual_objective(A, a1_tol)

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 200, max_cg: int | None = None) -> BlockResult:
        """Batched Newton-CG of the dense W-block on (D, Y_d); the certified bound is its Fenchel dual value."""
        res = self.inner.solve_fast(init=None if init is None else self._to_inner(init, "init"), tol=tol,
                                    max_iter=max_iter, max_cg=max_cg)
        res.solution = self._from_inner(res.solution)
        return res

    def solve_fixed(self, init=None, iters: int = 1, curvature: float = 1.0,
                    cache: dict | None = None) -> BlockResult:
        """MM ridge steps of the dense W-block on the design matrix
        (:meth:`HiddenWBlock.solve_fixed`; ``cache``: its per-input cache); ``info["U"]`` is U at
        the result in the layer's n_out x m layout."""
        res = self.inner.solve_fixed(init=None if init is None else self._to_inner(init, "init"), iters=iters,
                                     curvature=curvature, cache=cache)
        res.solution = self._from_inner(res.solution)
        res.info["U"] = self.map.from_design_rows(res.info["U"])
        return res

    def update(self, net, Xs, sol):
        """Write ``sol = (W, b)`` into ``net.W[layer]``, ``net.b[layer]`` (the net's backend/dtype); return Xs."""
        if self.layer is None:
            raise ValueError(f"{self.kind}: update needs a block built with from_network (layer is unknown)")
        W, b = self._to_inner(sol)
        W = self.map.weight_from_matrix(W)
        if b is None:
            b = namespace(W).zeros(self.map.bias_shape, like=W)
        write_layer(net, self.layer, W, b)
        return Xs

    def _inner_weights(self, X, W, b, W_prev, b_prev):
        on_x = lambda a, name, shape: None if a is None else like(check_array(a, name, shape), X)  # noqa: E731
        W = on_x(W, "W", self.map.weight_shape)
        W_prev = on_x(W_prev, "W_prev", self.map.weight_shape)
        b = on_x(b, "b", self.map.bias_shape)
        b_prev = on_x(b_prev, "b_prev", self.map.bias_shape)
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
    #: the dense block on the design matrix
    INNER = HiddenWBlock

    def __init__(self, X, Y, lmap, activation, lam, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None,
                 bias=True, layer=None, *, validate=True, U=None):
        # trusted (from_state): W, b given, ``activation`` an Activation; U: A(W, X) + B or None
        if not validate:
            self.act, self.lam = activation, lam
            self._trusted(lmap, X, Y, _losses.FenchelYoungLoss(activation), lam / X.shape[1], (activation, lam),
                          W, b, Proximal(rho, gamma, W if W_prev is None else W_prev,
                                         b if b_prev is None else b_prev, bias), layer, U)
            return
        self.map = _check_map(lmap)
        X = check_array(X, "X", (lmap.n_in, None))
        m = X.shape[1]
        Y = like(check_array(Y, "Y", (lmap.n_out, m)), X)
        self.lam = check_number(lam, "lam", lo=0.0)
        Wm, b, Wpm, bp = self._inner_weights(X, W, b, W_prev, b_prev)
        D = lmap.design(X)
        Yd = lmap.to_design_rows(Y)
        inner = HiddenWBlock(D, Yd, activation, self.lam * lmap.positions, rho, gamma=gamma, W=Wm, b=b,
                             W_prev=Wpm, b_prev=bp, bias=bias, layer=layer)
        self.act = inner.act
        self._wrap(lmap, inner, X, Y, layer, term=DataTerm(_losses.FenchelYoungLoss(inner.act), Y, self.lam / m))

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(net.L))

    @classmethod
    def from_state(cls, state, layer: int, gamma: float = 0.0, W_prev=None, b_prev=None, U=None) -> ConvHiddenWBlock:
        """W-block of weight layer ``layer`` (< L) at a LiftedState (trusted); H = (λ_l/m)·FY(φ_l) on the design
        layout (the same sum as on the natural layout). ``U``: A(W_l, X_l) + B at the state's
        weights, when known."""
        l = int(layer)
        net = state.net
        return cls(state.inputs(l), state.target(l), net.maps[l], net.activations[l], float(state.lam[l]),
                   float(net.rho[l]), float(gamma), state.W[l], state.b[l], W_prev, b_prev,
                   net.bias, l, validate=False, U=U)

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
    #: the dense block on the design matrix
    INNER = LastWBlock

    def __init__(self, X, Y, lmap, loss, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None, bias=True,
                 layer=None, *, validate=True, U=None):
        # trusted (from_state): W, b given, ``loss`` a Loss and Y its k x m targets; U or None
        if not validate:
            self.loss = loss
            self._trusted(lmap, X, Y, loss, 1.0 / X.shape[1], (loss,), W, b,
                          Proximal(rho, gamma, W if W_prev is None else W_prev, b if b_prev is None else b_prev,
                                   bias), layer, U)
            return
        self.map = _check_map(lmap)
        if lmap.is_conv:
            raise ValueError(f"lmap: the output layer must be dense, got {lmap!r}")
        X = check_array(X, "X", (lmap.n_in, None))
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
        inner = LastWBlock(D, Y, loss, rho, gamma=gamma, W=Wm, b=b, W_prev=Wpm, b_prev=bp, bias=bias, layer=layer)
        self.loss = inner.loss
        self._wrap(lmap, inner, X, inner.Y, layer, term=DataTerm(loss, inner.Y, 1.0 / X.shape[1]))

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L]

    @classmethod
    def from_state(cls, state, layer: int | None = None, gamma: float = 0.0, W_prev=None, b_prev=None,
                   U=None) -> ConvLastWBlock:
        """W-block of the output layer at a LiftedState (trusted): the dense block on pools(X_L);
        ``U``: A(W_L, X_L) + B at the state's weights, when known."""
        net = state.net
        L = net.L
        return cls(state.inputs(L), state.Y, net.maps[L], net.loss, float(net.rho[L]), float(gamma), state.W[L],
                   state.b[L], W_prev, b_prev, net.bias, L, validate=False, U=U)

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
