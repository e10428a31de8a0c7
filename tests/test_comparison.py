"""The fair-comparison protocol (fenchel_cvx.comparison): grids that extend at their edges, equal budgets,
disjoint seeds, interleaved final runs and the report's views. Tiny sizes (digits subsets, 1-2 epochs)."""

from __future__ import annotations

import numpy as np
import pytest

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.comparison import Axis, Comparison, MethodSpec, compare, final_runs, tune

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits").subset(300, 120, seed=0)


def make_net(seed):
    return FenchelNetwork([64, 16, 10], seed=seed)


def test_axis_edges_and_extension():
    a = Axis("lr", [1e-3, 1e-2], log=True)
    assert a.edge(1e-2) == "high" and a.edge(1e-3) == "low"
    assert a.extend("high") == pytest.approx(1e-1) and a.values[-1] == pytest.approx(1e-1)
    assert a.extend("low") == pytest.approx(1e-4)
    wd = Axis("rho", [0.0, 1e-4, 1e-3], log=True)
    assert wd.edge(0.0) is None            # 0 is the domain's boundary, not an edge
    assert wd.edge(1e-3) == "high" and wd.extend("high") == pytest.approx(1e-2)
    assert Axis("x", ["a", "b"]).edge("b") is None  # categorical axes never extend
    with pytest.raises(ValueError, match="increasing"):
        Axis("lr", [1e-2, 1e-3], log=True)


def test_integer_axis_extends_by_whole_units_within_its_bounds():
    """w0_subspace-like axes: an extension is an integer at least one unit past the edge, never below 1, never
    above ``upper`` (an edge at ``upper`` or at 1 is the domain's boundary)."""
    k = Axis("k", [15, 25, 40], log=True, integer=True, upper=64)
    assert k.edge(40) == "high" and k.extend("high") == 64 and k.edge(64) is None  # 40 * 1.6 = 64 = upper
    assert k.edge(15) == "low" and k.extend("low") == 9 and isinstance(k.values[0], int)  # 15 / (25/15) = 9
    k2 = Axis("k", [2, 3], log=True, integer=True)
    assert k2.extend("low") == 1 and k2.edge(1) is None
    assert k2.extend("high") == 4  # 3 * 1.5 = 4.5 rounds to 4 (banker's rounding), one unit past 3 at least
    assert Axis("k", [1, 2], log=True, integer=True).extend("high") == 4
    with pytest.raises(ValueError, match="values above upper"):
        Axis("k", [15, 25, 40], log=True, integer=True, upper=30)
    from fenchel_cvx.comparison import default_specs

    sub = {a.name: a for a in default_specs(1, n_features=20)["lifted-subspace"].axes}["w0_subspace"]
    assert sub.values == [15] and sub.upper == 20 and sub.integer and sub.log


def test_tune_extends_a_grid_whose_best_value_is_on_an_edge(digits):
    spec = MethodSpec("adam", "adam", [Axis("lr", [1e-3, 3e-3], log=True)])
    res = tune(spec, make_net, digits, epochs=3, batch_size=50, seeds=(100,), max_extend=3)
    # a few steps at learning rates this small: the larger one is better, on the upper edge -> the grid grows upward
    assert [t["mean"] for t in res.trials[:2]][1] > res.trials[0]["mean"]
    assert res.extensions and res.extensions[0]["side"] == "high"
    assert res.n_trials == 2 + len(res.extensions) and res.budget == 2
    assert res.grid["lr"][-1] > 3e-3
    assert max(t["mean"] for t in res.trials) == res.best_score


def test_compare_refuses_unfair_setups(digits):
    a = MethodSpec("adam", "adam", [Axis("lr", [1e-3, 1e-2], log=True)])
    b = MethodSpec("lifted", "lifted", [Axis("lam", [0.3], log=True)])
    with pytest.raises(ValueError, match="final_seeds"):
        compare({"adam": a}, make_net, digits, tuning_seeds=(1,), final_seeds=(1, 2))
    with pytest.raises(ValueError, match="unequal tuning budgets"):
        compare({"adam": a, "lifted": b}, make_net, digits)
    with pytest.raises(ValueError, match="kind"):
        MethodSpec("x", "rmsprop", [])


