"""Tests of the backprop baselines (fenchel_cvx.baselines): same init, data and history as lifted BCD."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import ACC_SAMPLES, TOL

torch = pytest.importorskip("torch")

from fenchel_cvx import FenchelNetwork, data  # noqa: E402
from fenchel_cvx.baselines import select_learning_rate, train_backprop  # noqa: E402
from fenchel_cvx.training import train  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(300, 150, seed=0)


KW = dict(epochs=3, batch_size=50, verbose=0, eval_samples=None)


@pytest.mark.parametrize("method,lr,momentum", [("adam", 1e-2, 0.0), ("sgd", 0.2, 0.9)])
def test_backprop_learns_and_objectives_are_finite(digits_small, method, lr, momentum):
    d = digits_small
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, d.X_test, d.y_test,
                         method=method, lr=lr, momentum=momentum, **dict(KW, epochs=4))
    h = res.history
    assert [r["epoch"] for r in h] == [0, 1, 2, 3, 4]
    assert all(math.isfinite(r["J"]) for r in h)
    assert h[0]["train_acc"] < 0.3 and h[-1]["train_acc"] > 0.75 and h[-1]["test_acc"] > 0.6
    assert h[-1]["J"] < 0.6 * h[0]["J"]
    assert res.method == method and res.times["per_epoch"] > 0
    # the returned network holds the trained weights
    assert_allclose(res.net.accuracy(d.X_test, d.y_test), h[-1]["test_acc"], atol=ACC_SAMPLES / d.X_test.shape[1])


def test_same_initialisation_split_and_history_format_as_lifted(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10], seed=5, rho=1e-3)
    kw = dict(epochs=1, batch_size=100, val_fraction=0.2, seed=5, verbose=0, eval_samples=None)
    a = train_backprop(copy.deepcopy(net), d.X_train, d.y_train, d.X_test, d.y_test, dtype="float64", **kw)
    b = train(copy.deepcopy(net), d.X_train, d.y_train, d.X_test, d.y_test, gamma=0.1, x_iters=3, **kw)
    # epoch 0: the same weights evaluated on the same training/validation/test samples
    for key in ("J", "train_acc", "val_acc", "test_acc"):
        assert_allclose(a.history[0][key], b.history[0][key], **TOL["identity"]["float64"])
    assert set(a.history[0]) - {"lr"} == set(b.history[0]) - {"lam", "gamma"}
    assert a.history[0]["F"] is None and math.isfinite(b.history[0]["F"])


def test_weight_decay_is_part_of_the_objective(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10], seed=0, rho=0.1)
    res = train_backprop(net, d.X_train, d.y_train, method="sgd", lr=0.1, epochs=0, verbose=0, eval_samples=None,
                         dtype="float64")
    assert_allclose(res.history[0]["J"], FenchelNetwork([64, 16, 10], seed=0, rho=0.1).objective(d.X_train, d.y_train),
                    **TOL["identity"]["float64"])


def test_select_learning_rate_picks_the_best_validation_score(digits_small):
    d = digits_small
    best, runs = select_learning_rate(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train,
                                      lrs=(1e-5, 1e-2), val_fraction=0.2, restore_best=False, max_extend=0, **KW)
    assert best == 1e-2 and sorted(runs) == [1e-5, 1e-2]
    assert runs[1e-2].final["val_acc"] > runs[1e-5].final["val_acc"]


def test_select_learning_rate_extends_a_grid_whose_edge_wins(digits_small):
    """Rates too small for 3 epochs: the largest wins, so the grid grows past it (by its ratio) until an interior rate
    wins or the extensions run out; the returned rate is the best of every rate tried."""
    d = digits_small
    best, runs = select_learning_rate(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train,
                                      lrs=(1e-4, 1e-3), val_fraction=0.2, restore_best=False, max_extend=2, **KW)
    tried = sorted(runs)
    assert tried[:3] == pytest.approx([1e-4, 1e-3, 1e-2]) and len(tried) <= 4
    assert runs[1e-3].final["val_acc"] > runs[1e-4].final["val_acc"]  # why the grid grew
    assert best == max(tried, key=lambda lr: runs[lr].final["val_acc"])
    assert best != min(tried)  # the smallest rate lost to a larger one


def test_adam_interrupted_and_resumed_equals_uninterrupted(digits_small, tmp_path):
    d = digits_small
    kw = dict(KW, epochs=3, lr=1e-2, dtype="float64")
    full = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, **kw)
    ck = str(tmp_path / "adam.npz")
    part = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, checkpoint=ck,
                          callbacks=[lambda e, rec, net: e == 1], **kw)
    assert part.interrupted and len(part.history) == 2
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=1), d.X_train, d.y_train, resume=ck, **kw)
    for wa, wb in zip(full.net.W + full.net.b, res.net.W + res.net.b, strict=True):
        assert_array_equal(wa, wb)


@pytest.mark.parametrize("kw,match", [
    (dict(method="rmsprop"), "method"),
    (dict(lr=-1.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_options(digits_small, kw, match):
    d = digits_small
    with pytest.raises(ValueError, match=match):
        train_backprop(FenchelNetwork([64, 16, 10]), d.X_train, d.y_train, **dict(dict(verbose=0), **kw))


def test_bad_data_raises_before_training(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 16, 10])
    W0 = net.W[0].copy()
    y = d.y_train.copy()
    y[0] = -1
    with pytest.raises(ValueError, match="labels y"):
        train_backprop(net, d.X_train, y, verbose=0)
    X = d.X_train.copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        train_backprop(net, X, d.y_train, verbose=0)
    with pytest.raises(ValueError, match="features"):
        train_backprop(FenchelNetwork([63, 16, 10]), d.X_train, d.y_train, verbose=0)
    assert_array_equal(net.W[0], W0)


# ---- w0_subspace: the first layer as W0_init + D E_kᵀ (the control of the lifted BCDConfig(w0_subspace=k)) --------
SUB = dict(KW, epochs=2, batch_size=50, dtype="float64")


@pytest.mark.parametrize("method,lr,momentum", [("adam", 1e-2, 0.0), ("sgd", 0.2, 0.9)])
def test_w0_subspace_keeps_the_first_layer_change_in_the_span(digits_small, method, lr, momentum):
    from fenchel_cvx.baselines import make_backprop_trainer
    from fenchel_cvx.training.subspace import principal_directions

    d = digits_small
    net = FenchelNetwork([64, 16, 10], seed=0, rho=1e-3)
    W_init, b_init, W1_init = net.W[0].copy(), net.b[0].copy(), net.W[1].copy()
    tr = make_backprop_trainer(net, d.X_train, d.y_train, d.X_test, d.y_test, method=method, lr=lr,
                               momentum=momentum, w0_subspace=5, **SUB)
    res = tr.run()
    J = [r["J"] for r in res.history]
    assert np.isfinite(J).all() and J[-1] < J[0]
    assert res.config["w0_subspace"] == 5
    E = principal_directions(np.asarray(d.X_train, dtype=np.float64), 5)
    D = res.net.W[0] - W_init
    assert np.linalg.norm(D) > 0
    assert_allclose(D - (D @ E) @ E.T, 0.0, **TOL["same_math"]["float64"])   # the change lies in span E_k
    # b0 and the other layers train as usual (not restricted)
    assert np.linalg.norm(res.net.b[0] - b_init) > 0 and np.linalg.norm(res.net.W[1] - W1_init) > 0
    # the state: W[0] is the effective W0 = W0_base + D E_kᵀ (D n₁ x k trained, W0_base the initial W0)
    st, ex = tr.state, tr.executor
    assert tuple(st.sub["D"].shape) == (16, 5)
    assert_array_equal(st.sub["W0_base"].numpy(), W_init)
    with torch.no_grad():
        assert_array_equal(st.W[0].numpy(), (st.sub["W0_base"] + st.sub["D"] @ ex.E.T).numpy())
    assert_allclose(ex.E.numpy(), E, **TOL["exact"])              # the lifted option's basis, same inputs
    assert_array_equal(res.net.W[0], st.W[0].numpy())


def test_plain_backprop_has_no_subspace_state(digits_small):
    from fenchel_cvx.baselines import make_backprop_trainer

    d = digits_small
    tr = make_backprop_trainer(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, **dict(SUB, epochs=1))
    res = tr.run()
    assert tr.state.sub is None and res.config["w0_subspace"] is None


def test_w0_subspace_interrupted_and_resumed_equals_uninterrupted(digits_small, tmp_path):
    d = digits_small
    kw = dict(SUB, lr=1e-2, w0_subspace=6)
    full = train_backprop(FenchelNetwork([64, 16, 10], seed=0, rho=1e-3), d.X_train, d.y_train, **kw)
    ck = str(tmp_path / "sub.npz")
    part = train_backprop(FenchelNetwork([64, 16, 10], seed=0, rho=1e-3), d.X_train, d.y_train, checkpoint=ck,
                          callbacks=[lambda e, rec, net: e == 1], **kw)
    assert part.interrupted and len(part.history) == 2
    with np.load(ck) as z:
        assert z["state_sub.D"].shape == (16, 6) and "state_sub.W0_base" in z.files
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=1, rho=1e-3), d.X_train, d.y_train, resume=ck, **kw)
    for wa, wb in zip(full.net.W + full.net.b, res.net.W + res.net.b, strict=True):
        assert_array_equal(wa, wb)
    assert [r["J"] for r in res.history] == [r["J"] for r in full.history]


def test_plain_checkpoint_continued_with_w0_subspace_restarts_the_first_layer(digits_small, tmp_path):
    """A plain Adam checkpoint resumed with w0_subspace: W0_base = the saved W0, D = 0, W0's Adam state fresh."""
    from fenchel_cvx.training.subspace import principal_directions

    d = digits_small
    ck = str(tmp_path / "plain.npz")
    part = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, checkpoint=ck, lr=1e-2,
                          **dict(SUB, epochs=1))
    res = train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, resume=ck, lr=1e-2,
                         w0_subspace=4, force_resume=True, **SUB)
    E = principal_directions(np.asarray(d.X_train, dtype=np.float64), 4)
    D = res.net.W[0] - part.net.W[0]
    assert np.linalg.norm(D) > 0
    assert_allclose(D - (D @ E) @ E.T, 0.0, **TOL["same_math"]["float64"])


