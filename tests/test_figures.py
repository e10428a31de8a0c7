"""Tests of ``paper_figures/`` beyond the smoke runs in ``tests/test_demos.py``.

``test_demos.py`` runs the blocks and training sections at tiny sizes, the MISSING report and (marked
slow) the whole quick mode. Here: the relaxation section's bound envelopes (no solver), the relaxation
and LeNet-5 sections in quick mode, the cached reference failures of the blocks section, and the size
of the saved PNGs (they are committed). Each test takes seconds; together well under a minute.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = os.path.join(ROOT, "paper_figures")


def _load_make_figures():
    return load_script("paper_figures/make_figures.py")


def _png_size(path: str) -> tuple:
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_relaxation_envelopes_are_monotone_and_valid():
    """min F_λ is nondecreasing in λ and ≤ min J: the envelopes take running max / min of SCIP's bounds."""
    _load_make_figures()
    import fig_relaxation

    res = {"J_hi": 1.0, "sweep": [  # given out of order; λ = 10 timed out with a loose dual bound
        {"lam": 10.0, "F_lo": 0.2, "F_hi": 0.97, "status": "timelimit", "time": 20.0},
        {"lam": 0.1, "F_lo": 0.3, "F_hi": 0.31, "status": "optimal", "time": 1.0},
        {"lam": 1.0, "F_lo": 0.8, "F_hi": 0.81, "status": "optimal", "time": 1.0},
        {"lam": 100.0, "F_lo": 0.99, "F_hi": 1.2, "status": "optimal", "time": 1.0},
    ]}
    lams, lo, hi, status = fig_relaxation.envelopes(res)
    np.testing.assert_array_equal(lams, [0.1, 1.0, 10.0, 100.0])
    np.testing.assert_allclose(lo, [0.3, 0.8, 0.8, 0.99])  # λ = 10 borrows λ = 1's certified bound
    np.testing.assert_allclose(hi, [0.31, 0.81, 0.97, 1.0])  # capped by J_hi
    assert status == ["optimal", "optimal", "timelimit", "optimal"]
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0) and np.all(lo <= hi)


def test_saved_png_is_small_palette_image(tmp_path):
    _load_make_figures()
    from _fig_util import save, setup_matplotlib

    plt = setup_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.linspace(0, 10, 200)
    for k in range(4):
        ax.plot(x, np.sin(x + k), label=f"curve {k}")
    ax.set_xlabel("x [s]")
    ax.legend()
    path = save(fig, str(tmp_path), "t.png")
    w, h = _png_size(path)
    assert 600 <= w <= 800 and 350 <= h <= 450  # figsize x 100 dpi (tight bounding box)
    assert os.path.getsize(path) < 60_000
    from PIL import Image

    assert Image.open(path).mode == "P"


def test_blocks_reference_failure_is_cached(tmp_path, monkeypatch):
    """A CVXPY reference that fails is a cached finding (noted in results.md), not re-run on every call."""
    mf = _load_make_figures()
    import fig_blocks

    from fenchel_cvx.blocks import SolverError

    calls = []

    def fake_run(kind, activation, m, p):
        calls.append((kind, activation, m))
        if kind == "hidden_x" and m == 24:
            raise SolverError("block hidden_x[l=1]: solver CLARABEL returned status 'optimal_inaccurate'")
        return {"kind": kind, "activation": activation, "m": m, "ref_time": 0.5, "fast_time": 0.01,
                "ref_objective": 1.0, "fast_objective": 1.0 - 1e-12, "fast_lower_bound": 1.0 - 2e-12,
                "ref_certified_gap": 0.0, "rel_gap": -5e-13, "cert_rel_gap": 1e-12, "fast_iterations": 3,
                "fast_status": "optimal", "fast_method": "test"}

    monkeypatch.setattr(fig_blocks, "one_run", fake_run)
    monkeypatch.setattr(fig_blocks, "QUICK", {**fig_blocks.QUICK, "ms": {"relu": [12, 24]}})
    args = ["--quick", "--only", "blocks", "--out", str(tmp_path / "f"), "--cache", str(tmp_path / "c")]
    assert mf.main(args) == 0
    n = len(calls)
    assert n == 2 * len(fig_blocks._check_available().BLOCKS)
    text = (tmp_path / "f" / "results.md").read_text()
    assert "no data for hidden_x/relu/m=24" in text and "optimal_inaccurate" in text
    assert mf.main(args) == 0
    assert len(calls) == n  # everything, the failure included, came from the cache
    failures = [json.load(open(os.path.join(d, f)))["result"] for d, _, fs in os.walk(tmp_path / "c") for f in fs
                if f.startswith("hidden_x-relu-m24")]
    assert len(failures) == 1 and "error" in failures[0]
    assert _png_size(str(tmp_path / "f" / "blocks_fast_vs_cvxpy.png"))[0] >= 700


def test_relaxation_section_quick(tmp_path):
    pytest.importorskip("pyscipopt")
    mf = _load_make_figures()
    out = tmp_path / "f"
    assert mf.main(["--quick", "--only", "relaxation", "--out", str(out), "--cache", str(tmp_path / "c")]) == 0
    text = (out / "results.md").read_text()
    assert "FAILED" not in text and "MISSING" not in text
    assert "every certified lower bound ≤ every upper bound: yes" in text
    w, _ = _png_size(str(out / "relaxation_gap_vs_lambda.png"))
    assert 700 <= w <= 1300


def test_lenet_section_quick_runs(tmp_path):
    """LeNet-5 in quick mode: the conv training of issue 5 has landed, so the section must produce its figure."""
    pytest.importorskip("torch")
    mf = _load_make_figures()
    out = tmp_path / "f"
    rc = mf.main(["--quick", "--only", "lenet", "--out", str(out), "--cache", str(tmp_path / "c")])
    assert rc == 0
    text = (out / "results.md").read_text()
    assert "FAILED" not in text and "MISSING" not in text
    assert (out / "lenet_accuracy.png").is_file()
    assert "| lifted |" in text and "| adam |" in text and "| mm-then-adaptive (default) |" in text


def test_only_keeps_the_other_sections_of_an_existing_results_md(tmp_path):
    """Without a cache (a fresh checkout), ``--only SECTION`` rewrites that section of results.md and keeps
    the others as they were: they are recognised by their ``--only NAME`` regenerate command."""
    mf = _load_make_figures()
    out = tmp_path / "figs"
    out.mkdir()
    kept = ("## Some other section\n\nRegenerate: `python paper_figures/make_figures.py --only relaxation` "
            "(drawn earlier)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (out / "results.md").write_text("# Results\n\n" + kept)
    missing = mf.Missing("fenchel_cvx.nothing", "a test")
    mf.write_results(str(out / "results.md"), {"blocks": missing}, False, str(out), cache_dir=None)
    text = (out / "results.md").read_text()
    assert "## blocks: MISSING" in text
    assert kept.strip() in text
    # a section that was never written stays absent, and the kept one appears once
    assert text.count("--only relaxation") == 1 and "--only lenet" not in text
