"""BCD blocks of the lifted objective: CVXPY reference + fast vectorised solvers + certificate.

Block kinds (docs/design.md §2), each a class following :class:`Block`:

* ``hidden_x`` -- :class:`HiddenXBlock`: hidden activations X_l, 1 ≤ l < L
* ``last_x``   -- :class:`LastXBlock`: last hidden activations X_L
* ``hidden_w`` -- :class:`HiddenWBlock`: weights (W_l, b_l) of a hidden layer, l < L
* ``last_w``   -- :class:`LastWBlock`: output weights (W_L, b_L)

and their convolutional twins in :mod:`fenchel_cvx.blocks.conv_blocks` (``CONV_BLOCKS``). Every block owns
its solvers: ``solve_reference`` (CVXPY), ``solve_fast`` (certified FISTA / Newton-CG) and ``solve_fixed``
(the trainers' fixed-budget APG / MM steps), all returning a :class:`BlockResult`; ``from_network`` builds
a block from a network state (validated), ``from_state`` from a trainer's :class:`LiftedState` (trusted);
:func:`x_block` / :func:`w_block` pick the dense or conv class of a layer.

``BLOCKS`` (:mod:`.kinds`) maps kind names to classes. Tests and ``fenchel-cvx check-blocks``
(:mod:`.check_library`: the library's fast solvers against their CVXPY twins) are parametrised from it;
:func:`cross_check` (:mod:`.check_external`) judges *your* solver of a block kind the same way. The map out
of an X-block's variable is an object (:mod:`.out_maps`); the W-blocks' regularisation is a
:class:`~fenchel_cvx.blocks.mm.Proximal`. Shapes: features x samples.
"""

from ..errors import SolverError
from .base import Block, BlockResult, default_tol, solve_cvxpy
from .check_external import CrossCheckReport, cross_check
from .kinds import BLOCKS
from .state import LiftedState, w_block, x_block
from .w_blocks import HiddenWBlock, LastWBlock
from .x_blocks import HiddenXBlock, LastXBlock

__all__ = ["Block", "BlockResult", "SolverError", "solve_cvxpy", "default_tol", "BLOCKS", "LiftedState",
           "x_block", "w_block", "HiddenXBlock", "LastXBlock", "HiddenWBlock", "LastWBlock", "cross_check",
           "CrossCheckReport"]
