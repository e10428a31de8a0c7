"""Issue 22, item 12: blocks built by hand from a network. Each test failed before its fix: a default
network (ρ = 0) gave an error that did not say what to pass, ``layer=None`` raised "got None" where only one
layer fits, and blocks printed as ``<... object at 0x...>``."""

import numpy as np
import pytest

import fenchel_cvx as fc
from fenchel_cvx.blocks import HiddenWBlock, HiddenXBlock, LastWBlock, LastXBlock


@pytest.fixture
def state():
    net = fc.FenchelNetwork([4, 3, 2], seed=0)  # defaults: ρ = 0
    X0 = np.random.default_rng(0).random((4, 5))
    y = np.array([0, 1, 0, 1, 1])
    return net, X0, y, net.forward(X0)[0]


@pytest.mark.parametrize("cls", [LastWBlock, HiddenWBlock])
def test_a_default_network_says_which_argument_to_pass(state, cls):
    net, X0, y, Xs = state
    with pytest.raises(ValueError, match=r"^gamma: .*rho\[\d\] is 0.*gamma > 0"):
        cls.from_network(net, X0, y, Xs)
    block = cls.from_network(net, X0, y, Xs, gamma=1.0)
    res = block.solve_fast()
    assert res.objective <= block.objective(block.current)


def test_the_only_layer_is_picked_without_layer(state):
    net, X0, y, Xs = state
    assert HiddenWBlock.from_network(net, X0, y, Xs, gamma=1.0).layer == 0
    deep = fc.FenchelNetwork([4, 3, 3, 2], seed=0)
    Xd = deep.forward(X0)[0]
    assert HiddenXBlock.from_network(deep, X0, y, Xd).layer == 1
    with pytest.raises(ValueError, match=r"layer: hidden_w needs one of the layers \[0, 1\] \(it has a block"):
        HiddenWBlock.from_network(deep, X0, y, Xd, gamma=1.0)
    with pytest.raises(ValueError, match="layer: a network with L = 1 hidden layers has no hidden_x block"):
        HiddenXBlock.from_network(net, X0, y, Xs)
    with pytest.raises(ValueError, match=r"layer: hidden_w needs one of the layers \[0, 1\], got 5"):
        HiddenWBlock.from_network(deep, X0, y, Xd, layer=5, gamma=1.0)


def test_blocks_have_a_readable_repr(state):
    net, X0, y, Xs = state
    text = repr(LastWBlock.from_network(net, X0, y, Xs, gamma=1.0))
    assert text.startswith("LastWBlock(layer=1, X 3x5, Y 2x5") and "gamma=1" in text and "float64" in text
    text = repr(LastXBlock.from_network(net, X0, y, Xs))
    assert text.startswith("LastXBlock(layer=1, U 3x5") and "at 0x" not in text
