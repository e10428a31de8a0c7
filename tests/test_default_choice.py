"""One default from several tuned runs: :func:`fenchel_cvx.comparison.pooled_choice`, the reuse of a stored tuning
(``compare(tuned=...)``, ``benchmarks/compare.py --tuning-from``) and ``benchmarks/default_choice.py`` (the shipped
preset is the pooled choice of the stored protocol runs; ``--extend`` trains only missing points)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.comparison import Axis, MethodSpec, TuneResult, compare, pooled_choice

pytest.importorskip("torch")


def _tuning(scores: dict, method="lifted") -> TuneResult:
    """A TuneResult over one axis ``lam`` with the given {lam: mean validation score}."""
    trials = [{"params": {"lam": lam}, "scores": [s], "mean": s} for lam, s in scores.items()]
    best = max(trials, key=lambda t: t["mean"])
    return TuneResult(method=method, best=best["params"], best_score=best["mean"], trials=trials, budget=len(trials),
                      extensions=[], on_edge=[], grid={"lam": sorted(scores)}, seconds=0.0)


def test_pooled_choice_ranks_the_common_points_by_mean_regret():
    a = _tuning({0.1: 0.90, 0.3: 0.88, 1.0: 0.80})
    b = _tuning({0.3: 0.70, 1.0: 0.75, 3.0: 0.76})           # 0.1 not tried here, 3.0 not in a
    rows = pooled_choice([a, b])
    assert [r["params"]["lam"] for r in rows] == [0.3, 1.0]  # only the common points
    # regret against each run's best trial, extensions included (b's best is 3.0, not a common point)
    assert rows[0]["regrets"] == pytest.approx([0.02, 0.06]) and rows[0]["mean_regret"] == pytest.approx(0.04)
    assert rows[1]["regrets"] == pytest.approx([0.10, 0.01]) and rows[1]["mean_regret"] == pytest.approx(0.055)
    # points match to 12 significant digits (an extension's value computed twice may differ in the last bit)
    c = _tuning({0.1 * (0.1 / 0.03): 0.5, 0.3: 0.4})
    d = _tuning({0.33333333333333331: 0.4, 0.3: 0.5})
    assert len(pooled_choice([c, d])) == 2


def test_pooled_choice_refuses_what_it_cannot_pool():
    with pytest.raises(ValueError, match="at least one"):
        pooled_choice([])
    with pytest.raises(ValueError, match="one method"):
        pooled_choice([_tuning({0.1: 0.9}), _tuning({0.1: 0.9}, method="adam")])
    with pytest.raises(ValueError, match="every run"):
        pooled_choice([_tuning({0.1: 0.9}), _tuning({0.3: 0.9})])


def test_compare_with_a_stored_tuning_skips_tuning_and_reproduces_the_runs():
    """``compare(tuned=...)``: the given tuning is used as is, and the final runs equal those of the run that tuned
    (the protocol is seeded); a tuning that does not cover a spec's grid, or names no spec, is refused."""
    ds = data.load("digits").subset(300, 120, seed=0)
    specs = {"lifted": MethodSpec("lifted", "lifted", [Axis("lam", [0.3, 1.0], log=True)],
                                  fixed=dict(x_iters=2)),
             "adam": MethodSpec("adam", "adam", [Axis("lr", [1e-3, 1e-2], log=True)])}

    def net(seed):
        return FenchelNetwork([64, 16, 10], seed=seed)

    kw = dict(epochs=1, batch_size=100, tuning_seeds=[5], final_seeds=[0], max_extend=0)
    first = compare(specs, net, ds, **kw)
    again = compare(specs, net, ds, tuned=first.tuning, **kw)
    assert again.tuning == first.tuning
    for m in specs:
        assert np.array_equal(again.scores(m), first.scores(m))
    wider = {"lifted": MethodSpec("lifted", "lifted", [Axis("lam", [0.1, 0.3, 1.0], log=True)])}
    with pytest.raises(ValueError, match="does not cover the grid of axes \\['lam'\\]"):
        compare(wider, net, ds, tuned={"lifted": first.tuning["lifted"]}, reference="lifted", **kw)
    with pytest.raises(ValueError, match="'sgd' is not one of the tuned methods"):
        compare(specs, net, ds, tuned={"sgd": first.tuning["adam"]}, **kw)


