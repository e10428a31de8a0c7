"""Benchmark: certified brackets on min J for tiny ReLU networks, and how min F_λ approaches min J.

For each instance (a random ReLU teacher, ``fenchel_cvx.certify.tiny_regression``: d features,
n hidden units, m samples, weight decay ρ = 0.1 on both layers, squared loss) runs
``fenchel_cvx.certify.certify``: backprop L-BFGS from 5 random starts (upper bounds), the convex
reference over activation patterns (CVXPY/CLARABEL), SCIP on min J and on min F_λ for
λ ∈ {0.1, 1, 10, 100}. Prints a markdown table: the bracket on min J (best certified lower
bound, best upper bound, each with its provenance), the relative gap, SCIP's time on min J, and
the certified lower bound on min F_λ for each λ (``*`` marks a solve stopped by the time limit:
the number is still a valid lower bound). SCIP runs single-threaded; times are wall-clock
seconds of SCIP itself on the machine named in the output.

    python benchmarks/certify.py                 # writes benchmarks/results/certify.{md,json}
    python benchmarks/certify.py --quick         # one tiny instance, short time limit (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field

from fenchel_cvx.certify import certify, lbfgs_provider, tiny_regression
from fenchel_cvx.certify.report import format_gap

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    #: (d, n, m, seed) of each instance
    instances: list = field(default_factory=lambda: [(1, 1, 10, 0), (1, 2, 6, 1), (1, 2, 8, 2), (2, 2, 6, 0),
                                                     (1, 3, 6, 0)])
    rho: float = 0.1
    lams: tuple = (0.1, 1.0, 10.0, 100.0)
    time_limit: float = 60.0
    gap: float = 1e-3
    starts: int = 5
    out: str = os.path.join(HERE, "results", "certify")


def run(cfg: Config) -> list:
    rows = []
    for d, n, m, seed in cfg.instances:
        net, X0, y = tiny_regression(d=d, hidden=n, m=m, rho=cfg.rho, seed=seed)
        t0 = time.perf_counter()
        rep = certify(net, X0, y, lams=cfg.lams, upper_providers=[lbfgs_provider(cfg.starts, seed=seed)],
                      time_limit=cfg.time_limit, gap=cfg.gap, seed=seed)
        wall = time.perf_counter() - t0
        lo, up = rep.best_lower, rep.best_upper
        lbfgs = min(b.value for b in rep.upper if b.provenance.startswith("backprop"))
        rows.append({
            "instance": f"d={d}, n={n}, m={m}, seed={seed}",
            "lower": lo.value, "lower_from": lo.provenance if lo.lam is None else f"{lo.provenance} (λ={lo.lam:g})",
            "upper": up.value, "upper_from": up.provenance, "best_lbfgs": lbfgs, "rel_gap": rep.rel_gap,
            "scip_J_time": rep.standard.time, "scip_J_status": rep.standard.status,
            "sweep": [{"lam": s.lam, "lower": s.lower, "upper": s.upper, "status": s.status, "time": s.time}
                      for s in rep.sweep],
            "convex": {"value": rep.convex.value, "units": rep.convex.n_active, "exact": rep.convex.exact}
            if rep.convex else None,
            "wall": wall,
        })
        print(rep.table(), "\n", flush=True)
    return rows


def markdown(rows, cfg: Config) -> str:
    lam_cols = " | ".join(f"min F_λ ≥, λ={lam:g}" for lam in cfg.lams)
    out = [f"| instance | lower bound on min J | upper bound on min J | rel. gap | SCIP min J (s) | {lam_cols} "
           f"| convex optimum (units needed) |",
           "|" + "---|" * (6 + len(cfg.lams))]
    for r in rows:
        sweep = " | ".join(f"{s['lower']:.5f}{'' if s['status'] == 'optimal' else '*'} ({s['time']:.0f} s)"
                           for s in r["sweep"])
        cv = r["convex"]
        cvs = f"{cv['value']:.5f} ({cv['units']}{', exact' if cv['exact'] else ', lower bound'})" if cv else "—"
        out.append(f"| {r['instance']} | {r['lower']:.5f} ({r['lower_from']}) | {r['upper']:.5f} ({r['upper_from']}) "
                   f"| {format_gap(r['rel_gap'])} | {r['scip_J_time']:.1f} | {sweep} | {cvs} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one tiny instance, 10 s time limit (smoke test)")
    p.add_argument("--time-limit", type=float, help="seconds per SCIP solve (default 60)")
    p.add_argument("--gap", type=float, help="SCIP's relative gap limit (default 1e-3)")
    p.add_argument("--out", help="output prefix for .md and .json (default benchmarks/results/certify)")
    args = p.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg.instances, cfg.time_limit, cfg.lams, cfg.starts = [(1, 1, 4, 0)], 10.0, (1.0, 100.0), 2
        cfg.out = os.path.join(HERE, "results", "certify_quick")
    if args.time_limit:
        cfg.time_limit = args.time_limit
    if args.gap:
        cfg.gap = args.gap
    if args.out:
        cfg.out = args.out
    rows = run(cfg)
    md = markdown(rows, cfg)
    print(md)
    os.makedirs(os.path.dirname(os.path.abspath(cfg.out)), exist_ok=True)
    with open(cfg.out + ".md", "w") as fh:
        fh.write(md + f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
                 f"ρ = {cfg.rho}, SCIP time limit {cfg.time_limit:g} s per solve, gap limit {cfg.gap:g}.\n")
    with open(cfg.out + ".json", "w") as fh:
        json.dump({"config": asdict(cfg), "rows": rows}, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
