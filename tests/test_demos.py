"""Smoke tests of the demos and of ``paper_figures/make_figures.py --quick`` at tiny sizes.

Each demo is imported from its file and its ``main(["--quick", "--out", tmp])`` is run
in-process; the test checks the property the demo illustrates (not just that it ran) and
that the PNGs it announces exist and are real images of a readable size.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from conftest import load_script
from tolerances import RATIO, TOL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMOS = os.path.join(ROOT, "demos")
FIGURES = os.path.join(ROOT, "paper_figures")


def assert_png(path: str, min_width: int = 500):
    assert os.path.isfile(path), f"missing figure {path}"
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.shape[1] >= min_width and img.shape[0] >= 250, f"{path}: {img.shape[:2]} is too small to read"
    assert float(np.std(img[..., :3])) > 0.01, f"{path} is blank"


def run_demo(filename, tmp_path, *extra):
    mod = load_script(os.path.join("demos", filename))
    out = mod.main(["--quick", "--out", str(tmp_path), *extra])
    for f in out["files"]:
        assert_png(f)
    return out


def test_demo_divergence(tmp_path):
    from fenchel_cvx import activations

    out = run_demo("01_divergence.py", tmp_path)
    assert set(out["report"]) == set(activations.names())
    for name, row in out["report"].items():
        assert row["min_B"] >= -RATIO["rounding"], f"{name}: B < 0 on the grid"
        assert row["max_B_on_graph"] <= TOL["identity"]["float64"]["atol"] * 10, f"{name}: B(u, φ(u)) != 0"


def test_demo_biconvexity(tmp_path):
    out = run_demo("02_biconvexity.py", tmp_path)
    rep = out["report"]
    for name, row in rep.items():
        assert row["slices_convex"], f"{name}: a slice of B is not convex"
    assert rep["relu"]["violation"] > 0.1, "no segment along which the relu divergence is not convex"
    assert rep["identity"]["jointly_convex_on_samples"], "identity: B = ½(u − v)² is jointly convex"
    # the reported segment really violates convexity (recomputed here from its end points)
    from fenchel_cvx import activations

    p, q = rep["relu"]["segment"][:2]
    relu = activations.get("relu")
    mid = 0.5 * (p + q)
    t = np.linspace(0, 1, 201)
    pts = p[:, None] + t[None, :] * (q - p)[:, None]
    along = relu.divergence(pts[0], pts[1])
    chord = (1 - t) * relu.divergence(p[0], p[1]) + t * relu.divergence(q[0], q[1])
    assert np.max(along - chord) > 0.1, f"segment through {mid} does not rise above its chord"


def test_demo_toy_bcd(tmp_path):
    out = run_demo("03_toy_bcd.py", tmp_path)
    hist = out["history"]
    F = np.array(hist["F"])
    assert np.all(np.isfinite(F)) and np.all(np.isfinite(hist["J"]))
    # exact block solves: the lifted objective never rises (up to the blocks' certified tolerance)
    assert np.all(np.diff(F) <= RATIO["demo_descent"] * (1 + np.abs(F[:-1]))), f"F_λ rose: {np.diff(F)}"
    # F_λ ≤ J after every sweep is not guaranteed (F at the lifted X vs J at the forward pass), but
    # the hidden activations must approach the feed-forward ones from the random start
    assert hist["dist"][-1][0] < 0.5 * hist["dist"][0][0]
    assert hist["acc"][-1] > 0.6, f"train accuracy {hist['acc'][-1]} not above chance"


def test_demo_lower_bound(tmp_path):
    pytest.importorskip("pyscipopt", reason="the global bounds need SCIP (the 'global' extra)")
    out = run_demo("04_lower_bound.py", tmp_path)
    rep = out["report"]
    J_lo, J_hi = out["J_bracket"]
    tol = RATIO["scip_bracket"] * (1 + abs(J_hi))
    assert J_lo <= J_hi + tol
    assert rep.consistent(RATIO["scip_bracket"]), rep.table()
    _check_lower_bound_demo(out)


def _check_lower_bound_demo(out):
    rep = out["report"]
    J_lo, J_hi = out["J_bracket"]
    tol = RATIO["scip_bracket"] * (1 + abs(J_hi))
    assert [r["lam"] for r in out["rows"]] == sorted(out["config"].lams)
    for r in out["rows"]:
        # weak duality, certified: lower bound on min F_λ ≤ best F_λ found ≤ best upper bound on min J
        assert r["lower"] <= r["upper"] + tol, r
        assert r["lower"] <= J_hi + tol, r
        assert r["lower"] >= r["solve_lower"], r  # the running maximum never drops below a solve's own bound
    lower = [r["lower"] for r in out["rows"]]
    assert all(a <= b for a, b in zip(lower, lower[1:])), f"the drawn lower bound on min F_λ falls: {lower}"
    assert rep.consistent(RATIO["scip_bracket"]), rep.table()


@pytest.mark.slow
def test_demo_lower_bound_at_its_defaults(tmp_path):
    """Demo 04 as the README runs it (no --quick): it crashed with an IndexError in the unit model (issue 22
    item 9); 14 CPU-s measured."""
    pytest.importorskip("pyscipopt", reason="the global bounds need SCIP (the 'global' extra)")
    mod = load_script(os.path.join("demos", "04_lower_bound.py"))
    out = mod.main(["--out", str(tmp_path)])
    for f in out["files"]:
        assert_png(f)
    _check_lower_bound_demo(out)


def test_demo_cross_check(tmp_path):
    out = run_demo("05_cross_check.py", tmp_path)
    assert out["same_function"], f"CVXPY objective and Block.objective differ: {out['values']}"
    rel = TOL["block_objective_rel"]["float64"]
    from fenchel_cvx.blocks import BLOCKS

    assert not out["failures"], out["failures"]
    assert {r["kind"] for r in out["rows"]} == set(BLOCKS)
    for r in out["rows"]:
        ref, fast = r["ref"], r["fast"]
        assert fast.objective <= ref.objective + rel * (1 + abs(ref.objective)), r["kind"]
        assert fast.lower_bound <= ref.objective + rel * (1 + abs(ref.objective)), r["kind"]


def test_make_figures_quick_blocks(tmp_path, monkeypatch):
    """``make_figures.py --quick --only blocks`` through its command line (one activation, to stay fast;
    demo 5's test covers relu), then again from the cache."""
    mf = load_script("paper_figures/make_figures.py")
    import fig_blocks

    monkeypatch.setattr(fig_blocks, "QUICK", {**fig_blocks.QUICK, "ms": {"sigmoid": [12, 24]}})
    out, cache = tmp_path / "figs", tmp_path / "cache"
    rc = mf.main(["--quick", "--only", "blocks", "--out", str(out), "--cache", str(cache)])
    assert rc == 0
    assert_png(str(out / "blocks_fast_vs_cvxpy.png"))
    text = (out / "results.md").read_text()
    assert "| block | activation | m |" in text and "MISSING" not in text and "FAILED" not in text
    n_cached = sum(len(files) for _, _, files in os.walk(cache))
    assert n_cached > 0
    for kind in ("hidden_x", "last_x", "hidden_w", "last_w"):
        assert f"| {kind} | sigmoid |" in text
    # a second run is served from the cache and redraws the same table
    rc = mf.main(["--quick", "--only", "blocks", "--out", str(out), "--cache", str(cache)])
    assert rc == 0
    assert sum(len(files) for _, _, files in os.walk(cache)) == n_cached


def test_make_figures_training_section_tiny(tmp_path, monkeypatch):
    """The training section end to end at a tiny size (the fair protocol on digits, 1 epoch), served from the cache
    the second time; full mode draws stored benchmark results and reports MISSING without them."""
    load_script("paper_figures/make_figures.py")  # puts paper_figures/ on sys.path
    import fig_training
    from _cache import RunCache
    from _fig_util import Missing

    tiny = {**fig_training.QUICK, "arch": "64-8-10", "n_train": 300, "n_test": 100, "epochs": 1,
            "batch_size": 150, "methods": ["lifted", "adam"]}
    monkeypatch.setattr(fig_training, "QUICK", tiny)
    cache = RunCache(str(tmp_path / "cache"), verbose=False)
    res = fig_training.run(cache, str(tmp_path), quick=True)
    assert_png(res.figures[0])
    for method in ("lifted", "adam", "lifted (default)", "mm-then-adaptive (default)", "adam (default)"):
        assert f"| {method} |" in res.table
    assert cache.misses == 1
    again = fig_training.run(cache, str(tmp_path), quick=True)
    assert cache.hits == 1 and again.table == res.table
    # full mode: what benchmarks/compare.py stored, read back through Comparison.from_dict
    runs = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "cache") for f in fs]
    import json

    result = json.load(open(runs[0]))["result"]
    empty = tmp_path / "results"
    empty.mkdir()
    monkeypatch.setattr(fig_training, "RESULTS", str(empty))
    monkeypatch.setattr(fig_training, "ARCH", "64-8-10")
    with pytest.raises(Missing):
        fig_training.run(cache, str(tmp_path / "full"), quick=False)
    with open(empty / "compare_digits.json", "w") as fh:
        json.dump({"command": "python benchmarks/compare.py --quick", "results": [result]}, fh)
    full = fig_training.run(cache, str(tmp_path / "full"), quick=False)
    assert_png(full.figures[0])
    assert "| lifted |" in full.table and any("benchmarks/compare.py --quick" in n for n in full.notes)


