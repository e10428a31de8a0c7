"""Benchmark: fast block solvers vs their CVXPY references, and the fast path at MNIST size.

Part 1 (medium instance, digits data, m = 1,000, cross-entropy, relu and sigmoid):
every block solved by the CVXPY reference (CLARABEL; time = build + compile + solve)
and by the fast path (numpy float64, default tolerance); reports both times, the ratio
and the relative objective gap (fast − ref)/(1 + |ref|). The network is 64-100-10, and
64-100-10-10 for the hidden-X block (which needs a second hidden layer; the smallest
one, 10 units, keeps the reference problem comparable in size).

Part 2 (fast path alone, 784-300-10 -- 784-300-10-10 for hidden X -- on real MNIST
images, m = 500 and 5,000): seconds per block for numpy/torch x float64/float32.

The reference runs CLARABEL with gap and feasibility tolerances 1e-7 (``Config.ref_tol``).
Timings are single-threaded (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)) so that
the reference and the fast path are compared on equal terms on a shared machine.

    # both parts, writes benchmarks/results/blocks.{md,json}:
    OPENBLAS_NUM_THREADS=1 python benchmarks/blocks.py --threads 1
    python benchmarks/blocks.py --quick         # tiny sizes (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass

import numpy as np

import fenchel_cvx as fc
from fenchel_cvx.backend import have_torch
from fenchel_cvx.blocks import BLOCKS
from fenchel_cvx.blocks.instances import random_state

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Config:
    m_medium: int = 1000
    m_large: tuple = (500, 5000)
    activations: tuple = ("relu", "sigmoid")
    lam: float = 1.0
    rho: float = 1e-3
    repeats: int = 3
    #: CLARABEL's gap/feasibility tolerances for the reference (its 1e-8 defaults end in
    #: 'almost solved' -- cvxpy's optimal_inaccurate -- on the sigmoid hidden-X instance)
    ref_tol: float = 1e-7
    out: str = os.path.join(HERE, "results")
    quick: bool = False


def _state(sizes, act, X0, y, backend="numpy", dtype="float64", seed=0, lam=1.0, rho=1e-3, device="cpu"):
    L = len(sizes) - 2
    return random_state(act, "cross_entropy", sizes=sizes, seed=seed, X0=X0, y=y, lam=[lam] * L,
                        rho=[rho] * (L + 1), weight_scale=1.0, noise=0.1, edge_fraction=0.05,
                        backend=backend, dtype=dtype, device=device)


def _sizes_for(kind, d, h, k):
    return (d, h, k, k) if kind == "hidden_x" else (d, h, k)


def _sync(device):
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _time_fast(block, repeats, device="cpu"):
    """Best wall time of ``repeats`` fast solves (the first one on CUDA is a warm-up)."""
    best, res = np.inf, None
    if str(device).startswith("cuda"):
        block.solve_fast()
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        res = block.solve_fast()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, res


def part1(cfg, X, y):
    rows = []
    for act in cfg.activations:
        for kind, cls in BLOCKS.items():
            sizes = _sizes_for(kind, X.shape[0], 100 if not cfg.quick else 8, 10)
            net, X0, yy, Xs = _state(sizes, act, X, y, lam=cfg.lam, rho=cfg.rho)
            layer = cls.layers(net)[0]
            ref = cls.from_network(net, X0, yy, Xs, layer).solve_reference(
                solver="CLARABEL", tol_gap_abs=cfg.ref_tol, tol_gap_rel=cfg.ref_tol, tol_feas=cfg.ref_tol)
            t_fast, fast = _time_fast(cls.from_network(net, X0, yy, Xs, layer), cfg.repeats)
            rows.append(dict(block=kind, activation=act, sizes="-".join(map(str, sizes)), m=X0.shape[1],
                             ref_time=ref.time, ref_compile=ref.info.get("build_time", 0) + ref.info.get("compile", 0),
                             fast_time=t_fast, ratio=ref.time / t_fast,
                             rel_gap=(fast.objective - ref.objective) / (1 + abs(ref.objective)),
                             cert_gap=fast.gap, iterations=fast.iterations))
            print(f"  {kind:9s} {act:8s} ref {ref.time:8.3f}s  fast {t_fast:8.4f}s  x{rows[-1]['ratio']:7.0f}  "
                  f"rel gap {rows[-1]['rel_gap']:+.1e}", flush=True)
    return rows


def part2(cfg, X_all, y_all, device="cpu"):
    rows = []
    backends = [("numpy", "float64"), ("numpy", "float32")] if device == "cpu" else []
    if have_torch():
        backends += [("torch", "float64"), ("torch", "float32")]
    for m in cfg.m_large:
        X, y = X_all[:, :m], y_all[:m]
        for kind, cls in BLOCKS.items():
            sizes = _sizes_for(kind, X.shape[0], 300 if not cfg.quick else 8, 10)
            for be, dt in backends:
                net, X0, yy, Xs = _state(sizes, "relu", X, y, backend=be, dtype=dt, lam=cfg.lam, rho=cfg.rho,
                                         device=device if be == "torch" else "cpu")
                block = cls.from_network(net, X0, yy, Xs, cls.layers(net)[0])
                t, res = _time_fast(block, max(1, cfg.repeats - 1), device if be == "torch" else "cpu")
                rows.append(dict(block=kind, m=m, backend=be, dtype=dt, device=device, sizes="-".join(map(str, sizes)),
                                 fast_time=t, cert_rel_gap=res.rel_gap, iterations=res.iterations, status=res.status))
                print(f"  m={m:5d} {kind:9s} {be}-{dt}: {t:8.3f}s  cert rel gap {res.rel_gap:.1e}  "
                      f"({res.iterations} it, {res.status})", flush=True)
    return rows


def to_markdown(p1, p2) -> str:
    return "\n\n".join(t for t in (_md_part1(p1), _md_part2(p2)) if t)


def _md_part1(p1) -> str:
    if not p1:
        return ""
    out = ["| block | activation | network | m | CVXPY ref (s) | fast (s) | speed-up | rel. objective gap "
           "| certified gap |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in p1:
        out.append(f"| {r['block']} | {r['activation']} | {r['sizes']} | {r['m']} | {r['ref_time']:.2f} | "
                   f"{r['fast_time']:.4f} | {r['ratio']:.0f}× | {r['rel_gap']:+.1e} | {r['cert_gap']:.1e} |")
    return "\n".join(out)


def _md_part2(p2) -> str:
    if not p2:
        return ""
    out = ["| block | network | m | numpy f64 (s) | numpy f32 (s) | torch f64 (s) | torch f32 (s) |",
           "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["block"], r["sizes"], r["m"]) for r in p2}, key=lambda k: (k[2], list(BLOCKS).index(k[0])))
    for blk, sizes, m in keys:
        cells = []
        for be, dt in [("numpy", "float64"), ("numpy", "float32"), ("torch", "float64"), ("torch", "float32")]:
            hit = [r for r in p2 if (r["block"], r["m"], r["backend"], r["dtype"]) == (blk, m, be, dt)]
            cells.append(f"{hit[0]['fast_time']:.3f}" if hit else "–")
        out.append(f"| {blk} | {sizes} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    ap.add_argument("--out", default=Config.out)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="torch device for part 2 (cuda: torch rows only)")
    ap.add_argument("--part", type=int, choices=(1, 2), default=None, help="run only part 1 or part 2")
    args = ap.parse_args(argv)
    cfg = Config(out=args.out, quick=args.quick)
    if args.quick:
        cfg.m_medium, cfg.m_large, cfg.repeats = 40, (30,), 1
    if args.threads and have_torch():
        import torch

        torch.set_num_threads(args.threads)
    p1 = p2 = []
    if args.part in (None, 1):
        digits = fc.data.load("digits", seed=0)
        print(f"Part 1: fast vs CVXPY reference, digits, m = {cfg.m_medium}")
        p1 = part1(cfg, digits.X_train[:, : cfg.m_medium], digits.y_train[: cfg.m_medium])
    if args.part in (None, 2):
        mn = fc.data.load("mnist5k", seed=0)
        X_all = np.concatenate([mn.X_train, mn.X_test], axis=1)
        y_all = np.concatenate([mn.y_train, mn.y_test])
        perm = np.random.default_rng(0).permutation(y_all.size)  # every class in every prefix
        X_all, y_all = X_all[:, perm], y_all[perm]
        print(f"Part 2: fast path alone, MNIST images, m = {cfg.m_large}, device {args.device}")
        p2 = part2(cfg, X_all, y_all, args.device)
    os.makedirs(cfg.out, exist_ok=True)
    md = to_markdown(p1, p2)
    meta = dict(machine=platform.processor() or platform.machine(), python=platform.python_version(),
                date=time.strftime("%Y-%m-%d"), quick=cfg.quick)
    tag = f"_part{args.part}" if args.part else ""
    tag += "" if args.device == "cpu" else f"_{args.device}"
    with open(os.path.join(cfg.out, f"blocks{tag}.md"), "w") as fh:
        fh.write(md + "\n")
    with open(os.path.join(cfg.out, f"blocks{tag}.json"), "w") as fh:
        json.dump({"meta": meta, "part1": p1, "part2": p2}, fh, indent=1)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
