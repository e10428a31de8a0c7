r"""Section ``training``: test accuracy vs epoch, lifted BCD vs Adam vs SGD (784-300-10, ReLU, cross-entropy).

For each data set (mnist5k and Fashion-MNIST; quick mode: the embedded digits, 64-32-10) and
each seed, the same network (``FenchelNetwork(arch, "relu", "cross_entropy", seed=seed)``,
hence the same initialisation) is trained

* by lifted BCD: ``fenchel_cvx.train.train`` with the mini-batch configuration ``LIFTED`` below;
* by Adam and by SGD: ``fenchel_cvx.baselines.train_backprop``, each with the learning rate
  chosen on a 10 % stratified validation split of the training set
  (``baselines.select_learning_rate`` on seed 0 over the grids ``ADAM_LRS`` / ``SGD_LRS``;
  the acceptance protocol of the training issue),

with the same batch size and number of epochs, and evaluated on the test set after every epoch.
The curves show the mean over seeds (band: min to max); the table gives the mean ± standard
deviation of the test accuracy after the first and the last epoch and the mean seconds per
epoch (training only, evaluation excluded), all measured in the same run on the same machine.
"""

from __future__ import annotations

import copy

import numpy as np
from _cache import source_fingerprint
from _fig_util import SectionResult, markdown_table, require, save, setup_matplotlib

NAME = "training"
TITLE = "Test accuracy vs epoch: lifted BCD vs Adam vs SGD"
VERSION = 1
#: library modules whose source is part of every run's cache key
CODE = ("fenchel_cvx.train", "fenchel_cvx.baselines", "fenchel_cvx.blocks", "fenchel_cvx.activations", "fenchel_cvx.losses", "fenchel_cvx.network", "fenchel_cvx.backend", "fenchel_cvx.data")

#: the lifted network's mini-batch BCD configuration (fields of fenchel_cvx.train.BCDConfig)
#: (``gamma`` given as {"hidden": γ, "last": γ_L} is expanded to one value per layer of the network)
LIFTED = {"schedule": "minibatch", "gamma": {"hidden": 10.0, "last": 100.0}, "x_weight": 10.0, "x_iters": 20,
          "dtype": "float32"}
ADAM_LRS = [3e-4, 1e-3, 3e-3]
SGD_LRS = [0.03, 0.1, 0.3]

FULL = {"datasets": [{"name": "mnist5k", "arch": [784, 300, 10]},
                     {"name": "fashion-mnist", "arch": [784, 300, 10]}],
        "epochs": 10, "batch_size": 500, "seeds": [0, 1, 2], "lam": 1.0, "rho": 1e-4,
        "select_lr": True, "lifted": LIFTED}
QUICK = {"datasets": [{"name": "digits", "arch": [64, 32, 10]}],
         "epochs": 2, "batch_size": 200, "seeds": [0], "lam": 1.0, "rho": 1e-4,
         "select_lr": False, "lifted": {**LIFTED, "dtype": "float64"}}
#: the parameters that determine one training run / one learning-rate selection (their cache keys)
RUN_KEYS = ("epochs", "batch_size", "lam", "rho", "lifted", "code")
METHODS = ("fenchel", "adam", "sgd")
LABELS = {"fenchel": "lifted BCD (Fenchel)", "adam": "Adam (backprop)", "sgd": "SGD (backprop)"}


def _summary(result) -> dict:
    """The JSON-able part of a TrainResult that the figure and table need."""
    keep = ("epoch", "test_acc", "train_acc", "val_acc", "J", "F", "time", "epoch_time")
    hist = [{k: r.get(k) for k in keep if k in r} for r in result.history]
    return {"method": result.method, "history": hist, "final": result.final, "times": result.times}


