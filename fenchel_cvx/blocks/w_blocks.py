r"""The W-blocks of block-coordinate descent: hidden weights (W_l, b_l) and output weights (W_L, b_L).

Shapes (features x samples): the block's input activations X are n_in x m, W is
n_out x n_in, b has shape (n_out,), U = W X + b 1ᵀ is n_out x m. With γ ≥ 0 a proximal
term towards (W_prev, b_prev) (the mini-batch scheme) and "all data terms carry 1/m":

* ``hidden_w`` (:class:`HiddenWBlock`, weight layer l < L; X = X_l, Y = X_{l+1} ∈ dom f*_l)::

      P(W, b) = (λ_l/m) Σ_ij [f_l(U_ij) − U_ij Y_ij] + ρ_l/2 ‖W‖² + γ/2 (‖W − W_prev‖² + ‖b − b_prev‖²)

  a generalised linear model with a Fenchel–Young loss, separable over rows (neurons);
  ∇_W P = λ(φ(U) − Y)Xᵀ/m + ρW + γ(W − W_prev).

* ``last_w`` (:class:`LastWBlock`, layer L; X = X_L, Y = targets k x m)::

      P(W, b) = ℓ(Y, U)/m + ρ_L/2 ‖W‖² + γ/2 (‖W − W_prev‖² + ‖b − b_prev‖²)

  multinomial logistic regression (cross-entropy) or ridge regression (squared loss).

With γ = 0 the block objective equals F_λ minus a constant independent of (W, b). If the
network has no biases, b stays 0. ρ + γ > 0 is required (W is then strongly convex
with modulus ρ + γ; otherwise the block may have no minimiser). With γ = 0 and a bias,
b is unregularised: the block then has a minimiser only if the data allow it, which is
checked at construction (hidden block: no row of Y lies entirely on an edge of dom f*
that φ never attains, e.g. an all-zero row for sigmoid; cross-entropy: every class has
positive target mass); a clear ``ValueError`` suggests γ > 0 otherwise.

Reference: :meth:`problem` is a DCP ``cvxpy.Problem`` over Variables ``W`` and ``b`` (``act.f_cvx`` /
``loss.cvx``, ⟨U, Y⟩ = ⟨W, Y Xᵀ⟩ + ⟨b, Y 1⟩ with Y Xᵀ formed in numpy); DPP with Parameters ``X``, ``YXt``,
``Y1`` and the proximal centres while n_out·n_in·m² ≤ :attr:`DPP_MAX_SIZE` (CVXPY's DPP canonicalisation
of W @ X with a Parameter X needs ~8·n_out·n_in·m² bytes and compiles several times slower), else
constants. The data term is one loss object (:mod:`fenchel_cvx.losses`) with weight w -- the Fenchel–Young
loss of φ_l with w = λ/m, or the network's loss with w = 1/m -- (:class:`fenchel_cvx.blocks.glm.DataTerm`).

Fixed-budget path: :meth:`solve_fixed`, majorise–minimise ridge steps (:mod:`fenchel_cvx.blocks.mm`; the
trainers'), with proximal MM steps where the ridge system has no Cholesky factor. Fast path:
:meth:`solve_fast`, the batched preconditioned Newton-CG of :mod:`fenchel_cvx.blocks.glm` (in float32 first
in float32, then -- where float32 rounding stalls the certificate -- in float64), never above its start.
**Certified bound** (:meth:`certified_bound`, also the reference's): the Fenchel dual value

    D(A) = −H*(A) − R*(−A Xᵀ) − Q*(−A 1) ≤ min P,

H*(A) = (λ/m) Σ f*(Y + A m/λ) (hidden) or ℓ*(Y, mA)/m (last), R*(S) = ‖S + γW_prev‖²/(2(ρ+γ)) − γ/2‖W_prev‖²,
Q*(s) = ⟨s, b_prev⟩ + ‖s‖²/(2γ) (γ > 0), ι{s = 0} (γ = 0: A1 = 0), 0 (no bias), at A = w(V − Y) with
V = ``loss.mean_point(Y, U)`` ∈ dom H*, in float64 after an exact bias step (γ = 0), with the A1 = 0 repair
and the rounding allowance of :func:`fenchel_cvx.blocks.certificates.w_dual_bound`. :meth:`dual_objective`
evaluates D(A) from the conjugates at any A (a diagnostic in the working dtype, not certified).
"""

from __future__ import annotations

import numpy as np

from .. import activations as _act
from .. import losses as _loss
from ..backend import is_torch, like
from ..validation import check_array, check_number
from .base import expect
from .mm import Proximal
from .w_base import WBlockBase, check_bias_attained, check_strongly_convex, proximal_of, write_layer

