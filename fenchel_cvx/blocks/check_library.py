"""Cross-check every fast block solver against its CVXPY twin on random instances.

For every (block kind, activation, loss, backend) combination -- restricted to the
factors a block depends on (``Block.depends_on``) -- a random instance from
:func:`fenchel_cvx.blocks.instances.random_state` (kinks and domain edges included) is
solved by the CVXPY reference (float64) and by the fast path, and the two are judged
by the block's single objective function. A row *agrees* when

    fast objective ≤ reference objective + tol·(1 + |ref|)     (the fast path is optimal)
    lower bound   ≤ reference objective + tol·(1 + |ref|)     (the certificate is valid)
    fast status == "optimal"

with ``tol`` = 1e-7 in float64 and 1e-4 in float32. Backends that cannot run here (torch not installed,
CUDA unavailable) are skipped -- :func:`split_backends` says which and why, and ``fenchel-cvx check-blocks``
prints them and fails when nothing is left to check.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import activations as _acts
from .. import losses as _losses
from ..backend import have_torch
from .base import SolverError
from .instances import random_state

TOL = {"float64": 1e-7, "float32": 1e-4}


@dataclass
class CheckRow:
    block: str
    activation: str
    loss: str
    backend: str
    ref_objective: float
    fast_objective: float
    rel_gap: float          # (fast − ref) / (1 + |ref|)
    certified_gap: float    # fast objective − certified lower bound
    ref_time: float
    fast_time: float
    ok: bool
    message: str = ""

    @property
    def speedup(self) -> float:
        return self.ref_time / self.fast_time if self.fast_time > 0 else float("inf")

    def as_dict(self):
        d = asdict(self)
        d["speedup"] = self.speedup
        return d


def split_backends(backends, device="cpu"):
    """``(available, skipped)``: the BACKEND-DTYPE entries that can run here, and {entry: reason} for the others."""
    available, skipped = [], {}
    for be in backends:
        if be.split("-")[0] == "torch":
            if not have_torch():
                skipped[be] = "torch is not installed"
                continue
            if str(device).startswith("cuda"):
                import torch

                if not torch.cuda.is_available():
                    skipped[be] = f"device {device!r}: CUDA is not available"
                    continue
        available.append(be)
    return available, skipped


def depends_on(cls) -> tuple:
    return tuple(cls.depends_on)


def combinations(kinds, activations, losses, registry=None):
    """(kind, activation, loss) triples, each factor only where the block depends on it."""
    from .kinds import BLOCKS

    registry = BLOCKS if registry is None else registry
    out = []
    for kind in kinds:
        dep = depends_on(registry[kind])
        acts = activations if "activation" in dep else [activations[0]]
        lss = losses if "loss" in dep else [losses[0]]
        for a in acts:
            for l_ in lss:
                out.append((kind, a if "activation" in dep else "(any)", l_ if "loss" in dep else "(any)", a, l_))
    return out


def check_one(kind, activation, loss, backends=("numpy-float64",), sizes=(6, 5, 4, 3), m=12, seed=0,
              solver="CLARABEL", device="cpu", labels=None, registry=None, instance=None, solve=None):
    """Solve one block by the reference and by the fast path on each backend; return CheckRows.

    ``registry``: kind -> block class (default BLOCKS); ``instance(activation, loss, m=, seed=, backend=,
    dtype=, device=)`` makes the random state (default: ``random_state`` with ``sizes``); ``solve(block)``
    replaces the fast path (a :class:`BlockResult`; :mod:`fenchel_cvx.blocks.check_external`)."""
    from .kinds import BLOCKS

    cls = (BLOCKS if registry is None else registry)[kind]
    if instance is None:
        def instance(a, l_, **kw):
            return random_state(a, l_, sizes=sizes, **kw)
    shown_act, shown_loss = labels or (activation, loss)
    net, X0, y, Xs = instance(activation, loss, m=m, seed=seed)
    layer = cls.layers(net)[0]
    try:
        ref = cls.from_network(net, X0, y, Xs, layer).solve_reference(solver=solver)
    except SolverError as e:  # the reference itself failed: reported as a disagreement, never hidden
        nan = float("nan")
        return [CheckRow(kind, shown_act, shown_loss, be, nan, nan, nan, nan, nan, nan, False, f"reference: {e}")
                for be in backends]
    rows = []
    for be in backends:
        backend, dtype = be.split("-")
        if backend == "torch" and not have_torch():
            continue
        tnet, tX0, ty, tXs = instance(activation, loss, m=m, seed=seed, backend=backend, dtype=dtype,
                                      device=device)
        block = cls.from_network(tnet, tX0, ty, tXs, layer)
        t0 = time.perf_counter()
        try:
            res = block.solve_fast() if solve is None else solve(block)
            err = ""
        except Exception as e:  # a crash is a disagreement, reported in the table
            res, err = None, f"{type(e).__name__}: {e}"
        t_fast = time.perf_counter() - t0
        tol = TOL[dtype] * (1.0 + abs(ref.objective))
        if res is None:
            rows.append(CheckRow(kind, shown_act, shown_loss, be, ref.objective, float("nan"), float("nan"),
                                 float("nan"), ref.time, t_fast, False, err))
            continue
        fast_obj = float(res.objective)
        msgs = []
        if fast_obj > ref.objective + tol:
            msgs.append("fast objective above reference")
        lb = res.lower_bound
        if lb is None and solve is None:  # the library's fast path must certify; an external solver may not claim
            msgs.append(f"no certified bound ({res.info.get('lower_bound_reason')})")
        elif lb is not None and lb > ref.objective + tol:
            msgs.append("certified bound above reference optimum")
        if res.status != "optimal":
            msgs.append(f"fast status {res.status}")
        rows.append(CheckRow(kind, shown_act, shown_loss, be, ref.objective, fast_obj,
                             (fast_obj - ref.objective) / (1.0 + abs(ref.objective)),
                             float("nan") if lb is None else fast_obj - float(lb), ref.time, t_fast, not msgs,
                             "; ".join(msgs)))
    return rows


def run_checks(kinds=None, activations=None, losses=None, backends=("numpy-float64", "torch-float64", "torch-float32"),
               sizes=(6, 5, 4, 3), m=12, seed=0, solver="CLARABEL", device="cpu", progress=True,
               registry=None, instance=None, solvers=None):
    """Run :func:`check_one` over all combinations; returns the list of rows. ``solvers``: kind -> ``solve(block)``
    replacing the fast path of that kind (:func:`fenchel_cvx.blocks.check_external.cross_check`)."""
    from .kinds import BLOCKS

    BLOCKS = BLOCKS if registry is None else registry
    kinds = list(BLOCKS) if kinds is None else list(kinds)
    activations = _acts.names() if activations is None else list(activations)
    losses = _losses.names() if losses is None else list(losses)
    for k in kinds:
        if k not in BLOCKS:
            raise ValueError(f"unknown block kind {k!r}; known: {', '.join(BLOCKS)}")
    for a in activations:
        _acts.get(a)
    for l_ in losses:
        _losses.get(l_)
    combos = combinations(kinds, activations, losses, BLOCKS)
    it = combos
    if progress:
        from tqdm import tqdm

        it = tqdm(combos, desc="check-blocks", unit="block", leave=False)
    rows = []
    for i, (kind, sa, sl, a, l_) in enumerate(it):
        rows.extend(check_one(kind, a, l_, backends, sizes, m, seed + i, solver, device, labels=(sa, sl),
                              registry=BLOCKS, instance=instance, solve=(solvers or {}).get(kind)))
    return rows


def format_table(rows) -> str:
    head = ["block", "activation", "loss", "backend", "ref objective", "fast objective", "rel gap",
            "cert. gap", "ref s", "fast s", "speed-up", "ok"]
    body = [[r.block, r.activation, r.loss, r.backend, f"{r.ref_objective:.10g}", f"{r.fast_objective:.10g}",
             f"{r.rel_gap:+.1e}", f"{r.certified_gap:.1e}", f"{r.ref_time:.3f}", f"{r.fast_time:.4f}",
             f"{r.speedup:.0f}x", "yes" if r.ok else "NO: " + r.message] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def summary(rows, skipped=None) -> dict:
    """Counts of ``rows``; ``skipped`` ({backend: reason}, :func:`split_backends`) is reported with them."""
    bad = [r for r in rows if not r.ok]
    gaps = [abs(r.rel_gap) for r in rows if np.isfinite(r.rel_gap)]
    return {"rows": len(rows), "disagreements": len(bad), "max_abs_rel_gap": max(gaps) if gaps else float("nan"),
            "skipped_backends": dict(skipped or {})}