def _net(arch, p, seed):
    """The network: dense ``FenchelNetwork(arch)`` for a list of widths, ``ConvFenchelNetwork.preset(arch)``
    for a preset name (e.g. "lenet5"); ReLU, cross-entropy, λ and ρ from ``p``, initialisation ``seed``."""
    import fenchel_cvx as fc

    if isinstance(arch, str):
        from fenchel_cvx.conv import ConvFenchelNetwork

        return ConvFenchelNetwork.preset(arch, activation="relu", loss="cross_entropy", lam=p["lam"], rho=p["rho"],
                                         seed=seed)
    return fc.FenchelNetwork(arch, activation="relu", loss="cross_entropy", lam=p["lam"], rho=p["rho"], seed=seed)


def arch_name(arch) -> str:
    return arch if isinstance(arch, str) else "-".join(map(str, arch))


def _data(ds: dict):
    """The data set ``ds["name"]`` (seed-0 split), optionally a stratified subset (``n_train``, ``n_test``)."""
    import fenchel_cvx as fc

    d = fc.data.load(ds["name"], seed=0)
    if ds.get("n_train") or ds.get("n_test"):
        d = d.subset(ds.get("n_train"), ds.get("n_test"), seed=0)
    return d


def lifted_config(lifted: dict, net) -> dict:
    """The BCDConfig fields of ``lifted`` for ``net``: a {"hidden", "last"} γ becomes L + 1 per-layer values."""
    cfg = copy.deepcopy(lifted)
    g = cfg.get("gamma")
    if isinstance(g, dict):
        cfg["gamma"] = [float(g["hidden"])] * net.L + [float(g["last"])]
    return cfg


def select_lr(ds: dict, method: str, p: dict) -> dict:
    """Validation accuracy of each candidate learning rate (seed 0, 10 % validation split)."""
    from fenchel_cvx.baselines import select_learning_rate

    d = _data(ds)
    lrs = ADAM_LRS if method == "adam" else SGD_LRS
    best, results = select_learning_rate(_net(ds["arch"], p, 0), d.X_train, d.y_train, lrs=lrs, method=method,
                                         val_fraction=0.1, seed=0, epochs=p["epochs"], batch_size=p["batch_size"],
                                         verbose=0, progress=False)
    return {"best_lr": best, "val_acc": {str(lr): r.final.get("val_acc") for lr, r in results.items()}}


def one_run(ds: dict, method: str, seed: int, lr: float | None, p: dict) -> dict:
    """Train one network on the full training set, test accuracy per epoch."""
    d = _data(ds)
    net = _net(ds["arch"], p, seed)
    if method == "fenchel":
        from fenchel_cvx.train import train

        res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, config=lifted_config(p["lifted"], net),
                    epochs=p["epochs"], batch_size=p["batch_size"], seed=seed, verbose=0, progress=False)
    else:
        from fenchel_cvx.baselines import train_backprop

        res = train_backprop(net, d.X_train, d.y_train, d.X_test, d.y_test, method=method, lr=lr,
                             epochs=p["epochs"], batch_size=p["batch_size"], seed=seed, verbose=0, progress=False)
    return _summary(res)


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    require("fenchel_cvx.train", ("train", "BCDConfig"), "lifted BCD training (issue 4)")
    require("fenchel_cvx.baselines", ("train_backprop", "select_learning_rate"), "backprop baselines (issue 4)")
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    return run_protocol(cache, out_dir, p, NAME, TITLE, "training_accuracy.png")


