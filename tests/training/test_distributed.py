"""The Dask runner (fenchel_cvx.distributed): equal to the single-process run, survives a lost worker,
fails fast on a bad scheduler, resumes checkpoints; the CLI and estimator hooks.

Most tests share one in-process LocalCluster (2 workers, 1 thread each: starting worker processes
takes seconds); the CLI test starts a real 2-process LocalCluster, the slow test kills a real worker process.
"""

from __future__ import annotations

import json

import pytest
from numpy.testing import assert_allclose
from tolerances import TOL

pytest.importorskip("distributed")

from fenchel_cvx import data  # noqa: E402
from fenchel_cvx.network import FenchelNetwork  # noqa: E402
from fenchel_cvx.training import train, tuned  # noqa: E402
from fenchel_cvx.training.dask import KillWorkerOnce, connect, train_distributed  # noqa: E402


@pytest.fixture(scope="module")
def client():
    c = connect(n_workers=2, processes=False)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    ds = data.load("digits")
    return ds.X_train[:, :400], ds.y_train[:400], ds.X_test[:, :200], ds.y_test[:200]


def _cfg(**kw):
    return dict(dict(tuned(1), epochs=2, batch_size=100), **kw)


def _weights(res):
    return res.net.W + res.net.b


def _assert_same(r1, r2, tol):
    for a, b in zip(_weights(r1), _weights(r2)):
        assert_allclose(b, a, **tol)
    assert len(r1.history) == len(r2.history)
    for h1, h2 in zip(r1.history, r2.history):
        assert set(h1) == set(h2)  # same record format
        for k in ("F", "J", "train_acc", "test_acc", "lam", "gamma"):
            assert_allclose(h2[k], h1[k], **tol)


# the single-process branches reached: batch 100 >= 65 -> weight space; batch 50 < 65 -> sample space
@pytest.mark.parametrize("sizes,kw", [
    ([64, 32, 10], {}),
    ([64, 32, 10], dict(batch_size=50)),
    ([64, 32, 10], dict(refresh=False)),  # all layers' W-steps concurrent
    ([64, 24, 16, 10], dict(gamma=[0.03, 0.03, 1.0], refresh_inertia=True)),
    ([64, 10], dict(gamma=1.0)),  # no hidden layer: the output W-step alone
    # F on a seeded subset of the evaluation samples; a phase (new λ_0, no inertia) from the second epoch on
    ([64, 32, 10], dict(eval_f_samples=150, phases=[{"epoch": 1, "lam": 3.0, "lam_growth": 1.0, "momentum": 0.0}])),
])
def test_equals_single_process(client, digits, sizes, kw):
    X, y, Xt, yt = digits
    cfg = _cfg(**kw)
    r1 = train(FenchelNetwork(sizes, seed=0), X, y, Xt, yt, cfg, verbose=0)
    r2 = train_distributed(FenchelNetwork(sizes, seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0)
    _assert_same(r1, r2, TOL["identity"]["float64"])
    assert r1.history[-1]["test_acc"] > 0.5  # it learns (the comparison is not between two no-ops)
    comm = r2.distributed["comm"]
    assert r2.distributed["n_shards"] == 2 and len(comm) == 3
    n_batches = 400 // cfg["batch_size"]
    L = len(sizes) - 2
    rounds = sum([cfg["w_iters"]] * L + [cfg["last_w_iters"]]) if cfg.get("refresh", True) and L \
        else max([cfg["w_iters"]] * L + [cfg["last_w_iters"]])
    assert comm[1]["train"]["rounds"] == n_batches * rounds
    assert comm[1]["train"]["received"] > 0 and comm[1]["train"]["sent"] > 0


def test_three_shards_float32_and_val(client, digits):
    X, y, Xt, yt = digits
    cfg = _cfg(dtype="float32", val_fraction=0.2)
    r1 = train(FenchelNetwork([64, 32, 10], seed=1), X, y, Xt, yt, cfg, verbose=0)
    r2 = train_distributed(FenchelNetwork([64, 32, 10], seed=1), X, y, Xt, yt, cfg, scheduler=client, n_shards=3,
                           verbose=0)
    assert r2.distributed["n_shards"] == 3 and "val_acc" in r2.history[-1]
    for a, b in zip(_weights(r1), _weights(r2)):
        assert_allclose(b, a, **TOL["trajectory"]["float32"])  # float32: rounding of the reductions, 8 batches
    assert abs(r1.history[-1]["val_acc"] - r2.history[-1]["val_acc"]) <= 0.01


def test_lost_worker_same_weights(digits, tmp_path):
    """A worker closed abruptly mid-epoch (after its 5th task): recomputed from lineage, same weights."""
    X, y, Xt, yt = digits
    cfg = _cfg()
    c = connect(n_workers=2, processes=False)
    try:
        ref = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=c, n_shards=2,
                                verbose=0)
        marker = tmp_path / "killed"
        c.register_plugin(KillWorkerOnce(str(marker), after=5, mode="close"))
        before = set(c.scheduler_info()["workers"])
        res = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=c, n_shards=2,
                                verbose=0)
        assert marker.exists()  # the fault happened ...
        assert set(c.scheduler_info()["workers"]) < before  # ... and the worker is gone
    finally:
        cluster = c.cluster
        c.close()
        cluster.close()
    _assert_same(ref, res, TOL["exact"])  # deterministic: shard order, same functions


