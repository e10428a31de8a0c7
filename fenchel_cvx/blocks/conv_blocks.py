r"""BCD blocks of convolutional lifted networks (:class:`fenchel_cvx.conv.ConvFenchelNetwork`).

Shapes: features x samples. A lifted variable X_l is n_l x m (the flattened **pre-pooling**
activation maps); layer l's linear map A_l = op_l ∘ pool_l (:class:`~fenchel_cvx.layers.LinearMap`:
average poolings folded in, then a convolution or a dense map) sends it to U_l = A_l(W_l, X_l) +
(b_l ⊗ 1_P) 1ᵀ. With A = A_l (the map *out of* the block's variable for X-blocks), ``B`` = (b_l ⊗ 1_P) 1ᵀ
and "all data terms carry 1/m", the four blocks are those of docs/design.md §2 with W V replaced by A(W, V):

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
rule). Reference: a CVXPY problem over V (n x m) with A as an explicit scipy sparse matrix; the data products are
precomputed in numpy, C = λU + λ_next Aᵀ X_next (hidden) or λU + Aᵀ Y (last), B and c0 = ⟨B, X_next⟩ (resp. ⟨Y, B⟩) --
Parameters (DPP) up to :data:`fenchel_cvx.blocks.x_blocks.DPP_MAX_PARAMS` entries, constants above; A stays a constant.

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

import dataclasses
import time

import numpy as np

from ..activations import Activation
from ..backend import is_torch, like, namespace
from ..layers import LinearMap
from ..losses import FenchelYoungLoss, Loss
from ..losses import get as get_loss
from ..validation import check_array, check_number
from .adaptive import adaptive_update
from .base import Block, BlockResult, expect
from .glm import DataTerm
from .instances import complete_state
from .mm import Proximal
from .w_blocks import HiddenWBlock, LastWBlock, proximal_of, write_layer
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

    ``__init__`` is :class:`HiddenXBlock`'s (trusted; ``out`` a ``LayerOut``). Arguments of
    :meth:`from_arrays` (validated):

    U : n x m          U_{l−1} (fixes backend, dtype and device); n = ``lmap.n_in``
    lmap : LinearMap   A_l, the map out of X_l (pools folded in, then conv or dense)
    W, b               W_l (``lmap.weight_shape``), b_l (``lmap.bias_shape``)
    X_next : k x m     X_{l+1} (k = ``lmap.n_out``, in dom f*_next)
    lam : float > 0    λ_{l−1};  lam_next : float ≥ 0  λ_l
    act, act_next      φ_{l−1} (domain of V) and φ_l
    current : n x m    present X_l (default warm start; default φ(U));  layer : int  l
    """

    @classmethod
    def from_arrays(cls, U, lmap, W, b, X_next, lam, lam_next, act="relu", act_next="relu",
                    current=None, layer=None) -> ConvHiddenXBlock:
        """The block from arrays, names and numbers, validated (:meth:`HiddenXBlock.from_arrays` with ``lmap``)."""
        return super().from_arrays(U, W, b, X_next, lam, lam_next, act, act_next, current, layer,
                                   lmap=_check_map(lmap))

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvHiddenXBlock:
        """The block of X_l of a ConvFenchelNetwork (:meth:`HiddenXBlock.from_network`)."""
        _check_conv_net(net, cls.kind)
        return super().from_network(net, X0, y, Xs, layer, gamma, W_prev, b_prev)


class ConvLastXBlock(LastXBlock):
    r"""last_x of a conv network: X_L (module docstring): :class:`LastXBlock` with the map out of V given by
    ``lmap`` (as :class:`ConvHiddenXBlock`).

    ``__init__`` is :class:`LastXBlock`'s (trusted; ``out`` a ``LayerOut``). Arguments of
    :meth:`from_arrays` (validated):

    U : n x m          U_{L−1};  lmap : LinearMap A_L (pools/flatten, then the dense output map)
    W, b               W_L, b_L;  Y : k x m targets (one-hot/probability columns for cross-entropy)
    lam : float > 0    λ_{L−1};  act: φ_{L−1};  loss: name or Loss
    current : n x m    present X_L;  layer : int  L
    """

    @classmethod
    def from_arrays(cls, U, lmap, W, b, Y, lam, act="relu", loss="cross_entropy", current=None,
                    layer=None) -> ConvLastXBlock:
        """The block from arrays, names and numbers, validated (:meth:`LastXBlock.from_arrays` with ``lmap``)."""
        return super().from_arrays(U, W, b, Y, lam, act, loss, current, layer,
                                   lmap=_check_map(lmap))

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvLastXBlock:
        """The block of X_L of a ConvFenchelNetwork (:meth:`LastXBlock.from_network`)."""
        _check_conv_net(net, cls.kind)
        return super().from_network(net, X0, y, Xs, layer, gamma, W_prev, b_prev)


