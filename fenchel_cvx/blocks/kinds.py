"""The block kinds of a dense lifted network: ``BLOCKS`` maps each kind name to its class (docs/design.md §2).

* ``hidden_x`` -- :class:`~fenchel_cvx.blocks.x_blocks.HiddenXBlock`: hidden activations X_l, 1 ≤ l < L
* ``last_x``   -- :class:`~fenchel_cvx.blocks.x_blocks.LastXBlock`: last hidden activations X_L
* ``hidden_w`` -- :class:`~fenchel_cvx.blocks.w_blocks.HiddenWBlock`: weights (W_l, b_l) of a hidden layer, l < L
* ``last_w``   -- :class:`~fenchel_cvx.blocks.w_blocks.LastWBlock`: output weights (W_L, b_L)

The conv twins are ``CONV_BLOCKS`` of :mod:`fenchel_cvx.blocks.conv_blocks`. Tests, ``fenchel-cvx check-blocks``
(:mod:`.check_library`) and :func:`~fenchel_cvx.blocks.check_external.cross_check` are parametrised from it.
"""

from __future__ import annotations

from .w_blocks import HiddenWBlock, LastWBlock
from .x_blocks import HiddenXBlock, LastXBlock

__all__ = ["BLOCKS"]

BLOCKS = {
    "hidden_x": HiddenXBlock,
    "last_x": LastXBlock,
    "hidden_w": HiddenWBlock,
    "last_w": LastWBlock,
}
