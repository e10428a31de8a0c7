"""One training loop: lifted (local, Dask) and backprop executors share one base, one state format, one
checkpoint policy (issue 20)."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fenchel_cvx import FenchelNetwork, data
from fenchel_cvx.training import BCDConfig, Trainer, lifted_schedule, prepare_data
from fenchel_cvx.training.executor import (
    ExecutorState,
    LiftedBCDState,
    LiftedExecutor,
    StepExecutor,
    flatten_state,
    unflatten_state,
)
from fenchel_cvx.training.local import LocalExecutor


@pytest.fixture(scope="module")
def digits_small():
    return data.load("digits").subset(200, 50, seed=0)


def test_every_executor_derives_from_the_one_base():
    from fenchel_cvx.training.backprop import BackpropExecutor
    from fenchel_cvx.training.dask import DaskExecutor

    assert issubclass(LocalExecutor, LiftedExecutor) and issubclass(DaskExecutor, LiftedExecutor)
    for cls in (LocalExecutor, DaskExecutor, BackpropExecutor):
        assert issubclass(cls, StepExecutor)
    assert LocalExecutor.kind == DaskExecutor.kind == "lifted"  # a checkpoint of one resumes under the other


def test_state_is_a_value_returned_by_init_state_and_update(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 8, 10], seed=0)
    cfg = BCDConfig(epochs=1, batch_size=50, momentum=0.5).validate(net)
    ex = LocalExecutor()
    st0 = ex.init_state(net, prepare_data(net, d.X_train, d.y_train), cfg)
    assert isinstance(st0, LiftedBCDState) and dataclasses.is_dataclass(st0)
    W0 = [w.copy() for w in st0.W]
    st1 = ex.update(st0, np.arange(50), ex.schedule(st0, 0))
    assert st1 is not st0
    for w, w0 in zip(st0.W, W0, strict=True):  # the state passed in is left as it was
        assert_array_equal(w, w0)
    assert any(not np.array_equal(a, b) for a, b in zip(st1.W, W0, strict=True))
    assert all(m is not None for m in st1.mom) and all(m is None for m in st0.mom)


def test_flatten_round_trip_names_arrays_by_field_path(digits_small):
    d = digits_small
    net = FenchelNetwork([64, 8, 10], seed=0)
    cfg = BCDConfig(epochs=1, batch_size=50, momentum=0.5, w_solver="adaptive").validate(net)
    ex = LocalExecutor()
    st = ex.init_state(net, prepare_data(net, d.X_train, d.y_train), cfg)
    st = ex.update(st, np.arange(50), ex.schedule(st, 0))
    tree, arrays = flatten_state(st)
    json.dumps(tree)  # the structure is plain JSON
    assert "mom.0.0" in arrays and "adaptive.1.mW" in arrays and "lam0" in arrays
    assert not any(k.startswith(("W", "b")) for k in arrays)  # the weights are the checkpoint's W{l}, b{l}
    back = unflatten_state(tree, arrays, ex.to_working, st, W=st.W, b=st.b)
    assert type(back) is type(st) and back.adaptive[1].t == st.adaptive[1].t == 1
    assert_array_equal(back.mom[1][0], st.mom[1][0])
    assert isinstance(ExecutorState(W=[], b=[]), ExecutorState)


def test_lifted_schedule_caps_at_max_of_lam_max_and_lam0():
    cfg = BCDConfig(lam_growth=2.0, lam_max=3.0, gamma_growth=0.5)
    _, lam, gamma = lifted_schedule(cfg, 2, np.array([1.0, 5.0]), np.array([0.4, 0.4, 0.4]))
    assert_array_equal(lam, [3.0, 5.0])  # λ_0 = 5 above lam_max is kept, never lowered
    assert_array_equal(gamma, [0.1, 0.1, 0.1])


@pytest.mark.parametrize("method", ["fenchel", "adam"])
def test_one_checkpoint_policy_for_every_method(digits_small, tmp_path, method):
    """``checkpoint_every=2`` over 3 epochs writes after epoch 2 and at the end, for lifted BCD and backprop."""
    from fenchel_cvx.training import load_checkpoint

    d = digits_small

    def run(ck, every, cb):
        net = FenchelNetwork([64, 8, 10], seed=0)
        if method == "adam":
            pytest.importorskip("torch")
            from fenchel_cvx.baselines import train_backprop

            return train_backprop(net, d.X_train, d.y_train, epochs=3, batch_size=50, verbose=0, checkpoint=ck,
                                  checkpoint_every=every, callbacks=[cb])
        return Trainer(net, prepare_data(net, d.X_train, d.y_train), BCDConfig(epochs=3, batch_size=50),
                       verbose=0, checkpoint=ck, checkpoint_every=every, callbacks=[cb]).run()

    ck = str(tmp_path / "ck.npz")
    written = []

    def spy(epoch, rec, net):
        written.append(os.path.exists(ck) and load_checkpoint(ck)[3]["epoch"])

    run(ck, 2, spy)
    # the callback of epoch e runs before that epoch's checkpoint: nothing at 1 and 2, epoch 2's file at 3
    assert written == [False, False, 2]
    _, _, arrays, meta = load_checkpoint(ck)
    assert meta["epoch"] == 3 and meta["kind"] == ("lifted" if method == "fenchel" else "adam")
    fields = set(meta["state"]["fields"])  # every optimiser array is named by its field path in the state
    assert arrays and all(k.split(".")[0] in fields for k in arrays), sorted(arrays)


def test_an_old_format_checkpoint_is_named_and_its_network_still_loads(digits_small, tmp_path):
    """A checkpoint written before the one training loop (no ``state`` metadata, loose arrays) is
    refused on resume with a message that says what it is; ``fenchel_cvx.load`` still reads its network."""
    import fenchel_cvx as fc
    from fenchel_cvx.errors import FileFormatError

    d = digits_small
    net = FenchelNetwork([64, 8, 10], seed=0)
    data_ = prepare_data(net, d.X_train, d.y_train)
    ck = tmp_path / "ck.npz"
    Trainer(net, data_, BCDConfig(epochs=1, batch_size=50), verbose=0, checkpoint=str(ck)).run()
    with np.load(ck, allow_pickle=False) as z:  # the earlier layout: no state structure
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    meta.pop("state")
    arrays = {(k[len("state_"):] if k.startswith("state_") else k): v for k, v in arrays.items()}
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    net2 = FenchelNetwork([64, 8, 10], seed=0)
    with pytest.raises(FileFormatError, match=r"old checkpoint .*old\.npz.*earlier checkpoint "
                                              r"format.*cannot resume.*fenchel_cvx\.load"):
        Trainer(net2, prepare_data(net2, d.X_train, d.y_train), BCDConfig(epochs=2, batch_size=50),
                verbose=0, resume=str(old)).run()
    loaded = fc.load(old)
    for w_old, w_new in zip(loaded.W, fc.load(ck).W):
        assert_array_equal(w_old, w_new)
