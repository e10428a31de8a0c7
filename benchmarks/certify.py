"""Benchmark: certified brackets on min J for tiny networks of every supported kind.

For each instance (``fenchel_cvx.certify.tiny_problem``: architecture, hidden activation, loss, m samples of a random
ReLU teacher (regression) or of two moons / blobs (classification), weight decay ρ = 0.1 on every layer) runs
``fenchel_cvx.certify.certify``: backprop L-BFGS from 5 starts and lifted BCD from 2 starts (upper bounds), SCIP on
min J and on min F_λ for the λ of the config (lower bounds: SCIP's dual bounds, valid up to its feasibility tolerance
1e-8), the two-layer convex certificate where it applies (``certify``'s default since the stored results were measured;
its bound rests on no solver tolerance), and for the instances marked ``dual`` the Lagrangian dual with one multiplier
per sample at the budget λ = 1. Prints a markdown table: instance → best certified lower bound and where it came from,
best upper bound and where it came from, the relative gap, SCIP's status on min J, and the wall-clock time of the whole
certificate (training included) in CPU seconds of the process (the machine may be shared) and in wall-clock seconds.
SCIP runs single-threaded with CPU-time limits; BLAS is limited to one thread.

    python benchmarks/certify.py                 # writes benchmarks/results/certify.{md,json}
    python benchmarks/certify.py --quick         # two tiny instances, short time limits (smoke test)
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import asdict, dataclass, field

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from _results import write_results  # noqa: E402

from fenchel_cvx.certify import bcd_provider, certify, lbfgs_provider, tiny_problem  # noqa: E402
from fenchel_cvx.certify.report import format_gap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    #: (arch, activation, loss, data, m, seed, dual) of each instance
    instances: list = field(default_factory=lambda: [
        ("1-2-1", "relu", "squared", "teacher", 6, 1, True),
        ("2-3-2", "relu", "logistic", "moons", 8, 0, True),
        ("2-3-3", "relu", "cross_entropy", "blobs", 9, 0, False),
        ("2-3-2", "relu", "squared", "teacher", 8, 0, False),
        ("2-3-1", "leaky_relu", "squared", "teacher", 8, 0, False),
        ("2-3-1", "hardtanh", "squared", "teacher", 8, 0, False),
        ("2-3-3-1", "relu", "squared", "teacher", 8, 0, False),
    ])
    rho: float = 0.1
    lams: tuple = (1.0, 10.0)
    time_limit: float = 75.0
    gap: float = 1e-3
    starts: int = 5
    bcd_starts: int = 2
    dual_iters: int = 3
    out: str = os.path.join(HERE, "results", "certify")


def run(cfg: Config) -> list:
    rows = []
    for arch, act, loss, data, m, seed, dual in cfg.instances:
        net, X0, y = tiny_problem(arch, activation=act, loss=loss, m=m, rho=cfg.rho, seed=seed, data=data)
        providers = [lbfgs_provider(cfg.starts, seed=seed)] + ([bcd_provider(cfg.bcd_starts, seed=seed)]
                                                               if cfg.bcd_starts else [])
        t0, c0 = time.perf_counter(), time.process_time()
        rep = certify(net, X0, y, lams=cfg.lams, upper_providers=providers, time_limit=cfg.time_limit, gap=cfg.gap,
                      seed=seed, dual={"lam": 1.0, "iters": cfg.dual_iters} if dual and 1.0 in cfg.lams else None)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        br = rep.bracket_
        lo, up = br.lower, br.upper
        rows.append({
            "instance": f"{arch} {act}, {loss}, {data} m={m}, seed={seed}",
            "lower": lo.value, "lower_from": lo.provenance if lo.lam is None else f"{lo.provenance}, λ={lo.lam:g}",
            "rests_on": lo.rests_on, "upper": up.value, "upper_from": up.provenance, "rel_gap": br.gap,
            "overlap": br.overlap, "scip_J_status": rep.standard.status if rep.standard else None,
            "scip_J_model": rep.standard.model if rep.standard else None,
            "scip_J_time": rep.standard.time if rep.standard else None,
            "sweep": [{"lam": s.lam, "lower": s.lower, "upper": s.upper, "status": s.status, "time": s.time}
                      for s in rep.sweep],
            "dual": {"scalar": rep.dual.scalar_lower, "best": rep.dual.best_lower} if rep.dual else None,
            "wall": wall, "cpu": cpu,
        })
        print(rep.table(), "\n", flush=True)
    return rows


def markdown(rows, cfg: Config) -> str:
    out = ["| instance | lower bound on min J (method) | upper bound on min J (method) | rel. gap | SCIP min J (CPU s) "
           "| min F_λ ≥ (λ: bound) | per-sample dual at λ = 1 (scalar → best) | CPU time (s) | wall (s) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sweep = ", ".join(f"{s['lam']:g}: {s['lower']:.4f}{'' if s['status'] == 'optimal' else '*'}"
                          for s in r["sweep"])
        dual = f"{r['dual']['scalar']:.4f} → {r['dual']['best']:.4f}" if r["dual"] else "—"
        out.append(f"| {r['instance']} | {r['lower']:.5f} ({r['lower_from']}) | {r['upper']:.5f} ({r['upper_from']}) "
                   f"| {format_gap(r['rel_gap'])} | {r['scip_J_status']}, {r['scip_J_model']} model "
                   f"({r['scip_J_time']:.0f}) "
                   f"| {sweep} | {dual} "
                   f"| {r['cpu']:.0f} | {r['wall']:.0f} |")
    out.append("")
    out.append("What the lower bounds rest on: " + "; ".join(dict.fromkeys(r["rests_on"] for r in rows)) + " "
               "(`*`: the solve stopped at its time limit; its bound is still valid, only looser).")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two tiny instances, 1.5 s time limits (smoke test)")
    p.add_argument("--time-limit", type=float, help="seconds per SCIP solve (default 75)")
    p.add_argument("--gap", type=float, help="SCIP's relative gap limit (default 1e-3)")
    p.add_argument("--out", help="output prefix for .md and .json (default benchmarks/results/certify)")
    args = p.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg.instances = [("1-1-1", "relu", "squared", "teacher", 4, 0, True),
                         ("2-2-2", "relu", "logistic", "xor", 4, 0, False)]
        cfg.time_limit, cfg.lams, cfg.starts, cfg.bcd_starts, cfg.dual_iters = 1.5, (1.0,), 2, 0, 1
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
    write_results(cfg.out, md + f"\n\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
                  f"(shared); ρ = {cfg.rho}, SCIP single-threaded, time limit {cfg.time_limit:g} s per solve, gap "
                  "limit "
                  f"{cfg.gap:g} (SCIP's limits count CPU seconds); CPU time = this process's CPU seconds for the whole "
                  f"certificate (training, SCIP on min J, the λ sweep {list(cfg.lams)}, the dual ascent), the measure "
                  f"of single-core work on a shared machine; wall = elapsed time under the machine's load.\n",
                  {"config": asdict(cfg), "rows": rows})
    return rows


if __name__ == "__main__":
    main()