__all__ = ["HiddenWBlock", "LastWBlock", "write_layer", "proximal_of", "data_term_of"]


def data_term_of(net, l: int, lam, m: int):
    """(loss, weight) of W-block l's data term H(U) = w·ℓ(Y, U) for a network with multipliers ``lam`` on
    batches of m samples: the Fenchel–Young loss of φ_l with w = λ_l/m (l < L), the network's loss with
    w = 1/m (l = L). The one statement of "which data term" (the blocks and the Dask runner's κ)."""
    if l < net.L:
        return _loss.FenchelYoungLoss(net.activations[l]), float(lam[l]) / m
    return net.loss, 1.0 / m


class HiddenWBlock(WBlockBase):
    r"""Hidden-layer weights (W_l, b_l), l < L: a GLM with a Fenchel–Young loss (module docstring).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    X : n_in x m input activations X_l (X_0 is the data).
    Y : n_out x m next activations X_{l+1}, entries in dom f*_l.
    act : the :class:`~fenchel_cvx.activations.Activation` φ_l.
    lam : λ_l ≥ 0.
    prox : the :class:`~fenchel_cvx.blocks.mm.Proximal` (ρ, γ with ρ + γ > 0, the centre W_prev,
        b_prev, the bias flag; :func:`~fenchel_cvx.blocks.w_base.proximal_of` builds it).
    W, b : the present value (n_out x n_in, (n_out,)): the default warm start.
    layer : l (used by ``update`` and in messages).
    U : W X + b 1ᵀ when known (a cache);  weight : the data term's weight (default λ/m).
    """

    kind = "hidden_w"
    depends_on = ("activation",)  # the loss does not enter this block

    def __init__(self, X, Y, act, lam, prox, W, b, layer=None, *, U=None, weight=None):
        expect(act, _act.Activation, "act", type(self))
        expect(prox, Proximal, "prox", type(self))
        weight = lam / X.shape[1] if weight is None else weight
        self._assign(X, Y, _loss.FenchelYoungLoss(act), weight, prox, W, b, layer, U)
        self.act, self.lam = act, lam

    @classmethod
    def from_arrays(cls, X, Y, activation, lam, rho, gamma=0.0, W=None, b=None, W_prev=None,
                    b_prev=None, bias=True, layer=None) -> HiddenWBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named).

        X (n_in x m), Y (n_out x m, in dom f*_l), ``activation`` a name or Activation, λ ≥ 0, ρ ≥ 0,
        γ ≥ 0 (ρ + γ > 0), the present (W, b) (zeros if omitted), the proximal centre
        (W_prev, b_prev) (default (W, b)), ``bias`` (False: b stays 0) and ``layer``. With γ = 0, a
        bias and λ > 0, a row of Y with no bias minimiser is refused.
        """
        Y = check_array(Y, "Y", (None, None))
        act = _act.get(activation)
        n_out = Y.shape[0]
        X, W, b, prox = cls._checked_args(X, n_out, rho, gamma, W, b, W_prev, b_prev, bias)
        Y = like(check_array(Y, "Y", (n_out, X.shape[1])), X)
        if not act.in_domain(Y):
            lo, hi = act.domain
            raise ValueError(f"Y: entries outside the domain [{lo}, {hi}] of f* for activation "
                             f"{act.name}")
        lam = check_number(lam, "lam", lo=0.0)
        if prox.bias and prox.gamma == 0.0 and lam > 0:
            check_bias_attained(_loss.FenchelYoungLoss(act), Y, "rows")
        return cls(X, Y, act, lam, prox, W, b, layer)

    @classmethod
    def layers(cls, net) -> list[int]:
        return list(range(net.L))

    @classmethod
    def from_state(cls, state, layer: int, gamma: float = 0.0, W_prev=None, b_prev=None, U=None) -> HiddenWBlock:
        """W-block of weight layer ``layer`` (< L) at a :class:`~fenchel_cvx.blocks.state.LiftedState` (trusted)."""
        l = int(layer)
        net = state.net
        loss, weight = data_term_of(net, l, state.lam, state.m)
        if net.bias and gamma == 0.0 and weight > 0:
            check_bias_attained(loss, state.target(l), "rows")
        W, b = state.W[l], state.b[l]
        prox = proximal_of(net.rho[l], gamma, W, b, W_prev, b_prev, net.bias)
        return cls(state.inputs(l), state.target(l), loss.act, float(state.lam[l]), prox, W, b, l,
                   U=U, weight=weight)

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None):
        """Block of weight layer ``layer`` (0 ≤ layer < L; None when L = 1) of ``net`` at activations ``Xs``."""
        layer = cls.resolve_layer(net, layer)
        check_strongly_convex(net, layer, gamma)
        X0 = net.check_input(X0)
        Xs = net.check_hidden(Xs, X0.shape[1])
        prev = [X0] + list(Xs)
        return cls.from_arrays(prev[layer], Xs[layer], net.activations[layer], net.lam[layer],
                               net.rho[layer], gamma=gamma, W=like(net.W[layer], X0),
                               b=like(net.b[layer], X0),
                               W_prev=None if W_prev is None else like(W_prev, X0),
                               b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias,
                               layer=layer)


class LastWBlock(WBlockBase):
    r"""Output weights (W_L, b_L): cross-entropy (multinomial logistic) or squared loss (ridge).

    Parameters (``__init__`` stores them as they are: trusted; :meth:`from_arrays` validates)
    ----------
    X : n_in x m last hidden activations X_L (the data when L = 0).
    Y : k x m targets (one-hot/probability columns for cross-entropy).
    loss : the :class:`~fenchel_cvx.losses.Loss`.
    prox, W, b, layer, U, weight : as for :class:`HiddenWBlock` (weight default 1/m).
    """

    kind = "last_w"
    depends_on = ("loss",)  # no activation enters the output layer

    def __init__(self, X, Y, loss, prox, W, b, layer=None, *, U=None, weight=None):
        expect(loss, _loss.Loss, "loss", type(self))
        expect(prox, Proximal, "prox", type(self))
        weight = 1.0 / X.shape[1] if weight is None else weight
        self._assign(X, Y, loss, weight, prox, W, b, layer, U)

    @classmethod
    def from_arrays(cls, X, Y, loss, rho, gamma=0.0, W=None, b=None, W_prev=None, b_prev=None,
                    bias=True, layer=None) -> LastWBlock:
        """The block from arrays, names and numbers, validated (each rejected argument named).

        X (n_in x m), Y k x m targets (one-hot/probability columns for cross-entropy) or integer
        labels (m,) (then ``W`` must be given to fix k), ``loss`` a name or Loss; ρ, γ, W, b,
        W_prev, b_prev, bias, layer as for :meth:`HiddenWBlock.from_arrays`. With γ = 0 and a bias,
        a class with no bias minimiser is refused.
        """
        loss = _loss.get(loss)
        if is_torch(Y) or isinstance(Y, np.ndarray):
            ndim = len(Y.shape)
        else:
            Y = np.asarray(Y)
            ndim = Y.ndim
        if ndim == 2:
            k = Y.shape[0]
        elif W is not None:
            k = W.shape[0]
        else:
            raise ValueError("Y: integer labels need W (or pass k x m targets) to fix the number "
                             "of outputs")
        X = check_array(X, "X", (None, None))
        Y = like(loss.targets(Y, k), X)
        X, W, b, prox = cls._checked_args(X, k, rho, gamma, W, b, W_prev, b_prev, bias)
        Y = like(check_array(Y, "Y", (k, X.shape[1])), X)
        if prox.bias and prox.gamma == 0.0:
            check_bias_attained(loss, Y, "classes")
        return cls(X, Y, loss, prox, W, b, layer)

    @classmethod
    def layers(cls, net) -> list[int]:
        return [net.L]

    @classmethod
    def from_state(cls, state, layer: int | None = None, gamma: float = 0.0, W_prev=None, b_prev=None,
                   U=None) -> LastWBlock:
        """W-block of the output layer L at a :class:`~fenchel_cvx.blocks.state.LiftedState` (trusted)."""
        net = state.net
        L = net.L
        loss, weight = data_term_of(net, L, state.lam, state.m)
        if net.bias and gamma == 0.0:
            check_bias_attained(loss, state.Y, "classes")
        W, b = state.W[L], state.b[L]
        prox = proximal_of(net.rho[L], gamma, W, b, W_prev, b_prev, net.bias)
        return cls(state.inputs(L), state.Y, loss, prox, W, b, L, U=U, weight=weight)

    @classmethod
    def from_network(cls, net, X0, y, Xs, layer=None, gamma=0.0, W_prev=None, b_prev=None):
        """Block of the output layer L of ``net`` (``layer`` may be None or L)."""
        cls.resolve_layer(net, layer)
        check_strongly_convex(net, net.L, gamma)
        X0 = net.check_input(X0)
        m = X0.shape[1]
        Xs = net.check_hidden(Xs, m)
        Y = like(net.check_targets(y, m), X0)
        X = Xs[-1] if net.L > 0 else X0
        L = net.L
        return cls.from_arrays(X, Y, net.loss, net.rho[L], gamma=gamma, W=like(net.W[L], X0),
                               b=like(net.b[L], X0),
                               W_prev=None if W_prev is None else like(W_prev, X0),
                               b_prev=None if b_prev is None else like(b_prev, X0), bias=net.bias,
                               layer=L)
