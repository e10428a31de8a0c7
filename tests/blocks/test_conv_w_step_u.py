"""The conv W-blocks' MM step with the trainer's pre-activation U handed in (no second W_mat D product)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import TOL

from fenchel_cvx.blocks import LiftedState, w_block
from fenchel_cvx.blocks.conv_blocks import random_conv_state


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_conv_w_step_with_u_equals_without(layer):
    """solve_fixed from a LiftedState gives the same (W, b, U) whether U is passed or formed by the
    block; the block's inner dense block uses the given U and a centre that is the start."""
    net, X0, y, Xs = random_conv_state(m=6, seed=11)
    Y = net.check_targets(y, X0.shape[1])
    state = LiftedState(net, list(net.W), list(net.b), np.asarray(net.lam), X0, Y, list(Xs))
    l = min(layer, net.L)
    U = net.affine(l, net.W[l], net.b[l], state.inputs(l))
    with_u = w_block(state, l, gamma=0.5, U=U)
    without = w_block(state, l, gamma=0.5)
    assert with_u.inner._U is not None and without.inner._U is None
    assert with_u.inner.prox.W_prev is with_u.inner.current[0]  # the start is the centre
    a = with_u.solve_fixed(iters=2)
    b = without.solve_fixed(iters=2)
    for x, z in zip((*a.solution, a.info["U"]), (*b.solution, b.info["U"]), strict=True):
        assert_allclose(x, z, **TOL["same_math"]["float64"])
