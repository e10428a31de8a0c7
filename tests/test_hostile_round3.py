"""Issue 22: hostile files and options end in a one-line error naming the option, never a traceback or a hang.

Each test failed before its fix: zero-byte / empty / pickled .npz data (items 2), output folders that do not
exist yet (3), FIFOs (4), certify options silently ignored or naming internals (7), the predict subcommand and
the defaults of every --help (11).
"""

import argparse
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fenchel_cvx as fc
from fenchel_cvx.cli import build_parser, main

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _one_line_error(capsys, argv, match):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert match in err, err
    return err


@pytest.fixture
def bad_files(tmp_path):
    empty = tmp_path / "zero.npz"
    empty.write_bytes(b"")
    no_arrays = tmp_path / "noarrays.npz"
    np.savez(no_arrays)
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps([1, 2, 3]))
    return {"zero": str(empty), "noarrays": str(no_arrays), "pickled": str(pickled)}


@pytest.mark.parametrize("kind, match", [("zero", "is empty (0 bytes)"), ("noarrays", "expected arrays"),
                                         ("pickled", "never loaded")])
def test_bad_data_files_give_one_line_errors(capsys, tmp_path, bad_files, kind, match):
    f = bad_files[kind]
    err = _one_line_error(capsys, ["train", "--dataset", f, "--epochs", "1", "--quiet", "--output",
                                   str(tmp_path / "o")], match)
    assert "allow_pickle" not in err and "unsafely" not in err
    err = _one_line_error(capsys, ["certify", "--data", f, "--no-plot", "--quiet"], match)
    assert "allow_pickle" not in err and "unsafely" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_are_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    for fn in (fc.load, fc.load_checkpoint):
        with pytest.raises(ValueError, match="FIFO"):
            fn(fifo)
    _one_line_error(capsys, ["certify", "--data", str(fifo), "--no-plot", "--quiet"], "--data:")
    _one_line_error(capsys, ["train", "--dataset", str(fifo), "--quiet", "--output", str(tmp_path / "o")],
                    "FIFO")
    _one_line_error(capsys, ["predict", "--model", str(fifo), "--data", "digits"], "--model:")