@pytest.mark.slow
def test_killed_worker_process_same_weights(digits, tmp_path):
    """A real worker process killed (os._exit) mid-epoch; the Nanny restarts it; same final weights."""
    X, y, Xt, yt = digits
    cfg = _cfg()
    ref = train(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, verbose=0)
    c = connect(n_workers=2, processes=True)
    try:
        marker = tmp_path / "killed"
        c.register_plugin(KillWorkerOnce(str(marker), after=7, mode="exit"))
        res = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=c, verbose=0)
        assert marker.exists()
    finally:
        cluster = c.cluster
        c.close()
        cluster.close()
    _assert_same(ref, res, TOL["identity"]["float64"])


@pytest.mark.parametrize("address,exc", [("tcp://127.0.0.1:1", ConnectionError), ("127.0.0.1:1", ConnectionError),
                                         ("::not-an-address::", ValueError)])
def test_bad_scheduler_fails_fast(digits, address, exc):
    """An address where nothing listens is refused with an error naming the scheduler (the socket probe gives
    up after ``connect_timeout``; no wall-clock assert: a hang would hang the test)."""
    X, y, _, _ = digits
    with pytest.raises(exc, match="scheduler"):
        train_distributed(FenchelNetwork([64, 16, 10], seed=0), X, y, config=_cfg(epochs=1), scheduler=address,
                          verbose=0, connect_timeout=2.0)


@pytest.mark.parametrize("kw,match", [(dict(schedule="fullbatch"), "schedule"), (dict(x_solver="block"), "x_solver"),
                                      (dict(w_solver="block"), "w_solver"), (dict(backend="torch"), "backend"),
                                      (dict(w_curvature=0.5), "w_curvature"),
                                      (dict(phases=[{"epoch": 1, "w_solver": "adaptive"}]), r"phases\[0\].*w_solver")])
def test_out_of_scope_options_raise_before_connecting(digits, kw, match, monkeypatch):
    from fenchel_cvx.training import dask as runner

    def no_connection(*a, **k):
        raise AssertionError("connect() was called before the options were checked")

    monkeypatch.setattr(runner, "connect", no_connection)
    X, y, _, _ = digits
    with pytest.raises(ValueError, match=match):
        train_distributed(FenchelNetwork([64, 16, 10], seed=0), X, y, config=_cfg(**kw),
                          scheduler="tcp://127.0.0.1:1", verbose=0)