def test_compare_end_to_end_small(digits):
    from fenchel_cvx.training import tuned

    specs = {"lifted": MethodSpec("lifted", "lifted", [Axis("lam", [0.3, 1.0], log=True)], fixed=tuned(1)),
             "adam": MethodSpec("adam", "adam", [Axis("lr", [1e-3, 1e-2], log=True)])}
    cmp = compare(specs, make_net, digits, epochs=2, batch_size=100, tuning_seeds=(100,), final_seeds=(0, 1),
                  max_extend=0, dtype="float64")
    for m in specs:
        S, T = cmp.scores(m), cmp.times(m)
        assert S.shape == (2, 3) and T.shape == (2, 3)
        assert np.all(np.diff(T, axis=1) > 0)            # every epoch took time
        assert S[:, -1].mean() > 0.3                      # both learn: three times chance (0.1) in 2 tiny epochs
        assert cmp.tuning[m].n_trials == 2
    assert cmp.time_ratio("adam") == pytest.approx(1.0)
    T, eq = cmp.at_equal_time()
    assert T == pytest.approx(min(cmp.times(m)[:, -1].mean() for m in specs))
    assert set(eq) == set(specs)
    table = cmp.table(epochs=(1, 2), thresholds=(0.5,))
    assert table.count("\n") == 3 and "lifted" in table and "adam" in table
    fig = cmp.plot()
    assert len(fig.axes[0].lines) == 2
    d = cmp.to_dict()
    assert d["final_seeds"] == [0, 1] and set(d["histories"]) == set(specs)
    # read back (JSON round trip, as benchmarks/results/compare*.json and paper_figures use it): the same views
    import json

    back = Comparison.from_dict(json.loads(json.dumps(d, default=float)))
    assert back.table(epochs=(1, 2), thresholds=(0.5,)) == table
    assert back.at_equal_time() == cmp.at_equal_time() and back.tuning["adam"].best == cmp.tuning["adam"].best
    with pytest.raises(ValueError, match="missing"):
        Comparison.from_dict({"dataset": "digits"})


def test_untuned_methods_join_the_final_runs_only(digits):
    from fenchel_cvx.comparison import shipped_specs

    specs = {"adam": MethodSpec("adam", "adam", [Axis("lr", [1e-3, 1e-2], log=True)])}
    cmp = compare(specs, make_net, digits, epochs=1, batch_size=100, tuning_seeds=(100,), final_seeds=(0,),
                  max_extend=0, dtype="float64", untuned={"lifted (default)": shipped_specs(1)["lifted (default)"]})
    assert set(cmp.tuning) == {"adam"} and set(cmp.histories) == {"adam", "lifted (default)"}
    with pytest.raises(ValueError, match="untuned: method names also in specs"):
        compare(specs, make_net, digits, epochs=1, untuned=specs)


def test_final_runs_same_initialisation_as_separate_runs(digits):
    """Interleaving does not change a run: the lifted histories equal a separate train() of the same seed."""
    from fenchel_cvx import train
    from fenchel_cvx.training import tuned

    spec = {"lifted": MethodSpec("lifted", "lifted", [], fixed=tuned(1))}
    hist = final_runs(spec, {}, make_net, digits, epochs=1, batch_size=100, seeds=(3,), dtype="float64")
    ref = train(make_net(3), digits.X_train, digits.y_train, digits.X_test, digits.y_test,
                config=dict(tuned(1), epochs=1, batch_size=100, seed=3, dtype="float64", restore_best=False),
                verbose=0)
    assert [r["test_acc"] for r in hist["lifted"][0]] == [r["test_acc"] for r in ref.history]


