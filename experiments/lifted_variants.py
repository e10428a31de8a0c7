"""Research script: pure lifted BCD schedules on a validation split (the test set is never read).

Each variant is a dict of :class:`fenchel_cvx.BCDConfig` fields (JSON) on top of the ``tuned_fashion``
schedule (the shipped default until issue 23's fifth round); it trains 784-300-10 (ReLU, cross-entropy,
float32, one thread) on the seeded stratified 90/10 split of the training set (split seed 0, the protocol's) with
the tuning seeds, and prints the mean validation accuracy after the listed epochs. ``--adam LR RHO`` adds fairly
tuned Adam (from ``benchmarks/compare.py``'s table) on the same split.

    python experiments/lifted_variants.py --dataset mnist5k --epochs 20 \
        --variant '{}' --variant '{"batch_size": 4000}' --adam 0.01 0.001

Results and their commands: ``experiments/FINDINGS.md``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fenchel_cvx import data
from fenchel_cvx.comparison import LIFTED, MethodSpec, make_runner, network_factory
from fenchel_cvx.training import tuned_fashion


def run(spec, params, ds, Xtr, ytr, Xva, yva, epochs, seeds, batch_size, arch):
    """Validation accuracy [%] per epoch (mean over ``seeds``) and seconds per epoch of one method."""
    mk = network_factory(arch, ds.n_features, ds.n_classes)
    accs, secs = [], []
    for s in seeds:
        r = make_runner(
            spec,
            dict(params),
            mk(s),
            Xtr,
            ytr,
            X_val=Xva,
            y_val=yva,
            epochs=epochs,
            batch_size=batch_size,
            seed=s,
        )
        recs = [rec for rec in r.iterate()]
        accs.append([100 * rec["val_acc"] for rec in recs[1:]])
        secs.append(np.mean([rec["epoch_time"] for rec in recs[1:]]))
    return np.mean(accs, axis=0), float(np.mean(secs))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--arch", default="784-300-10")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--report", type=int, nargs="+", default=[5, 10, 20])
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument(
        "--variant", action="append", default=[], help="JSON dict of BCDConfig fields over `tuned_fashion`"
    )
    p.add_argument(
        "--adam", type=float, nargs=2, action="append", default=[], metavar=("LR", "RHO")
    )
    args = p.parse_args(argv)
    ds = data.load(args.dataset, dtype=np.float32)
    if args.n_train:
        ds = ds.subset(args.n_train)
    Xtr, ytr, Xva, yva = ds.split_validation(0.1, seed=0)
    rows = []
    for v in args.variant:
        fields = dict(tuned_fashion(1), **json.loads(v))
        params = (
            {"rho": fields.pop("rho")} if "rho" in fields else {}
        )  # weight decay is the network's
        rows.append((v, MethodSpec(v, LIFTED, [], fixed=fields), params))
    for lr, rho in args.adam:
        rows.append(
            (
                f"adam lr={lr} rho={rho}",
                MethodSpec("adam", "adam", [], fixed={}),
                {"lr": lr, "rho": rho},
            )
        )
    for name, spec, params in rows:
        bs = (
            json.loads(name).get("batch_size", args.batch_size)
            if name.startswith("{")
            else args.batch_size
        )
        t0 = time.time()
        acc, sec = run(spec, params, ds, Xtr, ytr, Xva, yva, args.epochs, args.seeds, bs, args.arch)
        cols = "  ".join(f"ep{e}={acc[e - 1]:.2f}" for e in args.report if e <= len(acc))
        print(
            f"{name:60s} {cols}  best={acc.max():.2f}@{acc.argmax() + 1}  s/ep={sec:.3f}  "
            f"({time.time() - t0:.0f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
