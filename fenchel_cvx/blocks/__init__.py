"""BCD blocks of the lifted objective: CVXPY reference + fast vectorised solver + certificate.

Block kinds (design notes, section 2), each a class following :class:`Block`:

* ``hidden_x`` -- :class:`HiddenXBlock`: hidden activations X_l, 1 ≤ l < L
* ``last_x``   -- :class:`LastXBlock`: last hidden activations X_L
* ``hidden_w`` -- :class:`HiddenWBlock`: weights (W_l, b_l) of a hidden layer, l < L
* ``last_w``   -- :class:`LastWBlock`: output weights (W_L, b_L)

``BLOCKS`` maps kind names to classes; every class has ``from_network(net, X0, y, Xs,
layer, ...)``. Tests and ``fenchel-cvx check-blocks`` are parametrised from ``BLOCKS``.
"""

from .base import Block, BlockResult, SolverError, solve_cvxpy
from .w_blocks import HiddenWBlock, LastWBlock
from .x_blocks import HiddenXBlock, LastXBlock

BLOCKS = {
    "hidden_x": HiddenXBlock,
    "last_x": LastXBlock,
    "hidden_w": HiddenWBlock,
    "last_w": LastWBlock,
}

__all__ = ["Block", "BlockResult", "SolverError", "solve_cvxpy", "BLOCKS",
           "HiddenXBlock", "LastXBlock", "HiddenWBlock", "LastWBlock"]
