r"""Section ``training``: lifted training vs backprop under an equal tuning budget (784-300-10, ReLU, cross-entropy).

The protocol is the library's (``fenchel_cvx.comparison``, the one ``benchmarks/compare.py`` runs): every
method -- pure lifted BCD, the separately named MM→adaptive lifted schedule, Adam, SGD -- is tuned on a 90/10
validation split with the same number of grid points (an axis whose best value is on an edge of its grid is
extended), the chosen settings train on seeds not used in tuning with the methods' epochs interleaved in one
process, and the shipped defaults (the presets of ``fenchel-cvx train`` and its Adam) run untuned beside them.

Figure: per data set, test accuracy (mean over the final seeds) against epochs (top) and against cumulative
training time (bottom); table: :meth:`fenchel_cvx.comparison.Comparison.table`.

* **Full mode** draws the stored results of ``benchmarks/compare.py`` (``benchmarks/results/compare*.json``):
  the full protocol on mnist5k and Fashion-MNIST costs hours of one CPU core, too long for a figure run
  (the commands that produced each file are in it and in the table's notes). A missing file is reported as
  MISSING with the command that makes it.
* **Quick mode** runs the protocol itself at a tiny size (digits 64-32-10, 2 grid points per method, 2 epochs,
  one tuning and one final seed), cached like every other run of ``make_figures.py``.
"""

from __future__ import annotations

import glob
import json
import os

import numpy as np
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, require, save, setup_matplotlib

NAME = "training"
TITLE = "Lifted training vs backprop under an equal tuning budget (784-300-10)"
VERSION = 2
#: library modules whose source is part of the quick run's cache key
CODE = ("fenchel_cvx.comparison", "fenchel_cvx.training", "fenchel_cvx.baselines", "fenchel_cvx.blocks",
        "fenchel_cvx.activations", "fenchel_cvx.losses", "fenchel_cvx.network", "fenchel_cvx.backend",
        "fenchel_cvx.data", "fenchel_cvx.layers", "fenchel_cvx.conv")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: where benchmarks/compare.py writes its results (full mode reads every ``compare*.json`` there)
RESULTS = os.path.join(ROOT, "benchmarks", "results")
ARCH = "784-300-10"
#: the command that produces the full-mode results of this section
COMMAND = "python benchmarks/compare.py --datasets mnist5k fashion-mnist --archs 784-300-10"
#: quick mode: the protocol at a tiny size (the numbers mean nothing; the pipeline is what is checked)
QUICK = {"dataset": "digits", "arch": "64-32-10", "n_train": 400, "n_test": 200, "epochs": 2, "batch_size": 100,
         "tuning_seeds": [100], "final_seeds": [0], "methods": ["lifted", "mm-then-adaptive", "adam", "sgd"]}
#: the order and colours of the methods in the figures (a method not listed is drawn in grey)
COLOURS = {"lifted": "C0", "mm-then-adaptive": "C2", "adam": "C1", "sgd": "C3", "lifted (default)": "C0",
           "mm-then-adaptive (default)": "C2", "adam (default)": "C1", "lifted-subspace": "C4",
           "lifted-subspace (preset)": "C4", "adam-subspace": "C5"}
THRESHOLDS = {"mnist5k": (0.85, 0.88, 0.90), "fashion-mnist": (0.80, 0.85, 0.88), "digits": (0.8, 0.9)}


# ---- the comparisons ------------------------------------------------------------------------------------------
def stored(arch: str, results_dir: str | None = None) -> list:
    """[(Comparison, command)] of every stored ``compare*.json`` result for ``arch``, one per data set: when two
    files hold the same data set, the one with more epochs wins, then the one with more methods, then the later
    file name (deterministic: file times are not, in a fresh checkout)."""
    from fenchel_cvx.comparison import Comparison

    found, rank = {}, {}
    for path in sorted(glob.glob(os.path.join(results_dir or RESULTS, "compare*.json"))):
        with open(path) as fh:
            blob = json.load(fh)
        for r in blob.get("results", []):
            if r.get("arch") == arch:
                cmp = Comparison.from_dict(r)
                key = (int(cmp.epochs), len(cmp.histories), os.path.basename(path))
                if r["dataset"] not in rank or key > rank[r["dataset"]]:
                    rank[r["dataset"]] = key
                    found[r["dataset"]] = (cmp, blob.get("command", ""), os.path.relpath(path, ROOT))
    return [found[k] for k in sorted(found)]


