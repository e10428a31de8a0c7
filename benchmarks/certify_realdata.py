"""Benchmark: certified brackets on min J for two-layer ReLU networks on small real data sets (issue 21, item 2).

Data sets (scikit-learn's bundled copies; features standardised to mean 0, standard deviation 1):

* iris versicolor vs virginica: d = 4, m = 100, logistic loss (two-class cross-entropy ``[4, n, 2]``);
* diabetes: d = 10, m = 442, squared loss (targets standardised too: the raw targets are in the hundreds);
* breast cancer: d = 30, m = 569, logistic loss;
* two moons (``make_moons``, noise 0.2, seed 0): d = 2, m = 2,000, logistic loss;

ρ = 0.01 on both layers, width n = 100 (wide enough that the recovered networks fit: the table says how many units r
they need). For each: ``convex_certificate`` with the issue's time limit; the lower bound is the certified dual bound
(exact oracle for d = 2; for d ≥ 4 SCIP's bound on the oracle, valid up to SCIP's tolerances), the upper bound J of the
recovered network. The oracle used is in every row.

    python benchmarks/certify_realdata.py                 # writes benchmarks/results/certify_realdata.{md,json}
    python benchmarks/certify_realdata.py --only iris     # one data set
    python benchmarks/certify_realdata.py --quick         # subsets, seconds (smoke test)
"""

from __future__ import annotations

if __name__ == "__main__":  # limit BLAS threads before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv(1)

import argparse
import os
import platform
import time

import numpy as np
from _results import write_results

from fenchel_cvx.certify.twolayer import TwoLayerProblem, convex_certificate

HERE = os.path.dirname(os.path.abspath(__file__))

#: name: (loss, target relative gap, time limit in seconds) — the issue's targets
DATASETS = {
    "iris": ("logistic", 1e-6, 60.0),
    "diabetes": ("squared", 1e-4, 600.0),
    "breast_cancer": ("logistic", 1e-2, 600.0),
    "moons": ("logistic", 1e-6, 60.0),
}


def standardise(X: np.ndarray) -> np.ndarray:
    """Columns of X (samples x features) to mean 0 and standard deviation 1 (constant columns kept at 0)."""
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def load(name: str, m: int | None = None):
    """(X0 (d x m), y (m,)) of a data set, features standardised; ``m`` keeps the first m samples of a seeded
    permutation (quick mode)."""
    from sklearn import datasets

    if name == "iris":
        X, y = datasets.load_iris(return_X_y=True)
        keep = y > 0
        X, y = X[keep], (y[keep] == 2).astype(float)
    elif name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
    elif name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
        y = y.astype(float)
    elif name == "moons":
        X, y = datasets.make_moons(2000, noise=0.2, random_state=0)
        y = y.astype(float)
    else:
        raise ValueError(f"name: unknown data set {name!r} (expected one of {sorted(DATASETS)})")
    if m is not None:
        idx = np.random.default_rng(0).permutation(len(y))[:m]
        X, y = X[idx], y[idx]
    return standardise(X).T.copy(), y


def run(names, quick: bool = False, width: int = 100, rho: float = 0.01, time_limit=None) -> list:
    rows = []
    for name in names:
        loss, target, limit = DATASETS[name]
        m = {"iris": 30, "diabetes": 40, "breast_cancer": 30, "moons": 120}[name] if quick else None
        X0, y = load(name, m)
        if quick:
            limit = 30.0
        if time_limit is not None:
            limit = float(time_limit)
        pb = TwoLayerProblem.from_arrays(X0, y, rho, loss=loss, width=width, allow_large=True)
        t0, c0 = time.perf_counter(), time.process_time()
        res = convex_certificate(
            problem=pb, tol=min(target, 1e-7) if target < 1e-3 else target / 10, time_limit=limit
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        row = {
            "data": name,
            "d": pb.d,
            "m": pb.m,
            "loss": loss,
            "rho": rho,
            "width": width,
            "target": target,
            "time_limit": limit,
            "lower": res.lower,
            "upper": res.upper,
            "rel_gap": res.gap,
            "met": bool(res.gap <= target and cpu <= limit * 1.1),  # the limits count CPU seconds
            "time": wall,
            "cpu_time": cpu,
            "units": res.n_active,
            "rounds": res.rounds,
            "patterns": res.n_patterns,
            "status": res.status,
            "oracle": pb.oracle,
            "lower_from": res.lower_provenance,
            "notes": res.notes,
            "timings": res.timings,
            "command": f"python benchmarks/certify_realdata.py --only {name}"
            + ("" if time_limit is None else f" --time-limit {time_limit:g}"),
        }
        rows.append(row)
        print(
            f"{name} (d={pb.d}, m={pb.m}, {loss}): [{res.lower:.10g}, {res.upper:.10g}] gap "
            f"{res.gap:.1e} "
            f"in {wall:.1f} s ({cpu:.1f} s CPU), r = {res.n_active}, oracle {pb.oracle}, "
            f"{res.status}",
            flush=True,
        )
    return rows


def markdown(rows) -> str:
    out = [
        "| data (d, m, loss) | lower bound (oracle) | upper bound (units r) | rel. gap (target) "
        "| time s: wall / CPU "
        "(limit) | status | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['data']} ({r['d']}, {r['m']}, {r['loss']}) | {r['lower']:.10f} ({r['oracle']}) "
            f"| {r['upper']:.10f} ({r['units']}) | {r['rel_gap']:.1e} ({r['target']:g}) "
            f"| {r['time']:.1f} / {r['cpu_time']:.1f} ({r['time_limit']:g}) | {r['status']} "
            f"| `{r['command']}` |"
        )
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="subsets of each data set, 30 s limits (smoke test)"
    )
    p.add_argument(
        "--only",
        action="append",
        choices=sorted(DATASETS),
        help="run only this data set (repeatable)",
    )
    p.add_argument("--width", type=int, default=100, help="hidden width n (default 100)")
    p.add_argument("--time-limit", type=float, help="CPU seconds per data set (default: the issue's limit)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (set before numpy is imported; default 1)",
    )
    p.add_argument(
        "--out",
        help="output prefix for .md and .json (default benchmarks/results/certify_realdata)",
    )
    args = p.parse_args(argv)
    names = args.only or (["iris", "moons"] if args.quick else list(DATASETS))
    rows = run(names, quick=args.quick, width=args.width, time_limit=args.time_limit)
    md = markdown(rows)
    print(md)
    out = args.out or os.path.join(
        HERE, "results", "certify_realdata" + ("_quick" if args.quick else "")
    )
    write_results(
        out,
        md + f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        "(shared with other jobs: wall times over-state the cost, CPU time is the figure to "
        "compare), "
        f"BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; ρ = 0.01 on both layers, "
        f"features standardised; numpy {np.__version__}.\n",
        {"rows": rows},
        default=str,
    )
    return rows


if __name__ == "__main__":
    main()
