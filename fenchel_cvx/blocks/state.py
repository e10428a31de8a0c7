r"""A training state as the blocks read it, and the blocks of a state.

Shapes: features x samples. A :class:`LiftedState` is what a trainer holds on one batch (or one
data shard) of m samples: the network (activations, loss, bias, linear maps), the working
parameters W_l, b_l (backend arrays), the multipliers λ_l in use, the data X_0 (d x m), the
targets Y (k x m), the lifted activations X_1..X_L (n_l x m) and, optionally, the pre-activations
U_l = A_l(W_l, X_l) + b_l 1ᵀ of the current weights (a cache; computed when absent).

:func:`x_block` and :func:`w_block` return the block of a layer at a state -- the dense blocks
(:mod:`.x_blocks`, :mod:`.w_blocks`) or, for a conv network, the conv blocks (:mod:`.conv_blocks`) --
built by their ``from_state`` constructors, which trust the state (no validation, no copies: the trainers' hot path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LiftedState", "x_block", "w_block"]


@dataclass
class LiftedState:
    """The lifted state of m samples (module docstring). ``m_total`` normalises the data terms
    (the batch size; a Dask shard holds some of the batch's columns, ``m_total`` is the batch's m)."""

    net: object
    W: list
    b: list
    lam: np.ndarray
    X0: object
    Y: object
    Xs: list
    Us: list | None = None
    m_total: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def L(self) -> int:
        return self.net.L

    @property
    def m(self) -> int:
        """The normaliser of the data terms (``m_total``, or the number of columns)."""
        return int(self.X0.shape[1]) if self.m_total is None else int(self.m_total)

    def inputs(self, l: int):
        """X_l, the input of weight layer l (X_0 is the data)."""
        return self.X0 if l == 0 else self.Xs[l - 1]

    def target(self, l: int):
        """What weight layer l's output is compared with: X_{l+1} (l < L) or Y (l = L)."""
        return self.Xs[l] if l < self.L else self.Y

    def pre_activation(self, l: int):
        """U_l at the current weights (the cache when present)."""
        if self.Us is not None and l < len(self.Us) and self.Us[l] is not None:
            return self.Us[l]
        return self.net.affine(l, self.W[l], self.b[l], self.inputs(l))


def _is_conv(net) -> bool:
    return getattr(net, "maps", None) is not None


def x_block(state: LiftedState, l: int, lam_scale: float = 1.0):
    """The X-block of X_l (1 ≤ l ≤ L) at ``state``, with λ_{l−1} divided by ``lam_scale`` (the next-layer
    weight of the mini-batch X-steps); warm start ``state.Xs[l-1]``."""
    if _is_conv(state.net):
        from .conv_blocks import ConvHiddenXBlock as Hidden
        from .conv_blocks import ConvLastXBlock as Last
    else:
        from .x_blocks import HiddenXBlock as Hidden
        from .x_blocks import LastXBlock as Last
    cls = Last if l == state.L else Hidden
    return cls.from_state(state, l, lam_scale=lam_scale)


def w_block(state: LiftedState, l: int, gamma: float = 0.0, W_prev=None, b_prev=None, U=None,
            workspace: dict | None = None):
    """The W-block of weight layer l (0 ≤ l ≤ L) at ``state``: proximal weight γ towards (W_prev, b_prev)
    (default: the state's W_l, b_l); ``U`` = U_l at the state's weights if known (saves a product);
    ``workspace``: a conv layer's dict that keeps its design matrix's array from block to block (the
    previous block of the layer must be done with; :meth:`fenchel_cvx.layers.LinearMap.design`)."""
    if _is_conv(state.net):
        from .conv_blocks import ConvHiddenWBlock as Hidden
        from .conv_blocks import ConvLastWBlock as Last
        kw = {"workspace": workspace}
    else:
        from .w_blocks import HiddenWBlock as Hidden
        from .w_blocks import LastWBlock as Last
        kw = {}
    cls = Last if l == state.L else Hidden
    return cls.from_state(state, l, gamma=gamma, W_prev=W_prev, b_prev=b_prev, U=U, **kw)
