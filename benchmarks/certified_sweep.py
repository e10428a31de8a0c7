"""Sweep (issue 13): certified bounds and fast-path safeguards of the blocks on hard random instances.

For every instance of a grid -- W-blocks (hidden: every activation; last: cross-entropy with labels or soft
targets, squared loss) over ρ ∈ {1e-30, 1e-6, 1e-3, 1}, γ ∈ {0, 0.5}, input scale {1, 30} and a plain or
*saturated* warm start (pre-activations / logits of size ~40), with a quarter of the targets on the edges
of dom f*; X-blocks (every activation/loss) with plain and saturated weights -- the CVXPY reference (CLARABEL,
float64) and the fast path on numpy/torch x float64/float32 are run, and the script counts

* ``fast exceptions``: fast-path exceptions where ``solve_reference`` succeeded (must be 0);
* ``above start``: returned objectives above the warm start's, same judge (must be 0);
* ``f32 not optimal where f64 is``: W-blocks whose float32 solve is not ``optimal`` while the float64 solve
  on the same backend is (must be 0);
* ``bound violations``: certified lower bounds (fast paths and reference) above the *upper end* of the exact
  objective bracket (``Block.objective_interval``, float64 + the rounding allowance) of any feasible point
  found -- the reference minimiser, every fast solution, the warm start -- judged on the bound's own block
  (a float32 block's data are the float32-rounded ones) (must be 0); for comparison, the same count for the
  pre-issue-13 reference "bound" (the solver's primal minus its reported gap);

and lists the float64 solves that end at ``max_iter`` (legitimate: e.g. ρ = 1e-30 leaves no useful dual
bound) and the references whose bound is None (with the reason).

    python benchmarks/certified_sweep.py --seeds 2    # full grid, writes benchmarks/results/certified_sweep.{md,json}
    python benchmarks/certified_sweep.py --quick      # 3 instances (smoke test)
"""

from __future__ import annotations

import argparse

if __name__ == "__main__":  # before numpy is imported
    from _threads import limit_threads_from_argv

    limit_threads_from_argv()

import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
from _results import write_results  # noqa: E402

from fenchel_cvx import activations, losses  # noqa: E402
from fenchel_cvx.backend import have_torch, to_numpy64  # noqa: E402
from fenchel_cvx.blocks import HiddenWBlock, HiddenXBlock, LastWBlock, LastXBlock, SolverError  # noqa: E402
from fenchel_cvx.blocks.instances import perturbed_on_domain, random_state  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    seeds: int = 1
    rhos: tuple = (1e-30, 1e-6, 1e-3, 1.0)
    gammas: tuple = (0.0, 0.5)
    scales: tuple = (1.0, 30.0)
    warm: tuple = ("plain", "saturated")
    w_terms: tuple = tuple(activations.names()) + ("cross_entropy", "cross_entropy_soft", "squared")
    x_cases: tuple = tuple([("hidden_x", a, "cross_entropy") for a in activations.names()]
                           + [("last_x", a, lo) for a in activations.names() for lo in losses.names()])
    x_weight_scales: tuple = (2.0, 20.0)
    variants: tuple = field(default_factory=lambda: tuple(
        (be, dt) for be in (("numpy", "torch") if have_torch() else ("numpy",)) for dt in ("float64", "float32")))
    n_in: int = 5
    n_out: int = 4
    m: int = 24
    out: str = os.path.join(HERE, "results", "certified_sweep")
    quick: bool = False


def _conv(a, backend, dtype):
    if backend == "torch":
        import torch

        return torch.as_tensor(np.asarray(a), dtype=getattr(torch, dtype))
    return np.asarray(a, dtype=dtype)