# =====================================================================================
# W-blocks: the dense W-blocks on the im2col design matrix
# =====================================================================================
def _layer_weights(lmap, X, W, b, W_prev, b_prev):
    """W, W_prev (checked in ``lmap.weight_shape``, as C_out x fan_in matrices), b, b_prev
    (``lmap.bias_shape``) on X's backend; None stays None."""

    def on_x(a, name, shape):
        return None if a is None else like(check_array(a, name, shape), X)

    W = on_x(W, "W", lmap.weight_shape)
    W_prev = on_x(W_prev, "W_prev", lmap.weight_shape)
    b = on_x(b, "b", lmap.bias_shape)
    b_prev = on_x(b_prev, "b_prev", lmap.bias_shape)
    mat = lambda a: None if a is None else lmap.weight_matrix(a)  # noqa: E731
    return mat(W), b, mat(W_prev), b_prev


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

    def _store(self, lmap, X, target, loss, weight, head, prox: Proximal, W, b, layer, inner, U=None,
               workspace: dict | None = None):
        """Store trusted data: the map, the data term ``weight``·ℓ(target, ·) on the natural
        layout, the regularisation (centre in the layer's shapes) and the dense block on the design
        matrix -- ``inner`` when given, else built on first use as
        ``INNER(D, Y_d, *head, prox with W_mat centre, W_mat, b, layer)`` (the design matrix is
        formed only when a solver needs it). ``U`` (n_out x m, A(W, X) + B at the present weights,
        or None) is handed to it as cols(U), so that the MM step does not form W_mat D again; a
        centre that is the present value stays the same array (the MM step then knows its start is the centre).
        ``workspace``: the caller's dict that keeps the design matrix's array between blocks of this layer
        (:meth:`LinearMap.design`; the block must be done with before the next one of the layer builds D)."""
        expect(lmap, LinearMap, "lmap", type(self))
        expect(prox, Proximal, "prox", type(self))
        self.map, self.layer = lmap, layer
        self.rho, self.gamma, self.bias = prox.rho, prox.gamma, prox.bias
        self.X, self.Y, self.m = X, target, X.shape[1]
        self._term, self._current = DataTerm(loss, target, weight), (W, b)
        mat = lmap.weight_matrix

        def build():
            Wm = mat(W)
            prox_mat = dataclasses.replace(prox, W_prev=Wm if prox.W_prev is W else mat(prox.W_prev))
            Ud = None if U is None else lmap.to_design_rows(U, workspace)
            return self.INNER(lmap.design(X, workspace), lmap.to_design_rows(target), *head, prox_mat, Wm,
                              b, layer, weight=weight, U=Ud)

        self._inner, self._build = inner, build

    @property
    def inner(self):
        """The dense W-block on the design matrix D (:meth:`LinearMap.design`), built on first use."""
        if self._inner is None:
            self._inner = self._build()
        return self._inner

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
        """The dense W-block's ``cvxpy.Problem`` on the design matrix D (variables W_mat, b); see
        HiddenWBlock.problem."""
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

    def solve_fast(self, init=None, tol: float | None = None, max_iter: int = 200,
                   max_cg: int | None = None) -> BlockResult:
        """Batched Newton-CG of the dense W-block on (D, Y_d); the certified bound is its Fenchel dual value."""
        res = self.inner.solve_fast(init=None if init is None else self._to_inner(init, "init"), tol=tol,
                                    max_iter=max_iter, max_cg=max_cg)
        res.solution = self._from_inner(res.solution)
        return res

    def solve_fixed(self, init=None, iters: int = 1, curvature: float = 1.0,
                    cache: dict | None = None, final_u: bool = True) -> BlockResult:
        """MM ridge steps of the dense W-block on the design matrix
        (:meth:`HiddenWBlock.solve_fixed`; ``cache``: its per-input cache); ``info["U"]`` is U at
        the result in the layer's n_out x m layout (None when ``final_u=False`` skipped it)."""
        res = self.inner.solve_fixed(init=None if init is None else self._to_inner(init, "init"), iters=iters,
                                     curvature=curvature, cache=cache, final_u=final_u)
        res.solution = self._from_inner(res.solution)
        if res.info["U"] is not None:
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

