"""The block contract, parametrised from the registries (a new block or activation is covered
with no test edits): fast vs CVXPY reference, certificates, the block objective as a slice of
F_λ, monotone F_λ after exact block solves, and the check-blocks command."""

import numpy as np
import pytest
from tolerances import RATIO, TOL

from fenchel_cvx import activations, losses
from fenchel_cvx.blocks import BLOCKS
from fenchel_cvx.blocks.check_library import combinations
from fenchel_cvx.blocks.instances import random_state
from fenchel_cvx.cli import main

SIZES = (5, 4, 3, 3)
COMBOS = [(k, a, l_) for k, _, _, a, l_ in combinations(list(BLOCKS), activations.names(), losses.names())]


def _state(kind, act, loss, seed=0):
    net, X0, y, Xs = random_state(act, loss, sizes=SIZES, m=10, seed=seed)
    cls = BLOCKS[kind]
    return net, X0, y, Xs, cls, cls.layers(net)[0]


@pytest.mark.parametrize("kind,act,loss", COMBOS)
def test_fast_matches_reference_and_certifies(kind, act, loss):
    net, X0, y, Xs, cls, layer = _state(kind, act, loss)
    block = cls.from_network(net, X0, y, Xs, layer)
    ref = block.solve_reference()
    fast = block.solve_fast()
    rel = TOL["block_objective_rel"]["float64"] * (1 + abs(ref.objective))
    assert fast.status == "optimal"
    assert fast.objective <= ref.objective + rel
    assert fast.lower_bound <= fast.objective + RATIO["rounding"] * (1 + abs(fast.objective))
    assert fast.lower_bound <= ref.objective + TOL["block_bound_rel"]["float64"] * (1 + abs(ref.objective))
    # the certificate is tight at the fast path's own tolerance, not vacuous
    assert fast.gap <= RATIO["certified_gap"] * (1 + abs(fast.objective))


@pytest.mark.parametrize("kind,act,loss", COMBOS)
def test_block_objective_is_a_slice_of_F(kind, act, loss):
    """objective(s1) − objective(s2) = F_λ(.., s1, ..) − F_λ(.., s2, ..): one judge for both paths."""
    net, X0, y, Xs, cls, layer = _state(kind, act, loss, seed=1)
    block = cls.from_network(net, X0, y, Xs, layer)
    F0 = net.lifted_objective(X0, y, Xs)
    o0 = block.objective(block.current)
    sol = block.solve_fast().solution
    Xs1 = block.update(net, list(Xs), sol)
    F1 = net.lifted_objective(X0, y, Xs1)
    o1 = block.objective(sol)
    np.testing.assert_allclose(F1 - F0, o1 - o0, **TOL["same_math"]["float64"])
    # an exact block solve never raises the lifted objective
    assert F1 <= F0 + RATIO["rounding"] * (1 + abs(F0))


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_bcd_sweep_is_monotone(kind):
    """Cycling a block kind over its layers never raises F_λ."""
    net, X0, y, Xs = random_state("tanh", "cross_entropy", sizes=(4, 3, 3, 3, 2), m=8, seed=2)
    F = [net.lifted_objective(X0, y, Xs)]
    for layer in BLOCKS[kind].layers(net):
        block = BLOCKS[kind].from_network(net, X0, y, Xs, layer)
        Xs = block.update(net, Xs, block.solve_fast().solution)
        F.append(net.lifted_objective(X0, y, Xs))
    assert np.all(np.diff(F) <= RATIO["rounding"] * (1 + abs(F[0])))


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_reference_problem_is_dcp_and_dpp(kind):
    net, X0, y, Xs, cls, layer = _state(kind, "sigmoid", "cross_entropy")
    prob = cls.from_network(net, X0, y, Xs, layer).problem()
    assert prob.is_dcp()
    assert prob.is_dpp()


def test_check_blocks_command(capsys, tmp_path):
    out = tmp_path / "rows.json"
    rc = main(["check-blocks", "--activations", "relu,sigmoid", "--backends", "numpy-float64,torch-float32",
               "--quiet", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    for kind in BLOCKS:
        assert kind in text
    assert "0 disagreements" in text
    assert out.exists()


def test_check_blocks_bad_options(capsys):
    assert main(["check-blocks", "--sizes", "6-5-3"]) == 2
    assert "two hidden layers" in capsys.readouterr().err
    assert main(["check-blocks", "--blocks", "middle_x", "--quiet"]) == 2
    assert "known" in capsys.readouterr().err


def test_check_blocks_conv_command(capsys):
    rc = main(["check-blocks", "--conv", "--activations", "relu", "--losses", "squared",
               "--backends", "numpy-float64", "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "conv_hidden_x" in text and "conv_last_w" in text and "0 disagreements" in text
