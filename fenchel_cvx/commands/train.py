"""Train a lifted network by BCD (or a backprop baseline) and write metrics.json and a training curve.

``fenchel-cvx train --dataset digits --arch 64-100-10 --method fenchel`` loads the data
(features x samples), builds the network (the architecture's first width must equal the
number of features and its last width the number of classes), trains it with
:func:`fenchel_cvx.train` (``--method fenchel``) or
:func:`fenchel_cvx.baselines.train_backprop` (``--method adam|sgd``), and writes to
``--output`` (default ``runs/<dataset>-<method>-seed<seed>``):

* ``model.npz``: the trained network (:func:`fenchel_cvx.load` reads it; ``--model`` elsewhere, ``--no-model`` to skip);
* ``metrics.json``: ``{"method", "dataset", "config", "history", "final", "times", ...}``
  (history: one record per epoch with F, J, train/val/test accuracy, time);
* ``training_curve.png``: accuracy and objectives per epoch (``--no-plot`` to skip).

The lifted options start from ``--preset tuned`` (:func:`fenchel_cvx.training.tuned`, the pure lifted
schedule, also the default of :func:`fenchel_cvx.train`), ``--preset mm-then-adaptive``
(:func:`fenchel_cvx.training.mm_then_adaptive`, a separately named method: one lifted MM epoch, then
Adam-metric steps on the lifted W-blocks), ``--preset subspace``
(:func:`fenchel_cvx.training.first_layer_subspace`: the first layer's W-steps in the top-25 principal directions of
the training inputs, ``--w0-subspace``) or ``--preset plain`` (:class:`fenchel_cvx.training.BCDConfig`'s
defaults); every option given on the command line overrides the preset. The README's comparison table
(``benchmarks/compare.py``) reports both presets as they come, next to their tuned versions.
``--w0-subspace K`` also applies to ``--method adam|sgd`` (dense networks): the first layer trained as
W₀ = W₀_init + D E_Kᵀ, the backprop control of the lifted option (:mod:`fenchel_cvx.training.backprop`).

With ``--scheduler local`` (a LocalCluster of ``--workers`` processes) or ``--scheduler
tcp://host:8786`` lifted BCD runs sample-parallel on Dask
(:func:`fenchel_cvx.training.dask.train_distributed`; same metrics and checkpoints).

Every option is checked (architecture vs data, labels vs output width, method, backend,
dtype, and every path that will be written: output folder, model, checkpoint) before any training
starts. A data set whose test split is empty trains without test scores (with a warning).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..log import get_logger
from ..plotting import plot_history
from .options import named_options

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..conv import ConvFenchelNetwork
    from ..data import Dataset
    from ..network import FenchelNetwork
    from ..training import BCDConfig

log = get_logger("cli")

#: library argument names -> the options that set them (errors name what the user typed)
_OPTION_NAMES = {"name": "--dataset", "npz": "--dataset", "path": "--data-path", "device": "--device",
                 "dtype": "--dtype", "activation": "--activation", "loss": "--loss", "lam": "--lam", "rho": "--rho",
                 "gamma": "--gamma", "momentum": "--momentum", "x_weight": "--x-weight", "seed": "--seed",
                 "lam_growth": "--lam-growth", "lam_max": "--lam-max", "gamma_growth": "--gamma-growth",
                 "x_iters": "--x-iters", "w_iters": "--w-iters", "last_w_iters": "--last-w-iters",
                 "w_lr": "--w-lr", "w_curvature": "--w-curvature", "val_fraction": "--val-fraction",
                 "patience": "--patience", "batch_size": "--batch-size", "epochs": "--epochs",
                 "w0_subspace": "--w0-subspace"}


def _floats(text: str):
    """'0.3' -> 0.3; '0.1,1' -> [0.1, 1.0] (one value per layer)."""
    try:
        vals = [float(t) for t in str(text).split(",") if t.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected a number or comma-separated numbers, got {text!r}") from e
    if not vals:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return vals[0] if len(vals) == 1 else vals


def parse_arch(text: str) -> list[int]:
    """'784-300-10' -> [784, 300, 10] (at least two positive widths)."""
    try:
        sizes = [int(t) for t in str(text).replace(",", "-").split("-")]
    except ValueError as e:
        raise ValueError(f"--arch: expected widths separated by '-', e.g. 784-300-10, got {text!r}") from e
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"--arch: expected at least two positive widths, e.g. 64-100-10, got {text!r}")
    return sizes


def is_conv_arch(text: str) -> bool:
    """True for a conv layer string or preset (``lenet5``, ``conv6k5p2,avgpool2,...``), False for widths."""
    return any(c.isalpha() for c in str(text))


def build_conv(text: str, ds: Dataset, **kwargs: Any) -> ConvFenchelNetwork:
    """A :class:`fenchel_cvx.conv.ConvFenchelNetwork` for the data set ``ds``.

    The input shape comes from the string (``inputCxHxW`` or a preset); otherwise a square
    one-channel image is assumed (1 x s x s with s² = number of features: digits 8 x 8, MNIST 28 x 28).
    """
    import math

    from ..conv import ConvFenchelNetwork, parse_layers

    try:
        _, shape = parse_layers(text)
    except ValueError as e:
        raise ValueError(f"--arch: {text!r} is neither layer widths (e.g. 784-300-10) nor a conv layer string ({e})") \
            from e
    if shape is None:
        s = math.isqrt(ds.n_features)
        if s * s != ds.n_features:
            raise ValueError(f"--arch: {ds.name} has {ds.n_features} features, not a square image; give the input "
                             f"shape in the string, e.g. 'input1x{ds.n_features}x1,...'")
        shape = (1, s, s)
    if math.prod(shape) != ds.n_features:
        raise ValueError(f"--arch: input shape {'x'.join(map(str, shape))} has {math.prod(shape)} features, "
                         f"{ds.name} has {ds.n_features}")
    try:
        net = ConvFenchelNetwork(text, input_shape=shape, **kwargs)
    except ValueError as e:
        raise ValueError(f"--arch: {e}") from e
    if net.loss.classification and net.sizes[-1] != ds.n_classes:
        raise ValueError(f"--arch: the last layer must have {ds.n_classes} outputs (the classes of {ds.name}), "
                         f"got {net.sizes[-1]} in {text!r}")
    return net


def configure(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and model")
    g.add_argument("--dataset", default="digits",
                   help="digits | mnist5k | fashion-mnist | path/to/file.npz (default: digits)")
    g.add_argument("--data-path", default=None, help="folder of the dataset's files (fashion-mnist IDX files)")
    g.add_argument("--n-train", type=int, default=None, help="use a seeded stratified subset of the training set")
    g.add_argument("--n-test", type=int, default=None, help="use a seeded stratified subset of the test set")
    g.add_argument("--arch", default=None,
                   help="layer widths, e.g. 784-300-10 (default: <features>-100-<classes>), or a conv network: "
                        "a preset (lenet5) or a layer string, e.g. conv6k3,avgpool2,flatten,dense10")
    g.add_argument("--activation", default="relu", help="activation of the hidden layers (default relu)")
    g.add_argument("--loss", default="cross_entropy", help="cross_entropy (default) or squared")
    g.add_argument("--method", default="fenchel", choices=("fenchel", "adam", "sgd"),
                   help="lifted BCD (fenchel) or a backprop baseline (default fenchel)")
    g = parser.add_argument_group("lifted BCD (method fenchel); unset options come from --preset")
    g.add_argument("--preset", default="tuned", choices=("tuned", "mm-then-adaptive", "subspace", "plain"),
                   help="tuned: fenchel_cvx.training.tuned() (pure lifted BCD; the default); mm-then-adaptive: "
                        "fenchel_cvx.training.mm_then_adaptive() (one MM epoch, then Adam-metric lifted W-steps; "
                        "a separate method); subspace: fenchel_cvx.training.first_layer_subspace() (first-layer "
                        "W-steps in the inputs' top-25 principal directions); plain: BCDConfig's defaults")
    g.add_argument("--schedule", default=None, choices=("minibatch", "fullbatch"),
                   help="mini-batch or full-batch lifted BCD (default: from --preset)")
    g.add_argument("--lam", type=_floats, default=None,
                   help="λ per hidden layer (scalar or comma list) (default: from --preset)")
    g.add_argument("--rho", type=_floats, default=None, help="weight decay ρ per layer (default: 0)")
    g.add_argument("--gamma", type=_floats, default=None, help="proximal weight γ per layer (default: from --preset)")
    g.add_argument("--x-weight", type=float, default=None,
                   help="next-layer weight in the X-steps (≥ 1) (default: from --preset)")
    g.add_argument("--lam-growth", type=float, default=None,
                   help="λ ← λ·growth after each epoch (default: from --preset)")
    g.add_argument("--lam-max", type=float, default=None, help="cap of λ under continuation (default: from --preset)")
    g.add_argument("--gamma-growth", type=float, default=None,
                   help="γ ← γ·growth after each epoch (default: from --preset)")
    g.add_argument("--momentum", type=float, default=None,
                   help="inertia of the W's across batches (fenchel) or SGD momentum (default: from --preset; "
                        "SGD: 0)")
    g.add_argument("--no-refresh", action="store_true", help="do not re-forward X after each W-step")
    g.add_argument("--x-iters", type=int, default=None, help="iterations per X-block (default: from --preset)")
    g.add_argument("--x-solver", default=None, choices=("apg", "block"),
                   help="how X-blocks are solved (default: from --preset)")
    g.add_argument("--w-solver", default=None, choices=("mm", "block", "adaptive"),
                   help="how W-blocks are solved (default: from --preset)")
    g.add_argument("--w-lr", type=_floats, default=None,
                   help="step of the adaptive W-steps (scalar or per layer) (default: from --preset)")
    g.add_argument("--w-curvature", type=_floats, default=None,
                   help="scale η of the MM W-step's curvature (1 = MM, 0 = linearised step; scalar or per layer) "
                        "(default: from --preset)")
    g.add_argument("--w0-subspace", type=int, default=None, metavar="K",
                   help="restrict the first layer's change to the top-K principal directions of the training "
                        "inputs (dense networks; 0 = off): fenchel: its MM W-step (default: from --preset: 0, 25 "
                        "for subspace); adam/sgd: W0 = W0_init + D E_K^T with D trained (default: off)")
    g.add_argument("--w-iters", type=int, default=None,
                   help="inner iterations per hidden W-block (default: from --preset)")
    g.add_argument("--last-w-iters", type=int, default=None,
                   help="inner iterations of the output W-block (default: from --preset)")
    g = parser.add_argument_group("backprop baselines (method adam/sgd)")
    g.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    g = parser.add_argument_group("run")
    g.add_argument("--epochs", type=int, default=10, help="training epochs (default: %(default)s)")
    g.add_argument("--batch-size", type=int, default=500, help="samples per mini-batch (default: %(default)s)")
    g.add_argument("--val-fraction", type=float, default=0.0, help="validation split of the training set")
    g.add_argument("--patience", type=int, default=None, help="early stopping patience (epochs)")
    g.add_argument("--backend", default="numpy", choices=("numpy", "torch"),
                   help="lifted BCD arrays (baselines: torch)")
    g.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    g.add_argument("--dtype", default="float64", choices=("float32", "float64"),
                   help="working float type (default: %(default)s)")
    g.add_argument("--threads", type=int, default=None, help="torch intra-op threads (baselines)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run lifted BCD on Dask: 'local' (a LocalCluster of --workers processes) or a scheduler "
                        "address such as tcp://host:8786 (fenchel_cvx.training.dask; needs the 'distributed' extra)")
    g.add_argument("--workers", type=int, default=2, help="worker processes of --scheduler local (default 2)")
    g.add_argument("--connect-timeout", type=float, default=5.0,
                   help="seconds before an unreachable or silent --scheduler address fails (default 5)")
    g.add_argument("--seed", type=int, default=0, help="initialisation, split and batch order")
    g.add_argument("--output", default=None, help="output directory (default runs/<dataset>-<method>-seed<seed>)")
    g.add_argument("--model", default=None, help="where to save the trained network (default <output>/model.npz)")
    g.add_argument("--no-model", action="store_true", help="do not save the trained network")
    g.add_argument("--checkpoint", default=None, help="checkpoint file (.npz) written every epoch")
    g.add_argument("--resume", default=None, help="continue from this checkpoint (same settings; --epochs may grow)")
    g.add_argument("--force-resume", action="store_true",
                   help="resume even if the configuration or the data differ from the checkpoint's")
    g.add_argument("--quiet", action="store_true", help="no progress output")
    g.add_argument("--no-plot", action="store_true", help="do not write the training-curve PNG")


def lifted_config(args: argparse.Namespace, n_hidden: int, conv: bool = False) -> BCDConfig:
    """The BCDConfig of the command line: the preset, overridden by every option given.

    ``--preset tuned`` is :func:`fenchel_cvx.training.tuned` for dense networks and
    :func:`fenchel_cvx.training.tuned_conv` (the LeNet-5 schedule) for convolutional ones; the run
    options (backend, dtype, ...) always come from the command line.
    """
    from ..training import BCDConfig, preset

    base = preset(args.preset, n_hidden, conv=conv)
    opts = {"schedule": args.schedule, "lam": args.lam, "gamma": args.gamma,
            "x_weight": args.x_weight, "lam_growth": args.lam_growth, "lam_max": args.lam_max,
            "gamma_growth": args.gamma_growth, "momentum": args.momentum, "x_iters": args.x_iters,
            "x_solver": args.x_solver, "w_solver": args.w_solver, "w_iters": args.w_iters,
            "last_w_iters": args.last_w_iters, "w_lr": getattr(args, "w_lr", None),
            "w_curvature": getattr(args, "w_curvature", None),
            "w0_subspace": getattr(args, "w0_subspace", None)}
    fields_ = dict(base)
    fields_.update({k: v for k, v in opts.items() if v is not None})
    if args.no_refresh:
        fields_["refresh"] = False
    fields_.update(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, val_fraction=args.val_fraction,
                   patience=args.patience, backend=args.backend, device=args.device, dtype=args.dtype)
    return BCDConfig(**fields_)


def build(args: argparse.Namespace) -> tuple:
    """Validate everything and return (dataset, net, config or None, y_train, y_test) without training."""
    from .. import data as _data
    from ..network import FenchelNetwork

    ds = _data.load(args.dataset, seed=args.seed, path=args.data_path)
    for opt, value in (("--n-train", args.n_train), ("--n-test", args.n_test)):
        if value is not None and value < 1:
            raise ValueError(f"{opt}: expected a positive integer, got {value}")
    if args.n_train is not None or args.n_test is not None:
        ds = ds.subset(args.n_train, args.n_test, seed=args.seed)
    conv = bool(args.arch) and is_conv_arch(args.arch)
    if conv:
        net = build_conv(args.arch, ds, activation=args.activation, loss=args.loss, seed=args.seed,
                         rho=0.0 if args.rho is None else args.rho)
        sizes = net.sizes
    else:
        sizes = parse_arch(args.arch) if args.arch is not None else [ds.n_features, 100, ds.n_classes]
        if sizes[0] != ds.n_features:
            raise ValueError(f"--arch: the first width must be the number of features of {ds.name} "
                             f"({ds.n_features}), got {sizes[0]} in {args.arch!r}")
        net = FenchelNetwork(sizes, activation=args.activation, loss=args.loss, seed=args.seed,
                             rho=0.0 if args.rho is None else args.rho)
    if net.loss.classification and sizes[-1] != ds.n_classes:
        raise ValueError(f"--arch: the last width must be the number of classes of {ds.name} "
                         f"({ds.n_classes}), got {sizes[-1]} in {args.arch!r}")
    if args.epochs < 0 or args.batch_size < 1:
        raise ValueError(f"--epochs >= 0 and --batch-size >= 1 expected, got {args.epochs} and {args.batch_size}")
    cfg = None
    if args.method == "fenchel":
        cfg = lifted_config(args, net.L, conv=conv).validate(net)
    elif backprop_subspace(args) is not None:  # checked now (dense network, 1 <= K <= d), before any training
        from ..training.backprop import BackpropConfig

        if args.w0_subspace < 0:
            raise ValueError(f"w0_subspace: expected K >= 0 (0 = off), got {args.w0_subspace}")
        BackpropConfig(method=args.method, w0_subspace=backprop_subspace(args)).validate(net)
    y_tr, y_te = ds.y_train, ds.y_test
    if not net.loss.classification:  # regression on labels: one-hot targets
        eye = np.eye(sizes[-1])
        y_tr = eye[:, ds.y_train] if sizes[-1] > 1 else ds.y_train[None, :].astype(float)
        y_te = eye[:, ds.y_test] if sizes[-1] > 1 else ds.y_test[None, :].astype(float)
    return ds, net, cfg, y_tr, y_te


def backprop_subspace(args: argparse.Namespace) -> int | None:
    """``--w0-subspace`` of a backprop run (``--method adam|sgd``): K, or None when unset or 0 (off)."""
    return getattr(args, "w0_subspace", None) or None


def check_scheduler(args: argparse.Namespace, net: FenchelNetwork, cfg: BCDConfig | None) -> None:
    """``--scheduler``/``--workers``: only lifted BCD in the distributed runner's scope (checked before connecting)."""
    if getattr(args, "scheduler", None) is None:
        return
    if args.method != "fenchel":
        raise ValueError(f"--scheduler: only --method fenchel runs on Dask, got --method {args.method}")
    if isinstance(args.workers, bool) or args.workers < 1:
        raise ValueError(f"--workers: expected a positive integer, got {args.workers}")
    if not args.connect_timeout > 0:
        raise ValueError(f"--connect-timeout: expected a number of seconds > 0, got {args.connect_timeout}")
    from ..training.dask import check_scope

    check_scope(net, cfg)


