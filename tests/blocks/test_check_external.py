"""The cross-check harness for external block solvers (fenchel_cvx.blocks.check_external, check-blocks --external).

A deliberately wrong solver is flagged for each way of being wrong (suboptimal, infeasible, an invalid claimed
bound, NaN, an exception), and the library's own fast paths, wrapped as external solvers, pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tolerances import RATIO

from fenchel_cvx.blocks import BLOCKS, cross_check
from fenchel_cvx.blocks.check_external import as_block_result

KINDS = tuple(BLOCKS)


def library(block):
    """The library's certified fast path, used as if it were someone else's solver."""
    res = block.solve_fast()
    return res.solution, res.lower_bound


def test_the_library_fast_paths_pass_as_external_solvers():
    report = cross_check({kind: library for kind in KINDS}, activations=["relu", "sigmoid", "tanh"])
    assert report.ok, report.table()
    kinds = {r.block for r in report.rows}
    assert kinds == set(KINDS)
    assert len(report.rows) == 3 + 6 + 3 + 2  # hidden_x: acts; last_x: acts x losses; hidden_w: acts; last_w: losses
    assert all(math.isfinite(r.certified_gap) and r.certified_gap >= -RATIO["rounding"] for r in report.rows)


def test_a_solution_without_bound_is_judged_by_its_objective_only():
    report = cross_check({"last_w": lambda blk: blk.solve_fast().solution}, losses=["squared"])
    assert report.ok, report.table()
    assert all(math.isnan(r.certified_gap) for r in report.rows)  # no bound claimed


def test_a_suboptimal_solver_is_flagged():
    def one_step(block):  # one majorise-minimise step from the current weights: not a solve
        return block.solve_fixed(iters=1).solution

    report = cross_check({"last_w": one_step, "hidden_w": one_step}, activations=["relu"])
    assert not report.ok
    assert all("fast objective above reference" in r.message for r in report.failures)
    assert {r.block for r in report.failures} == {"last_w", "hidden_w"}
    assert "NO: fast objective above reference" in report.table()


def test_an_invalid_claimed_bound_is_flagged():
    def overclaims(block):  # the optimal solution, with a "lower bound" above the optimum
        res = block.solve_fast()
        return res.solution, res.objective + 1e-3

    report = cross_check({"last_x": overclaims}, activations=["relu"], losses=["cross_entropy"])
    (row,) = report.rows
    assert not row.ok and row.message == "certified bound above reference optimum"


def test_a_bound_within_the_reference_accuracy_passes():
    def tight(block):
        res = block.solve_fast()
        return res.solution, res.objective  # the objective of an optimal point is the optimum to 1e-10

    assert cross_check({"hidden_x": tight}, activations=["relu"]).ok


def test_an_infeasible_solution_is_flagged():
    def negative(block):  # relu activations must be >= 0 (dom f*): the objective is +inf there
        V = block.solve_fast().solution
        V = V.copy()
        V[0, 0] = -1.0
        return V

    report = cross_check({"hidden_x": negative}, activations=["relu"])
    (row,) = report.rows
    assert not row.ok and row.fast_objective == math.inf


def test_nan_and_exceptions_are_reported_never_hidden():
    def nan_bound(block):
        return block.solve_fast().solution, float("nan")

    def crashes(block):
        raise RuntimeError("my solver diverged")

    def wrong_shape(block):
        return np.zeros((1, 1))

    report = cross_check({"last_x": nan_bound, "hidden_x": crashes, "hidden_w": wrong_shape},
                         activations=["relu"], losses=["squared"])
    msgs = {r.block: r.message for r in report.rows}
    assert not any(r.ok for r in report.rows)
    assert "NaN" in msgs["last_x"]
    assert "RuntimeError: my solver diverged" in msgs["hidden_x"]
    assert "ValueError" in msgs["hidden_w"] or "TypeError" in msgs["hidden_w"]


def test_conv_blocks_can_be_cross_checked():
    report = cross_check({"conv_last_w": library}, losses=["squared"], conv=True, m=4)
    assert report.ok, report.table()


def test_as_block_result_forms():
    from fenchel_cvx.blocks.instances import random_state

    net, X0, y, Xs = random_state("relu", "squared")
    blk = BLOCKS["last_w"].from_network(net, X0, y, Xs)
    res = blk.solve_fast()
    a = as_block_result(blk, res.solution)
    b = as_block_result(blk, (res.solution, np.float64(res.lower_bound)))
    c = as_block_result(blk, res)
    assert a.lower_bound is None and b.lower_bound == c.lower_bound == pytest.approx(res.lower_bound)
    assert a.objective == b.objective == c.objective == blk.objective(res.solution)


@pytest.mark.parametrize("solvers,match,exc", [
    ({}, "solvers", TypeError),
    ({"middle_x": library}, "unknown block kind", ValueError),
    ({"last_w": 3}, r"solvers\['last_w'\]", TypeError),
])
def test_bad_arguments_are_named(solvers, match, exc):
    with pytest.raises(exc, match=match):
        cross_check(solvers)


def test_cli_external(tmp_path, capsys):
    from fenchel_cvx.cli import main

    good = tmp_path / "good.py"
    good.write_text("def solve(block):\n    r = block.solve_fast()\n    return r.solution, r.lower_bound\n")
    bad = tmp_path / "bad.py"
    bad.write_text("def solve(block):\n    return block.solve_fixed(iters=1).solution\n")
    rc = main(["check-blocks", "--external", f"last_w={good}:solve", "--losses", "squared",
               "--backends", "numpy-float64", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "last_w" in out and "hidden_x" not in out
    rc = main(["check-blocks", "--external", f"last_w={bad}:solve", "--losses", "cross_entropy",
               "--backends", "numpy-float64", "--quiet"])
    assert rc == 1 and "fast objective above reference" in capsys.readouterr().out
    rc = main(["check-blocks", "--external", "last_w=nowhere.py:solve", "--quiet"])
    assert rc == 2 and "nowhere.py" in capsys.readouterr().err