class ConvHiddenWBlock(_ConvWBlock):
    r"""Hidden-layer kernel and bias (W_l, b_l), l < L, of a conv network (module docstring).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    X : n_in x m       input activations X_l (pre-pooling map; X_0 = data), n_in = ``lmap.n_in``
    Y : n_out x m      next activations X_{l+1} (in dom f*_l), n_out = ``lmap.n_out``
    lmap : LinearMap   A_l;  act: the Activation φ_l;  lam: λ_l ≥ 0
    prox : Proximal    ρ_l, γ (ρ + γ > 0), the centre (W_prev, b_prev) in the layer's shapes, the bias flag
    W, b               present value in the layer's shapes (default warm start);  layer: l
    inner              the dense block on the design matrix when already built (else built on first use)
    """

    kind = "hidden_w"
    depends_on = ("activation",)
    #: the dense block on the design matrix
    INNER = HiddenWBlock

    def __init__(self, X, Y, lmap, act, lam, prox, W, b, layer=None, *, inner=None, U=None, workspace=None):
        self.act, self.lam = expect(act, Activation, "act", type(self)), lam
        self._store(lmap, X, Y, FenchelYoungLoss(act), lam / X.shape[1], (act, lam), prox, W, b,
                    layer, inner, U, workspace)

    @classmethod
    def from_arrays(cls, X, Y, lmap, activation, lam, rho, gamma=0.0, W=None, b=None, W_prev=None,
                    b_prev=None, bias=True, layer=None) -> ConvHiddenWBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named): X
        (``lmap.n_in`` x m), Y (``lmap.n_out`` x m, in dom f*_l), ``lmap`` a LinearMap,
        ``activation`` a name or Activation, λ ≥ 0, ρ ≥ 0, γ ≥ 0 (ρ + γ > 0), W, b, W_prev, b_prev
        in the layer's shapes (defaults as for :meth:`HiddenWBlock.from_arrays`), ``bias``,
        ``layer``; the dense block on (D, Y_d) with λ·P checks the rest."""
        lmap = _check_map(lmap)
        X = check_array(X, "X", (lmap.n_in, None))
        Y = like(check_array(Y, "Y", (lmap.n_out, X.shape[1])), X)
        lam = check_number(lam, "lam", lo=0.0)
        Wm, b, Wpm, bp = _layer_weights(lmap, X, W, b, W_prev, b_prev)
        inner = HiddenWBlock.from_arrays(lmap.design(X), lmap.to_design_rows(Y), activation,
                                         lam * lmap.positions, rho, gamma=gamma, W=Wm, b=b,
                                         W_prev=Wpm, b_prev=bp, bias=bias, layer=layer)
        W, b = lmap.weight_from_matrix(inner.current[0]), inner.current[1]
        prox = dataclasses.replace(inner.prox, W_prev=lmap.weight_from_matrix(inner.W_prev))
        return cls(X, Y, lmap, inner.act, lam, prox, W, b, layer, inner=inner)

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(net.L))

    @classmethod
    def from_state(cls, state, layer: int, gamma: float = 0.0, W_prev=None, b_prev=None, U=None,
                   workspace: dict | None = None) -> ConvHiddenWBlock:
        """W-block of weight layer ``layer`` (< L) at a LiftedState (trusted); H = (λ_l/m)·FY(φ_l) on the design
        layout (the same sum as on the natural layout). ``U``: A(W_l, X_l) + B at the state's weights, when known;
        ``workspace``: the caller's dict for the design matrix's array (:meth:`_ConvWBlock._store`)."""
        l = int(layer)
        net = state.net
        W, b = state.W[l], state.b[l]
        prox = proximal_of(net.rho[l], gamma, W, b, W_prev, b_prev, net.bias)
        return cls(state.inputs(l), state.target(l), net.maps[l], net.activations[l],
                   float(state.lam[l]), prox, W, b, l, U=U, workspace=workspace)

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None) -> ConvHiddenWBlock:
        """Block of weight layer ``layer`` (0 ≤ layer < L) of a ConvFenchelNetwork at activations ``Xs``."""
        _check_conv_net(net, "hidden_w")
        l = cls.resolve_layer(net, layer)  # None: the one hidden layer, when there is one
        X0 = net.check_input(X0)
        Xs = net.check_hidden([like(check_array(X, f"X[{i}]", (None, None)), X0) for i, X in enumerate(Xs, 1)],
                              X0.shape[1])
        prev = [X0] + list(Xs)
        return cls.from_arrays(prev[l], Xs[l], net.maps[l], net.activations[l], float(net.lam[l]),
                               float(net.rho[l]), gamma=gamma, W=like(net.W[l], X0),
                               b=like(net.b[l], X0),
                               W_prev=None if W_prev is None else like(W_prev, X0),
                               b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias,
                               layer=l)


class ConvLastWBlock(_ConvWBlock):
    r"""Output weights (W_L, b_L) of a conv network: a dense map of pools(X_L) (module docstring).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    X : n_in x m       last hidden activations X_L (pre-pooling map), n_in = ``lmap.n_in``
    Y : k x m          targets;  lmap: the dense output LinearMap;  loss: the Loss
    prox, W, b, layer, inner: as for :class:`ConvHiddenWBlock`
    """

    kind = "last_w"
    depends_on = ("loss",)
    #: the dense block on the design matrix
    INNER = LastWBlock

    def __init__(self, X, Y, lmap, loss, prox, W, b, layer=None, *, inner=None, U=None):
        self.loss = expect(loss, Loss, "loss", type(self))
        self._store(lmap, X, Y, loss, 1.0 / X.shape[1], (loss,), prox, W, b, layer, inner, U)

    @classmethod
    def from_arrays(cls, X, Y, lmap, loss, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None,
                    bias=True, layer=None) -> ConvLastWBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named): X
        (``lmap.n_in`` x m), Y (k x m targets, or integer labels (m,) for cross-entropy), ``lmap`` a
        dense LinearMap, ``loss`` a name or Loss; ρ, γ, W, b, W_prev, b_prev, bias, layer as for
        :meth:`ConvHiddenWBlock.from_arrays`."""
        lmap = _check_map(lmap)
        if lmap.is_conv:
            raise ValueError(f"lmap: the output layer must be dense, got {lmap!r}")
        X = check_array(X, "X", (lmap.n_in, None))
        Wm, b, Wpm, bp = _layer_weights(lmap, X, W, b, W_prev, b_prev)
        k = lmap.n_out
        loss = get_loss(loss)
        if not (is_torch(Y) or isinstance(Y, np.ndarray)):
            Y = np.asarray(Y)
        Y = like(loss.targets(Y, k), X)
        if Wm is None:
            Wm = namespace(X).zeros((k, lmap.n_mid), like=X)
        inner = LastWBlock.from_arrays(lmap.design(X), Y, loss, rho, gamma=gamma, W=Wm, b=b,
                                       W_prev=Wpm, b_prev=bp, bias=bias, layer=layer)
        W, b = lmap.weight_from_matrix(inner.current[0]), inner.current[1]
        prox = dataclasses.replace(inner.prox, W_prev=lmap.weight_from_matrix(inner.W_prev))
        return cls(X, inner.Y, lmap, inner.loss, prox, W, b, layer, inner=inner)

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L]

    @classmethod
    def from_state(cls, state, layer: int | None = None, gamma: float = 0.0, W_prev=None, b_prev=None,
                   U=None, workspace: dict | None = None) -> ConvLastWBlock:
        """W-block of the output layer at a LiftedState (trusted): the dense block on pools(X_L);
        ``U``: A(W_L, X_L) + B at the state's weights, when known; ``workspace`` unused (no im2col matrix)."""
        net = state.net
        L = net.L
        W, b = state.W[L], state.b[L]
        return cls(state.inputs(L), state.Y, net.maps[L], net.loss,
                   proximal_of(net.rho[L], gamma, W, b, W_prev, b_prev, net.bias), W, b, L, U=U)

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
        return cls.from_arrays(X, Y, net.maps[L], net.loss, float(net.rho[L]), gamma=gamma,
                               W=like(net.W[L], X0), b=like(net.b[L], X0),
                               W_prev=None if W_prev is None else like(W_prev, X0),
                               b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias,
                               layer=L)


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
    """``(net, X0, y, Xs)``: a random conv instance that reaches kinks and domain edges (cf.
    ``instances.random_state``).

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
