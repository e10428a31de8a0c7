r"""Demo 2 -- the Fenchel divergence is biconvex, not jointly convex.

B(u, v) = f(u) + f*(v) − u·v is convex in u for fixed v (f is convex, −uv is linear in u)
and convex in v for fixed u (f* is convex). Jointly it is not: for relu and u < 0,
B = ½v² − uv has Hessian [[0, −1], [−1, 1]], which has a negative eigenvalue. This is
why BCD alternates between X- and W-blocks: each block is convex, the whole problem is not.

The demo

1. checks convexity of the slices numerically (second differences along u and along v
   on a grid are ≥ 0 up to rounding) for every registered activation;
2. searches random segments [p, q] in the (u, v) plane for the largest violation of
   convexity, max_t B(p + t(q − p)) − [(1 − t)B(p) + tB(q)] > 0, and draws the one found
   (identity is the exception: B = ½(u − v)² *is* jointly convex, and no segment exists).

Figures: ``02_biconvexity.png`` (slices, the segment on the contour map, B along the
segment above its chord, for ``--activation``, default relu) and ``02_segments.png``
(the worst segment of every activation).

    python demos/02_biconvexity.py [--activation relu] [--quick] [--out DIR]
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _demo_util import parse_config, save, setup_matplotlib  # noqa: E402

from fenchel_cvx import activations as acts  # noqa: E402


@dataclass
class Config:
    """Slices of B are convex; B itself is not: a segment along which it bends down."""

    activation: str = "relu"
    u_max: float = 3.0          # box: u in [-u_max, u_max], v in dom f* ∩ [v_lo, v_hi] of the box
    grid: int = 401             # grid points per axis for the slice checks and the contour map
    pairs: int = 20000          # random segments searched per activation
    points: int = 101           # points per segment
    leaky_a: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if not self.u_max > 0:
            raise ValueError(f"u_max: expected > 0, got {self.u_max}")
        if self.grid < 5 or self.points < 3 or self.pairs < 1:
            raise ValueError(f"grid >= 5, points >= 3 and pairs >= 1 expected, got {self.grid}, {self.points}, "
                             f"{self.pairs}")


QUICK = {"grid": 61, "pairs": 500, "points": 41}


def get_activation(name: str, leaky_a: float):
    return acts.get(name, a=leaky_a) if name == "leaky_relu" else acts.get(name)


def v_box(act, u_max: float):
    """The v-interval of the box: dom f* where bounded, else the range of φ on [-u_max, u_max]."""
    lo, hi = act.domain
    a = lo if math.isfinite(lo) else float(act.phi(np.array(-u_max))) - 0.5
    b = hi if math.isfinite(hi) else float(act.phi(np.array(u_max)))
    return a, b


def slice_second_differences(act, u_max: float, n: int):
    """Smallest second difference of B along u (v fixed) and along v (u fixed), relative to |B|.

    Returns ``(min_u, min_v)``; convex slices give values ≥ −(rounding).
    """
    u = np.linspace(-u_max, u_max, n)
    v = np.linspace(*v_box(act, u_max), n)
    U, V = np.meshgrid(u, v)  # rows: fixed v, columns: fixed u
    B = act.divergence(U, V)
    scale = 1.0 + np.abs(B)
    d2u = (B[:, 2:] - 2 * B[:, 1:-1] + B[:, :-2]) / scale[:, 1:-1]
    d2v = (B[2:, :] - 2 * B[1:-1, :] + B[:-2, :]) / scale[1:-1, :]
    return float(np.min(d2u)), float(np.min(d2v))


def worst_segment(act, u_max: float, pairs: int, points: int, seed: int):
    """Random search for the segment [p, q] (in the box, v in dom f*) along which B rises most above its chord.

    Returns ``(p, q, t, B_along, chord, violation)`` with violation = max_t (B − chord).
    """
    rng = np.random.default_rng(seed)
    lo, hi = v_box(act, u_max)
    P = np.column_stack([rng.uniform(-u_max, u_max, pairs), rng.uniform(lo, hi, pairs)])
    Q = np.column_stack([rng.uniform(-u_max, u_max, pairs), rng.uniform(lo, hi, pairs)])
    t = np.linspace(0.0, 1.0, points)
    Us = P[:, :1] + t[None, :] * (Q[:, :1] - P[:, :1])
    Vs = P[:, 1:] + t[None, :] * (Q[:, 1:] - P[:, 1:])
    Bs = act.divergence(Us, Vs)
    chord = (1 - t)[None, :] * Bs[:, :1] + t[None, :] * Bs[:, -1:]
    viol = np.max(Bs - chord, axis=1)
    i = int(np.argmax(viol))
    return P[i], Q[i], t, Bs[i], chord[i], float(viol[i])


def main(argv=None) -> dict:
    cfg, out = parse_config(Config, QUICK, argv, __doc__.splitlines()[0])
    plt = setup_matplotlib()

    # ---- 1. every activation: slices convex, joint function not ----------------------
    names = acts.names()
    report = {}
    tol = 1e-9
    print(f"{'activation':<12} {'min d2B/du2':>12} {'min d2B/dv2':>12} {'worst chord violation':>22}  jointly convex?")
    for name in names:
        act = get_activation(name, cfg.leaky_a)
        mu, mv = slice_second_differences(act, cfg.u_max, cfg.grid)
        seg = worst_segment(act, cfg.u_max, cfg.pairs, cfg.points, cfg.seed)
        joint = seg[-1] <= tol
        report[name] = {"min_d2_u": mu, "min_d2_v": mv, "violation": seg[-1], "segment": seg,
                        "slices_convex": mu >= -tol and mv >= -tol, "jointly_convex_on_samples": joint}
        print(f"{name:<12} {mu:>12.1e} {mv:>12.1e} {seg[-1]:>22.3e}  "
              f"{'yes (no violating segment found)' if joint else 'NO'}")

    # ---- 2. the chosen activation in detail ----------------------------------------
    act = get_activation(cfg.activation, cfg.leaky_a)
    key = act.name
    if key not in report:
        mu, mv = slice_second_differences(act, cfg.u_max, cfg.grid)
        report[key] = {"segment": worst_segment(act, cfg.u_max, cfg.pairs, cfg.points, cfg.seed)}
    p, q, t, Bseg, chord, viol = report[key]["segment"]
    lo, hi = v_box(act, cfg.u_max)

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6))
    ax = axes[0, 0]
    u = np.linspace(-cfg.u_max, cfg.u_max, cfg.grid)
    for v0 in np.linspace(lo, hi, 5)[1:-1].tolist() + [hi]:
        ax.plot(u, act.divergence(u, np.full_like(u, v0)), label=f"v = {v0:.2g}")
    ax.set_xlabel("pre-activation u")
    ax.set_ylabel("B(u, v)")
    ax.set_title("slices in u (v fixed): convex")
    ax.legend()

    ax = axes[0, 1]
    vv = np.linspace(lo, hi, cfg.grid)
    for u0 in (-1.5, -0.5, 0.5, 1.5):
        ax.plot(vv, act.divergence(np.full_like(vv, u0), vv), label=f"u = {u0:g}")
    ax.set_xlabel("activation v (in dom f*)")
    ax.set_ylabel("B(u, v)")
    ax.set_title("slices in v (u fixed): convex")
    ax.legend()

    ax = axes[1, 0]
    U, V = np.meshgrid(u, vv)
    B = act.divergence(U, V)
    from matplotlib.colors import BoundaryNorm

    levels = np.array([0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    cmap = plt.get_cmap("viridis")
    cs = ax.contourf(U, V, B, levels=levels, cmap=cmap, norm=BoundaryNorm(levels, cmap.N, extend="max"),
                     extend="max")
    fig.colorbar(cs, ax=ax, label="B(u, v)", format="%g")
    ax.plot(u, act.phi(u), color="red", lw=2, label=r"$v=\varphi(u)$ (B = 0)")
    ax.plot([p[0], q[0]], [p[1], q[1]], color="white", lw=2.5, marker="o", label="segment [p, q]")
    import matplotlib.patheffects as pe

    # label each end beside the segment: offset along the normal (in axis-fraction units), towards the centre
    d = (q - p) / np.array([2 * cfg.u_max, hi - lo])
    nrm = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-12)
    centre = np.array([0.0, 0.5 * (lo + hi)])
    for label, pt in (("p", p), ("q", q)):
        side = 1.0 if np.dot(nrm, (centre - pt) / np.array([2 * cfg.u_max, hi - lo])) >= 0 else -1.0
        ax.annotate(label, pt, xytext=(14 * side * nrm[0], 14 * side * nrm[1]), textcoords="offset points",
                    color="white", fontsize=13, weight="bold", ha="center", va="center",
                    path_effects=[pe.withStroke(linewidth=2.5, foreground="black")])
    ax.set_xlabel("pre-activation u")
    ax.set_ylabel("activation v")
    ax.set_ylim(lo, hi)
    ax.set_title(f"{key}: contour map of B and the segment")
    ax.legend(loc="upper left", framealpha=0.85)

    ax = axes[1, 1]
    ax.plot(t, Bseg, lw=2.2, label="B along the segment")
    ax.plot(t, chord, "--", lw=2, color="k", label="chord (1−t)B(p) + tB(q)")
    ax.fill_between(t, chord, Bseg, where=Bseg > chord, color="tab:red", alpha=0.3, label="B above its chord")
    ax.set_xlabel("t  (point p + t(q − p))")
    ax.set_ylabel("B")
    ax.set_title(f"not jointly convex: B rises {viol:.3g} above its chord")
    ax.legend()
    fig.suptitle(f"Biconvexity of the Fenchel divergence ({key}): convex in u, convex in v, not jointly convex",
                 fontsize=13)
    fig.tight_layout()
    files = [save(fig, out, "02_biconvexity.png")]

    # ---- 3. the worst segment of every activation -------------------------------------
    ncol = 3
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.4 * nrow), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        p, q, t, Bseg, chord, viol = report[name]["segment"]
        ax.plot(t, Bseg, lw=2, label="B along [p, q]")
        ax.plot(t, chord, "--", color="k", label="chord")
        ax.fill_between(t, chord, Bseg, where=Bseg > chord, color="tab:red", alpha=0.3)
        verdict = f"max excess {viol:.2g}" if viol > tol else "no violation: jointly convex"
        ax.set_title(f"{name}: {verdict}")
        ax.set_xlabel("t along the segment")
        ax.set_ylabel("B")
        ax.legend(fontsize=8)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle("Worst segment found per activation (random search): B above its chord ⇒ not jointly convex",
                 fontsize=12)
    fig.tight_layout()
    files.append(save(fig, out, "02_segments.png"))

    p, q = report[key]["segment"][:2]
    print(f"\n{key}: along p = ({p[0]:.3f}, {p[1]:.3f}) -> q = ({q[0]:.3f}, {q[1]:.3f}) the divergence rises "
          f"{report[key]['segment'][-1]:.3g} above its chord, so B is not jointly convex;")
    print("every u-slice and v-slice is convex (second differences >= 0 up to rounding): "
          "each BCD block is a convex problem.")
    return {"config": cfg, "report": report, "files": files}


if __name__ == "__main__":
    main()
