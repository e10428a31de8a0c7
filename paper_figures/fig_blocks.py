r"""Section ``blocks``: fast path vs CVXPY reference, time and objective gap per block kind and size.

For every block kind of ``fenchel_cvx.blocks.BLOCKS``, activation (relu, sigmoid) and number
of samples m, one instance on the embedded digits data (network 64-H-H-10, cross-entropy,
λ = 1, ρ = 1e-3, hidden activations near the forward pass with some entries on the domain
edges, from ``fenchel_cvx.blocks.instances.random_state``) is solved

* by the CVXPY reference (CLARABEL): wall time of ``solve_reference`` on a fresh block
  (build + compile + solve), and
* by the fast path (numpy float64, default certified tolerance): best wall time of
  ``solve_fast`` over ``repeats`` fresh blocks,

and both solutions are judged by the block's single objective function. Reported: both
times, the speed-up, the relative objective gap (fast − ref)/(1 + |ref|) and the fast
path's certified relative gap (objective − lower bound)/(1 + |objective|).
"""

from __future__ import annotations

import time

import numpy as np
from _cache import source_fingerprint
from _fig_util import Missing, SectionResult, markdown_table, require, save, setup_matplotlib

NAME = "blocks"
TITLE = "Fast block solvers vs their CVXPY references"
VERSION = 1
#: library modules whose source is part of every run's cache key
CODE = ("fenchel_cvx.blocks", "fenchel_cvx.activations", "fenchel_cvx.losses", "fenchel_cvx.network",
        "fenchel_cvx.backend")

#: ``ms`` maps each activation to its sample sizes. FULL is sized so that every CVXPY reference takes
#: seconds (network 64-30-30-10; ~2-4 s per reference at m = 300 on one core): with 100 hidden units
#: CLARABEL needs ~40 s for the sigmoid hidden-X block already at m = 100 and over 20 minutes at
#: m = 1000 (benchmarks/blocks.py measures the larger sizes).
FULL = {"hidden": 30, "ms": {"relu": [30, 100, 300, 1000], "sigmoid": [30, 100, 300, 1000]}, "repeats": 3,
        "lam": 1.0, "rho": 1e-3, "solver": "CLARABEL", "seed": 0}
QUICK = {"hidden": 6, "ms": {"relu": [20, 40], "sigmoid": [20, 40]}, "repeats": 1,
         "lam": 1.0, "rho": 1e-3, "solver": "CLARABEL", "seed": 0}
#: the parameters that determine one run (its cache key); ``ms`` only says which runs to make
RUN_KEYS = ("hidden", "repeats", "lam", "rho", "solver", "seed", "code")


def _check_available():
    """The blocks module, after checking that every block kind implements the block API."""
    blocks = require("fenchel_cvx.blocks", ("BLOCKS",), "the BCD blocks (issue 3)")
    for kind, cls in blocks.BLOCKS.items():
        for attr in ("layers", "from_network", "solve_fast", "problem", "objective"):
            if not any(attr in k.__dict__ for k in cls.__mro__ if k not in (blocks.Block, object)):
                raise Missing(f"{cls.__module__}.{cls.__name__}", f"block {kind} has no {attr} yet (issue 3)")
    return blocks