def w_instance(cfg, term, rho, gamma, scale, warm, seed):
    """A factory (backend, dtype) -> W-block, or None when γ = 0 leaves the bias without a minimiser."""
    rng = np.random.default_rng(seed)
    n_in, n_out, m = cfg.n_in, cfg.n_out, cfg.m
    X = scale * rng.normal(size=(n_in, m))
    Wt = rng.normal(size=(n_out, n_in)) / (scale * math.sqrt(n_in))
    bt = rng.normal(size=n_out)
    Ut = Wt @ X + bt[:, None]
    W0 = Wt + 0.3 * rng.normal(size=Wt.shape) / scale
    if warm == "saturated":
        W0 = 40.0 * rng.normal(size=Wt.shape) / (scale * math.sqrt(n_in))
    b0 = np.zeros(n_out)
    if term in activations.names():
        act = activations.get(term)
        Y = perturbed_on_domain(act, act.phi(Ut), rng, noise=0.3, edge_fraction=0.25)
        if gamma == 0.0 and losses.FenchelYoungLoss(act).bias_blockers(Y):
            return None
        return lambda be, dt: HiddenWBlock.from_arrays(_conv(X, be, dt), _conv(Y, be, dt), term,
                                                       lam=1.0, rho=rho, gamma=gamma,
                                                       W=_conv(W0, be, dt), b=_conv(b0, be, dt))
    if term.startswith("cross_entropy"):
        if term.endswith("soft"):
            Y = rng.dirichlet(np.ones(n_out), size=m).T
            Y[:, : m // 4] = 1.0 / n_out  # columns of 1/k: their float sums are 1 only up to rounding
        else:
            y = rng.integers(0, n_out, size=m)
            y[:n_out] = np.arange(n_out)
            Y = np.eye(n_out)[:, y]
        loss = "cross_entropy"
    else:
        Y, loss = Ut + 0.3 * rng.normal(size=Ut.shape), "squared"
    return lambda be, dt: LastWBlock.from_arrays(_conv(X, be, dt), _conv(Y, be, dt), loss, rho=rho,
                                                 gamma=gamma, W=_conv(W0, be, dt),
                                                 b=_conv(b0, be, dt))


def x_instance(cfg, kind, act, loss, weight_scale, seed):
    cls = HiddenXBlock if kind == "hidden_x" else LastXBlock

    def make(be, dt):
        net, X0, y, Xs = random_state(act, loss, sizes=(5, 4, 3, 3), m=cfg.m, seed=seed, weight_scale=weight_scale,
                                      backend=be, dtype=dt)
        return cls.from_network(net, X0, y, Xs, 1 if kind == "hidden_x" else None)
    return make


def _np_sol(sol):
    return tuple(to_numpy64(a) for a in sol) if isinstance(sol, tuple) else to_numpy64(sol)


def run_instance(cfg, name, make, is_w):
    """Solve one instance by the reference and every fast variant; returns a record of the counts."""
    rec = {"instance": name, "fast_exceptions": [], "above_start": [], "f32_not_optimal": [], "violations": [],
           "max_iter64": [], "old_solver_bound": [], "ref_failed": None, "ref_bound_none": None, "statuses": {}}
    b64 = make("numpy", "float64")
    ref = None
    try:
        ref = b64.solve_reference()
    except SolverError as e:
        rec["ref_failed"] = str(e)[:160]
    bounds = []  # (tag, block, bound): each bound is judged against its own block's data
    points = [_np_sol(b64.current)]
    if ref is not None:
        points.append(ref.solution)
        if ref.lower_bound is None:
            rec["ref_bound_none"] = ref.info.get("lower_bound_reason")
        else:
            bounds.append(("reference", b64, ref.lower_bound))
            p_, d_ = ref.info["solver_primal"], ref.info["solver_dual"]
            if d_ is not None:  # the pre-issue-13 "bound": solver primal − reported gap (a diagnostic here)
                bounds.append(("solver primal - gap (old)", b64, min(p_ - abs(p_ - d_), ref.objective)))
    for be, dt in cfg.variants:
        tag = f"{be}-{dt}"
        blk = make(be, dt)
        start = blk.objective(blk.current)
        try:
            res = blk.solve_fast()
        except Exception as e:  # noqa: BLE001 - every exception is a finding
            if ref is not None:
                rec["fast_exceptions"].append(f"{tag}: {type(e).__name__}: {e}"[:200])
            rec["statuses"][tag] = "exception"
            continue
        rec["statuses"][tag] = res.status
        if not res.objective <= start:
            rec["above_start"].append(f"{tag}: {res.objective!r} > start {start!r}")
        if dt == "float64" and res.status != "optimal":
            rec["max_iter64"].append(f"{tag}: {res.info.get('reason', '')}"[:120])
        points.append(_np_sol(res.solution))
        if res.lower_bound is not None:
            bounds.append((tag, blk, res.lower_bound))
    if is_w:
        for be in {b for b, _ in cfg.variants}:
            s64, s32 = rec["statuses"].get(f"{be}-float64"), rec["statuses"].get(f"{be}-float32")
            if s64 == "optimal" and s32 is not None and s32 != "optimal":
                rec["f32_not_optimal"].append(f"{be}: float32 {s32}")
    tops = {}
    for tag, blk, lb in bounds:
        # the exact objective of every feasible point, for this block's data (float32 blocks: their rounded data)
        key = id(blk)
        if key not in tops:
            tops[key] = min(blk.objective_interval(p)[1] for p in points)
        if lb > tops[key]:
            which = "old_solver_bound" if tag.endswith("(old)") else "violations"
            rec[which].append(f"{tag}: bound {lb!r} > feasible objective {tops[key]!r}")
    return rec


def grid(cfg):
    out = []
    for seed in range(cfg.seeds):
        for term in cfg.w_terms:
            for rho in cfg.rhos:
                for gamma in cfg.gammas:
                    for scale in cfg.scales:
                        for warm in cfg.warm:
                            make = w_instance(cfg, term, rho, gamma, scale, warm, 1000 * seed + len(out))
                            name = f"w:{term} rho={rho:g} gamma={gamma:g} scale={scale:g} {warm} seed={seed}"
                            out.append((name, make, True))
        for kind, act, loss in cfg.x_cases:
            for ws in cfg.x_weight_scales:
                name = f"x:{kind} {act}/{loss} weight_scale={ws:g} seed={seed}"
                out.append((name, x_instance(cfg, kind, act, loss, ws, 1000 * seed + len(out)), False))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few instances (smoke test)")
    p.add_argument("--seeds", type=int, help="seeds per grid point (default 1)")
    p.add_argument("--out", help="output prefix for the .md summary and .json record (default "
                   "benchmarks/results/certified_sweep)")
    p.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    p.add_argument("--progress", action="store_true", help="print a line every 20 instances")
    args = p.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg.rhos, cfg.gammas, cfg.scales = (1e-6,), (0.0,), (30.0,)
        cfg.w_terms, cfg.warm = ("sigmoid", "cross_entropy_soft"), ("saturated",)
        cfg.x_cases, cfg.x_weight_scales = (("last_x", "tanh", "cross_entropy"),), (20.0,)
        cfg.out, cfg.quick = os.path.join(HERE, "results", "certified_sweep_quick"), True
    if args.seeds:
        cfg.seeds = args.seeds
    if args.out:
        cfg.out = args.out
    if have_torch():
        import torch

        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    records = []
    instances = grid(cfg)
    for i, (name, make, is_w) in enumerate(instances):
        if make is None:
            continue
        records.append(run_instance(cfg, name, make, is_w))
        if args.progress and (i + 1) % 20 == 0:
            print(f"  ... {i + 1}/{len(instances)} instances, {time.perf_counter() - t0:.0f} s", flush=True)
    keys = ("fast_exceptions", "above_start", "f32_not_optimal", "violations", "max_iter64", "old_solver_bound")
    counts = {k: sum(len(r[k]) for r in records) for k in keys}
    counts["instances"] = len(records)
    counts["skipped (gamma = 0, bias without minimiser)"] = sum(make is None for _, make, _ in instances)
    counts["fast solves"] = sum(len(r["statuses"]) for r in records)
    counts["ref_failed"] = sum(r["ref_failed"] is not None for r in records)
    counts["ref_bound_none"] = sum(r["ref_bound_none"] is not None for r in records)
    statuses = Counter(f"{tag}:{st}" for r in records for tag, st in r["statuses"].items())
    summary = [f"certified sweep: {counts['instances']} instances, {counts['fast solves']} fast solves "
               f"({', '.join(f'{b}-{d}' for b, d in cfg.variants)}), {time.perf_counter() - t0:.0f} s",
               f"  fast exceptions where the reference succeeds : {counts['fast_exceptions']}",
               f"  returned objectives above the warm start      : {counts['above_start']}",
               f"  float32 W-blocks not optimal where float64 is : {counts['f32_not_optimal']}",
               f"  certified bounds above a feasible objective   : {counts['violations']}",
               f"  float64 fast solves ending at max_iter        : {counts['max_iter64']}",
               f"  (before: solver primal − gap above a feasible objective: {counts['old_solver_bound']})",
               f"  references failed / reference bound None      : {counts['ref_failed']} / {counts['ref_bound_none']}",
               "  statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))]
    print("\n".join(summary))
    for r in records:
        for k in keys + ("ref_failed", "ref_bound_none"):
            items = r[k] if isinstance(r[k], list) else ([r[k]] if r[k] else [])
            for it in items:
                print(f"  [{k}] {r['instance']}: {it}")
    cmd = "--quick" if cfg.quick else f"--seeds {cfg.seeds}"
    # the JSON keeps the records with something to report (every instance's statuses are in the counts)
    keep = [r for r in records if any(r[k] for k in keys + ("ref_failed", "ref_bound_none"))]
    write_results(cfg.out, f"`python benchmarks/certified_sweep.py {cmd}` (one thread)\n\n```\n" + "\n".join(summary)
                  + "\n```\n", {"config": {k: v for k, v in asdict(cfg).items() if k != "out"}, "counts": counts,
                                 "statuses": dict(statuses), "records": keep}, default=str)
    return counts, records


if __name__ == "__main__":
    main()