def run_protocol(cache, out_dir: str, p: dict, section: str, title: str, figure: str) -> SectionResult:
    """Train every (data set, method, seed) of ``p`` (cached under ``section``), draw ``figure``, make the table."""
    runs, lrs = {}, {}
    base = {k: p[k] for k in RUN_KEYS}
    base_bp = {k: v for k, v in base.items() if k != "lifted"}  # the backprop runs do not depend on it
    for ds in p["datasets"]:
        for method in METHODS:
            lr = None
            if method != "fenchel":
                if p["select_lr"]:
                    sel = cache.run(section, f"lr-{ds['name']}-{method}", {**base_bp, "ds": ds, "method": method,
                                                                         "grid": ADAM_LRS if method == "adam" else SGD_LRS},
                                    lambda ds=ds, method=method: select_lr(ds, method, p), VERSION)
                    lr = float(sel["best_lr"])
                else:
                    lr = 1e-3 if method == "adam" else 0.1
                lrs[(ds["name"], method)] = lr
            for seed in p["seeds"]:
                runs[(ds["name"], method, seed)] = cache.run(
                    section, f"{ds['name']}-{method}-seed{seed}", {**(base if method == "fenchel" else base_bp), "ds": ds, "method": method, "seed": seed, "lr": lr},
                    lambda ds=ds, method=method, seed=seed, lr=lr: one_run(ds, method, seed, lr, p), VERSION)

    plt = setup_matplotlib()
    from matplotlib.ticker import MaxNLocator

    nd = len(p["datasets"])
    fig, axes = plt.subplots(2, nd, figsize=(6.2 * nd, 8.4), squeeze=False)
    colors = {"fenchel": "tab:red", "adam": "tab:blue", "sgd": "tab:green"}
    rows = []
    for j, ds in enumerate(p["datasets"]):
        for method in METHODS:
            hs = [runs[(ds["name"], method, s)]["history"] for s in p["seeds"]]
            n = min(len(h) for h in hs)
            ep = np.array([h[i]["epoch"] for i in range(n) for h in hs[:1]])
            acc = 100 * np.array([[h[i]["test_acc"] for i in range(n)] for h in hs])
            tim = np.array([[h[i]["time"] for i in range(n)] for h in hs])
            lab = LABELS[method] + (f", lr {lrs[(ds['name'], method)]:g}" if method != "fenchel" else "")
            for row, x in ((0, ep), (1, tim.mean(axis=0))):
                ax = axes[row, j]
                ax.plot(x, acc.mean(axis=0), "-o", ms=3, color=colors[method], label=lab)
                if len(hs) > 1:
                    ax.fill_between(x, acc.min(axis=0), acc.max(axis=0), color=colors[method], alpha=0.2)
            per_epoch = np.mean([runs[(ds["name"], method, s)]["times"]["per_epoch"] for s in p["seeds"]])
            first = acc[:, 1] if n > 1 else acc[:, 0]
            rows.append([ds["name"], arch_name(ds["arch"]), LABELS[method],
                         f"{lrs[(ds['name'], method)]:g}" if method != "fenchel" else "—",
                         f"{first.mean():.2f} ± {first.std():.2f}", f"{acc[:, -1].mean():.2f} ± {acc[:, -1].std():.2f}",
                         f"{per_epoch:.2f}", len(p["seeds"])])
        panel = f"{ds['name']}, {arch_name(ds['arch'])} ReLU, batch {p['batch_size']}"
        axes[0, j].set_title(panel)
        axes[0, j].set_xlabel("epoch")
        axes[1, j].set_title(panel + " (vs time)")
        axes[1, j].set_xlabel("training wall time [s] (evaluation excluded)")
        axes[0, j].xaxis.set_major_locator(MaxNLocator(integer=True))
        for row in range(2):
            axes[row, j].set_ylabel("test accuracy [%]")
            axes[row, j].legend(loc="best")
    seeds = f"mean over {len(p['seeds'])} seeds, band min–max" if len(p["seeds"]) > 1 else "1 seed"
    fig.suptitle(f"Lifted network vs backprop: test accuracy ({seeds})", fontsize=13)
    fig.tight_layout()
    figs = [save(fig, out_dir, figure)]
    head = ["data set", "network", "method", "lr", "test acc. after epoch 1 [%]",
            f"test acc. after epoch {p['epochs']} [%]", "s / epoch", "seeds"]
    lifted = ", ".join(f"{k}={v}" for k, v in p["lifted"].items()).replace("'", "")
    notes = [f"lifted BCD configuration: {lifted}, λ = {p['lam']:g}, ρ = {p['rho']:g}, batch {p['batch_size']}, "
             f"{p['epochs']} epochs",
             ("learning rates of Adam and SGD chosen on a 10 % validation split (seed 0) from "
              f"{ADAM_LRS} and {SGD_LRS}" if p["select_lr"] else "quick mode: fixed learning rates (Adam 1e-3, SGD 0.1)")]
    return SectionResult(title, figs, markdown_table(head, rows), notes)
