"""Smoke test of benchmarks/certify_realdata.py (issue 21 item 2: real data sets) in quick mode, and of
benchmarks/certify_scnn.py (scnn beside the certificate; it skips itself without scnn)."""

import json

import numpy as np
import pytest
from tolerances import RATIO


@pytest.mark.scip
def test_certify_realdata_benchmark_quick(tmp_path, load_script):
    mod = load_script("benchmarks/certify_realdata.py")
    rows = mod.main(["--quick", "--out", str(tmp_path / "r")])
    assert [r["data"] for r in rows] == ["iris", "moons"]
    assert [r["d"] for r in rows] == [4, 2] and [r["oracle"] for r in rows] == ["scip", "exact"]
    for r in rows:
        assert (
            r["lower"] <= r["upper"]
            and r["rel_gap"] >= 0
            and r["command"].startswith("python benchmarks/")
        )
        assert (
            r["cpu_time"] <= r["time_limit"] * 2
        )  # the CPU time limit is honoured (one last step may overrun)
    assert (tmp_path / "r.md").read_text().startswith("| data")
    assert len(json.loads((tmp_path / "r.json").read_text())["rows"]) == 2
    # standardised features
    X0, _ = mod.load("iris")
    assert float(np.abs(X0.mean(axis=1)).max()) <= RATIO["rounding"] and X0.shape == (4, 100)


def test_certify_scnn_benchmark_quick(tmp_path, load_script):
    mod = load_script("benchmarks/certify_scnn.py")
    rows = mod.main(["--quick", "--out", str(tmp_path / "s")])
    if not mod.have_scnn():
        assert rows == []
        return
    (r,) = rows
    assert r["lower"] <= r["J_scnn"] and r["gap_scnn"] >= 0 and r["lower"] <= r["recovered"]
    assert (tmp_path / "s.md").read_text().startswith("| instance")
