"""Shared by the first-layer W-step experiments (miso.py, partial_whitening.py): one 784-300-10 float32 run
of the ``tuned_fashion`` schedule (the shipped default when these runs were made) per seed on a fixed batch
partition, with a custom executor, scored on the validation split; and the one-line report of the mean curve.
Shapes: features x samples."""

from __future__ import annotations

import numpy as np

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.training import BCDConfig, Trainer, prepare_data, tuned_fashion


def mean_validation_curve(ds, split, seeds, epochs, make_executor, **overrides) -> np.ndarray:
    """Mean over ``seeds`` of the validation accuracy [%] after each epoch (epochs 1..``epochs``):
    ``split`` = (X_train, y_train, X_val, y_val); the config is ``tuned_fashion(1)`` with a fixed batch
    partition of 500, float32, no best-epoch restore, and ``overrides``; ``make_executor()`` gives a fresh
    executor per run."""
    Xtr, ytr, Xva, yva = split
    accs = []
    for s in seeds:
        net = FenchelNetwork([ds.n_features, 300, ds.n_classes], seed=s, dtype="float32")
        fields = dict(tuned_fashion(1), shuffle="batches", epochs=epochs, batch_size=500, seed=s,
                      dtype="float32", restore_best=False)
        fields.update(overrides)
        tr = Trainer(net, prepare_data(net, Xtr, ytr, X_val=Xva, y_val=yva), BCDConfig(**fields),
                     executor=make_executor(), verbose=0)
        accs.append([100 * r["val_acc"] for r in list(tr.iterate())[1:]])
    return np.mean(accs, axis=0)


def report(label: str, a: np.ndarray) -> None:
    """Print ``label`` with the mean curve at epochs 5, 10, 20 (those reached) and its best epoch."""
    print(f"{label}: " + "  ".join(f"ep{e}={a[e - 1]:.2f}" for e in (5, 10, 20) if e <= len(a))
          + f"  best={a.max():.2f}@{a.argmax() + 1}", flush=True)
