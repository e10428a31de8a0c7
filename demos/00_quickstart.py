r"""Demo 0 -- quick start: a Fenchel lifted network trained on digits, beside backprop (Adam).

Network 64-100-10 (ReLU, cross-entropy) on scikit-learn's 8x8 digits (features x samples,
seeded stratified 75/25 split). The lifted network is trained by mini-batch block-coordinate
descent (``fenchel_cvx.train`` with the tuned schedule ``fenchel_cvx.training.TUNED``): per
batch, a forward pass initialises the hidden activations X_1, an X-step moves them towards
lower loss (a convex problem per batch), and W-steps fit each layer's weights to its lifted
targets (a ridge fit per neuron, convex) with a proximal term towards the weights before the
batch; λ grows each epoch (the relaxation tightens towards the feed-forward network).
Inference is the ordinary feed-forward network. Adam trains the same network from the same
initialisation on the same batches, with the learning rate that is best on a validation split
(``select_learning_rate``: the log grid 1e-4 … 3e-2, extended past an edge that wins). This is a
quick look, not the fair comparison: that is ``benchmarks/compare.py`` (``fenchel_cvx.comparison``). Both compute in
float32 (numpy for the lifted network, torch for Adam).

Figure ``00_quickstart.png``: test accuracy per epoch (left) and the objectives per epoch (right:
the standard objective J of both networks and the lifted objective F_λ ≤ J).

    python demos/00_quickstart.py [--epochs 10] [--batch-size 500] [--quick] [--out DIR]
"""

from __future__ import annotations

import os

# small matrices: one BLAS thread is faster than several on a shared machine (set before numpy loads)
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import copy  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _demo_util import parse_config, save, setup_matplotlib  # noqa: E402

from fenchel_cvx import FenchelNetwork, data  # noqa: E402
from fenchel_cvx.training import TUNED, BCDConfig, train  # noqa: E402


@dataclass
class Config:
    """A 64-100-10 lifted network on digits, trained by mini-batch BCD, beside Adam."""

    hidden: int = 100            # hidden units
    epochs: int = 10
    batch_size: int = 500
    n_train: int = 0             # 0: the whole training split; else a seeded stratified subset
    adam: bool = True            # train the Adam baseline too (needs torch)
    seed: int = 0

    def __post_init__(self):
        if self.hidden < 1 or self.epochs < 1 or self.batch_size < 1 or self.n_train < 0:
            raise ValueError(f"hidden, epochs, batch_size >= 1 and n_train >= 0 expected, got "
                             f"{self.hidden}, {self.epochs}, {self.batch_size}, {self.n_train}")


QUICK = {"hidden": 16, "epochs": 2, "batch_size": 100, "n_train": 300}


def run(cfg: Config) -> dict:
    ds = data.load("digits", seed=cfg.seed)
    if cfg.n_train:
        ds = ds.subset(cfg.n_train, None, seed=cfg.seed)
    net = FenchelNetwork([ds.n_features, cfg.hidden, ds.n_classes], seed=cfg.seed)
    out = {}
    bcd = BCDConfig(**dict(TUNED, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, dtype="float32"))
    t0 = time.perf_counter()
    out["lifted"] = train(copy.deepcopy(net), ds.X_train, ds.y_train, ds.X_test, ds.y_test, bcd, verbose=0)
    out["lifted_wall"] = time.perf_counter() - t0
    if cfg.adam:
        try:
            from fenchel_cvx.baselines import select_learning_rate, train_backprop
        except ImportError as e:  # pragma: no cover - torch missing
            print(f"(Adam baseline skipped: {e})")
            return out
        kw = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed, verbose=0, restore_best=False,
                  threads=1)
        lr, _ = select_learning_rate(net, ds.X_train, ds.y_train, val_fraction=0.2, **kw)
        out["adam"] = train_backprop(copy.deepcopy(net), ds.X_train, ds.y_train, ds.X_test, ds.y_test, lr=lr, **kw)
        out["adam_lr"] = lr
    return out


def main(argv=None) -> dict:
    cfg, out_dir = parse_config(Config, QUICK, argv, __doc__.splitlines()[0])
    res = run(cfg)
    rows = [("lifted BCD", res["lifted"])] + ([(f"Adam (lr {res['adam_lr']:g})", res["adam"])] if "adam" in res else [])
    print(f"digits {res['lifted'].net.sizes}, {cfg.epochs} epochs, batch {cfg.batch_size}")
    print(f"{'method':<18}{'test acc':>9}{'train acc':>10}{'J':>9}{'s/epoch':>9}")
    report = {}
    for name, r in rows:
        h = r.history[-1]
        print(f"{name:<18}{h['test_acc']:>9.4f}{h['train_acc']:>10.4f}{h['J']:>9.4f}{r.times['per_epoch']:>9.3f}")
        report[r.method] = {"test_acc": [x["test_acc"] for x in r.history], "J": [x["J"] for x in r.history],
                            "F": [x["F"] for x in r.history], "s_per_epoch": r.times["per_epoch"]}
    plt = setup_matplotlib()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"fenchel": ("C0", "lifted BCD"), "adam": ("C1", rows[-1][0] if len(rows) > 1 else "Adam")}
    for _, r in rows:
        color, label = styles[r.method]
        ep = [x["epoch"] for x in r.history]
        a1.plot(ep, [100 * x["test_acc"] for x in r.history], "-o", color=color, ms=3, label=label)
        a2.plot(ep, [x["J"] for x in r.history], "-", color=color, label=f"{label}: J")
        if r.method == "fenchel":
            a2.plot(ep, [x["F"] for x in r.history], "--", color=color, label=f"{label}: F_λ (≤ J)")
    a1.set_xlabel("epoch")
    a1.set_ylabel("test accuracy [%]")
    a1.set_title(f"digits {'-'.join(map(str, res['lifted'].net.sizes))}, batch {cfg.batch_size}")
    a1.legend()
    a2.set_xlabel("epoch")
    a2.set_yscale("log")
    a2.set_ylabel("training objective")
    a2.set_title("standard objective J and lifted objective F_λ")
    a2.legend()
    path = save(fig, out_dir, "00_quickstart.png")
    return {"files": [path], "report": report, "config": cfg}


if __name__ == "__main__":
    main()
