"""Smoke test of benchmarks/certify_convex.py (the two-layer convex certificates' benchmark) in quick mode."""

import importlib.util
import json
import os
import sys


def test_certify_convex_benchmark_quick(tmp_path):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "certify_convex.py")
    spec = importlib.util.spec_from_file_location("bench_certify_convex", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_certify_convex"] = mod  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(mod)
    rows = mod.main(["--quick", "--out", str(tmp_path / "c")])
    assert [r["loss"] for r in rows] == ["squared", "logistic"]
    for r in rows:
        assert r["lower"] <= r["upper"] and 0 <= r["rel_gap"] <= 1e-6 and r["converged"]
        assert r["best_lbfgs"] >= r["lower"]  # no trained network beats the certified bound
    assert (tmp_path / "c.md").read_text().startswith("| instance |")
    assert len(json.loads((tmp_path / "c.json").read_text())["rows"]) == 2
