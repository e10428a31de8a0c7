"""Acceptance benchmark of issue 5: LeNet-5 trained by lifted mini-batch BCD (the conv blocks) vs Adam.

Network: the ``lenet5`` preset of :class:`fenchel_cvx.conv.ConvFenchelNetwork` (28 x 28 inputs padded to
32 x 32: 6@5x5 → avg-pool 2 → 16@5x5 → avg-pool 2 → 120 → 84 → 10, ReLU, cross-entropy), the same
initialisation (seeded) for both methods; data ``mnist5k`` (4,000 train / 1,000 test) or
``fashion-mnist`` (60,000 / 10,000); equal epochs and batch size; the batch order of
:func:`fenchel_cvx.training.batch_order` for both.

1. Adam: learning rate chosen from {3e-4, 1e-3, 3e-3} by the mean final validation accuracy over the
   seeds (seeded stratified 90/10 split of the training set), then trained on the full training set.
   The model is ``ConvFenchelNetwork.torch_module()`` (the same network in ``torch.nn``), loss = mean
   cross-entropy (ρ = 0).
2. Lifted: :func:`fenchel_cvx.train` with the schedule :func:`fenchel_cvx.training.tuned_lenet5`
   (mini-batch BCD, docs/design.md §4): per batch a forward initialisation; X-steps from X_L down to
   X_1, each ``x_iters`` certified FISTA iterations of the conv X-block warm-started at the forward
   value; W-steps from W_0 to W_L, each ``w_iters`` majorise–minimise ridge steps
   (the W-blocks' ``solve_fixed``, :mod:`fenchel_cvx.blocks.mm`) on the layer's im2col design matrix with a proximal term
   γ_l towards the weights before the batch, inertia ``momentum`` across batches, and a re-forward of
   X_{l+1} with the new weights; after each epoch λ ← λ·lam_growth, γ ← γ·gamma_growth. ``--set
   FIELD=VALUE`` overrides a field of :class:`fenchel_cvx.training.BCDConfig`.
3. A table: mean ± std test accuracy after the last epoch and training seconds per epoch (evaluation
   excluded), from the same run, interleaved per seed (Adam seed s, lifted seed s, ...).

Everything runs on one CPU thread by default (torch ``set_num_threads`` and the BLAS of numpy), or on a
CUDA device with ``--device cuda``.

    python benchmarks/lenet5.py                                  # mnist5k, 3 seeds, 10 epochs
    python benchmarks/lenet5.py --datasets mnist5k,fashion-mnist
    python benchmarks/lenet5.py --quick                          # smoke run (tiny budget)
"""

from __future__ import annotations

import argparse

if __name__ == "__main__":  # before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv()

import json  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from fenchel_cvx import data  # noqa: E402
from fenchel_cvx.baselines import train_backprop  # noqa: E402
from fenchel_cvx.conv import ConvFenchelNetwork  # noqa: E402
from fenchel_cvx.training import BCDConfig, train, tuned_lenet5  # noqa: E402


@dataclass
class RunResult:
    method: str
    seed: int
    test_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)


def _from_history(method, seed, res) -> RunResult:
    """Test accuracy and training seconds of every epoch (evaluation excluded) from a TrainResult."""
    hist = [h for h in res.history if h["epoch"] > 0]
    return RunResult(method, seed, [h["test_acc"] for h in hist], [h["epoch_time"] for h in hist])


def train_lifted(net, X, y, X_test, y_test, epochs, batch_size, seed, config, device, dtype, eval_samples=1000):
    """Lifted mini-batch BCD (:func:`fenchel_cvx.train`, schedule ``config``) from the network's weights."""
    res = train(net, X, y, X_test, y_test, config=config, epochs=epochs, batch_size=batch_size, seed=seed,
                backend="torch", device=device, dtype=dtype, eval_samples=eval_samples, verbose=0, progress=False)
    return _from_history("lifted", seed, res)


def train_adam(net, X, y, X_test, y_test, epochs, batch_size, seed, lr, device, dtype):
    """Adam (:func:`fenchel_cvx.baselines.train_backprop` on the network's ``torch.nn`` twin), mean cross-entropy."""
    res = train_backprop(net, X, y, X_test, y_test, method="adam", lr=lr, epochs=epochs, batch_size=batch_size,
                         seed=seed, device=device, dtype=dtype, eval_samples=1000, verbose=0, progress=False)
    return _from_history(f"adam(lr={lr:g})", seed, res)


# ---------------------------------------------------------------------------------------
def _stats(v):
    v = np.asarray(v, dtype=float)
    return f"{v.mean():.4f} ± {v.std():.4f}" if v.size > 1 else f"{v.mean():.4f}"


