r"""The search spaces of the fair comparisons: grid axes, method specifications, the default grids.

An :class:`Axis` is one hyperparameter's grid, a :class:`MethodSpec` a method (kind "lifted", "adam" or "sgd")
with its axes and fixed options; :func:`default_specs` gives every method of the protocol (:mod:`fenchel_cvx.
comparison.protocol`) the same budget of base grid points, :func:`smoke_specs` two points each (smoke tests),
:func:`shipped_specs` the defaults a user gets (run untuned), :func:`network_factory` the networks compared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Axis", "MethodSpec", "default_specs", "smoke_specs", "shipped_specs", "network_factory", "LIFTED",
           "BACKPROP"]

LIFTED = "lifted"
BACKPROP = ("adam", "sgd")


@dataclass
class Axis:
    """One hyperparameter's grid: ``values`` in increasing order; ``log=True`` marks a log-spaced numeric axis
    that :func:`~fenchel_cvx.comparison.tune` extends beyond an edge holding the best value (by the ratio of the
    two values next to that edge). A leading 0 on a log axis is the domain's boundary, not an edge (weight decay 0
    is not extended below; the extension step above is the ratio of the last two values). ``integer=True``: the
    values are integers (e.g. ``w0_subspace``), an extension is rounded and at least one unit beyond the edge,
    never below 1; ``upper``: the largest admissible value (an edge at ``upper`` is the domain's boundary, an
    extension stops there)."""

    name: str
    values: list
    log: bool = False
    integer: bool = False
    upper: float | None = None

    def __post_init__(self):
        if not self.values:
            raise ValueError(f"Axis {self.name!r}: values: expected at least one value")
        self.values = list(self.values)
        if self.log:
            v = np.asarray(self.values, dtype=float)
            if np.any(v < 0) or np.any(np.diff(v) <= 0):
                raise ValueError(f"Axis {self.name!r}: a log axis needs increasing values >= 0, got {self.values}")
        if self.upper is not None and max(self.values) > self.upper:
            raise ValueError(f"Axis {self.name!r}: values above upper = {self.upper}: {self.values}")

    def edge(self, value) -> str | None:
        """"low"/"high" when ``value`` sits on an extendable edge of this axis, else None."""
        if not self.log or len(self.values) < 2:
            return None
        if value == self.values[-1] and (self.upper is None or value < self.upper):
            return "high"
        if value == self.values[0] and self.values[0] > (1 if self.integer else 0):
            return "low"
        return None

    def extend(self, side: str):
        """Add one value beyond ``side`` (geometric step of the two values next to that edge); returns it."""
        v = self.values
        if side == "high":
            lo = v[-2] if v[-2] > 0 else v[-1] / 10.0
            new = v[-1] * (v[-1] / lo)
            if self.integer:
                new = max(int(round(new)), int(v[-1]) + 1)
            if self.upper is not None:
                new = min(new, int(self.upper) if self.integer else self.upper)
            self.values = v + [new]
        else:
            new = v[0] / (v[1] / v[0])
            if self.integer:
                new = max(1, min(int(round(new)), int(v[0]) - 1))
            self.values = [new] + v
        return new


@dataclass
class MethodSpec:
    """A method and its search space: ``kind`` "lifted", "adam" or "sgd"; ``axes`` the grid; ``fixed`` options
    that are not tuned (lifted: BCDConfig fields, e.g. the base schedule; backprop: ``momentum``...)."""

    name: str
    kind: str
    axes: list
    fixed: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind != LIFTED and self.kind not in BACKPROP:
            raise ValueError(f"MethodSpec {self.name!r}: kind: expected 'lifted', 'adam' or 'sgd', got {self.kind!r}")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"MethodSpec {self.name!r}: axes: duplicate names {names}")

    @property
    def budget(self) -> int:
        """The number of base grid points."""
        return int(np.prod([len(a.values) for a in self.axes])) if self.axes else 1

    def points(self, axes=None):
        axes = self.axes if axes is None else axes
        for combo in itertools.product(*[a.values for a in axes]):
            yield dict(zip([a.name for a in axes], combo, strict=True))


def default_specs(n_hidden: int = 1, lifted_axes=None, conv: bool = False, n_features: int | None = None) -> dict:
    """The search spaces of the comparison, 18 grid points each (``n_features``: the input dimension d, the
    largest ``w0_subspace``; None: no limit):

    * ``adam``: lr over 1e-4 … 3e-2 (log, 6 values) × weight decay ρ ∈ {0, 1e-4, 1e-3};
    * ``sgd`` (momentum 0.9): lr over 1e-3 … 3e-1 × the same weight decays;
    * ``lifted`` (pure lifted BCD around :func:`fenchel_cvx.training.tuned`; ``conv``: :func:`~fenchel_cvx.training.
      tuned_conv`): λ_0 ∈ {0.1, 0.3, 1} × γ of the hidden W-steps ∈ {0.01, 0.03, 0.1} × ρ ∈ {0, 1e-4}
      (``lifted_axes`` replaces this grid);
    * ``mm-then-adaptive`` (the separately named method :func:`fenchel_cvx.training.mm_then_adaptive`): the step of
      its adaptive W-steps over 3e-4 … 1e-1 (log, 6 values) × ρ ∈ {0, 1e-4, 1e-3};
    * ``lifted-subspace`` (dense only, not a default of benchmarks/compare.py; :func:`fenchel_cvx.training.
      first_layer_subspace`): ``w0_subspace`` ∈ {15, 25, 40} (an integer log axis, extended like the others up to
      d) × λ_0 ∈ {0.1, 0.3, 1} × hidden γ ∈ {0.01, 0.1};
    * ``adam-subspace`` (dense only, not a default of benchmarks/compare.py): its control, Adam with the same
      first-layer restriction (W₀ = W₀_init + D E_kᵀ, :mod:`fenchel_cvx.training.backprop`): ``w0_subspace`` ∈
      {15, 25, 40} (as above) × lr ∈ {1e-3, 3e-3, 1e-2} (log) × ρ ∈ {0, 1e-3} (25 fixed, as the lifted preset, when
      not tuned).
    """
    from ..training import first_layer_subspace, mm_then_adaptive, tuned, tuned_conv

    wd = [0.0, 1e-4, 1e-3]
    lifted_axes = lifted_axes if lifted_axes is not None else [
        Axis("lam", [0.1, 0.3, 1.0], log=True), Axis("gamma_hidden", [0.01, 0.03, 0.1], log=True),
        Axis("rho", [0.0, 1e-4], log=True)]
    base = tuned_conv(n_hidden) if conv else tuned(n_hidden)
    ks = [k for k in (15, 25, 40) if n_features is None or k <= n_features] or [int(n_features)]

    def k_axis():
        return Axis("w0_subspace", ks, log=True, integer=True, upper=n_features)

    sub = {} if conv else {"lifted-subspace": MethodSpec("lifted-subspace", LIFTED, [
        k_axis(), Axis("lam", [0.1, 0.3, 1.0], log=True),
        Axis("gamma_hidden", [0.01, 0.1], log=True)], fixed=first_layer_subspace(n_hidden)),
        "adam-subspace": MethodSpec("adam-subspace", "adam", [k_axis(), Axis(
            "lr", [1e-3, 3e-3, 1e-2], log=True), Axis("rho", [0.0, 1e-3], log=True)], fixed={"w0_subspace": 25})}
    return {
        "lifted": MethodSpec("lifted", LIFTED, lifted_axes, fixed=dict(base)),
        "mm-then-adaptive": MethodSpec("mm-then-adaptive", LIFTED,
                                       [Axis("w_lr", [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], log=True),
                                        Axis("rho", wd, log=True)],
                                       fixed=mm_then_adaptive(n_hidden, conv=conv)),
        "adam": MethodSpec("adam", "adam", [Axis("lr", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], log=True),
                                            Axis("rho", wd, log=True)]),
        "sgd": MethodSpec("sgd", "sgd", [Axis("lr", [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1], log=True),
                                         Axis("rho", wd, log=True)], fixed={"momentum": 0.9}),
        **sub,
    }


def smoke_specs(n_hidden: int = 1, methods: Sequence[str] = ("lifted", "mm-then-adaptive", "adam", "sgd"),
                conv: bool = False) -> dict:
    """Two grid points per method (λ_0, the adaptive step, the learning rates), the other options as in
    :func:`default_specs`: for smoke tests of the protocol (``benchmarks/compare.py --quick``, the paper figures'
    quick mode), not for numbers."""
    specs = default_specs(n_hidden, conv=conv)
    axes = {"lifted": Axis("lam", [0.3, 1.0], log=True), "mm-then-adaptive": Axis("w_lr", [3e-3, 1e-2], log=True),
            "adam": Axis("lr", [1e-3, 1e-2], log=True), "sgd": Axis("lr", [3e-2, 1e-1], log=True),
            "lifted-subspace": Axis("lam", [0.3, 1.0], log=True), "adam-subspace": Axis("lr", [3e-3, 1e-2], log=True)}
    if unknown := sorted(set(methods) - set(specs)):
        raise ValueError(f"methods: unknown {unknown}; known: {sorted(specs)}")
    return {m: MethodSpec(m, specs[m].kind, [axes[m]], fixed=specs[m].fixed) for m in methods}


def network_factory(arch: str, n_features: int, n_classes: int) -> Callable:
    """``make_net(seed)`` for :func:`compare`: a width string ``"784-300-10"`` (a dense
    :class:`~fenchel_cvx.FenchelNetwork`, checked against the data's ``n_features`` and ``n_classes``) or a conv
    preset / layer string (``"lenet5"``; a float32 :class:`~fenchel_cvx.conv.ConvFenchelNetwork`)."""
    from .. import ConvFenchelNetwork, FenchelNetwork

    if any(c.isalpha() for c in arch):
        return lambda seed: ConvFenchelNetwork(arch, seed=seed, dtype="float32")
    sizes = [int(s) for s in arch.split("-")]
    if sizes[0] != n_features or sizes[-1] != n_classes:
        raise ValueError(f"arch: {arch} does not fit {n_features} features and {n_classes} classes")
    return lambda seed: FenchelNetwork(sizes, seed=seed)


def shipped_specs(n_hidden: int = 1, conv: bool = False) -> dict:
    """The defaults a user gets, run untuned next to the tuned methods (:func:`compare`'s ``untuned``):
    ``lifted (default)`` = the ``tuned`` preset (the default of :func:`fenchel_cvx.train` and ``fenchel-cvx train``),
    ``mm-then-adaptive (default)`` = that preset as shipped, ``adam (default)`` = the CLI's Adam (lr 1e-3, ρ 0)."""
    from ..training import preset

    return {
        "lifted (default)": MethodSpec("lifted (default)", LIFTED, [], fixed=preset("tuned", n_hidden, conv=conv)),
        "mm-then-adaptive (default)": MethodSpec("mm-then-adaptive (default)", LIFTED, [],
                                                 fixed=preset("mm-then-adaptive", n_hidden, conv=conv)),
        "adam (default)": MethodSpec("adam (default)", "adam", [], fixed={"lr": 1e-3}),
    }
