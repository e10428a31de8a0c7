"""Lifted training vs backprop under an equal tuning budget: the protocol of ``fenchel_cvx.comparison``.

For each data set and network (default: mnist5k and Fashion-MNIST, 784-300-10 ReLU, cross-entropy,
batch 500, float32, one CPU thread):

1. every method -- pure lifted BCD (``fenchel_cvx.train``), the separately named MM→adaptive schedule
   (``fenchel_cvx.training.mm_then_adaptive``), Adam and SGD (``fenchel_cvx.baselines``) -- is tuned on a 90/10
   validation split of the training set with the same number of grid points (18;
   ``fenchel_cvx.comparison.default_specs``; a log axis whose best value is on an edge of its grid is extended
   automatically), on the tuning seeds;
2. the chosen settings are trained on the whole training set with the final seeds (disjoint from the
   tuning seeds), the methods' epochs interleaved in one process, test accuracy after every epoch; the
   defaults a user gets (``fenchel_cvx.comparison.shipped_specs``: the presets and the CLI's Adam) run untuned
   beside them (with ``--methods lifted-subspace``, also the ``subspace`` preset untuned: "lifted-subspace (preset)");
   ``--methods adam-subspace`` adds the control of lifted-subspace: Adam with the same first-layer restriction
   (``w0_subspace``, tuned on its own 18-point grid; dense networks only, not a default);
3. the table: test accuracy at equal epochs (mean ± std), seconds per epoch and the ratio to Adam,
   accuracy at equal training time, time to reach given accuracies; and the accuracy-vs-time figure.

    python benchmarks/compare.py                          # writes benchmarks/results/compare.{json,md,png}
    python benchmarks/compare.py --datasets mnist5k --archs lenet5
    python benchmarks/compare.py --quick                  # a tiny smoke run (digits)
    python benchmarks/compare.py --datasets mnist5k --methods lifted-subspace adam   # w0_subspace (not a default)
    python benchmarks/compare.py --datasets mnist5k --epochs 10 --methods lifted lifted-subspace adam adam-subspace
    python benchmarks/compare.py --replot --out benchmarks/results/compare_mnist5k   # redraw .md/.png from .json
    python benchmarks/compare.py --datasets mnist5k --epochs 10 --methods lifted adam \
        --tuning-from benchmarks/results/compare_mnist5k_10ep.json     # final runs only, the stored run's tuning

``--tuning-from FILE.json`` takes the tuning of every method from an earlier run of this script whose command had
the same protocol options (data sets, networks, epochs, tuning epochs, tuning seeds, batch size, subset size,
threads; checked) and reruns only the final runs: the tuning is seeded, so a full rerun chooses the same settings
(the stored run's tuned rows are reproduced to the last digit when the code of those methods is unchanged), and
the shipped defaults can be re-measured beside them in minutes instead of hours.
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv()

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from fenchel_cvx import data  # noqa: E402
from fenchel_cvx.comparison import (  # noqa: E402
    LIFTED,
    Comparison,
    MethodSpec,
    compare,
    default_specs,
    network_factory,
    shipped_specs,
    smoke_specs,
)
from fenchel_cvx.training import preset  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
THRESHOLDS = {"mnist5k": (0.85, 0.88, 0.90), "fashion-mnist": (0.80, 0.85, 0.88), "digits": (0.8, 0.9)}


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (also read back by ``--tuning-from`` and benchmarks/default_choice.py)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["mnist5k", "fashion-mnist"])
    p.add_argument("--archs", nargs="+", default=["784-300-10"])
    p.add_argument("--methods", nargs="+", default=["lifted", "mm-then-adaptive", "adam", "sgd"],
                   choices=["lifted", "mm-then-adaptive", "adam", "sgd", "lifted-subspace", "adam-subspace"],
                   help="the methods tuned and compared (default: %(default)s; lifted-subspace and its Adam "
                        "control adam-subspace: dense networks only)")
    p.add_argument("--no-defaults", action="store_true",
                   help="do not run the shipped defaults (presets as they come, the CLI's Adam) beside the tuned "
                        "methods")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--tuning-epochs", type=int, default=None, help="epochs of each tuning run (default --epochs)")
    p.add_argument("--tuning-seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--final-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--n-train", type=int, default=None, help="a stratified subset of the training set")
    p.add_argument("--threads", type=int, default=1, help="BLAS/torch threads for every method (default 1)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "compare"), help="path prefix of .json/.md/.png")
    p.add_argument("--replot", action="store_true",
                   help="no training: redraw OUT.md and OUT.png from the results stored in OUT.json")
    p.add_argument("--quick", action="store_true", help="digits, 2 grid points, 2 epochs, 1 seed each (smoke test)")
    p.add_argument("--tuning-from", metavar="FILE.json", default=None,
                   help="no tuning: take every method's tuning from FILE.json, an earlier run of this script with the "
                        "same protocol options (checked), and rerun only the final runs")
    return p


def main(argv=None) -> dict:
    p = build_parser()
    args = p.parse_args(argv)
    if args.replot:
        return replot(args.out)
    apply_quick(args)
    stored = stored_tunings(p, args) if args.tuning_from else None
    t0 = time.time()

    def log(msg):
        print(msg, flush=True)

    results = []
    for name in args.datasets:
        ds, label = load_data(name, args)
        for arch in args.archs:
            try:
                make_net = network_factory(arch, ds.n_features, ds.n_classes)
            except ValueError as e:
                p.error(f"--archs: {e}")
            net0 = make_net(0)
            conv = getattr(net0, "maps", None) is not None
            for m in ("lifted-subspace", "adam-subspace"):
                if conv and m in args.methods:
                    p.error(f"--methods: {m} (w0_subspace) is for dense networks, not --archs {arch}")
            specs = (smoke_specs(net0.L, args.methods, conv=conv) if args.quick
                     else default_specs(net0.L, conv=conv, n_features=ds.n_features))
            specs = {m: specs[m] for m in args.methods}
            untuned = {} if args.no_defaults else shipped_specs(net0.L, conv=conv)
            if "lifted-subspace" in args.methods and not args.no_defaults:
                # the shipped `subspace` preset untuned beside its tuned grid (not a default: --preset subspace)
                untuned["lifted-subspace (preset)"] = MethodSpec("lifted-subspace (preset)", LIFTED, [],
                                                                 fixed=preset("subspace", net0.L))
            log(f"{name} {arch}: {ds.X_train.shape[1]} training / {ds.X_test.shape[1]} test samples; budgets "
                + ", ".join(f"{m} {s.budget}" for m, s in specs.items()))
            given = None
            if stored is not None:
                if (label, arch) not in stored:
                    p.error(f"--tuning-from: {args.tuning_from} has no comparison of {label} {arch}")
                if missing := [m for m in specs if m not in stored[label, arch]]:
                    p.error(f"--tuning-from: {args.tuning_from} has no tuning of {missing} on {label} {arch}")
                given = {m: stored[label, arch][m] for m in specs}
            try:
                cmp = compare(specs, make_net, ds, epochs=args.epochs, tuning_epochs=args.tuning_epochs,
                              batch_size=args.batch_size, tuning_seeds=args.tuning_seeds,
                              final_seeds=args.final_seeds, threads=args.threads,
                              reference="adam" if "adam" in specs else args.methods[0], dataset=label, arch=arch,
                              untuned=untuned, tuned=given, log=log)
            except ValueError as e:
                if given is None:
                    raise
                p.error(f"--tuning-from: {e}")
            thr = THRESHOLDS.get(name, ())
            log(cmp.table(thresholds=thr))
            results.append((cmp, thr))
    out = {"command": "python benchmarks/compare.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None},
           "threads": args.threads, "results": [c.to_dict() for c, _ in results], "wall_seconds": time.time() - t0}
    if stored is not None:
        out["tuning_from"] = {"file": os.path.relpath(args.tuning_from), "command": stored["command"]}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".json", "w") as fh:
        json.dump(out, fh, indent=1, default=float)
    write_views(out, [c for c, _ in results], args.out)
    log(f"-> {args.out}.json/.md/.png ({time.time() - t0:.0f} s)")
    return out


def load_data(name: str, args):
    """(the data set ``name`` as the protocol uses it -- float32, ``--quick``'s or ``--n-train``'s subset --, its
    label in tables and figures: a subset is part of the data set's name)."""
    ds = data.load(name, dtype=np.float32)
    if args.quick:
        ds = ds.subset(400, 200, seed=0)
    elif args.n_train:
        ds = ds.subset(args.n_train, None, seed=0)
    label = f"{name} ({ds.X_train.shape[1]:,} train)" if args.n_train and not args.quick else name
    return ds, label


def apply_quick(args):
    """``--quick``: digits, a 64-32-10 network, 2 epochs, one tuning and one final seed, batch 100."""
    if args.quick:
        args.datasets, args.archs, args.epochs = ["digits"], ["64-32-10"], 2
        args.tuning_seeds, args.final_seeds, args.batch_size = [100], [0], 100


#: the options that define the protocol a stored tuning came from (--tuning-from checks them)
PROTOCOL_OPTIONS = ("datasets", "archs", "epochs", "tuning_epochs", "tuning_seeds", "batch_size", "n_train", "threads",
                    "quick")


def stored_tunings(parser: argparse.ArgumentParser, args) -> dict:
    """The tuning results of ``args.tuning_from`` (a JSON written by this script) as
    ``{(data set label, arch): {method: TuneResult}, "command": str}``, after checking that its command had the same
    protocol options (:data:`PROTOCOL_OPTIONS`; ``--tuning-epochs`` unset = ``--epochs``) as ``args``."""
    from fenchel_cvx.comparison import TuneResult

    path = args.tuning_from
    try:
        with open(path) as fh:
            old = json.load(fh)
        command = old["command"]
        results = old["results"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        parser.error(f"--tuning-from: cannot read a comparison from {path}: {e}")
    words = command.split()
    if words[:2] != ["python", "benchmarks/compare.py"]:
        parser.error(f"--tuning-from: {path} was not written by benchmarks/compare.py (command {command!r})")
    then = parser.parse_args(words[2:])
    apply_quick(then)
    for a in (then, args):
        a.tuning_epochs = a.tuning_epochs or a.epochs
    if differ := [o for o in PROTOCOL_OPTIONS if getattr(then, o) != getattr(args, o)]:
        parser.error("--tuning-from: the stored run used other protocol options: "
                     + ", ".join(f"--{o.replace('_', '-')} {getattr(then, o)} (now {getattr(args, o)})"
                                 for o in differ))
    out = {"command": command}
    for r in results:
        out[r["dataset"], r["arch"]] = {m: TuneResult.from_dict(t) for m, t in r["tuning"].items()}
    return out


def write_views(out: dict, comparisons: list, prefix: str):
    """PREFIX.md (the command, the machine and one table per comparison) and PREFIX.png (accuracy vs time)."""
    load = out["machine"]["load_average_at_end"]
    load = " / ".join(f"{x:.1f}" for x in load) if load else "unknown"
    with open(prefix + ".md", "w") as fh:
        fh.write(f"`{out['command']}` ({out['threads']} thread(s) per method, {out['machine']['cpus']} CPUs, load "
                 f"average at the end {load} (1 / 5 / 15 min); {out['wall_seconds'] / 60:.0f} min)\n\n")
        if "tuning_from" in out:
            fh.write(f"Tuning taken from `{out['tuning_from']['file']}` (its command: "
                     f"`{out['tuning_from']['command']}`); only the final runs were rerun.\n\n")
        for c in comparisons:
            fh.write(f"### {c.dataset} {c.arch}\n\n{c.table(thresholds=THRESHOLDS.get(c.dataset.split()[0], ()))}\n\n")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(comparisons), 4))
    for i, c in enumerate(comparisons):
        c.plot(ax=fig.add_subplot(1, len(comparisons), i + 1))
    fig.tight_layout()
    fig.savefig(prefix + ".png", dpi=100)


def replot(prefix: str) -> dict:
    """Redraw PREFIX.md and PREFIX.png from PREFIX.json (no training)."""
    if not os.path.isfile(prefix + ".json"):
        raise SystemExit(f"--replot: no results at {prefix}.json (run the comparison first)")
    with open(prefix + ".json") as fh:
        out = json.load(fh)
    write_views(out, [Comparison.from_dict(r) for r in out["results"]], prefix)
    print(f"-> {prefix}.md/.png redrawn from {prefix}.json")
    return out

if __name__ == "__main__":
    main()