def test_benchmark_script_quick(tmp_path, load_script):
    """benchmarks/compare.py --quick: every method tuned and run, the table, JSON and figure written."""
    import json

    mod = load_script("benchmarks/compare.py")
    out = mod.main(["--quick", "--out", str(tmp_path / "c")])
    res = out["results"][0]
    assert set(res["tuning"]) == {"lifted", "mm-then-adaptive", "adam", "sgd"}
    assert all(t["n_trials"] >= t["budget"] == 2 for t in res["tuning"].values())
    # the shipped defaults run beside them, untuned
    assert set(res["histories"]) == set(res["tuning"]) | {"lifted (default)", "mm-then-adaptive (default)",
                                                          "adam (default)"}
    assert json.loads((tmp_path / "c.json").read_text())["results"][0]["final_seeds"] == [0]
    md = (tmp_path / "c.md").read_text()
    assert md.count("| lifted |") == 1 and md.count("| lifted (default) | not tuned (as shipped) | - |") == 1
    assert (tmp_path / "c.png").stat().st_size > 10_000
    # --replot redraws the table and the figure from the JSON alone, the same table
    (tmp_path / "c.md").unlink()
    (tmp_path / "c.png").unlink()
    mod.main(["--replot", "--out", str(tmp_path / "c")])
    assert (tmp_path / "c.md").read_text() == md and (tmp_path / "c.png").is_file()


def _check_dense_only_method(method, mod, tmp_path, capsys):
    """benchmarks/compare.py (``mod``) with ``--methods METHOD``: its --quick run tunes it on 2 points and trains it
    past 50 % test accuracy; with a conv architecture it is refused naming the method."""
    out = mod.main(["--quick", "--methods", method, "--no-defaults", "--out", str(tmp_path / "s")])
    res = out["results"][0]
    assert set(res["tuning"]) == {method} and res["tuning"][method]["budget"] == 2
    assert res["histories"][method][0][-1]["test_acc"] > 0.5
    capsys.readouterr()
    with pytest.raises(SystemExit):
        mod.main(["--methods", method, "--archs", "lenet5", "--datasets", "digits", "--out", str(tmp_path / "x")])
    assert f"--methods: {method} (w0_subspace) is for dense networks" in capsys.readouterr().err


def test_lifted_subspace_method_has_the_equal_budget_and_is_opt_in(tmp_path, load_script, capsys):
    """"lifted-subspace" (BCDConfig.w0_subspace): 18 grid points like the others, dense only, not a default of
    benchmarks/compare.py; its --quick run tunes and trains it."""
    from fenchel_cvx.comparison import default_specs

    specs = default_specs(1)
    assert specs["lifted-subspace"].budget == specs["lifted"].budget == 18
    assert specs["lifted-subspace"].fixed["w0_subspace"] == 25 and "lifted-subspace" not in default_specs(4, conv=True)
    _check_dense_only_method("lifted-subspace", load_script("benchmarks/compare.py"), tmp_path, capsys)


def test_network_factory_and_smoke_specs():
    from fenchel_cvx.comparison import network_factory, smoke_specs

    make = network_factory("64-8-10", 64, 10)
    assert make(0).sizes == [64, 8, 10] and make(3).W[0].shape == (8, 64)
    with pytest.raises(ValueError, match="arch: 784-300-10 does not fit 64 features"):
        network_factory("784-300-10", 64, 10)
    specs = smoke_specs(1, ["adam", "lifted"])
    assert list(specs) == ["adam", "lifted"] and all(s.budget == 2 for s in specs.values())
    with pytest.raises(ValueError, match="methods: unknown"):
        smoke_specs(1, ["rmsprop"])


def test_adam_subspace_is_the_control_of_lifted_subspace(tmp_path, load_script, capsys, digits):
    """"adam-subspace": Adam with the lifted-subspace restriction (BackpropConfig.w0_subspace), 18 grid points,
    dense only, not a default; make_runner hands w0_subspace to the backprop trainer; its --quick run works."""
    from fenchel_cvx.comparison import default_specs, make_runner

    spec = default_specs(1)["adam-subspace"]
    assert spec.kind == "adam" and spec.budget == default_specs(1)["lifted-subspace"].budget == 18
    assert {a.name: a.values for a in spec.axes} == {"w0_subspace": [15, 25, 40], "lr": [1e-3, 3e-3, 1e-2],
                                                      "rho": [0.0, 1e-3]}
    assert "adam-subspace" not in default_specs(4, conv=True)
    runner = make_runner(spec, {"w0_subspace": 15, "lr": 3e-3, "rho": 1e-3}, make_net(0), digits.X_train,
                         digits.y_train, epochs=1, batch_size=100, seed=0)
    assert runner.cfg.w0_subspace == 15 and tuple(runner.state.sub["D"].shape) == (16, 15)
    _check_dense_only_method("adam-subspace", load_script("benchmarks/compare.py"), tmp_path, capsys)