def output_paths(args: argparse.Namespace, ds: Dataset) -> dict:
    """The files the run will write, each checked writable now, before any training (OSError naming the option)."""
    from ..archives import check_input_file
    from ..validation import check_output_dir, check_output_file

    out = args.output or os.path.join("runs", f"{ds.name}-{args.method}-seed{args.seed}")
    check_output_dir(out, "--output")
    paths = {"output": out, "metrics": os.path.join(out, "metrics.json"),
             "plot": None if args.no_plot else os.path.join(out, "training_curve.png"),
             "model": None if args.no_model else (args.model or os.path.join(out, "model.npz"))}
    for key in ("metrics", "plot"):
        if paths[key] is not None:
            check_output_file(paths[key], "--output")
    if paths["model"] is not None:
        check_output_file(paths["model"], "--model")
    if args.checkpoint is not None:
        check_output_file(args.checkpoint, "--checkpoint")
    if args.resume is not None:
        check_input_file(args.resume, "--resume", "checkpoint")  # a FIFO would block the reader
    return paths


def run(args: argparse.Namespace) -> int:
    from ..baselines import train_backprop
    from ..training import train
    from ..training.checkpoint import json_safe

    with named_options(_OPTION_NAMES):
        ds, net, cfg, y_tr, y_te = build(args)
    check_scheduler(args, net, cfg)
    paths = output_paths(args, ds)
    X_te = ds.X_test
    if X_te.shape[1] == 0:
        log.warning("%s: the test split is empty; training without test scores", ds.name)
        X_te = y_te = None
    verbose = 0 if args.quiet else 1
    common = dict(verbose=verbose, checkpoint=args.checkpoint, resume=args.resume, force_resume=args.force_resume)
    if args.method == "fenchel" and getattr(args, "scheduler", None) is not None:
        from ..training.dask import train_distributed

        res = train_distributed(net, ds.X_train, y_tr, X_te, y_te, cfg, scheduler=args.scheduler,
                                n_workers=args.workers, connect_timeout=args.connect_timeout, **common)
    elif args.method == "fenchel":
        res = train(net, ds.X_train, y_tr, X_te, y_te, cfg, **common)
    else:
        res = train_backprop(net, ds.X_train, y_tr, X_te, y_te, method=args.method, lr=args.lr,
                             epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                             val_fraction=args.val_fraction, patience=args.patience,
                             momentum=0.0 if args.momentum is None else args.momentum, device=args.device,
                             dtype=args.dtype, threads=args.threads, w0_subspace=backprop_subspace(args),
                             **common)
    os.makedirs(paths["output"], exist_ok=True)
    if paths["model"] is not None:  # the trained network first: the most valuable output
        res.net.save(paths["model"])
    metrics = res.metrics()
    if getattr(res, "distributed", None) is not None:  # --scheduler: workers, shards, bytes and round trips
        metrics["distributed"] = res.distributed
    metrics.update(dataset=ds.name, sizes=net.sizes, activation=args.activation, loss=net.loss.name,
                   model=paths["model"])
    with open(paths["metrics"], "w") as fh:
        json.dump(json_safe(metrics), fh, indent=1)
    if paths["plot"] is not None:
        plot_history(res.history, paths["plot"], title=f"{ds.name} {'-'.join(map(str, net.sizes))} {args.method}")
    if verbose:
        acc = {k: round(v, 4) for k, v in res.final.items() if k.endswith(("acc", "mse"))}
        saved = f"  model -> {paths['model']}" if paths["model"] else ""
        print(f"{args.method}: {acc}  {res.times['per_epoch']:.2f} s/epoch  -> {paths['metrics']}{saved}")
    return 0
