"""Hostile probes of the public surface (issue 16): bad arguments, corrupt files, faults, mismatched resumes.

Every probe must end in a ``ValueError``/``TypeError``/``FileNotFoundError`` (or another ``OSError`` naming a
path) or a :class:`fenchel_cvx.FenchelError` whose message names the argument, option or path -- never in a
traceback from deep inside numpy/torch/the OS, a silent wrong result, a hang, or lost work. Probes that touch
training check that the refusal comes *before* any training (``Trainer.run`` is booby-trapped) and that the
network's weights are unchanged. The command-line probes expect exit status 2 and a one-line message.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import numpy as np
import pytest
from tolerances import RATIO, TOL

import fenchel_cvx as fc
from fenchel_cvx import FenchelError
from fenchel_cvx.blocks import BLOCKS, cross_check
from fenchel_cvx.blocks.instances import random_state
from fenchel_cvx.cli import main
from fenchel_cvx.errors import (
    FileFormatError,
    LiftedModeError,
    ResumeMismatch,
    SchedulerUnreachable,
)
from fenchel_cvx.layers import Conv2d

ACCEPTED = (ValueError, TypeError, OSError, FenchelError)
FAST = dict(epochs=1, batch_size=100, gamma=[0.03, 0.3], x_iters=3, last_w_iters=3, eval_samples=None, verbose=0)


# ---- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def d():
    return fc.data.load("digits").subset(200, 50, seed=0)


def net16(**kw):
    return fc.FenchelNetwork([64, 16, 10], seed=0, **kw)


@pytest.fixture(scope="module")
def ckpt(d, tmp_path_factory):
    """A checkpoint of a 1-epoch run with FAST, and a model file."""
    folder = tmp_path_factory.mktemp("ck")
    path = folder / "ck.npz"
    fc.train(net16(), d.X_train, d.y_train, d.X_test, d.y_test, checkpoint=path, **FAST)
    net16().save(folder / "model.npz")
    return path


@pytest.fixture(scope="module")
def state():
    return random_state("relu", "cross_entropy", sizes=(6, 5, 4, 3), m=8, seed=0)


@pytest.fixture
def no_training(monkeypatch):
    """Any probe that starts training fails: refusals must come before the work."""
    from fenchel_cvx.training import loop

    def trap(*args, **kwargs):
        raise AssertionError("training started before the bad argument was refused")

    monkeypatch.setattr(loop.Trainer, "run", trap)


@pytest.fixture
def afile(tmp_path):
    f = tmp_path / "afile"
    f.write_text("not a folder")
    return f


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a port that is not a Dask scheduler)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()
    for c in held:
        c.close()


def _damaged(tmp_path, ckpt, how):
    raw = open(ckpt, "rb").read()
    bad = tmp_path / f"{how}.npz"
    if how == "truncated":
        bad.write_bytes(raw[: len(raw) // 3])
    elif how == "garbage":
        bad.write_bytes(os.urandom(2048))
    elif how == "empty":
        bad.write_bytes(b"")
    elif how in ("no_state", "no_meta_key"):
        with np.load(ckpt, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode())
        if how == "no_state":
            arrays.pop("state_lam0")
        else:
            meta.pop("history")
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(bad, **arrays)
    return bad


# ---- the probes: (id, call(ctx), accepted exception types, regex the message must contain) ------------------
# ctx: a dict with the fixtures (d, ckpt, state, tmp, afile)
X3 = np.zeros((3, 4))


def _net_probes():
    N = fc.FenchelNetwork
    return [
        ("sizes-int", lambda c: N(5), TypeError, "sizes"),
        ("sizes-short", lambda c: N([64]), ValueError, "sizes"),
        ("sizes-zero", lambda c: N([64, 0, 10]), ValueError, "sizes"),
        ("sizes-float", lambda c: N([64, 2.5, 10]), ValueError, "sizes"),
        ("activation-None", lambda c: N([3, 4, 2], activation=None), TypeError, "activation"),
        ("activation-int", lambda c: N([3, 4, 2], activation=3), TypeError, "activation"),
        ("activation-unknown", lambda c: N([3, 4, 2], activation="softsign"), ValueError, "activation"),
        ("activation-count", lambda c: N([3, 4, 4, 2], activation=["relu"]), ValueError, "activation"),
        ("loss-unknown", lambda c: N([3, 2], loss="hinge"), ValueError, "loss"),
        ("loss-None", lambda c: N([3, 2], loss=None), TypeError, "loss"),
        ("lam-abc", lambda c: N([3, 4, 2], lam="abc"), TypeError, "lam"),
        ("lam-negative", lambda c: N([3, 4, 2], lam=-1.0), ValueError, "lam"),
        ("lam-count", lambda c: N([3, 4, 2], lam=[1.0, 2.0]), ValueError, "lam"),
        ("lam-nan", lambda c: N([3, 4, 2], lam=float("nan")), ValueError, "lam"),
        ("rho-count", lambda c: N([3, 4, 2], rho=[0.1]), ValueError, "rho"),
        ("seed-abc", lambda c: N([3, 2], seed="abc"), TypeError, "seed"),
        ("seed-negative", lambda c: N([3, 2], seed=-1), ValueError, "seed"),
        ("seed-float", lambda c: N([3, 2], seed=1.5), TypeError, "seed"),
        ("bias-string", lambda c: N([3, 2], bias="no"), TypeError, "bias"),
        ("dtype-int", lambda c: N([3, 2], dtype="int32"), TypeError, "dtype"),
        ("dtype-unknown", lambda c: N([3, 2], dtype="banana"), TypeError, "dtype"),
        ("leaky-slope-2", lambda c: fc.activations.get("leaky_relu", a=2.0), ValueError, "slope a"),
        ("leaky-slope-str", lambda c: fc.activations.get("leaky_relu", a="x"), TypeError, "slope"),
        ("conv-maxpool", lambda c: fc.ConvFenchelNetwork("conv2k3,maxpool2,flatten,dense2", input_shape=(1, 6, 6)),
         LiftedModeError, "max pooling"),
        ("conv-layers-int", lambda c: fc.ConvFenchelNetwork(5, input_shape=(1, 4, 4)), TypeError, "layers"),
        ("conv-input-shape", lambda c: fc.ConvFenchelNetwork("conv2k3,flatten,dense2", input_shape=(1, -2, 3)),
         ValueError, "input_shape"),
        ("conv-input-shape-str", lambda c: fc.ConvFenchelNetwork("conv2k3,flatten,dense2", input_shape="abc"),
         ValueError, "input_shape"),
        ("conv-preset", lambda c: fc.ConvFenchelNetwork.preset(3), ValueError, "preset"),
        ("conv-token-activation", lambda c: fc.ConvFenchelNetwork("conv2k3:softsign,flatten,dense2",
                                                                  input_shape=(1, 4, 4)), ValueError, "activation"),
        ("conv-kernel-0", lambda c: Conv2d(2, kernel=0), ValueError, "Conv2d.kernel"),
        ("conv-token", lambda c: fc.ConvFenchelNetwork("conv2x,dense2", input_shape=(1, 4, 4)), ValueError, "layers"),
    ]


def _eval_probes():
    net = fc.FenchelNetwork([3, 4, 2], seed=0)
    sq = fc.FenchelNetwork([3, 4, 2], loss="squared", seed=0)
    y4 = np.array([0, 1, 0, 1])
    return [
        ("objective-m0", lambda c: net.objective(np.zeros((3, 0)), np.zeros(0, int)), ValueError, "X0.*sample"),
        ("objective-rows", lambda c: net.objective(np.zeros((5, 4)), y4), ValueError, "X0"),
        ("objective-nan", lambda c: net.objective(np.full((3, 4), np.nan), y4), ValueError, "X0.*NaN"),
        ("objective-complex", lambda c: net.objective(X3 + 1j, y4), TypeError, "X0.*real"),
        ("objective-strings", lambda c: net.objective(np.array([["a"] * 4] * 3), y4), TypeError, "X0"),
        ("objective-label-k", lambda c: net.objective(X3, np.array([0, 1, 2, 1])), ValueError, "labels y"),
        ("objective-label-1e9", lambda c: net.objective(X3, np.array([0, 1, 10**9, 1])), ValueError, "labels y"),
        ("objective-y-length", lambda c: net.objective(X3, np.array([0, 1])), ValueError, "targets y"),
        ("lifted-count", lambda c: net.lifted_objective(X3, y4, []), ValueError, "X"),
        ("lifted-domain", lambda c: net.lifted_objective(X3, y4, [-np.ones((4, 4))]), ValueError, r"X\[1\]"),
        ("lifted-not-list", lambda c: net.lifted_objective(X3, y4, np.ones((4, 4))), TypeError, "X"),
        ("accuracy-squared", lambda c: sq.accuracy(X3, np.zeros((2, 4))), ValueError, "accuracy"),
        ("accuracy-m0", lambda c: net.accuracy(np.zeros((3, 0)), np.zeros(0, int)), ValueError, "X0"),
        ("set-params-shape", lambda c: net.set_params([np.zeros((1, 1))] * 2, [np.zeros(4), np.zeros(2)]),
         ValueError, r"W\[0\]"),
        ("evaluate-m0", lambda c: fc.evaluate(net, np.zeros((3, 0)), np.zeros(0, int)), ValueError, "X0"),
        ("evaluate-net", lambda c: fc.evaluate("net", X3, y4), TypeError, "net"),
        ("instance-m0", lambda c: random_state(m=0), ValueError, "m"),
    ]


def _block_probes():
    def blk(c, kind, **kw):
        net, X0, y, Xs = c["state"]
        return BLOCKS[kind].from_network(net, X0, y, Xs, **kw)

    return [
        ("solver-123", lambda c: blk(c, "last_w").solve_reference(solver=123), TypeError, "solver"),
        ("solver-unknown", lambda c: blk(c, "last_w").solve_reference(solver="NOPE"), ValueError, "solver"),
        ("hidden_w-layer-a", lambda c: blk(c, "hidden_w", layer="a"), ValueError, "layer"),
        ("hidden_w-layer-9", lambda c: blk(c, "hidden_w", layer=9), ValueError, "layer"),
        ("hidden_x-layer-a", lambda c: blk(c, "hidden_x", layer="a"), ValueError, "layer"),
        ("last_w-layer-0", lambda c: blk(c, "last_w", layer=0), ValueError, "layer"),
        ("crosscheck-kind", lambda c: cross_check({"middle_x": lambda b: None}), ValueError, "solvers"),
        ("crosscheck-not-callable", lambda c: cross_check({"last_w": 3}), TypeError, "solvers"),
    ]


def _train_probes():
    def T(c, net=None, **kw):
        dd = c["d"]
        return fc.train(net or net16(), dd.X_train, dd.y_train, dd.X_test, dd.y_test, **{**FAST, **kw})

    return [
        ("train-net", lambda c: fc.train("net", X3, np.zeros(4)), TypeError, "net"),
        ("train-config", lambda c: T(c, config=5), TypeError, "config"),
        ("train-option", lambda c: T(c, not_an_option=1), TypeError, "not_an_option"),
        ("train-seed-abc", lambda c: T(c, seed="abc"), TypeError, "seed"),
        ("train-lam-abc", lambda c: T(c, lam="abc"), TypeError, "lam"),
        ("train-epochs-neg", lambda c: T(c, epochs=-1), ValueError, "epochs"),
        ("train-schedule", lambda c: T(c, schedule="sometimes"), ValueError, "schedule"),
        ("train-ckpt-every-0", lambda c: T(c, checkpoint_every=0), ValueError, "checkpoint_every"),
        ("train-ckpt-under-file", lambda c: T(c, checkpoint=c["afile"] / "ck.npz"), OSError, "checkpoint.*afile"),
        ("train-ckpt-is-dir", lambda c: T(c, checkpoint=c["tmp"]), OSError, "checkpoint.*directory"),
        ("train-ckpt-type", lambda c: T(c, checkpoint=5), TypeError, "checkpoint"),
        ("train-resume-missing", lambda c: T(c, resume=c["tmp"] / "none.npz"), FileNotFoundError, "none.npz"),
        ("train-resume-garbage", lambda c: T(c, resume=_damaged(c["tmp"], c["ckpt"], "garbage")), FileFormatError,
         "corrupt checkpoint.*garbage.npz"),
        ("train-resume-truncated", lambda c: T(c, resume=_damaged(c["tmp"], c["ckpt"], "truncated")),
         FileFormatError, "corrupt checkpoint.*truncated.npz"),
        ("train-resume-empty", lambda c: T(c, resume=_damaged(c["tmp"], c["ckpt"], "empty")), FileFormatError,
         "corrupt checkpoint.*empty.npz"),
        ("train-resume-no-lam", lambda c: T(c, resume=_damaged(c["tmp"], c["ckpt"], "no_state"), epochs=2),
         FileFormatError, "corrupt checkpoint.*lam"),
        ("train-resume-no-history", lambda c: T(c, resume=_damaged(c["tmp"], c["ckpt"], "no_meta_key"), epochs=2),
         FileFormatError, "corrupt checkpoint.*history"),
        ("train-resume-model-file", lambda c: T(c, resume=c["ckpt"].parent / "model.npz"), FileFormatError,
         "corrupt checkpoint.*model.npz"),
        ("resume-config", lambda c: T(c, resume=c["ckpt"], epochs=2, lam_growth=2.0), ResumeMismatch, "lam_growth"),
        ("resume-fewer-epochs", lambda c: T(c, resume=c["ckpt"], epochs=0), ResumeMismatch, "epochs"),
        ("resume-other-data", lambda c: fc.train(net16(), c["d"].X_train[:, :150], c["d"].y_train[:150],
                                                 c["d"].X_test, c["d"].y_test, resume=c["ckpt"],
                                                 **{**FAST, "epochs": 2}),
         ResumeMismatch, "train data"),
        ("resume-architecture", lambda c: T(c, net=fc.FenchelNetwork([64, 8, 10]), resume=c["ckpt"], epochs=2),
         ResumeMismatch, "sizes"),
        ("resume-activation", lambda c: T(c, net=net16(activation="tanh"), resume=c["ckpt"], epochs=2),
         ResumeMismatch, "activation"),
        ("resume-rho", lambda c: T(c, net=net16(rho=0.1), resume=c["ckpt"], epochs=2), ResumeMismatch, "rho"),
        ("resume-force-type", lambda c: T(c, resume=c["ckpt"], epochs=2, force_resume="yes"), TypeError,
         "force_resume"),
        ("train-empty-test", lambda c: fc.train(net16(), c["d"].X_train, c["d"].y_train, np.zeros((64, 0)),
                                                np.zeros(0, int), **FAST), ValueError, "X_test"),
        ("train-empty-val", lambda c: fc.train(net16(), c["d"].X_train, c["d"].y_train, X_val=np.zeros((64, 0)),
                                               y_val=np.zeros(0, int), **FAST), ValueError, "X_val"),
        ("train-test-without-y", lambda c: fc.train(net16(), c["d"].X_train, c["d"].y_train, c["d"].X_test, None,
                                                    **FAST), ValueError, "y_test"),
        ("train-no-samples", lambda c: fc.train(net16(), np.zeros((64, 0)), np.zeros(0, int), **FAST), ValueError,
         "X"),
    ]


def _data_probes():
    def npz(c, name, X, y):
        path = c["tmp"] / name
        np.savez(path, X=X, y=y)
        return path

    rng = np.random.default_rng(0)
    return [
        ("data-int32", lambda c: fc.data.load("digits", dtype=np.int32), TypeError, "dtype"),
        ("data-float16", lambda c: fc.data.load("digits", dtype="float16"), TypeError, "dtype"),
        ("data-seed", lambda c: fc.data.load("digits", seed="abc"), TypeError, "seed"),
        ("data-name-int", lambda c: fc.data.load(5), TypeError, "name"),
        ("data-name-unknown", lambda c: fc.data.load("nope"), ValueError, "unknown dataset"),
        ("data-npz-missing", lambda c: fc.data.load(str(c["tmp"] / "missing.npz")), FileNotFoundError, "missing.npz"),
        ("data-test-fraction", lambda c: fc.data.load("digits", test_fraction=1.5), ValueError, "test_fraction"),
        ("data-fashion-path", lambda c: fc.data.load("fashion-mnist", path=c["tmp"]), FileNotFoundError,
         "fashion-mnist"),
        ("data-path-type", lambda c: fc.data.load("digits", path=3), TypeError, "path"),
        ("npz-label-1e9", lambda c: fc.data.load(npz(c, "big.npz", rng.random((40, 3)), np.r_[np.zeros(39), 1e9])),
         ValueError, "big.npz.*label"),
        ("npz-label-float", lambda c: fc.data.load(npz(c, "frac.npz", rng.random((10, 3)), np.full(10, 0.5))),
         ValueError, "frac.npz.*labels"),
        ("npz-nan", lambda c: fc.data.load(npz(c, "nan.npz", np.full((10, 3), np.nan), np.arange(10) % 2)),
         ValueError, "nan.npz.*NaN"),
        ("npz-keys", _wrong_keys, ValueError, "wrong.npz"),
    ]


def _wrong_keys(c):
    path = c["tmp"] / "wrong.npz"
    np.savez(path, A=np.zeros(3))
    return fc.data.load(path)


def _io_probes():
    return [
        ("load-garbage", lambda c: fc.load(_damaged(c["tmp"], c["ckpt"], "garbage")), FileFormatError,
         "corrupt model file.*garbage.npz"),
        ("load-missing", lambda c: fc.load(c["tmp"] / "none.npz"), FileNotFoundError, "none.npz"),
        ("load-path-type", lambda c: fc.load(3.5), TypeError, "path"),
        ("save-under-file", lambda c: net16().save(c["afile"] / "m.npz"), OSError, "afile"),
        ("save-not-net", lambda c: fc.save(object(), c["tmp"] / "m.npz"), TypeError, "net"),
    ]


PROBES = _net_probes() + _eval_probes() + _block_probes() + _train_probes() + _data_probes() + _io_probes()


def test_there_are_enough_probes():
    assert len(PROBES) + len(CLI_PROBES) >= 60


@pytest.mark.parametrize("call,exc,match", [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_probe_is_refused_by_name(call, exc, match, d, ckpt, state, tmp_path, afile, no_training):
    ctx = {"d": d, "ckpt": ckpt, "state": state, "tmp": tmp_path, "afile": afile}
    with pytest.raises(ACCEPTED) as info:
        call(ctx)
    assert isinstance(info.value, exc), f"{type(info.value).__name__}: {info.value}"
    assert info.match(match)
    assert "\n" not in str(info.value).strip() or isinstance(info.value, ResumeMismatch)


# ---- probes that must *succeed* (no silent wrong result) -----------------------------------------------
def test_mixed_backends_give_the_numpy_value():
    torch = pytest.importorskip("torch")
    net, X0, y, Xs = random_state("tanh", "cross_entropy", sizes=(6, 5, 4, 3), m=8, seed=1)
    ref = net.lifted_objective(X0, y, Xs)
    assert net.lifted_objective(X0, y, [torch.as_tensor(X) for X in Xs]) == pytest.approx(
        ref, rel=TOL["backend"]["float64"]["rtol"])


def test_numerics_at_large_pre_activations():
    u = np.array([-1e4, -30.0, 0.0, 30.0, 1e4])
    for name in fc.activations.names():
        act = fc.activations.get(name)
        for dt in (np.float32, np.float64):
            uu = u.astype(dt)
            v = act.phi(uu)
            assert np.all(np.isfinite(v)), name
            div = act.divergence(uu, v)
            assert np.all(np.isfinite(div)) and np.all(div >= -RATIO["float32_divergence"] * (1 + np.abs(uu))), \
                (name, dt, div)


def test_a_forced_resume_uses_and_reports_the_new_schedule(d, ckpt):
    res = fc.train(net16(), d.X_train, d.y_train, d.X_test, d.y_test, resume=ckpt, force_resume=True,
                   **{**FAST, "epochs": 3, "lam_growth": 2.0})
    before = fc.training.preset("tuned", 1)["lam_growth"]  # train()'s default schedule, the checkpoint's
    assert before != 2.0
    assert res.resumed["changed"] == {"lam_growth": [before, 2.0]} and res.resumed["epoch"] == 1
    assert res.config["lam_growth"] == 2.0
    lams = [r["lam"][0] for r in res.history]
    assert lams[2] == pytest.approx(2.0 * lams[1]) and lams[3] == pytest.approx(4.0 * lams[1])  # the growth in use
    assert res.metrics()["resumed"]["changed"] == {"lam_growth": [before, 2.0]}


def test_a_resume_with_more_epochs_is_the_same_run(d, ckpt):
    resumed = fc.train(net16(), d.X_train, d.y_train, d.X_test, d.y_test, resume=ckpt, **{**FAST, "epochs": 2})
    full = fc.train(net16(), d.X_train, d.y_train, d.X_test, d.y_test, **{**FAST, "epochs": 2})
    for a, b in zip(resumed.net.W, full.net.W, strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.resumed == {"path": str(ckpt), "epoch": 1, "changed": {}, "data_changed": []}


def test_backprop_resume_mismatch_and_corruption(d, tmp_path):
    pytest.importorskip("torch")
    from fenchel_cvx.baselines import train_backprop

    ck = tmp_path / "adam.npz"
    kw = dict(method="adam", epochs=1, batch_size=100, verbose=0)
    train_backprop(net16(), d.X_train, d.y_train, checkpoint=ck, lr=1e-3, **kw)
    with pytest.raises(ResumeMismatch, match="lr"):
        train_backprop(net16(), d.X_train, d.y_train, resume=ck, lr=1e-2, **{**kw, "epochs": 2})
    res = train_backprop(net16(), d.X_train, d.y_train, resume=ck, lr=1e-2, force_resume=True, **{**kw, "epochs": 2})
    assert res.resumed["changed"]["lr"] == [1e-3, 1e-2]
    with pytest.raises(FileFormatError, match="corrupt checkpoint"):
        train_backprop(net16(), d.X_train, d.y_train, resume=_damaged(tmp_path, ck, "truncated"), **kw)
    with pytest.raises(TypeError, match="seed"):
        train_backprop(net16(), d.X_train, d.y_train, seed="abc", **kw)


def test_a_tiny_npz_trains_without_test_scores_not_as_divergence(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, X=rng.random((6, 4)), y=np.array([0, 1, 2, 0, 1, 2]))  # 2 per class: 25 % rounds to 0
    ds = fc.data.load(path)
    assert ds.X_test.shape[1] == 0
    rc = main(["train", "--dataset", str(path), "--epochs", "1", "--output", str(tmp_path / "o"), "--quiet",
               "--no-plot"])
    assert rc == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert "test_acc" not in metrics["history"][-1] and np.isfinite(metrics["history"][-1]["J"])


# ---- Dask: bounded connection -------------------------------------------------------------------------------
def test_dask_silent_scheduler_fails_within_connect_timeout(silent_server, d, tmp_path):
    pytest.importorskip("distributed")
    from fenchel_cvx.training.dask import train_distributed

    with pytest.raises(ValueError, match="connect_timeout"):
        train_distributed(net16(), d.X_train, d.y_train, scheduler=silent_server, connect_timeout=-1, **FAST)
    t0 = time.perf_counter()
    with pytest.raises(SchedulerUnreachable, match=silent_server.split("//")[1]):
        train_distributed(net16(), d.X_train, d.y_train, scheduler=silent_server, connect_timeout=1.0, **FAST)
    assert time.perf_counter() - t0 < 1.0 + 5.0
    t0 = time.perf_counter()
    rc = main(["train", "--epochs", "1", "--n-train", "100", "--scheduler", silent_server, "--connect-timeout", "1",
               "--output", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and time.perf_counter() - t0 < 1.0 + 8.0


# ---- the command line: exit 2, a one-line message naming the option, before any work -------------------------
CLI_PROBES = [
    ("output-is-file", ["train", "--output", "{afile}"], "--output"),
    ("output-under-file", ["train", "--output", "{afile}/run"], "--output"),
    ("checkpoint-under-file", ["train", "--checkpoint", "{afile}/ck.npz", "--output", "{tmp}/o"], "--checkpoint"),
    ("checkpoint-is-dir", ["train", "--checkpoint", "{tmp}", "--output", "{tmp}/o"], "--checkpoint"),
    ("model-is-dir", ["train", "--model", "{tmp}", "--output", "{tmp}/o"], "--model"),
    ("resume-missing", ["train", "--resume", "{tmp}/none.npz", "--output", "{tmp}/o"], "--resume"),
    ("resume-garbage", ["train", "--resume", "{garbage}", "--output", "{tmp}/o"], "corrupt checkpoint"),
    ("n-test-0", ["train", "--n-test", "0"], "--n-test"),
    ("workers-0", ["train", "--scheduler", "local", "--workers", "0"], "--workers"),
    ("connect-timeout-0", ["train", "--scheduler", "local", "--connect-timeout", "0"], "--connect-timeout"),
    ("dataset-folder", ["train", "--dataset", "fashion-mnist", "--data-path", "{tmp}"], "fashion-mnist"),
    ("arch", ["train", "--arch", "64-x-10"], "--arch"),
    ("blocks-json-under-file", ["check-blocks", "--json", "{afile}/rows.json"], "--json"),
    ("blocks-device", ["check-blocks", "--backends", "numpy-float64", "--device", "cuda"], "--device"),
    ("blocks-backend", ["check-blocks", "--backends", "jax-float64"], "--backends"),
    ("blocks-external", ["check-blocks", "--external", "last_w"], "--external"),
    ("certify-plot-under-file", ["certify", "--plot", "{afile}/b.png"], "--plot"),
    ("certify-json-is-dir", ["certify", "--no-plot", "--json", "{tmp}"], "--json"),
]


@pytest.mark.parametrize("argv,match", [p[1:] for p in CLI_PROBES], ids=[p[0] for p in CLI_PROBES])
def test_cli_probe_exits_2_with_one_line(argv, match, tmp_path, afile, ckpt, capsys, no_training):
    fill = {"tmp": str(tmp_path), "afile": str(afile), "garbage": str(_damaged(tmp_path, ckpt, "garbage"))}
    rc = main([a.format(**fill) for a in argv] + ["--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and match in err, err
    assert not (tmp_path / "o").exists()  # nothing was written


def test_cli_cuda_without_cuda_names_the_device(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    rc = main(["check-blocks", "--device", "cuda", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "--device" in err and "CUDA" in err


def test_cli_resume_mismatch_names_the_override(d, ckpt, tmp_path, capsys):
    rc = main(["train", "--n-train", "200", "--arch", "64-16-10", "--epochs", "2", "--lam-growth", "3",
               "--resume", str(ckpt), "--output", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "--force-resume" in err and len(err.strip().splitlines()) == 1
