"""Predictions, accuracy and loss of a saved model on a data file (a trained network, no training).

``fenchel-cvx predict --model runs/digits-fenchel-seed0/model.npz --data digits`` reads the network
(:func:`fenchel_cvx.load`: a model file or a training checkpoint) and the data, runs the feed-forward
network Z = W_L X_L + b_L on the inputs X0 (features x samples, d x m) and prints

* the number of samples and, where the data carry labels or targets y:
* ``loss`` = ℓ(Y, Z)/m, the network's output loss per sample (the data term of J), and
* ``accuracy`` (classification: argmax of Z vs the label) or ``mse`` = Σ‖Z − Y‖²/m (squared loss).

The data (``--data``): a data set name (``digits``, ``mnist5k``, ``fashion-mnist``: its ``--split``, seeded by
``--seed`` as in ``fenchel-cvx train``), or an ``.npz`` file holding ``X`` (and optionally ``y``) -- every
sample of the file --, or ``X_train``/``y_train``/``X_test``/``y_test`` (the ``--split``). ``X`` may be
samples x features (the usual file layout) or features x samples: the side of the model's input width d is
the features (rows are samples when both sides are d). Without labels only the predictions are given.

``--output FILE.npz`` saves ``outputs`` (Z, k x m) and ``predictions`` (labels (m,) for a classifier, Z for
regression); ``--output FILE.csv`` one line per sample (the prediction, and the label where known);
``--json FILE`` the numbers. Examples::

    fenchel-cvx train --dataset digits --epochs 2 --output runs/d
    fenchel-cvx predict --model runs/d/model.npz --data digits --output runs/d/test_predictions.csv
    fenchel-cvx predict --model runs/d/model.npz --data my_data.npz --json scores.json
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from .options import ensure_parent, named_options

_OPTION_NAMES = {"path": "--model", "name": "--data", "npz": "--data"}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="FILE",
                   help="a model file written by fenchel-cvx train (or fenchel_cvx.save), or a checkpoint")
    p.add_argument("--data", required=True, metavar="NAME|FILE",
                   help="a data set name (digits, mnist5k, fashion-mnist) or an .npz file with X [and y], or "
                        "X_train/y_train/X_test/y_test")
    p.add_argument("--split", default="test", choices=("test", "train", "all"),
                   help="which samples of a data set (or of a file with train/test arrays); all = both; a file "
                        "with X gives all its samples")
    p.add_argument("--data-path", default=None, help="folder of the data set's files (fashion-mnist IDX files)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data set's train/test split (as in train)")
    p.add_argument("--output", metavar="FILE", help="save the predictions: .npz (outputs, predictions) or .csv")
    p.add_argument("--json", metavar="FILE", help="write the numbers (samples, loss, accuracy or mse) as JSON")


def _orient(X: np.ndarray, d: int, n_labels: int | None, key: str, where: str) -> np.ndarray:
    """``X`` as features x samples (d x m) from either layout of a file (module docstring)."""
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"--data: array {key!r} of {where} must be a 2-D numeric array, got shape {X.shape} "
                         f"and dtype {X.dtype}")
    rows_samples = X.shape[1] == d and (n_labels is None or X.shape[0] == n_labels)
    cols_samples = X.shape[0] == d and (n_labels is None or X.shape[1] == n_labels)
    if rows_samples:
        return X.T.astype(np.float64)
    if cols_samples:
        return X.astype(np.float64)
    want = f"{d} features" + ("" if n_labels is None else f" and {n_labels} samples (one per label)")
    raise ValueError(f"--data: array {key!r} of {where} has shape {X.shape}; the model expects {want}")


def load_inputs(args: argparse.Namespace, d: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(X0, y or None, description)`` of ``--data``/``--split`` for a model with input width ``d``."""
    from .. import data as _data
    from ..archives import read_archive

    name = args.data
    if not (str(name).lower().endswith(".npz") or os.path.exists(name)):
        ds = _data.load(name, seed=args.seed, path=args.data_path)  # a data set name (unknown: an error)
        parts = {"train": [(ds.X_train, ds.y_train)], "test": [(ds.X_test, ds.y_test)],
                 "all": [(ds.X_train, ds.y_train), (ds.X_test, ds.y_test)]}[args.split]
        X0 = np.concatenate([p[0] for p in parts], axis=1)
        y = np.concatenate([p[1] for p in parts])
        if X0.shape[0] != d:
            raise ValueError(f"--data: {ds.name} has {X0.shape[0]} features, the model expects {d}")
        return X0, y, f"{ds.name} ({args.split} split)"
    arrays = read_archive(name, "--data", "data file")
    if "X" in arrays:
        y = arrays.get("y")
        y = None if y is None else np.asarray(y).reshape(-1) if np.ndim(y) == 1 else np.asarray(y)
        n = None if y is None else (y.size if y.ndim == 1 else y.shape[1])
        return _orient(arrays["X"], d, n, "X", repr(name)), y, repr(name)
    if "X_train" in arrays or "X_test" in arrays:
        keys = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[args.split]
        Xs, ys = [], []
        for k in keys:
            if f"X_{k}" not in arrays:
                raise ValueError(f"--data: {name!r} has no array 'X_{k}' (--split {args.split})")
            y = arrays.get(f"y_{k}")
            y = None if y is None else np.asarray(y).reshape(-1)
            Xs.append(_orient(arrays[f"X_{k}"], d, None if y is None else y.size, f"X_{k}", repr(name)))
            ys.append(y)
        y = None if any(v is None for v in ys) else np.concatenate(ys)
        return np.concatenate(Xs, axis=1), y, f"{name!r} ({args.split} split)"
    raise ValueError(f"--data: expected an array 'X' (and 'y') or 'X_train'/'X_test' in {name!r}, "
                     f"found {sorted(arrays)}")