def run_quick(cache, p: dict, section: str):
    """The protocol at the size of ``p`` (QUICK), cached; returns the Comparison."""
    from fenchel_cvx import data
    from fenchel_cvx.comparison import (
        Comparison,
        compare,
        network_factory,
        shipped_specs,
        smoke_specs,
    )

    def work():
        ds = data.load(p["dataset"], dtype=np.float32).subset(p["n_train"], p["n_test"], seed=0)
        make_net = network_factory(p["arch"], ds.n_features, ds.n_classes)
        net0 = make_net(0)
        conv = getattr(net0, "maps", None) is not None
        cmp = compare(smoke_specs(net0.L, p["methods"], conv=conv), make_net, ds, epochs=p["epochs"],
                      batch_size=p["batch_size"], tuning_seeds=p["tuning_seeds"], final_seeds=p["final_seeds"],
                      threads=1,
                      untuned=shipped_specs(net0.L, conv=conv), dataset=p["dataset"], arch=p["arch"],
                      reference="adam" if "adam" in p["methods"] else p["methods"][0])
        return cmp.to_dict()

    return Comparison.from_dict(cache.run(section, f"compare-{p['dataset']}-{p['arch']}", p, work, VERSION))


# ---- drawing --------------------------------------------------------------------------------------------------
def draw(comparisons: list, out_dir: str, title: str, figure: str):
    """Per data set (columns): test accuracy vs epoch (top) and vs cumulative training time (bottom)."""
    plt = setup_matplotlib()
    n = len(comparisons)
    fig, axes = plt.subplots(2, n, figsize=(6.5 * n, 8.5), squeeze=False)
    for j, cmp in enumerate(comparisons):
        for m in cmp.histories:
            S, T = 100 * cmp.scores(m), cmp.times(m)
            colour = COLOURS.get(m, "0.5")
            style = "--" if m.endswith(("(default)", "(preset)")) else "-"
            ep = np.arange(S.shape[1])
            axes[0, j].plot(ep, S.mean(0), style, color=colour, marker="o", ms=3, label=m)
            axes[0, j].fill_between(ep, S.min(0), S.max(0), color=colour, alpha=0.12)
            axes[1, j].plot(T.mean(0), S.mean(0), style, color=colour, marker="o", ms=3, label=m)
        seeds = len(cmp.final_seeds)
        axes[0, j].set_title(f"{cmp.dataset} {cmp.arch} ({seeds} final seed{'s' * (seeds > 1)})")
        axes[0, j].set_xlabel("epoch")
        axes[1, j].set_xlabel("training time [s] (one thread, evaluation excluded)")
        for ax in axes[:, j]:
            ax.set_ylabel("test accuracy [%]")
            lo = min(np.percentile(100 * cmp.scores(m)[:, 1:], 5) for m in cmp.histories) if cmp.epochs else 0
            hi = max(float(np.max(100 * cmp.scores(m))) for m in cmp.histories)
            ax.set_ylim(max(0.0, lo - 2), min(100.0, hi + 1.5))
        axes[0, j].legend(loc="lower right", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out_dir, figure)


def section(comparisons: list, out_dir: str, title: str, figure: str, sources: list) -> SectionResult:
    res = SectionResult(title=title, figures=[draw([c for c, *_ in comparisons], out_dir, title, figure)])
    tables = []
    for cmp, *_ in comparisons:
        tables.append(f"**{cmp.dataset} {cmp.arch}** (tuning seeds {cmp.tuning_seeds}, final seeds "
                      f"{cmp.final_seeds}; test accuracy [%], mean ± std)\n\n"
                      + cmp.table(thresholds=THRESHOLDS.get(cmp.dataset.split()[0], ())))
    res.table = "\n\n".join(tables)
    res.notes += [f"from `{src}`: `{cmd}`" for src, cmd in sources]
    res.notes.append("methods: `lifted` = pure lifted BCD (`fenchel_cvx.train`), `mm-then-adaptive` = the separately "
                     "named lifted schedule `fenchel_cvx.training.mm_then_adaptive` (one epoch of exact MM W-steps, "
                     "then Adam-type W-steps on F_λ at fixed λ), `adam`/`sgd` = backprop "
                     "(`fenchel_cvx.baselines`), `lifted-subspace`/`adam-subspace` = the same with the first layer "
                     "in the inputs' top-k principal directions (`w0_subspace`); rows ending in (default) are the "
                     "shipped defaults and (preset) the `subspace` preset, not tuned")
    return res


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    require("fenchel_cvx.comparison", ("compare", "Comparison"), "the fair comparison protocol (issue 14)")
    if quick:
        p = {**QUICK, "code": source_fingerprint(*CODE)}
        cmp = run_quick(cache, p, NAME)
        return section([(cmp,)], out_dir, TITLE + " -- quick mode", "training_accuracy.png", [])
    found = stored(ARCH)
    if not found:
        raise Missing("benchmarks/results/compare*.json", f"no stored comparison for {ARCH}; run `{COMMAND}`")
    return section([(c,) for c, *_ in found], out_dir, TITLE, "training_accuracy.png",
                   sorted({(src, cmd) for _, cmd, src in found}))
