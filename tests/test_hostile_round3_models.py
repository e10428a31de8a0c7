"""Issue 22, items 5 and 6: crafted model and checkpoint files, stray temporaries after a kill, and a lifted
objective that rounding drives below zero. Each test failed before its fix."""

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fenchel_cvx as fc
from fenchel_cvx.errors import FileFormatError

FAST = dict(epochs=1, batch_size=200, verbose=0)


@pytest.fixture(scope="module")
def digits():
    return fc.data.load("digits")


def _net():
    return fc.FenchelNetwork([64, 8, 10], seed=0)


def _rewrite(src, dst, meta_edit=None, array_edit=None):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k].copy() for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    if meta_edit:
        meta_edit(meta)
    if array_edit:
        array_edit(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)
    return dst


@pytest.fixture(scope="module")
def files(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    ck = folder / "ck.npz"
    fc.train(_net(), digits.X_train, digits.y_train, checkpoint=ck, **FAST)
    model = _net().save(folder / "model.npz")
    return {"ck": ck, "model": model, "folder": folder}


def _nan_weights(arrays):
    arrays["W0"][0, 0] = np.nan


def test_resume_from_nan_weights_names_the_array(files, digits, tmp_path):
    bad = _rewrite(files["ck"], tmp_path / "nan.npz", array_edit=_nan_weights)
    with pytest.raises(FileFormatError, match="W0 contains NaN or inf"):
        fc.train(_net(), digits.X_train, digits.y_train, resume=bad, **dict(FAST, epochs=2))
    with pytest.raises(FileFormatError, match="W0 contains NaN or inf"):
        fc.load(bad)


def _model_probes():
    def no_bias(meta):
        meta["network"]["bias"] = False

    def unknown_kind(meta):
        meta["network"]["kind"] = "transformer"

    def huge(meta):
        meta["network"]["sizes"] = [64, 10 ** 9, 10]

    return [(no_bias, "'bias' is false but the stored biases are not zero"),
            (unknown_kind, "unknown network kind 'transformer'"),
            (huge, "the sizes .* say")]


@pytest.mark.parametrize("edit, match", _model_probes(), ids=["bias-false", "unknown-kind", "huge-size"])
def test_crafted_model_files_are_refused(files, tmp_path, edit, match):
    bad = _rewrite(files["model"], tmp_path / "crafted.npz", meta_edit=edit)
    with pytest.raises(FileFormatError, match=match):
        fc.load(bad)


def test_crafted_checkpoint_is_refused_before_resuming(files, digits, tmp_path):
    def huge(meta):
        meta["net"]["sizes"] = [64, 10 ** 9, 10]

    bad = _rewrite(files["ck"], tmp_path / "crafted_ck.npz", meta_edit=huge)
    with pytest.raises(FileFormatError, match="the sizes"):
        fc.load_checkpoint(bad)


def test_a_killed_writer_leaves_no_stray_temporary_after_the_next_write(tmp_path):
    """SIGKILL cannot be caught: the temporary stays, and the next write of the same file removes it."""
    target = tmp_path / "model.npz"
    code = textwrap.dedent(f"""
        import numpy as np, sys
        import fenchel_cvx.model_io as io
        def stop(*a, **k):
            sys.stdout.write("writing\\n"); sys.stdout.flush()
            import time; time.sleep(600)
        np.savez = stop
        io.write_npz({str(target)!r}, {{"a": np.zeros(3)}}, {{}})
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    strays = [p for p in os.listdir(tmp_path) if p != "model.npz"]
    assert strays, "the killed writer left no temporary (the probe did not reach the write)"
    _net().save(target)
    assert os.listdir(tmp_path) == ["model.npz"]
    fc.load(target)


def test_a_negative_lifted_objective_is_announced(digits, caplog):
    with caplog.at_level(logging.WARNING, logger="fenchel_cvx"):
        res = fc.train(_net(), digits.X_train * 1e20, digits.y_train, **FAST)
    negative = [r["F"] for r in res.history if r["F"] < 0]
    assert negative, "the probe no longer drives F below zero; pick a larger scale"
    assert any("cannot be right" in r.getMessage() and "standardise the inputs" in r.getMessage()
               for r in caplog.records)


def test_package_warnings_reach_stderr_without_logging_configured(tmp_path):
    code = "from fenchel_cvx.log import get_logger; get_logger('training').warning('visible %s', 1)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert "visible 1" in out.stderr


def test_the_readme_torch_pattern_runs_on_float64_data(digits):
    """Item 10: a torch module in torch's default float32 comes back as a float64 network, so that
    ``to_torch()`` of it takes the package's float64 data (it raised "mat1 and mat2 must have the same dtype")."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    mine = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 10))
    lifted = fc.from_torch(mine, lam=1.0)
    assert lifted.dtype == np.float64
    module = lifted.to_torch()
    logits = module(torch.as_tensor(digits.X_test.T)).detach().numpy()
    np.testing.assert_array_equal(logits.argmax(axis=1), np.asarray(lifted.predict(digits.X_test)))


def test_a_crafted_conv_input_shape_is_refused_before_any_weight_is_allocated(tmp_path):
    """A conv model whose metadata claims a 60000 x 60000 input (with matching sizes) holds small weights: the
    stored shapes are checked against the layers before the network is built (it used to try to allocate a
    3 x 1.8e9 output weight, a MemoryError or tens of GiB)."""
    net = fc.ConvFenchelNetwork("input1x8x8,conv2k3,avgpool2,dense3", seed=0)
    src = net.save(tmp_path / "conv.npz")
    H = 60000

    def giant(meta):
        meta["network"]["input_shape"] = [1, H, H]
        meta["network"]["sizes"] = [H * H, 2 * (H - 2) ** 2, 3]

    bad = _rewrite(src, tmp_path / "giant.npz", meta_edit=giant)
    with pytest.raises(FileFormatError, match=r"the layers give W1/b1 shapes \(3, \d+\)/\(3,\), the file holds"):
        fc.load(bad)
