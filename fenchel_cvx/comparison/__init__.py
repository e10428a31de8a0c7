"""Fair comparisons of lifted training and backprop: equal tuning budgets, equal epochs, equal time.

:mod:`~fenchel_cvx.comparison.grids` holds the search spaces (:class:`Axis`, :class:`MethodSpec`, the default
grids), :mod:`~fenchel_cvx.comparison.protocol` the protocol (tuning on a validation split, interleaved final
runs, :class:`Comparison`); both are re-exported here.
"""

from .grids import BACKPROP, LIFTED, Axis, MethodSpec, default_specs, network_factory, shipped_specs, smoke_specs
from .protocol import (
    Comparison,
    TuneResult,
    compare,
    final_runs,
    grid_value,
    make_runner,
    point_key,
    pooled_choice,
    tune,
)

__all__ = ["Axis", "MethodSpec", "TuneResult", "Comparison", "tune", "compare", "default_specs", "shipped_specs",
           "smoke_specs", "network_factory", "final_runs", "make_runner", "pooled_choice", "point_key", "grid_value",
           "LIFTED", "BACKPROP"]