def run(dataset, seeds, epochs, batch_size, lrs, config, device, dtype, n_train=None, log=print):
    ds = data.load(dataset)
    if n_train is not None:
        ds = ds.subset(n_train=n_train, n_test=min(n_train, ds.X_test.shape[1]), seed=0)
    make = lambda s: ConvFenchelNetwork("lenet5", activation="relu", loss="cross_entropy", seed=s)  # noqa: E731
    # 1. Adam's learning rate on a 90/10 validation split
    X_tr, y_tr, X_va, y_va = ds.split_validation(0.1, seed=0)
    val = {}
    for lr in lrs:
        val[lr] = np.mean([train_adam(make(s), X_tr, y_tr, X_va, y_va, epochs, batch_size, s, lr, device,
                                      dtype).test_acc[-1] for s in seeds])
        log(f"[{dataset}] adam lr={lr:g}: validation accuracy {val[lr]:.4f}")
    lr = max(val, key=val.get)
    # 2. both methods on the full training set, interleaved per seed
    runs = {"adam": [], "lifted": []}
    for s in seeds:
        ra = train_adam(make(s), ds.X_train, ds.y_train, ds.X_test, ds.y_test, epochs, batch_size, s, lr, device,
                        dtype)
        runs["adam"].append(ra)
        log(f"[{dataset}] seed {s} adam(lr={lr:g}): test acc per epoch {np.round(ra.test_acc, 4).tolist()}, "
            f"{np.mean(ra.epoch_time):.2f} s/epoch")
        rl = train_lifted(make(s), ds.X_train, ds.y_train, ds.X_test, ds.y_test, epochs, batch_size, s, config,
                          device, dtype)
        runs["lifted"].append(rl)
        log(f"[{dataset}] seed {s} lifted: test acc per epoch {np.round(rl.test_acc, 4).tolist()}, "
            f"{np.mean(rl.epoch_time):.2f} s/epoch")
    acc = {k: [r.test_acc[-1] for r in v] for k, v in runs.items()}
    spe = {k: [np.mean(r.epoch_time) for r in v] for k, v in runs.items()}
    return {"dataset": dataset, "adam_lr": lr, "adam_validation": {str(k): v for k, v in val.items()},
            "test_acc": acc, "s_per_epoch": spe,
            "accept_accuracy": bool(np.mean(acc["lifted"]) >= np.mean(acc["adam"])),
            "runs": {k: [asdict(r) for r in v] for k, v in runs.items()}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="mnist5k")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--lrs", default="3e-4,1e-3,3e-3")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-train", type=int, default=None, help="subset of the training set (smoke runs)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a BCDConfig field of the lifted schedule, e.g. --set lam=1.0 (repeatable)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 1 epoch, 300 samples (or --n-train), lr 1e-3")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",")]
    lrs = [float(x) for x in a.lrs.split(",")]
    epochs, n_train, bs = a.epochs, a.n_train, a.batch_size
    if a.quick:
        seeds, lrs, epochs, n_train, bs = seeds[:1], [1e-3], 1, (n_train or 300), 100
    config = tuned_lenet5()
    for kv in a.set:
        k, _, v = kv.partition("=")
        if k not in BCDConfig.__dataclass_fields__:
            p.error(f"--set: unknown BCDConfig field {k!r}")
        cur = config.get(k, getattr(BCDConfig, k, None))
        config[k] = (v.lower() in ("1", "true", "yes")) if isinstance(cur, bool) else \
            (type(cur)(v) if isinstance(cur, (int, float, str)) else float(v))
    BCDConfig.from_dict(config).validate()
    print(f"LeNet-5 lifted vs Adam: seeds {seeds}, {epochs} epochs, batch {bs}, {a.device} {a.dtype}, "
          f"{a.threads} thread(s); lifted schedule {config}", flush=True)
    out = []
    for ds in a.datasets.split(","):
        r = run(ds, seeds, epochs, bs, lrs, config, a.device, a.dtype, n_train, log=lambda s: print(s, flush=True))
        out.append(r)
        print(f"\n{'dataset':14s} {'method':18s} {'test acc':18s} s/epoch")
        for k, name in (("adam", f"adam(lr={r['adam_lr']:g})"), ("lifted", "lifted BCD")):
            print(f"{ds:14s} {name:18s} {_stats(r['test_acc'][k]):18s} {_stats(r['s_per_epoch'][k])}")
        print(f"lifted mean accuracy >= Adam's: {r['accept_accuracy']}\n", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"schedule": config, "results": out}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
