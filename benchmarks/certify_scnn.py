"""Benchmark: scnn (pyscnn, Mishkin et al.) beside the certificate — scnn's objective, its time, and the certified
optimality gap of scnn's network (issue 21, item 3). Skipped when scnn is not installed.

scnn solves the same convex program with *sampled* activation patterns and returns a network without any bound. Mapping
(checked independently): no biases (``bias=False``), scnn's group-lasso weight (``NeuronGL1``) = √(ρ_0ρ_1),
``unitize_data=False`` (its default rescales the data and changes the problem); its squared loss is ½‖ŷ − y‖²/m, our J's
(1/m)Σ½(ŷ_j − y_j)². Each row: scnn's reported objective and wall time; J of scnn's network judged by
``FenchelNetwork.objective`` (an upper bound labelled as scnn's network); the certified lower bound of
:func:`fenchel_cvx.certify.certify_network` (same problem, no biases) and scnn's certified gap; the certificate's
own time.

    python benchmarks/certify_scnn.py            # writes benchmarks/results/certify_scnn.{md,json}
    python benchmarks/certify_scnn.py --quick    # one small instance (smoke test)
"""

from __future__ import annotations

if __name__ == "__main__":  # limit BLAS threads before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv(1)

import argparse
import importlib.util
import math
import os
import platform
import time

import numpy as np
from _results import write_results

from fenchel_cvx.certify import certify_network
from fenchel_cvx.certify.twolayer import network_from_scnn

HERE = os.path.dirname(os.path.abspath(__file__))


def have_scnn() -> bool:
    """True when scnn (PyPI ``pyscnn``) and its backend ``lab`` (PyPI ``linalg-backends``) import."""
    return (
        importlib.util.find_spec("scnn") is not None and importlib.util.find_spec("lab") is not None
    )


def instance(d: int, m: int, seed: int):
    """(X0 (d x m), y (m,)): a random two-unit ReLU teacher plus noise, standard normal features."""
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(d, m))
    W = rng.normal(size=(2, d))
    y = (
        np.maximum(W @ X0, 0.0).sum(axis=0)
        - np.maximum(W @ X0, 0.0).mean()
        + 0.1 * rng.normal(size=m)
    )
    return X0, y


def run(instances, rho: float, neurons: int, time_limit: float) -> list:
    from scnn.optimize import optimize
    from scnn.regularizers import NeuronGL1

    rows = []
    for d, m, seed in instances:
        X0, y = instance(d, m, seed)
        t0 = time.perf_counter()
        model, metrics = optimize(
            "relu",
            neurons,
            X0.T,
            y,
            regularizer=NeuronGL1(math.sqrt(rho * rho)),
            bias=False,
            unitize_data=False,
            seed=seed,
        )
        t_scnn = time.perf_counter() - t0
        obj = np.asarray(metrics.objective, dtype=float)
        net = network_from_scnn(model, rho, loss="squared")
        res = certify_network(net, X0, y[None, :], time_limit=time_limit)
        rows.append(
            {
                "instance": f"d={d}, m={m}, seed={seed}, squared, no biases, ρ={rho:g}",
                "d": d,
                "m": m,
                "scnn_objective": float(obj[-1]) if obj.size else None,
                "scnn_time": t_scnn,
                "scnn_units": int(net.sizes[1]),
                "J_scnn": res.J,
                "lower": res.lower,
                "gap_scnn": res.gap,
                "recovered": res.recovered,
                "recovered_units": res.recovered_units,
                "certificate_time": res.time,
                "status": res.status,
                "oracle": res.oracle,
                "command": "python benchmarks/certify_scnn.py",
            }
        )
        r = rows[-1]
        print(
            f"{r['instance']}: scnn objective {r['scnn_objective']}, {t_scnn:.1f} s, J(scnn net) "
            f"{res.J:.10g}; "
            f"certified lower {res.lower:.10g}: scnn's gap {res.gap:.2e}; certificate "
            f"{res.time:.1f} s",
            flush=True,
        )
    return rows


def markdown(rows) -> str:
    out = [
        "| instance | scnn objective (time s) | J of scnn's network (upper, units) | certified "
        "lower bound "
        "(time s) | scnn's certified gap | certificate's network J (units) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['instance']} | {r['scnn_objective']:.10f} ({r['scnn_time']:.1f}) | "
            f"{r['J_scnn']:.10f} "
            f"({r['scnn_units']}) | {r['lower']:.10f} ({r['certificate_time']:.1f}) | "
            f"{r['gap_scnn']:.2e} "
            f"| {r['recovered']:.10f} ({r['recovered_units']}) |"
        )
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one small instance (smoke test)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (set before numpy is imported; default 1)",
    )
    p.add_argument(
        "--out", help="output prefix for .md and .json (default benchmarks/results/certify_scnn)"
    )
    args = p.parse_args(argv)
    if not have_scnn():
        print("scnn is not installed (pip install pyscnn linalg-backends): skipped")
        return []
    instances = [(2, 40, 0)] if args.quick else [(2, 200, 0), (2, 200, 1), (3, 60, 0)]
    rows = run(
        instances,
        rho=0.01,
        neurons=100 if args.quick else 500,
        time_limit=60.0 if args.quick else 300.0,
    )
    md = markdown(rows)
    print(md)
    out = args.out or os.path.join(
        HERE, "results", "certify_scnn" + ("_quick" if args.quick else "")
    )
    write_results(
        out,
        md + f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        "(shared with other jobs: times over-state the cost); scnn at its default tolerance; "
        f"numpy {np.__version__}.\n",
        {"rows": rows},
        default=str,
    )
    return rows


if __name__ == "__main__":
    main()
