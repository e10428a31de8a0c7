r"""The λ side of a sweep of relaxations: min F_λ never decreases in λ, so each bound of a sweep carries over.

F_λ = (1/m)[ℓ + Σ_l λ Σ B_l] + Σ_l ρ_l/2‖W_l‖² with every divergence B_l ≥ 0 is pointwise non-decreasing in λ,
hence so is min F_λ: a lower bound at λ' is one at every λ ≥ λ', an upper bound at λ' one at every λ ≤ λ'.
:func:`sweep_envelope` turns the per-solve bounds of a sweep into that monotone bracket (shapes: one entry
per λ of the sweep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SweepEnvelope", "sweep_envelope"]


@dataclass
class SweepEnvelope:
    """The certified bracket on min F_λ at each λ of a sweep, using that λ ↦ min F_λ never decreases.

    F_λ = (1/m)[ℓ + Σ_l λ Σ B_l] + Σ_l ρ_l/2‖W_l‖² with every B_l ≥ 0 is pointwise non-decreasing in λ, so
    min F_λ is too: a lower bound at λ' holds at every λ ≥ λ', an upper bound at λ' at every λ ≤ λ'; and
    min F_λ ≤ min J ≤ ``J_upper``. For the λ sorted increasingly (arrays of shape (p,), one entry per λ):

        lower[i] = max_{k ≤ i} sweep lower_k        (``lower_from[i]``: the λ_k that gives it)
        upper[i] = min(min_{k ≥ i} sweep upper_k, J_upper)

    ``raw_lower``/``raw_upper`` are the bounds of each solve alone. ``lower[i] ≤ upper[i]`` up to the
    tolerance the SCIP bounds rest on (a bracket that inverts is reported by
    :meth:`~fenchel_cvx.certify.report.CertifyReport.consistent`).
    """

    lam: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    lower_from: np.ndarray
    raw_lower: np.ndarray
    raw_upper: np.ndarray


def sweep_envelope(sweep, J_upper: float = math.inf) -> SweepEnvelope:
    """The monotone envelope of a λ sweep (:class:`SweepEnvelope`; formula there). ``sweep``: a list of
    :class:`~fenchel_cvx.certify.report.SweepPoint` (any order, λ > 0); ``J_upper``: an upper bound on min J
    (default: none)."""
    pts = sorted(sweep, key=lambda s: s.lam)
    if any(not (math.isfinite(s.lam) and s.lam > 0) for s in pts):
        raise ValueError(f"sweep: expected multipliers λ > 0, got {[s.lam for s in pts]}")
    lam = np.array([s.lam for s in pts], dtype=float)
    raw_lo = np.array([s.lower for s in pts], dtype=float)
    raw_up = np.array([s.upper for s in pts], dtype=float)
    lower = np.maximum.accumulate(raw_lo) if len(pts) else raw_lo
    idx = np.array([int(np.argmax(raw_lo[:i + 1])) for i in range(len(pts))], dtype=int)
    upper = np.minimum(np.minimum.accumulate(raw_up[::-1])[::-1], float(J_upper)) if len(pts) else raw_up
    return SweepEnvelope(lam=lam, lower=lower, upper=upper, lower_from=lam[idx] if len(pts) else lam,
                         raw_lower=raw_lo, raw_upper=raw_up)
