"""Smoke test of benchmarks/certify_convex.py (the two-layer convex certificates' benchmark) in quick mode."""

import json

from tolerances import TOL


def test_certify_convex_benchmark_quick(tmp_path, load_script):
    mod = load_script("benchmarks/certify_convex.py")
    rows = mod.main(["--quick", "--out", str(tmp_path / "c")])
    assert [r["loss"] for r in rows] == ["squared", "logistic"]
    for r in rows:
        assert r["lower"] <= r["upper"] and 0 <= r["rel_gap"] <= TOL["convex_target_rel"] and r["converged"]
        assert r["best_lbfgs"] >= r["lower"]  # no trained network beats the certified bound
    assert (tmp_path / "c.md").read_text().startswith("| instance |")
    assert len(json.loads((tmp_path / "c.json").read_text())["rows"]) == 2