def test_a_child_process_on_a_fifo_ends(tmp_path):
    """The end-to-end form of the FIFO probe: the command returns (bounded by the subprocess timeout)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-m", "fenchel_cvx.cli", "certify", "--data", str(fifo), "--no-plot"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2 and "FIFO" in out.stderr


def test_json_into_a_new_folder_is_written(tmp_path, capsys):
    target = tmp_path / "new" / "deeper" / "rows.json"
    rc = main(["check-blocks", "--blocks", "last_w", "--activations", "relu", "--losses", "squared",
               "--backends", "numpy-float64", "--quiet", "--json", str(target)])
    assert rc == 0, capsys.readouterr().err
    assert json.loads(target.read_text())["summary"]["rows"] >= 1


def test_certify_plot_and_json_into_new_folders(tmp_path, capsys):
    """Item 3: both outputs land in folders that did not exist (they failed after all the work before)."""
    plot, js = tmp_path / "a" / "p.png", tmp_path / "b" / "c" / "x.json"
    rc = main(["certify", "--arch", "1-2-1", "--samples", "4", "--no-standard", "--lams", "--starts", "1",
               "--bcd-starts", "0", "--quiet", "--plot", str(plot), "--json", str(js)])
    assert rc == 0, capsys.readouterr().err
    assert plot.stat().st_size > 0
    assert "bracket" in json.loads(js.read_text())


@pytest.mark.parametrize("argv, match", [
    (["--arch", ""], "--arch:"),
    (["--arch", "2--3-1"], "--arch:"),
    (["--arch", "1-2-1", "--features", "3"], "--features: conflicts with --arch"),
    (["--arch", "1-2-1", "--hidden", "3"], "--hidden: conflicts with --arch"),
    (["--dataset", "moons", "--data", "DATA"], "--dataset: conflicts with --data"),
    (["--dual", "1", "--dual-iters", "-1"], "--dual-iters:"),
    (["--rho", "0", "--lams"], "--rho:"),
    (["--samples", "0"], "--samples:"),
])
def test_certify_refuses_ignored_or_conflicting_options(capsys, tmp_path, argv, match):
    data = tmp_path / "d.npz"
    np.savez(data, X0=np.ones((1, 4)), y=np.zeros(4))
    argv = [str(data) if a == "DATA" else a for a in argv]
    err = _one_line_error(capsys, ["certify", *argv, "--no-plot", "--quiet", "--starts", "1", "--bcd-starts", "0",
                                   "--no-convex"], match)
    for internal in ("net.rho", " iters:", "Fbar"):
        assert internal not in err


def test_train_refuses_an_empty_arch(capsys, tmp_path):
    _one_line_error(capsys, ["train", "--arch", "", "--output", str(tmp_path / "o"), "--quiet"], "--arch:")


def test_errors_name_the_option_not_the_argument(capsys, tmp_path):
    err = _one_line_error(capsys, ["train", "--dataset", "nosuchdata", "--output", str(tmp_path / "o")],
                          "--dataset: unknown dataset")
    assert "name:" not in err
    torch = pytest.importorskip("torch")
    assert torch
    err = _one_line_error(capsys, ["check-blocks", "--device", "nosuchdevice", "--quiet"], "--device:")
    assert "device: " not in err.split("--device:", 1)[1]


@pytest.mark.scip
def test_certify_zero_targets_brackets_zero(capsys, tmp_path):
    pytest.importorskip("pyscipopt")
    data = tmp_path / "zero_targets.npz"
    np.savez(data, X0=np.linspace(0.1, 1.0, 6)[None, :], y=np.zeros(6))
    out = tmp_path / "sub" / "bounds.json"
    rc = main(["certify", "--data", str(data), "--no-plot", "--quiet", "--starts", "1", "--bcd-starts", "0",
               "--lams", "1", "--time-limit", "5", "--no-convex", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert out.exists()


def _options(parser):
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its options there
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                yield from _options(sub)
        elif action.option_strings and action.nargs != 0 and not action.required:
            yield parser.prog, action


def test_every_help_shows_every_default():
    parser = build_parser()
    missing = []
    for prog, action in _options(parser):
        formatter = parser._subparsers._group_actions[0].choices[prog.split()[-1]]._get_formatter()  # noqa: SLF001
        text = formatter._expand_help(action) if action.help else ""  # noqa: SLF001
        if "default" not in text:
            missing.append(f"{prog} {action.option_strings[0]}")
    assert not missing, missing


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    rc = main(["train", "--dataset", "digits", "--arch", "64-16-10", "--epochs", "1", "--quiet", "--no-plot",
               "--output", str(out)])
    assert rc == 0
    return out


def test_predict_reproduces_the_test_accuracy_of_train(trained, tmp_path, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    target = tmp_path / "new" / "scores.json"
    csv = tmp_path / "new" / "pred.csv"
    rc = main(["predict", "--model", str(trained / "model.npz"), "--data", "digits", "--json", str(target),
               "--output", str(csv)])
    assert rc == 0, capsys.readouterr().err
    scores = json.loads(target.read_text())
    assert scores["accuracy"] == metrics["final"]["test_acc"]
    ds = fc.data.load("digits")
    assert scores["samples"] == ds.X_test.shape[1]
    net = fc.load(trained / "model.npz")
    assert scores["loss"] == net.objective(ds.X_test, ds.y_test) - net.regulariser()
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rows[:, 0], net.predict(ds.X_test))
    np.testing.assert_array_equal(rows[:, 1], ds.y_test)


def test_predict_on_a_file_in_either_layout_and_without_labels(trained, tmp_path, capsys):
    ds = fc.data.load("digits")
    net = fc.load(trained / "model.npz")
    for layout, X in (("samples_x_features", ds.X_test.T), ("features_x_samples", ds.X_test)):
        f = tmp_path / f"{layout}.npz"
        np.savez(f, X=X, y=ds.y_test)
        out = tmp_path / f"{layout}_s.json"
        assert main(["predict", "--model", str(trained / "model.npz"), "--data", str(f), "--json", str(out)]) == 0
        assert json.loads(out.read_text())["accuracy"] == net.accuracy(ds.X_test, ds.y_test)
    f = tmp_path / "unlabelled.npz"
    np.savez(f, X=ds.X_test.T)
    pred = tmp_path / "p.npz"
    assert main(["predict", "--model", str(trained / "model.npz"), "--data", str(f), "--output", str(pred)]) == 0
    with np.load(pred) as z:
        np.testing.assert_array_equal(z["predictions"], net.predict(ds.X_test))
    assert "no labels" in capsys.readouterr().out
    _one_line_error(capsys, ["predict", "--model", str(trained / "model.npz"), "--data", str(f), "--output",
                             str(tmp_path / "p.txt")], "--output:")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, X=np.ones((5, 3)))
    _one_line_error(capsys, ["predict", "--model", str(trained / "model.npz"), "--data", str(wrong)],
                    "the model expects 64 features")


@pytest.mark.slow
def test_the_api_landing_page_lists_every_public_module(tmp_path):
    """Item 11: index.html listed 9 of 72 modules (``estimators`` missing); now every public module."""
    pytest.importorskip("pdoc")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "docs", "build_api.py"), str(tmp_path / "api")],
                         cwd=root, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    index = (tmp_path / "api" / "index.html").read_text()
    sys.path.insert(0, os.path.join(root, "docs"))
    try:
        import build_api
    finally:
        sys.path.pop(0)
    names = build_api.public_modules()
    assert "fenchel_cvx.estimators" in names and len(names) > 20
    missing = [m for m in names if f'href="{m.replace(".", "/")}.html"' not in index]
    assert not missing, missing


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_output_fifo_is_refused_before_the_work(tmp_path, capsys):
    """Item 4 for outputs: ``--json FIFO`` would block in open() after all the work."""
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    _one_line_error(capsys, ["check-blocks", "--blocks", "last_w", "--backends", "numpy-float64", "--quiet",
                             "--json", str(fifo)], "--json:")
    with pytest.raises(ValueError, match="FIFO"):
        fc.FenchelNetwork([2, 2]).save(fifo)