def test_w0_subspace_change_needs_force_and_old_checkpoints_are_refused(digits_small, tmp_path):
    """A plain checkpoint continued with w0_subspace is a changed setting (refused without force); a checkpoint
    whose config predates the option (no "w0_subspace" key) is refused with a clear error, even with force."""
    import json

    from fenchel_cvx.errors import ResumeMismatch

    d = digits_small
    ck = str(tmp_path / "plain.npz")
    train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, checkpoint=ck, lr=1e-2,
                   **dict(SUB, epochs=1))
    with pytest.raises(ResumeMismatch, match="w0_subspace: checkpoint None, now 4"):
        train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, resume=ck, lr=1e-2,
                       w0_subspace=4, **SUB)
    with np.load(ck) as z:  # the same checkpoint as an earlier version wrote it: no w0_subspace in its config
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    meta["config"].pop("w0_subspace")
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    old = str(tmp_path / "old.npz")
    np.savez(old, **arrays)
    with pytest.raises(ResumeMismatch, match="w0_subspace: the checkpoint was written without it"):
        train_backprop(FenchelNetwork([64, 16, 10], seed=0), d.X_train, d.y_train, resume=old, lr=1e-2,
                       w0_subspace=4, force_resume=True, **SUB)


@pytest.mark.parametrize("k,err,match", [
    (0, ValueError, "w0_subspace"), (65, ValueError, r"w0_subspace: expected 1 <= k <= d = 64"),
    (2.5, TypeError, "w0_subspace"), (True, TypeError, "w0_subspace"),
])
def test_bad_w0_subspace_is_refused(digits_small, k, err, match):
    d = digits_small
    with pytest.raises(err, match=match):
        train_backprop(FenchelNetwork([64, 16, 10]), d.X_train, d.y_train, w0_subspace=k, verbose=0)


