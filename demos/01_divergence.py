r"""Demo 1 -- the Fenchel divergence of every registered activation.

For an activation φ = f' with Fenchel conjugate f*, the Fenchel divergence

    B_φ(u, v) = f(u) + f*(v) − u·v  ≥ 0,      B_φ(u, v) = 0  ⇔  v = φ(u)

(Fenchel--Young). This demo draws B as a contour map over (u, v) for every activation in
``fenchel_cvx.activations.names()`` and overlays the graph v = φ(u): the graph is
exactly the zero set. Outside dom f* (e.g. v < 0 for relu) B = +∞ (hatched).

It prints, per activation: the smallest B on the grid (≥ 0), the largest |B(u, φ(u))|
on the graph (0 up to rounding), and how far from the graph the near-zero set
{B ≤ ε} reaches.

    python demos/01_divergence.py [--quick] [--out DIR]
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
    """B(u, v) contour maps for every registered activation, with the graph of φ overlaid."""

    u_max: float = 3.0          # u ranges over [-u_max, u_max]
    grid: int = 401             # grid points per axis
    leaky_a: float = 0.2        # slope of leaky_relu for the picture (the registry default 0.01 is hard to see)
    eps: float = 1e-3           # "near-zero" level for the printed check

    def __post_init__(self):
        if not self.u_max > 0:
            raise ValueError(f"u_max: expected > 0, got {self.u_max}")
        if self.grid < 5:
            raise ValueError(f"grid: expected at least 5 points per axis, got {self.grid}")
        if not self.eps > 0:
            raise ValueError(f"eps: expected > 0, got {self.eps}")


QUICK = {"grid": 61}


def activation_list(cfg: Config):
    """Every registered activation, leaky_relu with slope ``cfg.leaky_a``."""
    out = []
    for name in acts.names():
        out.append(acts.get(name, a=cfg.leaky_a) if name == "leaky_relu" else acts.get(name))
    return out


def v_window(act, u_max: float):
    """A v-range showing dom f* and a margin outside it (where B = +∞)."""
    lo, hi = act.domain
    phi_lo, phi_hi = float(act.phi(np.array(-u_max))), float(act.phi(np.array(u_max)))
    a = lo if math.isfinite(lo) else phi_lo
    b = hi if math.isfinite(hi) else phi_hi
    pad = 0.25 * (b - a)
    return a - pad, b + pad


def divergence_grid(act, u_max: float, n: int):
    """(U, V, B) on an n x n grid; B = +inf outside dom f*."""
    u = np.linspace(-u_max, u_max, n)
    v = np.linspace(*v_window(act, u_max), n)
    U, V = np.meshgrid(u, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        B = act.divergence(U, V)
    return U, V, B


def main(argv=None) -> dict:
    cfg, out = parse_config(Config, QUICK, argv, __doc__.splitlines()[0])
    plt = setup_matplotlib()
    from matplotlib.colors import BoundaryNorm

    alist = activation_list(cfg)
    ncol = 3
    nrow = math.ceil(len(alist) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.9 * nrow), squeeze=False)
    levels = np.array([0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    cmap = plt.get_cmap("viridis")
    norm = BoundaryNorm(levels, cmap.N, extend="max")
    report = {}
    print(f"{'activation':<22} {'min B on grid':>14} {'max |B(u,phi(u))|':>18} {'max dist {B<=eps} to graph':>27}")
    for ax, act in zip(axes.flat, alist, strict=False):
        U, V, B = divergence_grid(act, cfg.u_max, cfg.grid)
        finite = np.isfinite(B)
        u_line = U[0]
        on_graph = act.divergence(u_line, act.phi(u_line))
        # how far (in v) a near-zero point lies from the graph: the zero set is the graph
        near = finite & (B <= cfg.eps)
        dist = np.abs(V - act.phi(U))[near]
        row = {"min_B": float(B[finite].min()), "max_B_on_graph": float(np.max(np.abs(on_graph))),
               "max_dist_near_zero": float(dist.max()) if dist.size else float("nan")}
        report[act.name] = row
        label = act.name + (f" (a={act.a:g})" if act.name == "leaky_relu" else "")
        print(f"{label:<22} {row['min_B']:>14.2e} {row['max_B_on_graph']:>18.2e} {row['max_dist_near_zero']:>27.3f}")

        Bm = np.ma.masked_invalid(np.where(finite, B, np.nan))
        cs = ax.contourf(U, V, Bm, levels=levels, cmap=cmap, norm=norm, extend="max")
        ax.contour(U, V, Bm, levels=levels[1:], colors="k", linewidths=0.3, alpha=0.5)
        if not finite.all():  # outside dom f*: B = +inf
            ax.contourf(U, V, (~finite).astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
            ax.contour(U, V, (~finite).astype(float), levels=[0.5], colors="0.3", linewidths=0.8)
        ax.plot(u_line, act.phi(u_line), color="red", lw=2.2, label=r"$v=\varphi(u)$ (zero set)")
        ax.set_title(label)
        ax.set_xlabel("pre-activation u")
        ax.set_ylabel("activation v")
        ax.set_xlim(-cfg.u_max, cfg.u_max)
        ax.set_ylim(V[0, 0], V[-1, 0])
        ax.legend(loc="upper left", framealpha=0.85)
    for ax in axes.flat[len(alist):]:
        ax.set_visible(False)
    fig.suptitle(r"Fenchel divergence $B_\varphi(u,v)=f(u)+f^*(v)-uv$ (hatched: $v\notin\mathrm{dom}\,f^*$, "
                 r"$B=+\infty$)",
                 fontsize=13)
    fig.tight_layout(rect=(0, 0, 0.92, 0.96))
    cax = fig.add_axes((0.93, 0.12, 0.015, 0.76))
    cb = fig.colorbar(cs, cax=cax, format="%g")
    cb.set_label("B(u, v)  (dimensionless)")
    path = save(fig, out, "01_divergence.png")
    print("\nReading the picture: B >= 0 everywhere and vanishes exactly on the red graph of phi;")
    print("the lifted network relaxes X_{l+1} = phi(U_l) to the penalty lambda * B(U_l, X_{l+1}).")
    return {"config": cfg, "report": report, "files": [path]}


if __name__ == "__main__":
    main()
