"""Ecosystem habits: logging instead of print, no global matplotlib state, an Install section that lists every
extra, an SPDX license, a warning before a large CVXPY reference solve."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest

import fenchel_cvx as fc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def small():
    return fc.data.load("digits").subset(200, 50, seed=0)


def _train(d, verbose):
    fc.train(fc.FenchelNetwork([64, 8, 10], seed=0), d.X_train, d.y_train, epochs=1, batch_size=100,
             verbose=verbose)


def test_verbose_lines_reach_stderr_when_logging_is_not_configured(small, capfd, monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's own capture handler counts as configured
    _train(small, verbose=1)
    err = capfd.readouterr().err
    assert "epoch   0" in err and "epoch   1" in err
    _train(small, verbose=0)
    assert capfd.readouterr().err == ""


def test_verbose_lines_go_to_the_applications_handlers(small, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="fenchel_cvx"):
        _train(small, verbose=1)
    lines = [r for r in caplog.records if r.name == "fenchel_cvx.training"]
    assert len(lines) == 2 and lines[0].levelno == logging.INFO and "epoch   1" in lines[1].getMessage()
    assert "epoch" not in capfd.readouterr().err  # not printed a second time
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="fenchel_cvx"):
        _train(small, verbose=0)
    assert {r.levelno for r in caplog.records if r.name == "fenchel_cvx.training"} == {logging.DEBUG}


def test_no_print_in_the_library_outside_the_commands():
    """Messages go through logging; only the command line (cli.py, commands/) prints, its output being the product."""
    import ast

    bad = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "fenchel_cvx")):
        if os.sep + "commands" in folder:
            continue
        for f in files:
            path = os.path.join(folder, f)
            if not f.endswith(".py") or f == "cli.py" or path.endswith(os.path.join("fenchel_cvx", "log.py")):
                continue  # log.py: the stderr handler's fallback when tqdm is missing
            tree = ast.parse(open(path, encoding="utf-8").read())
            calls = [n.lineno for n in ast.walk(tree)
                     if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"]
            bad += [f"{os.path.relpath(path, ROOT)}:{line}" for line in calls]
    assert not bad, bad


def test_no_global_matplotlib_backend_change():
    """No library module selects a matplotlib backend or draws through pyplot (plots go on given axes or a new
    ``Figure``, as in fenchel_cvx.plotting and CertifyReport.plot)."""
    bad = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "fenchel_cvx")):
        for f in files:
            rel = os.path.relpath(os.path.join(folder, f), ROOT)
            if not f.endswith(".py"):
                continue
            text = open(os.path.join(folder, f), encoding="utf-8").read()
            if "matplotlib.use(" in text or "matplotlib.pyplot" in text or "from matplotlib import pyplot" in text:
                bad.append(rel)
    assert not bad, bad


def test_plot_history_draws_on_given_axes_and_returns_the_figure(small, tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from fenchel_cvx.plotting import plot_history

    res = fc.train(fc.FenchelNetwork([64, 8, 10], seed=0), small.X_train, small.y_train, small.X_test,
                   small.y_test, epochs=2, batch_size=100, verbose=0)
    backend, n_figs = matplotlib.get_backend(), len(plt.get_fignums())
    fig = plot_history(res.history, tmp_path / "curve.png", title="t")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == backend and len(plt.get_fignums()) == n_figs  # no pyplot state touched
    assert len(fig.axes) == 2
    mine, axes = plt.subplots(1, 2)
    try:
        assert plot_history([res.history, res.history], ax=axes, labels=["a", "b"]) is mine
        assert len(axes[0].lines) == 4  # train and test accuracy of both histories
    finally:
        plt.close(mine)
    with pytest.raises(TypeError, match="ax"):
        plot_history(res.history, ax=3)
    with pytest.raises(ValueError, match="labels"):
        plot_history([res.history], labels=["a", "b"])


def test_install_section_lists_every_extra():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    meta = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]  # SPDX expression
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    install = readme[readme.index("## Install"):readme.index("## Quick start")]
    extras = [e for e in meta["optional-dependencies"] if e != "all"]
    missing = [e for e in extras if f"| `{e}` |" not in install]
    assert not missing, f"extras missing from the README's Install table: {missing}"


def test_a_large_reference_solve_is_announced(caplog, monkeypatch):
    from fenchel_cvx import log as fc_log
    from fenchel_cvx.blocks import LastWBlock
    from fenchel_cvx.blocks.instances import random_state

    net, X0, y, Xs = random_state("relu", "squared", sizes=(6, 5, 4, 3), m=8, seed=0)
    blk = LastWBlock.from_network(net, X0, y, Xs)
    with caplog.at_level(logging.WARNING, logger="fenchel_cvx"):
        blk.solve_reference()
    assert not caplog.records  # a small block: no warning
    monkeypatch.setattr(fc_log, "LARGE_REFERENCE", 10)
    with caplog.at_level(logging.WARNING, logger="fenchel_cvx"):
        res = blk.solve_reference()
    (rec,) = [r for r in caplog.records if r.name == "fenchel_cvx.blocks"]
    assert "last_w" in rec.getMessage() and "solve_fast" in rec.getMessage()
    assert np.isfinite(res.objective)