def test_compare_script_tuning_from_reruns_only_the_final_runs(tmp_path, load_script, capsys):
    mod = load_script("benchmarks/compare.py")
    first = mod.main(["--quick", "--methods", "lifted", "adam", "--out", str(tmp_path / "a")])
    again = mod.main(["--quick", "--methods", "lifted", "adam", "--out", str(tmp_path / "b"),
                      "--tuning-from", str(tmp_path / "a.json")])
    r1, r2 = first["results"][0], again["results"][0]
    assert r2["tuning"] == r1["tuning"]
    for m in ("lifted", "adam", "lifted (default)"):  # seeded: the same final runs
        assert [h["test_acc"] for h in r2["histories"][m][0]] == [h["test_acc"] for h in r1["histories"][m][0]]
    assert again["tuning_from"]["command"] == first["command"]
    assert "Tuning taken from" in (tmp_path / "b.md").read_text()
    # another protocol option: refused, naming it
    with pytest.raises(SystemExit):
        mod.main(["--quick", "--methods", "lifted", "adam", "--threads", "2", "--out", str(tmp_path / "c"),
                  "--tuning-from", str(tmp_path / "a.json")])
    assert "--threads 1 (now 2)" in capsys.readouterr().err
    # a method the stored run did not tune: refused, naming it
    with pytest.raises(SystemExit):
        mod.main(["--quick", "--methods", "lifted", "sgd", "--out", str(tmp_path / "d"),
                  "--tuning-from", str(tmp_path / "a.json")])
    assert "no tuning of ['sgd']" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SystemExit):
        mod.main(["--quick", "--out", str(tmp_path / "e"), "--tuning-from", str(tmp_path / "bad.json")])
    assert "cannot read a comparison" in capsys.readouterr().err


def test_the_shipped_preset_is_the_pooled_choice_of_the_stored_runs(tmp_path, load_script, capsys):
    """``fenchel_cvx.training.tuned`` is the pooled choice of the four dense protocol runs stored in
    benchmarks/results (with the stored extension trials), and that choice is on no edge of the pooled grid."""
    mod = load_script("benchmarks/default_choice.py")
    rows = mod.main(["--out", str(tmp_path / "d.md")])
    assert mod.same_point(rows[0]["params"], mod.shipped_point())
    out = capsys.readouterr().out
    assert "the shipped preset is the pooled choice" in out and "on an edge" not in out


def test_default_choice_extend_trains_only_missing_points(tmp_path, load_script, capsys):
    """``--extend``: a run that tried only its base λ grid (two points: every choice is on an edge) beside one with
    the protocol's own extensions; the next λ is trained where missing, stored, and reused by the next call (which
    trains nothing). ``train_points`` rebuilds a run's validation protocol from its stored command: a stored trial
    retrained gives the same scores."""
    cmp = load_script("benchmarks/compare.py")
    cmp.main(["--quick", "--no-defaults", "--methods", "lifted", "adam", "--out", str(tmp_path / "q1")])
    run = json.loads((tmp_path / "q1.json").read_text())
    tuning = run["results"][0]["tuning"]["lifted"]
    tuning["trials"] = [t for t in tuning["trials"] if t["params"]["lam"] in (0.3, 1.0)]
    tuning["grid"], tuning["extensions"] = {"lam": [0.3, 1.0]}, []
    (tmp_path / "q2.json").write_text(json.dumps(run))
    mod = load_script("benchmarks/default_choice.py")
    args = ["--runs", str(tmp_path / "q1.json"), str(tmp_path / "q2.json"), "--extra", str(tmp_path / "x.json"),
            "--out", str(tmp_path / "d.md")]
    capsys.readouterr()
    mod.main(args + ["--extend"])
    assert "training 1 points" in capsys.readouterr().out
    extra = json.loads((tmp_path / "x.json").read_text())
    new = [t for v in extra.values() for t in v]
    assert new and all(t["params"]["lam"] not in (0.3, 1.0) for t in new)
    rows = mod.main(args)
    assert "training" not in capsys.readouterr().out
    assert {r["params"]["lam"] for r in rows} >= {t["params"]["lam"] for t in new}  # the extension points pooled
    # the protocol rebuilt from the stored command reproduces a stored trial
    [(_, t1, run1)] = mod.load_runs([str(tmp_path / "q1.json")])
    stored = t1.trials[0]
    assert mod.train_points(run1, [stored["params"]], "lifted")[0]["scores"] == stored["scores"]