def _rank_within_class(y: np.ndarray) -> np.ndarray:
    """r[j] = number of earlier samples with the same label as sample j."""
    r = np.empty(y.size, dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        r[idx] = np.arange(idx.size)
    return r


def _warmup_state():
    from fenchel_cvx.blocks.instances import random_state

    return random_state("relu", "cross_entropy", sizes=(3, 3, 2), m=6, seed=0)


def one_run(kind: str, activation: str, m: int, p: dict) -> dict:
    """Time and judge one block (see the module docstring); returns a JSON-able dict."""
    import fenchel_cvx as fc
    from fenchel_cvx.blocks import BLOCKS
    from fenchel_cvx.blocks.instances import random_state

    d = fc.data.load("digits", seed=p["seed"])
    # the first m samples in class-interleaved order, so that every class is present (m ≥ 10)
    order = np.lexsort((d.y_train, _rank_within_class(d.y_train)))[:m]
    X0, y = d.X_train[:, order], d.y_train[order]
    sizes = [X0.shape[0], p["hidden"], p["hidden"], d.n_classes]

    def fresh():
        net, X, yy, Xs = random_state(activation, "cross_entropy", sizes=sizes, seed=p["seed"], X0=X0, y=y,
                                      lam=[p["lam"]] * 2, rho=[p["rho"]] * 3, weight_scale=1.0, noise=0.1,
                                      edge_fraction=0.05)
        cls = BLOCKS[kind]
        return cls.from_network(net, X, yy, Xs, cls.layers(net)[0])

    block = fresh()
    t0 = time.perf_counter()
    ref = block.solve_reference(solver=p["solver"])
    t_ref = time.perf_counter() - t0
    t_fast, fast = np.inf, None
    for _ in range(p["repeats"]):
        b = fresh()
        t0 = time.perf_counter()
        res = b.solve_fast()
        dt = time.perf_counter() - t0
        if dt < t_fast:
            t_fast, fast = dt, res
    return {"kind": kind, "activation": activation, "m": m, "ref_time": t_ref, "fast_time": t_fast,
            "ref_objective": ref.objective, "fast_objective": fast.objective, "fast_lower_bound": fast.lower_bound,
            "ref_certified_gap": ref.gap, "rel_gap": (fast.objective - ref.objective) / (1 + abs(ref.objective)),
            "cert_rel_gap": fast.gap / (1 + abs(fast.objective)), "fast_iterations": fast.iterations,
            "fast_status": fast.status, "fast_method": fast.method}


def one_run_or_error(kind: str, activation: str, m: int, p: dict) -> dict:
    """:func:`one_run`, or the reference solver's failure (cached like a result: the solvers are deterministic,
    so a failure is a finding at that size, not a hiccup; ``--force`` retries it)."""
    from fenchel_cvx.blocks import SolverError

    t0 = time.perf_counter()
    try:
        return one_run(kind, activation, m, p)
    except SolverError as e:
        return {"kind": kind, "activation": activation, "m": m, "error": str(e), "ref_time": time.perf_counter() - t0}


def run(cache, out_dir: str, quick: bool) -> SectionResult:
    blocks = _check_available()
    p = {**(QUICK if quick else FULL), "code": source_fingerprint(*CODE)}
    kinds = list(blocks.BLOCKS)
    # warm-up: the first CVXPY solve of a process pays one-off costs (lazy imports, canonicalisation caches)
    blocks.BLOCKS["last_w"].from_network(*_warmup_state(), None).solve_reference(solver=p["solver"])
    rows, failed = [], []
    base = {k: p[k] for k in RUN_KEYS}
    for act, ms in p["ms"].items():
        for m in ms:
            for kind in kinds:
                r = cache.run(NAME, f"{kind}-{act}-m{m}", {**base, "kind": kind, "act": act, "m": m},
                              lambda kind=kind, act=act, m=m: one_run_or_error(kind, act, m, p), VERSION)
                if "error" in r:
                    print(f"  reference failed: {r['error']}")
                    failed.append(r)
                else:
                    rows.append(r)

    plt = setup_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, NullLocator

    acts = list(p["ms"])
    floor = 1e-16  # gaps below (including exact zeros) are drawn at this level
    fig, axes = plt.subplots(len(acts), 2, figsize=(10.0, 3.7 * len(acts) + 1.9), squeeze=False)
    colors = dict(zip(kinds, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for i, act in enumerate(acts):
        sel = [r for r in rows if r["activation"] == act]
        for j in range(2):
            ax = axes[i, j]
            for kind in kinds:
                rs = sorted((r for r in sel if r["kind"] == kind), key=lambda r: r["m"])
                ms = np.array([r["m"] for r in rs])
                c = colors[kind]
                if j == 0:
                    ax.plot(ms, [r["ref_time"] for r in rs], "-o", color=c, ms=5)
                    ax.plot(ms, [r["fast_time"] for r in rs], "--s", color=c, ms=5)
                else:
                    gap = np.array([max(abs(r["rel_gap"]), floor) for r in rs])
                    better = np.array([r["rel_gap"] <= 0 for r in rs], dtype=bool)
                    ax.plot(ms, gap, "-", color=c)
                    ax.plot(ms[better], gap[better], "o", color=c, ms=5)
                    ax.plot(ms[~better], gap[~better], "o", mfc="white", mec=c, ms=6)
                    ax.plot(ms, [max(r["cert_rel_gap"], floor) for r in rs], ":^", color=c, ms=4, alpha=0.8)
            for f in failed:
                if f["activation"] == act and j == 0:
                    ax.plot([f["m"]], [f["ref_time"]], "x", color=colors[f["kind"]], ms=9, mew=2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(FixedLocator(p["ms"][act]))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(m) for m in p["ms"][act]])
            ax.set_xlabel("samples m (block size ∝ m)")
        axes[i, 1].axhline(floor, color="0.5", lw=0.8, ls="-")
        axes[i, 1].set_ylim(bottom=floor / 3)
        axes[i, 0].set_ylabel("wall time per solve [s]")
        axes[i, 0].set_title(f"{act}: time (log scale)")
        axes[i, 1].set_ylabel("relative objective gap")
        axes[i, 1].set_title(f"{act}: objective gaps (log scale)")
    style0 = [Line2D([], [], color="0.3", ls="-", marker="o", label="CVXPY + " + p["solver"] + " (build+solve)"),
              Line2D([], [], color="0.3", ls="--", marker="s", label="fast path (best of "
                     f"{p['repeats']})")]
    if failed:
        style0.append(Line2D([], [], color="0.3", ls="", marker="x", mew=2, label="CVXPY failed"))
    style1 = [Line2D([], [], color="0.3", ls="-", marker="o", label="|fast − CVXPY| / (1+|CVXPY|), fast ≤ CVXPY"),
              Line2D([], [], color="0.3", ls="-", marker="o", mfc="white", label="same, fast > CVXPY"),
              Line2D([], [], color="0.3", ls=":", marker="^", label="fast path's certified gap")]
    # all legends below the panels (the panels are full of data): block colours, then the line styles
    kinds_h = [Line2D([], [], color=colors[k], lw=3, label=k) for k in kinds]
    bottom = 0.18 if len(acts) > 1 else 0.3
    fig.legend(handles=kinds_h, title="block (colour)", loc="lower center", ncol=len(kinds),
               bbox_to_anchor=(0.5, bottom * 0.56), frameon=False)
    fig.legend(handles=style0, title="time panels (left)", loc="lower center", ncol=1,
               bbox_to_anchor=(0.27, 0.0), frameon=False, fontsize=10)
    fig.legend(handles=style1, title="gap panels (right)", loc="lower center", ncol=1,
               bbox_to_anchor=(0.74, 0.0), frameon=False, fontsize=10)
    fig.suptitle(f"Fast block solvers vs CVXPY + {p['solver']} (network 64-{p['hidden']}-{p['hidden']}-10, digits,\n"
                 f"cross-entropy, λ = {p['lam']:g}, ρ = {p['rho']:g}; one CPU thread; gaps below {floor:g} drawn at "
                 f"{floor:g})", fontsize=12)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    figs = [save(fig, out_dir, "blocks_fast_vs_cvxpy.png")]

    head = ["block", "activation", "m", "CVXPY [s]", "fast [s]", "speed-up", "(fast − ref)/(1+|ref|)",
            "certified rel. gap", "fast iters"]
    body = [[r["kind"], r["activation"], r["m"], f"{r['ref_time']:.3f}", f"{r['fast_time']:.4f}",
             f"{r['ref_time'] / max(r['fast_time'], 1e-12):.0f}×", f"{r['rel_gap']:+.1e}", f"{r['cert_rel_gap']:.1e}",
             r["fast_iterations"]] for r in sorted(rows, key=lambda r: (r["activation"], r["kind"], r["m"]))]
    notes = []
    worse = [r for r in rows if r["rel_gap"] > 1e-7]
    notes.append(f"fast objective ≤ CVXPY objective + 1e-7·(1+|ref|) in {len(rows) - len(worse)}/{len(rows)} runs"
                 + ("" if not worse else ": exceptions " + ", ".join(f"{r['kind']}/{r['activation']}/m={r['m']}"
                                                                   for r in worse)))
    for f in failed:
        notes.append(f"no data for {f['kind']}/{f['activation']}/m={f['m']}: the CVXPY reference failed after "
                     f"{f['ref_time']:.0f} s ({f['error']})")
    return SectionResult(TITLE, figs, markdown_table(head, body), notes)
