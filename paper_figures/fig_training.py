r"""Section ``training``: test accuracy vs epoch, lifted BCD vs Adam vs SGD (784-300-10, ReLU, cross-entropy).

For each data set (mnist5k and Fashion-MNIST; quick mode: the embedded digits, 64-32-10) and
each seed, the same network (``FenchelNetwork(arch, "relu", "cross_entropy", seed=seed)``,
hence the same initialisation) is trained

* by lifted BCD: ``fenchel_cvx.train`` with the library's mini-batch schedule
  (``fenchel_cvx.training.tuned``; on mnist5k the variant ``LIFTED_MNIST5K`` that benchmarks/train.py
  chose on its validation split);
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
import functools

import numpy as np
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, markdown_table, require, save, setup_matplotlib

NAME = "training"
TITLE = "Test accuracy: lifted BCD vs Adam vs SGD"
VERSION = 1
#: library modules whose source is part of every run's cache key
CODE = ("fenchel_cvx.training", "fenchel_cvx.baselines", "fenchel_cvx.blocks", "fenchel_cvx.activations", "fenchel_cvx.losses", "fenchel_cvx.network", "fenchel_cvx.backend", "fenchel_cvx.data")

#: the lifted network's mini-batch BCD schedule: a dict of fenchel_cvx.training.BCDConfig fields, optionally
#: with ``"base": "tuned"`` (start from ``fenchel_cvx.training.tuned(n_hidden)``, the library's default schedule)
#: or ``"base": "tuned_lenet5"`` (``fenchel_cvx.training.tuned_lenet5()``); a ``gamma`` given as
#: {"hidden": γ, "last": γ_L} is expanded to one value per layer of the network. A data set may carry its
#: own schedule (``ds["lifted"]``); the others use ``p["lifted"]``.
LIFTED = {"base": "tuned", "dtype": "float32"}
#: mnist5k (4,000 training images): the schedule benchmarks/train.py chose on its validation split
#: (TUNED overfits there: weight decay 1e-3, no λ continuation, 10 inner iterations)
LIFTED_MNIST5K = {"base": "tuned", "lam": 0.3, "gamma": [0.09, 0.1], "lam_growth": 1.0, "gamma_growth": 1.2,
                  "momentum": 0.7, "rho": 1e-3, "x_iters": 10, "last_w_iters": 10, "dtype": "float32"}
ADAM_LRS = [3e-4, 1e-3, 3e-3]
SGD_LRS = [0.03, 0.1, 0.3]

#: FULL: sized for ~6.5-9 minutes of one CPU core (2-core machine, one thread): 3 seeds on each data set;
#: Fashion-MNIST (60,000 images) costs ~6 s per epoch and seed for the three methods together.
#: Each data set's ``seeds`` is not part of any run's cache key (adding a seed reuses the others).
FULL = {"datasets": [{"name": "mnist5k", "arch": [784, 300, 10], "lifted": LIFTED_MNIST5K, "seeds": [0, 1, 2]},
                     {"name": "fashion-mnist", "arch": [784, 300, 10], "seeds": [0, 1, 2]}],
        "epochs": 10, "batch_size": 500, "seeds": [0, 1, 2], "lam": 1.0, "rho": 0.0,
        "select_lr": True, "lifted": LIFTED}
QUICK = {"datasets": [{"name": "digits", "arch": [64, 32, 10]}],
         "epochs": 2, "batch_size": 200, "seeds": [0], "lam": 1.0, "rho": 1e-4,
         "select_lr": False, "lifted": {**LIFTED, "dtype": "float64"}}
#: the parameters that determine one training run / one learning-rate selection (their cache keys)
RUN_KEYS = ("epochs", "batch_size", "lam", "rho", "lifted", "code")
#: torch intra-op threads of the backprop runs (the lifted runs: numpy's BLAS, OPENBLAS_NUM_THREADS)
THREADS = 1
METHODS = ("fenchel", "adam", "sgd")
LABELS = {"fenchel": "lifted BCD (Fenchel)", "adam": "Adam (backprop)", "sgd": "SGD (backprop)"}


def _summary(result) -> dict:
    """The JSON-able part of a TrainResult that the figure and table need."""
    keep = ("epoch", "test_acc", "train_acc", "val_acc", "J", "F", "time", "epoch_time")
    hist = [{k: r.get(k) for k in keep if k in r} for r in result.history]
    return {"method": result.method, "history": hist, "final": result.final, "times": result.times}


def make_net(arch, p, seed):
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


def lifted_spec(ds: dict, p: dict) -> dict:
    """The lifted schedule of data set ``ds`` (its own ``ds["lifted"]`` or the section's ``p["lifted"]``)."""
    return ds.get("lifted", p["lifted"])


def ds_seeds(ds: dict, p: dict) -> list:
    return list(ds.get("seeds", p["seeds"]))


def ds_key(ds: dict, method: str) -> dict:
    """The part of ``ds`` that identifies a run of ``method`` (seeds never; the schedule only for lifted runs)."""
    drop = ("seeds",) if method == "fenchel" else ("seeds", "lifted")
    return {k: v for k, v in ds.items() if k not in drop}


@functools.lru_cache(maxsize=2)
def _load(name: str, n_train, n_test, dtype: str):
    import fenchel_cvx as fc

    d = fc.data.load(name, seed=0, dtype=np.dtype(dtype))
    if n_train or n_test:
        d = d.subset(n_train, n_test, seed=0)
    return d


def load_data(ds: dict, dtype: str = "float32"):
    """The data set ``ds["name"]`` (seed-0 split), optionally a stratified subset (``n_train``, ``n_test``);
    kept in memory for the next run (Fashion-MNIST takes seconds to load)."""
    return _load(ds["name"], ds.get("n_train"), ds.get("n_test"), dtype)


def lifted_config(lifted: dict, net) -> dict:
    """The BCDConfig fields of the schedule ``lifted`` for ``net``: ``"base"`` names a library schedule
    (``fenchel_cvx.training.tuned(n_hidden)`` or ``tuned_lenet5()``) that the other keys override; a
    {"hidden", "last"} γ becomes L + 1 per-layer values."""
    cfg = copy.deepcopy(lifted)
    base = cfg.pop("base", None)
    if base is not None:
        import fenchel_cvx.training as tr

        if not hasattr(tr, base):
            raise Missing("fenchel_cvx.training", f"the schedule {base}() (issue 5)")
        fn = getattr(tr, base)
        cfg = {**(fn(net.L) if base == "tuned" else fn()), **cfg}
    g = cfg.get("gamma")
    if isinstance(g, dict):
        cfg["gamma"] = [float(g["hidden"])] * net.L + [float(g["last"])]
    if "rho" in cfg:  # weight decay is the network's (the schedule's value replaces the run's default)
        net.rho = np.full(net.L + 1, float(cfg.pop("rho")))
    return cfg


def select_lr(ds: dict, method: str, p: dict) -> dict:
    """Validation accuracy of each candidate learning rate (seed 0, 10 % validation split)."""
    from fenchel_cvx.baselines import select_learning_rate

    d = load_data(ds)
    lrs = ADAM_LRS if method == "adam" else SGD_LRS
    best, results = select_learning_rate(make_net(ds["arch"], p, 0), d.X_train, d.y_train, lrs=lrs, method=method,
                                         val_fraction=0.1, seed=0, epochs=p["epochs"], batch_size=p["batch_size"],
                                         threads=THREADS, verbose=0, progress=False)
    return {"best_lr": best, "val_acc": {str(lr): r.final.get("val_acc") for lr, r in results.items()}}


def one_run(ds: dict, method: str, seed: int, lr: float | None, p: dict) -> dict:
    """Train one network on the full training set, test accuracy per epoch."""
    net = make_net(ds["arch"], p, seed)
    if method == "fenchel":
        from fenchel_cvx.training import train

        cfg = lifted_config(lifted_spec(ds, p), net)
        d = load_data(ds, cfg.get("dtype", "float64"))
        res = train(net, d.X_train, d.y_train, d.X_test, d.y_test, config=cfg,
                    epochs=p["epochs"], batch_size=p["batch_size"], seed=seed, verbose=0, progress=False)
    else:
        from fenchel_cvx.baselines import train_backprop

        d = load_data(ds)
        res = train_backprop(net, d.X_train, d.y_train, d.X_test, d.y_test, method=method, lr=lr,
                             epochs=p["epochs"], batch_size=p["batch_size"], seed=seed, threads=THREADS, verbose=0,
                             progress=False)
    return {**_summary(res), "n_train": int(d.X_train.shape[1])}


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    require("fenchel_cvx.training", ("train", "BCDConfig"), "lifted BCD training (issue 4)")
    require("fenchel_cvx.baselines", ("train_backprop", "select_learning_rate"), "backprop baselines (issue 4)")
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    return run_protocol(cache, out_dir, p, NAME, TITLE, "training_accuracy.png")


def run_protocol(cache, out_dir: str, p: dict, section: str, title: str, figure: str) -> SectionResult:
    """Train every (data set, method, seed) of ``p`` (cached under ``section``), draw ``figure``, make the table."""
    runs, lrs = {}, {}
    base = {k: p[k] for k in RUN_KEYS if k != "lifted"}  # the schedule is part of the lifted runs' ``ds``
    for ds in p["datasets"]:
        for method in METHODS:
            lr = None
            key = {**base, "ds": ds_key(ds, method), "method": method}
            if method == "fenchel":
                key["lifted"] = lifted_spec(ds, p)
            else:
                if p["select_lr"]:
                    grid = ADAM_LRS if method == "adam" else SGD_LRS
                    sel = cache.run(section, f"lr-{ds['name']}-{method}", {**key, "grid": grid},
                                    lambda ds=ds, method=method: select_lr(ds, method, p), VERSION)
                    lr = float(sel["best_lr"])
                else:
                    lr = 1e-3 if method == "adam" else 0.1
                lrs[(ds["name"], method)] = lr
            for seed in ds_seeds(ds, p):
                runs[(ds["name"], method, seed)] = cache.run(
                    section, f"{ds['name']}-{method}-seed{seed}", {**key, "seed": seed, "lr": lr},
                    lambda ds=ds, method=method, seed=seed, lr=lr: one_run(ds, method, seed, lr, p), VERSION)
    return draw(runs, lrs, p, out_dir, title, figure)


def _seeds_text(n: int) -> str:
    return f"mean of {n} seeds, band = min–max" if n > 1 else "1 seed"


def draw(runs: dict, lrs: dict, p: dict, out_dir: str, title: str, figure: str) -> SectionResult:
    """The figure (test accuracy vs epoch and vs training time, one column per data set) and the table."""
    plt = setup_matplotlib()
    from matplotlib.ticker import MaxNLocator

    nd = len(p["datasets"])
    if nd == 1:  # one data set: accuracy vs epoch and vs time side by side
        fig, grid = plt.subplots(1, 2, figsize=(10.4, 4.4), squeeze=False)
        axes = grid.reshape(2, 1)
    else:  # one column per data set: vs epoch on top, vs time below
        fig, axes = plt.subplots(2, nd, figsize=(5.0 * nd + 0.4, 7.6), squeeze=False)
    colors = {"fenchel": "tab:red", "adam": "tab:blue", "sgd": "tab:green"}
    markers = {"fenchel": "o", "adam": "s", "sgd": "^"}
    rows, slow = [], []
    for j, ds in enumerate(p["datasets"]):
        seeds = ds_seeds(ds, p)
        lo_all = []
        for method in METHODS:
            hs = [runs[(ds["name"], method, s)]["history"] for s in seeds]
            n = min(len(h) for h in hs)
            ep = np.array([hs[0][i]["epoch"] for i in range(n)])
            acc = 100 * np.array([[h[i]["test_acc"] for i in range(n)] for h in hs])
            tim = np.array([[h[i]["time"] for i in range(n)] for h in hs])
            lab = LABELS[method] + (f", lr {lrs[(ds['name'], method)]:g}" if method != "fenchel" else "")
            k = 1 if n > 1 else 0  # the curves start after the first epoch (epoch 0 = initialisation, ~10 %)
            lo_all.append(acc[:, k:].min())
            for row, x in ((0, ep), (1, tim.mean(axis=0))):
                ax = axes[row, j]
                ax.plot(x[k:], acc.mean(axis=0)[k:], "-", marker=markers[method], ms=4, color=colors[method],
                        label=lab)
                if len(hs) > 1:
                    ax.fill_between(x[k:], acc.min(axis=0)[k:], acc.max(axis=0)[k:], color=colors[method],
                                    alpha=0.2, lw=0)
            per_epoch = np.mean([runs[(ds["name"], method, s)]["times"]["per_epoch"] for s in seeds])
            if acc[:, -1].mean() < 50.0:
                n_tr = runs[(ds["name"], method, seeds[0])].get("n_train") or load_data(ds).X_train.shape[1]
                steps = -(-n_tr // p["batch_size"]) * p["epochs"]
                slow.append(f"{LABELS[method]} on {ds['name']} ({arch_name(ds['arch'])}) reaches only "
                            f"{acc[:, -1].mean():.1f} % after {p['epochs']} epochs = {steps} steps of batch "
                            f"{p['batch_size']}: it has barely left chance level in this budget")
            first = acc[:, 1] if n > 1 else acc[:, 0]
            rows.append([ds["name"], arch_name(ds["arch"]), LABELS[method],
                         f"{lrs[(ds['name'], method)]:g}" if method != "fenchel" else "—",
                         f"{first.mean():.2f} ± {first.std():.2f}", f"{acc[:, -1].mean():.2f} ± {acc[:, -1].std():.2f}",
                         f"{per_epoch:.2f}", len(seeds)])
        n_train = runs[(ds["name"], "fenchel", seeds[0])].get("n_train") or load_data(ds).X_train.shape[1]
        panel = f"{ds['name']} ({n_train:,} train), {arch_name(ds['arch'])}\n{_seeds_text(len(seeds))}"
        axes[0, j].set_title(panel)
        axes[0, j].set_xlabel("epoch")
        axes[0, j].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1, j].set_xlabel("training time [s] (1 CPU thread)")
        axes[1, j].set_title("the same curves vs training time", fontsize=11)
        axes[0, j].legend(loc="best")  # the time row has the same colours and markers
        for row in range(2):
            axes[row, j].set_ylim(bottom=max(0.0, np.floor(min(lo_all) - 1.0)))
            axes[row, j].set_ylabel("test accuracy [%]")
    fig.suptitle(f"{title} (ReLU, cross-entropy, batch {p['batch_size']}, {p['epochs']} epochs)", fontsize=13)
    fig.tight_layout()
    figs = [save(fig, out_dir, figure)]
    head = ["data set", "network", "method", "lr", "test acc. after epoch 1 [%]",
            f"test acc. after epoch {p['epochs']} [%]", "training s / epoch", "seeds"]

    def fmt(spec):
        return ", ".join(f"{k}={v}" for k, v in spec.items()).replace("'", "")

    notes = [f"lifted BCD schedule ({ds['name']}): {fmt(lifted_spec(ds, p))} (base: the named function of "
             "fenchel_cvx.train, overridden by the other fields)" for ds in p["datasets"]]
    notes += [f"same initialisation per seed for the three methods; network weight decay ρ = {p['rho']:g} unless "
              f"the schedule sets rho; batch {p['batch_size']}, {p['epochs']} epochs; one CPU thread (numpy BLAS "
              "for the lifted network, torch for Adam/SGD); s/epoch = training only, evaluation excluded",
              ("learning rates of Adam and SGD chosen on a 10 % stratified validation split (seed 0) from "
               f"{ADAM_LRS} and {SGD_LRS}" if p["select_lr"]
               else "quick mode: fixed learning rates (Adam 1e-3, SGD 0.1)"),
              "the curves start at epoch 1 (epoch 0, the initialisation, is at chance level, ~10 %)",
              "times: wall clock on a shared 2-core machine with other jobs on the other core (comparable within "
              "a run; benchmarks/train.py and benchmarks/lenet5.py give controlled timings)"]
    notes += slow
    edge = [f"{ds['name']}/{m}" for ds in p["datasets"] for m in ("adam", "sgd") if p["select_lr"]
            and lrs[(ds["name"], m)] == max(ADAM_LRS if m == "adam" else SGD_LRS)]
    if edge:
        notes.append("the selected learning rate is the largest of its grid for " + ", ".join(edge)
                     + " (the grids are fixed by the training issue's protocol)")
    return SectionResult(title, figs, markdown_table(head, rows), notes)