def test_bad_input_errors(client, digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="features"):
        train_distributed(FenchelNetwork([60, 16, 10], seed=0), X, y, config=_cfg(epochs=1), scheduler=client)
    with pytest.raises(ValueError, match="n_shards"):
        train_distributed(FenchelNetwork([64, 16, 10], seed=0), X, y, config=_cfg(epochs=1), scheduler=client,
                          n_shards=0)
    with pytest.raises(TypeError, match="unknown option"):
        train_distributed(FenchelNetwork([64, 16, 10], seed=0), X, y, scheduler=client, nope=1)


def test_checkpoint_resume(client, digits, tmp_path):
    """Interrupted after epoch 1 + resumed (distributed, or single-process) == uninterrupted."""
    X, y, Xt, yt = digits
    cfg = _cfg(epochs=3)
    full = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0)
    ck = tmp_path / "ck.npz"
    part = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0,
                             checkpoint=str(ck), callbacks=[lambda e, rec, net: e >= 1])
    assert part.interrupted and len(part.history) == 2
    res = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0,
                            resume=str(ck))
    _assert_same(full, res, TOL["exact"])
    single = train(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, verbose=0, resume=str(ck))
    _assert_same(full, single, TOL["identity"]["float64"])
    ck1 = tmp_path / "ck1.npz"  # and the other way round: a single-process checkpoint resumed on the cluster
    train(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, verbose=0, checkpoint=str(ck1),
          callbacks=[lambda e, rec, net: e >= 1])
    res1 = train_distributed(FenchelNetwork([64, 32, 10], seed=0), X, y, Xt, yt, cfg, scheduler=client, verbose=0,
                             resume=str(ck1))
    _assert_same(full, res1, TOL["identity"]["float64"])


def test_cli_scheduler_local(tmp_path):
    from fenchel_cvx.cli import main

    out = tmp_path / "run"
    rc = main(["train", "--dataset", "digits", "--n-train", "300", "--arch", "64-16-10", "--epochs", "1",
               "--batch-size", "100", "--scheduler", "local", "--workers", "2", "--output", str(out), "--quiet",
               "--no-plot"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["method"] == "fenchel" and len(m["history"]) == 2 and m["final"]["test_acc"] > 0.5
    assert m["distributed"]["n_workers"] == 2 and m["distributed"]["comm"][1]["train"]["rounds"] == 3 * 6


def test_cli_scheduler_errors(tmp_path, capsys):
    from fenchel_cvx.cli import main

    base = ["train", "--dataset", "digits", "--n-train", "300", "--arch", "64-16-10", "--epochs", "1", "--quiet",
            "--output", str(tmp_path / "o"), "--no-plot"]
    assert main(base + ["--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "tcp://127.0.0.1:1" in capsys.readouterr().err
    assert main(base + ["--scheduler", "local", "--method", "adam"]) == 2
    assert "--scheduler" in capsys.readouterr().err
    assert main(base + ["--scheduler", "local", "--schedule", "fullbatch"]) == 2
    assert "schedule" in capsys.readouterr().err


def test_estimator_scheduler(client, digits):
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    from fenchel_cvx.estimators import FenchelLiftedClassifier

    X, y, Xt, yt = digits
    kw = dict(hidden_layer_sizes=(16,), epochs=1, batch_size=100)
    est = FenchelLiftedClassifier(scheduler=client.scheduler.address, **kw)
    assert clone(est).get_params()["scheduler"] == client.scheduler.address
    est.fit(X.T, y)
    ref = FenchelLiftedClassifier(**kw).fit(X.T, y)
    assert_allclose(est.net_.W[0], ref.net_.W[0], **TOL["identity"]["float64"])
    assert est.score(Xt.T, yt) == pytest.approx(ref.score(Xt.T, yt))
    with pytest.raises(ValueError, match="scheduler"):
        FenchelLiftedClassifier(scheduler="local", method="adam", **kw).fit(X.T, y)