def test_make_figures_reports_missing_sections(tmp_path, monkeypatch):
    """A section whose library piece has not landed is reported MISSING (exit 3, or 0 with --allow-missing)."""
    mf = load_script("paper_figures/make_figures.py")
    monkeypatch.setitem(sys.modules, "fenchel_cvx.conv", None)  # as if issue 5 had not landed: import fails
    out = tmp_path / "figs"
    assert mf.main(["--quick", "--only", "lenet", "--out", str(out), "--cache", str(tmp_path / "c")]) == 3
    text = (out / "results.md").read_text()
    assert "MISSING" in text and "fenchel_cvx.conv" in text
    assert mf.main(["--quick", "--only", "lenet", "--out", str(out), "--cache", str(tmp_path / "c"),
                    "--allow-missing"]) == 0


def test_make_figures_quick_all(tmp_path):
    """The whole quick mode (every section, nothing missing), as `make figures-quick` runs it."""
    pytest.importorskip("torch")
    pytest.importorskip("pyscipopt", reason="the relaxation section needs SCIP (the 'global' extra)")
    mf = load_script("paper_figures/make_figures.py")
    rc = mf.main(["--quick", "--out", str(tmp_path / "figs"), "--cache", str(tmp_path / "cache")])
    assert rc == 0
    text = (tmp_path / "figs" / "results.md").read_text()
    assert "FAILED" not in text and "MISSING" not in text
    for png in ("training_accuracy", "lenet_accuracy", "relaxation_gap_vs_lambda", "blocks_fast_vs_cvxpy"):
        assert (tmp_path / "figs" / f"{png}.png").is_file(), png


