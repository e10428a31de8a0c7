"""Cost of a training epoch: pure lifted BCD against Adam, the epochs interleaved in one process.

For each data set and network: the shipped lifted schedule (``fenchel-cvx train``'s default, the
``tuned`` preset), the same with a fixed batch partition (``shuffle="batches"``: the batches'
inputs, the first W-block's Gram eigendecomposition are computed once and kept;
:mod:`fenchel_cvx.blocks.mm`), ``mm-then-adaptive`` (the hybrid, for reference) and Adam (the CLI's,
lr 1e-3; its cost does not depend on the step size) train ``--epochs`` epochs from the same
initialisation, one epoch of each method in turn (the same machine load), one thread, float32, batch
500. The table gives the training seconds per epoch (evaluation excluded; median and mean over
epochs) and the ratio of each method's total training time to Adam's, over all epochs and without
the first (the fixed partition pays its eigendecompositions in the first epoch).

    python benchmarks/epoch_cost.py          # 784-300-10 on mnist5k, Fashion-MNIST; LeNet-5
    python benchmarks/epoch_cost.py --quick              # a tiny smoke run (digits)
    python benchmarks/epoch_cost.py --cases lenet5-mnist5k --epochs 3 --extra '{"x_solver": "apg"}'
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
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402
from _results import write_results  # noqa: E402

from fenchel_cvx import data  # noqa: E402
from fenchel_cvx.comparison import (  # noqa: E402
    LIFTED,
    MethodSpec,
    make_runner,
    network_factory,
    shipped_specs,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "dense-mnist5k": ("mnist5k", "784-300-10"),
    "dense-fashion": ("fashion-mnist", "784-300-10"),
    "lenet5-mnist5k": ("mnist5k", "lenet5"),
}


def methods(arch: str, extra: Sequence[str] = ()) -> dict:
    """{name: MethodSpec} of the timed methods for ``arch`` (the shipped presets; module
    docstring); each JSON dict of ``extra`` adds the shipped lifted schedule with those
    ``BCDConfig`` fields, named ``lifted + JSON``."""
    conv = any(c.isalpha() for c in arch)
    shipped = shipped_specs(4 if conv else len(arch.split("-")) - 2, conv=conv)
    lifted = shipped["lifted (default)"]
    return {
        "lifted (default)": lifted,
        "lifted (fixed partition)": MethodSpec(
            "lifted (fixed partition)", LIFTED, [], fixed=dict(lifted.fixed, shuffle="batches")
        ),
        "mm-then-adaptive (default)": shipped["mm-then-adaptive (default)"],
        **{f"lifted + {e}": MethodSpec(f"lifted + {e}", LIFTED, [],
                                       fixed=dict(lifted.fixed, **json.loads(e))) for e in extra},
        "adam": shipped["adam (default)"],
    }


def time_case(ds, arch: str, epochs: int, batch_size: int, seed: int = 0,
              extra: Sequence[str] = ()) -> dict:
    """Per-epoch training seconds of each method of :func:`methods`, the epochs interleaved."""
    make_net = network_factory(arch, ds.n_features, ds.n_classes)
    specs = methods(arch, extra)
    iters = {
        n: make_runner(
            sp,
            {},
            make_net(seed),
            ds.X_train,
            ds.y_train,
            ds.X_test,
            ds.y_test,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
        ).iterate()
        for n, sp in specs.items()
    }
    for it in iters.values():
        next(it)  # the initial record
    secs = {n: [] for n in iters}
    acc = {}
    for _ in range(epochs):
        for n, it in iters.items():
            rec = next(it)
            secs[n].append(float(rec["epoch_time"]))
            acc[n] = float(rec["test_acc"])
    return {"seconds": secs, "test_acc": acc}


def table(results: dict) -> str:
    """The markdown table of :func:`main`'s results."""
    lines = [
        "| case | method | s/epoch (median) | s/epoch (mean) | × adam (all epochs) "
        "| × adam (epochs 2+) |",
        "|---|---|---|---|---|---|",
    ]
    for case, r in results.items():
        ref = np.asarray(r["seconds"]["adam"])
        for n, s in r["seconds"].items():
            s = np.asarray(s)
            later = f"{s[1:].sum() / ref[1:].sum():.2f}" if len(s) > 1 else "-"
            lines.append(
                f"| {case} | {n} | {np.median(s):.3f} | {s.mean():.3f} | "
                f"{s.sum() / ref.sum():.2f} | "
                f"{later} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (default 1)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "epoch_cost"))
    p.add_argument("--extra", nargs="+", default=[],
                   help="JSON dicts of BCDConfig fields: more lifted variants to time")
    p.add_argument(
        "--quick", action="store_true", help="digits 64-32-10, 2 epochs, batch 100 (smoke test)"
    )
    args = p.parse_args(argv)
    cases = {c: CASES[c] for c in args.cases}
    if args.quick:
        cases, args.epochs, args.batch_size = {"dense-digits": ("digits", "64-32-10")}, 2, 100
    results = {}
    for case, (name, arch) in cases.items():
        ds = data.load(name, dtype=np.float32)
        results[case] = time_case(ds, arch, args.epochs, args.batch_size, extra=args.extra)
        print(table({case: results[case]}), flush=True)
    md = table(results)
    cmd = "python benchmarks/epoch_cost.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(
        args.out,
        f"`{cmd.strip()}` ({platform.node()}, {args.threads} thread(s))\n\n" + md,
        {"epochs": args.epochs, "batch_size": args.batch_size, "results": results},
    )
    return results


if __name__ == "__main__":
    main()