def test_w0_subspace_refused_for_conv_networks(digits_small):
    from fenchel_cvx.conv import ConvFenchelNetwork

    d = digits_small
    conv = ConvFenchelNetwork("input1x8x8,conv3k3,avgpool2,flatten,dense10", seed=0)
    with pytest.raises(ValueError, match="w0_subspace: not supported for convolutional"):
        train_backprop(conv, d.X_train, d.y_train, w0_subspace=4, verbose=0)


def test_cli_adam_with_w0_subspace(tmp_path, capsys):
    import json

    from fenchel_cvx.cli import main

    common = ["train", "--dataset", "digits", "--n-train", "300", "--arch", "64-16-10", "--epochs", "1",
              "--batch-size", "100", "--quiet", "--no-plot", "--no-model"]
    assert main([*common, "--method", "adam", "--w0-subspace", "5", "--output", str(tmp_path / "a")]) == 0
    cfg = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]
    assert cfg["method"] == "adam" and cfg["w0_subspace"] == 5
    assert main([*common, "--method", "sgd", "--w0-subspace", "0", "--output", str(tmp_path / "b")]) == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]["w0_subspace"] is None  # 0 = off
    capsys.readouterr()
    assert main([*common, "--method", "sgd", "--w0-subspace", "65", "--output", str(tmp_path / "c")]) == 2
    assert "--w0-subspace: expected 1 <= k <= d = 64" in capsys.readouterr().err
    conv = ["--arch", "conv3k3,avgpool2,flatten,dense10"]
    assert main([*common, *conv, "--method", "adam", "--w0-subspace", "4", "--output", str(tmp_path / "d")]) == 2
    assert "--w0-subspace: not supported for convolutional" in capsys.readouterr().err
