"""Benchmark: certified brackets on min J for two-layer ReLU networks at m = 200 samples (issue 15, part 2).

For each instance (d, architecture, loss, m, seed, ρ) runs ``fenchel_cvx.certify.twolayer.convex_certificate``
(column generation over activation patterns: fast barrier solver for the restricted convex program,
exact dual oracle over *all* patterns for the certified lower bound) and reports

* lower bound on min J: the dual of the convex program at a scaled residual, feasibility checked over
  all activation patterns, evaluated in float64 minus its rounding allowance — valid for every width;
* upper bound on min J: J of the network recovered from the convex solution, judged by
  ``FenchelNetwork.objective`` — an upper bound on min J of width n when it needs r ≤ n units;
* relative gap (upper − lower)/upper, the certificate's wall-clock time, units r, rounds, patterns;
* for comparison (not part of the certificate's time): the best J of backprop L-BFGS from a few starts.

Instances: regression from a random ReLU teacher (``tiny_regression``), squared loss, ``[d, n, 1]``;
two-moons classification (``classification_2d``), two-class cross-entropy ``[2, n, 2]`` (= logistic
loss with ρ_1/2). Single-threaded BLAS by default (``--threads``).

    python benchmarks/certify_convex.py            # writes benchmarks/results/certify_convex.{md,json}
    python benchmarks/certify_convex.py --quick    # tiny instances, seconds (smoke test)
"""

from __future__ import annotations

if __name__ == "__main__":  # limit BLAS threads before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv(1)

import argparse
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from _results import write_results

from fenchel_cvx import FenchelNetwork
from fenchel_cvx.certify import lbfgs_train, tiny_regression
from fenchel_cvx.certify.examples import classification_2d
from fenchel_cvx.certify.twolayer import convex_certificate

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    #: (d, n, loss, m, seed, rho) of each instance; loss "squared" (regression) or "logistic" (moons, 2-class CE)
    instances: list = field(default_factory=lambda: [
        (2, 60, "squared", 200, s, 0.01) for s in range(3)] + [
        (2, 60, "logistic", 200, s, 0.01) for s in range(3)] + [
        (2, 60, "squared", 200, 0, 0.001), (2, 60, "logistic", 200, 0, 0.001), (1, 60, "squared", 200, 0, 0.01)])
    tol: float = 1e-7
    time_limit: float = 300.0
    lbfgs_starts: int = 3
    out: str = os.path.join(HERE, "results", "certify_convex")


def instance(d, n, loss, m, seed, rho):
    """(net, X0, y) of one benchmark instance."""
    if loss == "squared":
        return tiny_regression(d=d, hidden=n, m=m, rho=rho, seed=seed)
    if loss == "logistic":
        if d != 2:
            raise ValueError(f"instances: the classification data are two-dimensional, got d = {d}")
        X0, y = classification_2d("moons", m=m, noise=0.15, seed=seed)
        return FenchelNetwork([2, n, 2], "relu", "cross_entropy", rho=rho, seed=seed), X0, y
    raise ValueError(f"instances: loss {loss!r} (expected 'squared' or 'logistic')")


def run(cfg: Config) -> list:
    rows = []
    for d, n, loss, m, seed, rho in cfg.instances:
        net, X0, y = instance(d, n, loss, m, seed, rho)
        t0, c0 = time.perf_counter(), time.process_time()
        res = convex_certificate(net, X0, y, tol=cfg.tol, time_limit=cfg.time_limit, seed=seed)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        lb = [lbfgs_train(net, X0, y, seed=s)[2] for s in range(cfg.lbfgs_starts)]
        t_lbfgs = time.perf_counter() - t1
        arch = f"[{d}, {n}, {net.sizes[-1]}]"
        row = {
            "instance": f"d={d}, {arch}, {'squared' if loss == 'squared' else 'logistic (2-class CE)'}, m={m}, "
                        f"ρ={rho:g}, seed={seed}",
            "d": d, "n": n, "loss": loss, "m": m, "seed": seed, "rho": rho,
            "lower": res.lower, "lower_from": "certified dual (exact oracle, all patterns)",
            "upper": res.upper,
            "upper_from": "recovered network" + ("" if res.exact else f" (needs {res.n_active} > n units)"),
            "rel_gap": res.gap, "time": wall, "cpu_time": cpu, "units": res.n_active, "exact": res.exact,
            "rounds": res.rounds,
            "patterns": res.n_patterns, "converged": res.converged, "status": res.status,
            "timings": res.timings, "best_lbfgs": min(lb) if lb else None, "lbfgs_time": t_lbfgs,
            "lbfgs_excess": (min(lb) - res.lower) / abs(res.upper) if lb else None,
        }
        rows.append(row)
        print(f"{row['instance']}: lower {res.lower:.10g}, upper {res.upper:.10g}, gap {res.gap:.1e}, "
              f"{wall:.1f} s ({cpu:.1f} s CPU), r = {res.n_active}, {res.rounds} rounds, {res.n_patterns} patterns, "
              f"{res.status}; "
              f"best L-BFGS {row['best_lbfgs']}", flush=True)
    return rows


def markdown(rows, cfg: Config) -> str:
    out = ["| instance | lower bound on min J (method) | upper bound on min J (method) | rel. gap "
           "| time (s): wall / CPU "
           "| units r | rounds / patterns | best L-BFGS, excess over lower |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lb = "—" if r["best_lbfgs"] is None else f"{r['best_lbfgs']:.8f}, {r['lbfgs_excess']:.1e}"
        out.append(f"| {r['instance']} | {r['lower']:.10f} ({r['lower_from']}) | {r['upper']:.10f} ({r['upper_from']}) "
                   f"| {r['rel_gap']:.1e}{'' if r['converged'] else ' (' + r['status'] + ')'} | {r['time']:.1f} / "
                   f"{r['cpu_time']:.1f} "
                   f"| {r['units']}{'' if r['exact'] else ' > n'} | {r['rounds']} / {r['patterns']} | {lb} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two tiny instances (smoke test, seconds)")
    p.add_argument("--tol", type=float, help="target relative gap (default 1e-7)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (set before numpy is imported; default 1)")
    p.add_argument("--out", help="output prefix for .md and .json (default benchmarks/results/certify_convex)")
    args = p.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg.instances = [(2, 8, "squared", 16, 0, 0.05), (2, 8, "logistic", 16, 0, 0.05)]
        cfg.lbfgs_starts = 1
        cfg.out = os.path.join(HERE, "results", "certify_convex_quick")
    if args.tol:
        cfg.tol = args.tol
    if args.out:
        cfg.out = args.out
    rows = run(cfg)
    md = markdown(rows, cfg)
    print(md)
    write_results(cfg.out, md + f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
                  f"(shared), BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; target gap {cfg.tol:g}; "
                  "time = wall-clock / CPU seconds of convex_certificate, one BLAS thread (L-BFGS comparison not "
                  "included); the machine was shared with other jobs, so CPU time is the figure to compare. "
                  f"numpy {np.__version__}.\n", {"config": asdict(cfg), "rows": rows})
    return rows


if __name__ == "__main__":
    main()
