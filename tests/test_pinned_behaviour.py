"""Pinned training behaviour: histories and final weights of a handful of runs, fixed before a refactor.

The reference values in ``tests/data/pinned_training.npz`` were produced by the code *before* the
renovation of issue 12 (commit 986f72c, ``python tests/test_pinned_behaviour.py --write``); every
refactor since must reproduce them. Runs are float64 on numpy (and the Dask runner on an in-process
LocalCluster), small enough to take a few seconds each:

* ``dense_mb``     mini-batch, the tuned schedule (weight-space MM W-steps, APG X-steps)
* ``dense_mb_ss``  mini-batch below the sample-space threshold (batch < n_in + 1), two hidden layers,
                   inertia with re-forward after it, x_weight, λ/γ continuation, early stopping on a
                   validation split with the best epoch restored
* ``dense_fb``     full batch (monotone block acceptance), sigmoid, certified X- and Newton-CG W-blocks
* ``dense_block``  mini-batch with the blocks' certified solvers, tanh, squared loss
* ``conv_mb``      a conv network (conv + pooled dense map), mini-batch with conv X-blocks and the MM step
                   on the im2col design matrix
* ``conv_fb``      the conv network, full batch, Newton-CG conv W-blocks
* ``distributed``  the Dask runner on the ``dense_mb`` problem (2 in-process workers)
* ``adam``         the backprop baseline (torch, float64, one thread)

Comparison: the weights and every number of every history record (timings excluded) must agree to
rtol = atol = 1e-12 (:data:`PIN_TOL`). Bit-identity is not required, because the reference may be
produced on a machine whose BLAS kernels round differently (the tests run on other CPUs in CI), and a
behaviour-preserving refactor may regroup a floating-point expression; 1e-12 is far below any
change of behaviour (one changed iteration moves the weights by > 1e-6 here).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
from tolerances import TOL

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "data", "pinned_training.npz")
#: tolerance of the pin (module docstring)
PIN_TOL = TOL["pinned"]
#: history fields that are wall-clock measurements (never pinned)
TIMING = ("time", "epoch_time", "eval_time")


def _digits(n_train, n_test):
    from fenchel_cvx import data

    return data.load("digits").subset(n_train, n_test, seed=0)


def _cfg(name):
    """(kind, network factory, data (n_train, n_test), config dict, extra) of each pinned run."""
    from fenchel_cvx import ConvFenchelNetwork, FenchelNetwork

    tuned = dict(schedule="minibatch", lam=0.3, gamma=[0.03, 1.0], x_weight=1.0, lam_growth=1.5,
                 gamma_growth=1.2, momentum=0.7, refresh=True, x_iters=5, x_solver="apg", w_solver="mm",
                 w_iters=1, last_w_iters=5)
    if name in ("dense_mb", "distributed"):
        return (lambda: FenchelNetwork([64, 16, 10], seed=1), (400, 200),
                dict(tuned, epochs=2, batch_size=100, eval_samples=None))
    if name == "dense_mb_ss":
        return (lambda: FenchelNetwork([64, 12, 8, 10], seed=2, rho=[1e-3, 0.0, 1e-4]), (300, 100),
                dict(schedule="minibatch", epochs=3, batch_size=50, lam=[0.5, 1.0], gamma=[0.05, 0.1, 0.5],
                     x_weight=2.0, lam_growth=1.3, lam_max=0.8, gamma_growth=1.1, momentum=0.5,
                     refresh_inertia=True, x_iters=4, w_iters=2, last_w_iters=3, val_fraction=0.2, patience=5,
                     eval_samples=150, seed=3))
    if name == "dense_fb":
        return (lambda: FenchelNetwork([64, 10, 10], activation="sigmoid", seed=4, rho=1e-3), (150, 60),
                dict(schedule="fullbatch", epochs=2, lam=2.0, gamma=[0.1, 0.1], x_iters=3, x_solver="block",
                     w_solver="block", w_iters=5, last_w_iters=5, tol=1e-9))
    if name == "dense_block":
        return (lambda: FenchelNetwork([64, 12, 10], activation="tanh", loss="squared", seed=5, rho=1e-3),
                (200, 80), dict(schedule="minibatch", epochs=2, batch_size=100, lam=1.0, gamma=[0.1, 0.3],
                                x_iters=10, x_solver="block", w_solver="block", w_iters=3, last_w_iters=3,
                                momentum=0.3, eval_samples=None))
    conv_arch = "input1x8x8,conv3k3p1,avgpool2,flatten,dense12,dense10"
    if name == "conv_mb":
        return (lambda: ConvFenchelNetwork(conv_arch, seed=6, dtype="float64"), (240, 80),
                dict(tuned, gamma=[0.03, 0.03, 1.0], epochs=2, batch_size=60, momentum=0.5, refresh_inertia=True,
                     x_solver="block", eval_samples=None))
    if name == "conv_fb":
        return (lambda: ConvFenchelNetwork(conv_arch, seed=7, dtype="float64", rho=1e-3), (120, 40),
                dict(schedule="fullbatch", epochs=2, lam=1.0, gamma=[0.1, 0.1, 0.3], x_iters=2,
                     x_solver="block", w_solver="block", w_iters=3, last_w_iters=3, tol=1e-8))
    if name == "adam":
        return (lambda: FenchelNetwork([64, 16, 10], seed=8), (300, 100), dict(lr=3e-3, epochs=2, batch_size=100))
    raise KeyError(name)


RUNS = ("dense_mb", "dense_mb_ss", "dense_fb", "dense_block", "conv_mb", "conv_fb", "distributed", "adam")


def run(name, client=None) -> dict:
    """Run the pinned configuration ``name``; returns a flat dict of float64 arrays."""
    make, (n_tr, n_te), cfg = _cfg(name)
    d = _digits(n_tr, n_te)
    net = make()
    if name == "adam":
        from fenchel_cvx.baselines import train_backprop

        res = train_backprop(net, d.X_train, d.y_train, d.X_test, d.y_test, method="adam", dtype="float64",
                             threads=1, verbose=0, progress=False, eval_samples=None, **cfg)
    elif name == "distributed":
        from fenchel_cvx.training.dask import train_distributed

        res = train_distributed(net, d.X_train, d.y_train, d.X_test, d.y_test, config=dict(cfg, dtype="float64"),
                                scheduler=client, verbose=0, progress=False)
    else:
        from fenchel_cvx import train

        y_tr, y_te = d.y_train, d.y_test
        if net.loss.name == "squared":
            y_tr, y_te = np.eye(10)[:, y_tr], np.eye(10)[:, y_te]
        res = train(net, d.X_train, y_tr, d.X_test, y_te, config=dict(cfg, dtype="float64"), verbose=0,
                    progress=False)
    out = {}
    for l, (w, b) in enumerate(zip(res.net.W, res.net.b, strict=True)):
        out[f"W{l}"] = np.asarray(w, dtype=np.float64)
        out[f"b{l}"] = np.asarray(b, dtype=np.float64)
    keys = sorted({k for rec in res.history for k in rec if k not in TIMING})
    for k in keys:
        vals = []
        for rec in res.history:
            v = rec.get(k)
            vals.append(np.nan if v is None else v)
        out[f"h_{k}"] = np.asarray(vals, dtype=np.float64)
    out["best_epoch"] = np.asarray(-1 if res.best_epoch is None else res.best_epoch, dtype=np.float64)
    out["stopped_early"] = np.asarray(float(res.stopped_early))
    return out


@pytest.fixture(scope="module")
def reference():
    if not os.path.exists(REF):
        pytest.fail(f"missing {REF}: the pinned reference must be committed")
    with np.load(REF) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("distributed")
    from fenchel_cvx.training.dask import connect

    c = connect(n_workers=2, processes=False)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.mark.parametrize("name", RUNS)
def test_training_matches_the_pinned_reference(name, reference, request):
    if name == "adam":
        pytest.importorskip("torch")
    client = request.getfixturevalue("dask_client") if name == "distributed" else None
    got = run(name, client)
    want = {k[len(name) + 1:]: v for k, v in reference.items() if k.startswith(name + "/")}
    assert want, f"no reference values for {name!r}"
    assert sorted(got) == sorted(want), f"{name}: fields differ: {sorted(set(got) ^ set(want))}"
    for k in want:
        np.testing.assert_allclose(got[k], want[k], err_msg=f"{name}: {k}", equal_nan=True, **PIN_TOL)


def _write():  # pragma: no cover - run by hand, before a refactor
    from fenchel_cvx.training.dask import connect

    out = {}
    client = connect(n_workers=2, processes=False)
    try:
        for name in RUNS:
            for k, v in run(name, client).items():
                out[f"{name}/{k}"] = v
            print(name, "done", file=sys.stderr)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    os.makedirs(os.path.dirname(REF), exist_ok=True)
    np.savez(REF, **out)
    print(f"wrote {REF} ({len(out)} arrays)", file=sys.stderr)


def _compare(path):  # pragma: no cover - diagnostic: max deviation of a fresh run from ``path``
    with np.load(path) as z:
        ref = {k: z[k] for k in z.files}
    from fenchel_cvx.training.dask import connect

    client = connect(n_workers=2, processes=False)
    try:
        for name in RUNS:
            got = run(name, client)
            worst = 0.0
            for k, v in got.items():
                r = ref[f"{name}/{k}"]
                both_nan = np.isnan(v) & np.isnan(r)
                d = np.where(both_nan, 0.0, np.abs(v - r) / (np.abs(r) + 1.0))
                dev = float(np.max(d)) if d.size else 0.0
                worst = max(worst, float(dev) if math.isfinite(dev) else math.inf)
            print(f"{name:12s} max |Δ|/(1+|ref|) = {worst:.3e}")
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, os.path.dirname(HERE))
    if "--write" in sys.argv:
        _write()
    elif "--compare" in sys.argv:
        _compare(sys.argv[sys.argv.index("--compare") + 1] if len(sys.argv) > 2 else REF)