def evaluate(net, X0: np.ndarray, y: np.ndarray | None) -> tuple[dict, np.ndarray, np.ndarray]:
    """``(scores, Z, predictions)``: Z (k x m) of the feed-forward network, its predictions, and with
    targets y the loss ℓ(Y, Z)/m and the accuracy (classification) or mse Σ‖Z − Y‖²/m."""
    from ..backend import to_numpy

    X0 = net.check_input(X0, min_samples=1)
    Z = net.forward(X0)[1]
    pred = np.asarray(to_numpy(net.loss.predict(Z)))
    scores: dict = {"samples": int(X0.shape[1])}
    if y is not None:
        with named_options({"y": "--data", "Y": "--data"}):
            Y = net.check_targets(y, X0.shape[1])
        Y = np.asarray(to_numpy(Y), dtype=np.asarray(to_numpy(Z)).dtype)
        Zn = np.asarray(to_numpy(Z))
        scores["loss"] = float(net.loss.value(Y, Zn)) / Zn.shape[1]
        scores[net.loss.metric if net.loss.metric != "acc" else "accuracy"] = net.loss.score(Y, Zn)
    return scores, np.asarray(to_numpy(Z)), pred


def _write_predictions(path: str, Z: np.ndarray, pred: np.ndarray, y: np.ndarray | None) -> None:
    ensure_parent(path)
    if path.lower().endswith(".csv"):
        cols = [pred.reshape(1, -1) if pred.ndim == 1 else pred]
        names = ["prediction"] if pred.ndim == 1 else [f"output{i}" for i in range(pred.shape[0])]
        if y is not None and y.ndim == 1:
            cols.append(y.reshape(1, -1))
            names.append("label")
        np.savetxt(path, np.concatenate(cols, axis=0).T, delimiter=",", header=",".join(names), comments="",
                   fmt="%.17g")
    else:
        np.savez(path, outputs=Z, predictions=pred)


def run(args: argparse.Namespace) -> int:
    from ..model_io import load
    from ..validation import check_output_file

    for opt, path in (("--output", args.output), ("--json", args.json)):
        if path is not None:
            check_output_file(path, opt)
    if args.output is not None and not args.output.lower().endswith((".npz", ".csv")):
        raise ValueError(f"--output: expected a .npz or .csv file name, got {args.output!r}")
    with named_options(_OPTION_NAMES):
        net = load(args.model)
        X0, y, where = load_inputs(args, net.sizes[0])
    scores, Z, pred = evaluate(net, X0, y)
    shown = "  ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items())
    print(f"{args.model} on {where}: {shown}")
    if y is None:
        print("(no labels in the data: predictions only)")
    if args.output is not None:
        _write_predictions(args.output, Z, pred, y)
        print(f"predictions -> {args.output}")
    if args.json is not None:
        with open(ensure_parent(args.json), "w") as fh:
            json.dump(dict(scores, model=args.model, data=where), fh, indent=1)
    return 0