def test_make_figures_rejects_unknown_section(tmp_path):
    mf = load_script("paper_figures/make_figures.py")
    with pytest.raises(SystemExit):
        mf.main(["--quick", "--only", "nonsense", "--out", str(tmp_path)])


def test_demo_certify_classifier(tmp_path):
    pytest.importorskip("pyscipopt")
    out = run_demo("06_certify_classifier.py", tmp_path)
    rep, dual = out["report"], out["dual"]
    J_lo, J_hi = out["bracket"]
    assert J_lo <= J_hi and rep.consistent(), rep.table()
    low = rep.bracket_.lower  # SCIP's bound (up to feastol) or the convex dual bound (no solver tolerance)
    assert low.certified and ("feastol" in low.rests_on or "no solver tolerance" in low.rests_on), low
    # every certified bound of the sweep and of the dual lies below the best trained network
    for s in rep.sweep:
        assert s.lower <= J_hi, s
    env = out["envelope"]  # what the figure draws: the running maximum over λ' ≤ λ, never falling
    assert np.all(np.diff(env.lower) >= 0) and np.all(env.lower >= env.raw_lower) and np.all(env.lower <= J_hi)
    assert all(it["lower"] <= J_hi for it in dual.iterates)
    assert dual.best_lower >= dual.scalar_lower
