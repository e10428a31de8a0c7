r"""The configuration of lifted BCD training: :class:`BCDConfig` (the schedule) and :func:`resolve_config`.

Who holds what (one source of truth each):

* the **network** holds the model: its weights, the weight decay ρ_l (part of J and F_λ) and the
  multipliers λ_l of the relaxation F_λ it currently represents;
* the **config** holds the schedule: λ_0 (``lam``; None = start from the network's λ), its continuation and
  the proximal weights γ (:func:`lifted_schedule`, the one statement of the λ/γ schedule), inertia, inner
  iterations, solvers, batch size, epochs, backend, seeds. Training sets the network's λ to the λ of the
  last epoch it ran (the relaxation the trained weights belong to); it never writes ρ.

Shapes: features x samples (see :mod:`fenchel_cvx.training`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from ..backend import BACKENDS, DTYPES
from ..validation import check_choice, check_int, check_number, per_layer

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..network import FenchelNetwork

__all__ = ["BCDConfig", "resolve_config", "lifted_schedule", "BACKENDS", "DTYPES", "SCHEDULES", "W_SOLVERS",
           "X_SOLVERS", "PHASE_FIXED"]

SCHEDULES = ("minibatch", "fullbatch")
W_SOLVERS = ("mm", "block", "adaptive")
#: fields a phase may not change (they define the run, its data split, its records or its placement)
PHASE_FIXED = ("schedule", "epochs", "batch_size", "backend", "device", "dtype", "seed", "shuffle", "val_fraction",
               "patience", "restore_best", "eval_samples", "eval_f_samples", "phases",
               "w0_subspace")
X_SOLVERS = ("apg", "block")


@dataclass
class BCDConfig:
    """Hyperparameters of lifted BCD training: the schedule (module docstring; :mod:`fenchel_cvx.training`).

    lam           : λ_0 of the schedule: None (start from the network's λ), a scalar, or one value per
                    hidden layer (L values)
    gamma         : proximal weights γ_l ≥ 0 of the W-steps, a scalar or L+1 values
    x_weight      : weight ≥ 1 of the next-layer term in the mini-batch X-steps (1 = plain block)
    lam_growth, lam_max, gamma_growth : per-epoch continuation factors of λ (capped) and γ (:func:`lifted_schedule`)
    momentum      : inertia β ∈ [0, 1) of the W's across batches (mini-batch)
    refresh       : re-forward X_{l+1} after the W_l step (mini-batch)
    refresh_inertia : re-forward with the weights after the inertia step (True) or with the W-step's
                    solution before it (False, the default)
    x_iters       : iterations per X-block (mini-batch); full batch: 50 x x_iters at most
    x_solver      : mini-batch X-steps by "apg" (the blocks' fixed-budget APG, ``solve_fixed``, no
                    certificate) or "block" (the blocks' certified FISTA, ``solve_fast``)
    w_solver      : "mm" (the blocks' majorise–minimise ridge steps, ``solve_fixed``), "block" (Newton-CG,
                    ``solve_fast``) or "adaptive" (one Adam-metric step on the lifted block gradient,
                    ``solve_adaptive``; :mod:`fenchel_cvx.blocks.adaptive`; mini-batch only)
    w_curvature   : η ≥ 0 scaling the MM majoriser's curvature κ (scalar or L+1 values; 1 = MM, 0 = the
                    linearised proximal step; :func:`fenchel_cvx.blocks.mm.mm_steps`)
    w_lr          : step size η of the adaptive W-steps (scalar or L+1 values)
    w_lr_warmup   : epochs of linear step-size warm-up of the adaptive W-steps (0 = none)
    w_iters, last_w_iters : inner iterations of hidden / output W-steps
    w0_subspace   : k ≥ 0; k ≥ 1 restricts the first layer's change in every W-step to the top-k principal
                    directions of the training inputs (and the bias): the exact MM step on Θ_k + Δ P̃ᵀ,
                    P̃ = blockdiag(E_k, 1) (:mod:`fenchel_cvx.training.subspace`); 0 = off (w_solver "mm", dense
                    networks, local executor)
    tol           : relative tolerance of block solves (None: the blocks' default)
    shuffle       : True (a fresh sample permutation every epoch), False (the data order) or
                    "batches" (a fixed partition into batches whose order is permuted every
                    epoch: the local executor then caches each batch's inputs and the
                    eigendecomposition of the first W-block's Gram matrix;
                    :func:`~fenchel_cvx.training.batches.batch_order`)
    val_fraction  : fraction of the training set held out for early stopping (0 = none)
    patience      : epochs without validation improvement before stopping (None = never)
    restore_best  : with early stopping, return the weights of the best validation epoch
    eval_samples  : training samples (seeded subset) used for the per-epoch J and train accuracy
    eval_f_samples : of those, the samples (seeded subset) on which the per-epoch F_λ is evaluated (it needs
                    X-steps; None = all of ``eval_samples``)
    phases        : None, or a list of dicts ``{"epoch": k, field: value, ...}`` (k ≥ 1, increasing): from
                    the (k+1)-th epoch on the fields take these values (later phases override earlier ones).
                    A phase starts with fresh optimiser state (inertia buffers, adaptive moments). Continuations
                    keep counting epochs from the start of the run (:func:`lifted_schedule`). Fields in
                    ``PHASE_FIXED`` cannot change.

    Weight decay is not here: it is the network's ρ (``FenchelNetwork(..., rho=...)``).
    """

    schedule: str = "minibatch"
    epochs: int = 10
    batch_size: int = 500
    lam: object = None
    gamma: object = 0.1
    x_weight: float = 1.0
    lam_growth: float = 1.0
    lam_max: float = math.inf
    gamma_growth: float = 1.0
    momentum: float = 0.0
    refresh: bool = True
    refresh_inertia: bool = False
    x_iters: int = 20
    x_solver: str = "apg"
    w_solver: str = "mm"
    w_curvature: object = 1.0
    w_lr: object = 1e-2
    w_lr_warmup: float = 0.0
    w_iters: int = 1
    last_w_iters: int = 10
    tol: float | None = None
    backend: str = "numpy"
    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    shuffle: bool | str = True
    val_fraction: float = 0.0
    patience: int | None = None
    restore_best: bool = True
    eval_samples: int | None = 10000
    eval_f_samples: int | None = 1000
    phases: list | None = None
    w0_subspace: int = 0

    def validate(self, net: FenchelNetwork | None = None) -> BCDConfig:
        """Check every field (raises ValueError/TypeError naming it); returns self."""
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_int(self.epochs, "epochs", 0)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", 1)
        for name in ("x_iters", "w_iters", "last_w_iters"):
            check_int(getattr(self, name), name, 1)
        check_choice(self.x_solver, "x_solver", X_SOLVERS)
        check_choice(self.w_solver, "w_solver", W_SOLVERS)
        check_choice(self.backend, "backend", BACKENDS)
        check_choice(self.dtype, "dtype", DTYPES)
        if self.backend == "numpy" and str(self.device) != "cpu":
            raise ValueError(f"device: the numpy backend runs on the CPU only, got device={self.device!r}")
        check_number(self.x_weight, "x_weight", lo=1.0)
        check_number(self.lam_growth, "lam_growth", lo=1.0)
        check_number(self.gamma_growth, "gamma_growth", lo=0.0, strict=True)
        if isinstance(self.lam_max, bool) or not (isinstance(self.lam_max, (int, float)) and self.lam_max > 0):
            raise ValueError(f"lam_max: expected a positive number (inf allowed), got {self.lam_max!r}")
        check_number(self.momentum, "momentum", lo=0.0)
        if self.momentum >= 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum}")
        if self.tol is not None:
            check_number(self.tol, "tol", lo=0.0, strict=True)
        check_number(self.val_fraction, "val_fraction", lo=0.0)
        if self.val_fraction >= 1.0:
            raise ValueError(f"val_fraction: expected a number in [0, 1), got {self.val_fraction}")
        if self.patience is not None:
            check_int(self.patience, "patience", 1)
        if self.eval_samples is not None:
            check_int(self.eval_samples, "eval_samples", 1)
        if self.eval_f_samples is not None:
            check_int(self.eval_f_samples, "eval_f_samples", 1)
        check_number(self.w_lr_warmup, "w_lr_warmup", lo=0.0)
        if not (self.shuffle is True or self.shuffle is False or self.shuffle == "batches"):
            raise ValueError(f"shuffle: expected True, False or 'batches', got {self.shuffle!r}")
        if self.w_solver == "adaptive" and self.schedule != "minibatch":
            raise ValueError("w_solver: 'adaptive' steps need the mini-batch schedule (schedule='minibatch')")
        check_int(self.seed, "seed", 0)
        self._check_subspace(net)
        self._check_phases(net)
        if net is not None:
            L = net.L
            lam = net.lam if self.lam is None else per_layer(self.lam, L, "lam")
            per_layer(self.gamma, L + 1, "gamma")
            if np.any(per_layer(self.w_lr, L + 1, "w_lr") <= 0):
                raise ValueError(f"w_lr: expected positive step sizes, got {self.w_lr}")
            if np.any(per_layer(self.w_curvature, L + 1, "w_curvature") < 0):
                raise ValueError(f"w_curvature: expected values >= 0, got {self.w_curvature}")
            if L and np.any(lam <= 0):
                raise ValueError(f"lam: the X-blocks need λ_l > 0 on every layer, got {np.asarray(lam).tolist()}")
            if np.any(np.asarray(net.rho) + per_layer(self.gamma, L + 1, "gamma") <= 0):
                raise ValueError(f"gamma, rho: the W-blocks need rho_l + gamma_l > 0 on every layer, got "
                                 f"rho={np.asarray(net.rho).tolist()} (the network's), gamma={self.gamma}")
        return self

    def _check_subspace(self, net) -> None:
        k = check_int(self.w0_subspace, "w0_subspace", 0)
        if k and self.w_solver != "mm":
            raise ValueError(f"w0_subspace: the restricted first-layer step is an MM step (w_solver='mm'), "
                             f"got w_solver={self.w_solver!r}")
        if k and net is not None:
            if getattr(net, "maps", None) is not None:
                raise ValueError("w0_subspace: not supported for convolutional networks (dense networks only)")
            if k > net.sizes[0]:
                raise ValueError(f"w0_subspace: expected at most d = {net.sizes[0]} (the input dimension), got {k}")

    def _check_phases(self, net) -> None:
        if self.phases is None:
            return
        if not isinstance(self.phases, (list, tuple)):
            raise TypeError(f"phases: expected a list of dicts or None, got {type(self.phases).__name__}")
        names = {f.name for f in fields(self)}
        last = 0
        for i, ph in enumerate(self.phases):
            if not isinstance(ph, dict) or "epoch" not in ph:
                raise ValueError(f"phases[{i}]: expected a dict with an 'epoch' key, got {ph!r}")
            k = check_int(ph["epoch"], f"phases[{i}]['epoch']", 1)
            if k <= last:
                raise ValueError(f"phases[{i}]['epoch']: phases start at increasing epochs >= 1, got {k} after {last}")
            last = k
            bad = sorted(set(ph) - {"epoch"} - names)
            if bad:
                raise ValueError(f"phases[{i}]: unknown fields {bad}{_rho_hint(bad)}")
            fixed = sorted(set(ph) & set(PHASE_FIXED))
            if fixed:
                raise ValueError(f"phases[{i}]: {fixed} cannot change during a run (fixed fields: {list(PHASE_FIXED)})")
            try:
                self.at_epoch(k).validate(net)
            except (TypeError, ValueError) as e:
                raise type(e)(f"phases[{i}]: {e}") from None

    def phase_index(self, epoch: int) -> int:
        """The number of phases in force after ``epoch`` completed epochs (0 = the base configuration)."""
        return sum(1 for ph in (self.phases or ()) if ph["epoch"] <= epoch)

    def phase_starts(self, epoch: int) -> bool:
        """True when a phase begins with the epoch after ``epoch`` completed ones."""
        return any(ph["epoch"] == epoch for ph in (self.phases or ()))

    def at_epoch(self, epoch: int) -> BCDConfig:
        """The configuration in force after ``epoch`` completed epochs: this one with the phases that began by
        then applied in order (``phases`` cleared); ``self`` when no phase applies."""
        active = [ph for ph in (self.phases or ()) if ph["epoch"] <= epoch]
        if not active:
            return self
        cfg = copy.deepcopy(self)
        cfg.phases = None
        for ph in active:
            for k, v in ph.items():
                if k != "epoch":
                    setattr(cfg, k, copy.deepcopy(v))
        return cfg

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (arrays and tuples become lists, inf becomes "inf")."""
        d = asdict(self)
        for k in ("lam", "gamma", "w_lr", "w_curvature"):
            d[k] = _plain(d[k])
        if d["lam_max"] == math.inf:
            d["lam_max"] = "inf"
        if d["phases"] is not None:
            d["phases"] = [{k: ("inf" if (k == "lam_max" and v == math.inf) else _plain(v)) for k, v in ph.items()}
                           for ph in d["phases"]]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BCDConfig:
        """Inverse of :meth:`to_dict`; unknown fields raise ValueError naming them."""
        if not isinstance(d, dict):
            raise TypeError(f"config: expected a dict of BCDConfig fields, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"config: unknown fields {sorted(unknown)}{_rho_hint(unknown)}")
        d = dict(d)
        if d.get("lam_max") == "inf":
            d["lam_max"] = math.inf
        if isinstance(d.get("phases"), list):
            d["phases"] = [({k: (math.inf if (k == "lam_max" and v == "inf") else v) for k, v in ph.items()}
                            if isinstance(ph, dict) else ph) for ph in d["phases"]]
        return cls(**d)


def lifted_schedule(cfg: BCDConfig, epoch: int, lam0: np.ndarray, gamma0: np.ndarray
                    ) -> tuple[BCDConfig, np.ndarray, np.ndarray]:
    """The λ/γ schedule of lifted BCD, stated once: the configuration, λ (L,) and γ (L+1,) in force during the
    epoch after ``epoch`` completed ones (e = ``epoch``, 0-based)::

        cfg_e = cfg.at_epoch(e)                      (the phases begun by then applied)
        λ_e   = min(λ_0 · lam_growth^e, max(lam_max, λ_0))
        γ_e   = γ_0 · gamma_growth^e

    with ``lam_growth``, ``lam_max`` and ``gamma_growth`` those of cfg_e. The cap is max(lam_max, λ_0), so a
    λ_0 above ``lam_max`` is kept, never lowered. λ_0 and γ_0 are the run's starting values ``lam0``, ``gamma0``
    (the config's ``lam``, or the network's λ when it is None, and ``gamma``), unless a phase begun by epoch e
    sets ``lam``/``gamma``: those become the new λ_0/γ_0, and the exponent e still counts epochs from the
    start of the run. The trainer calls this at every epoch; the record of an epoch carries its λ_e and γ_e.
    """
    cfg_e = cfg.at_epoch(epoch)
    changed = {k for ph in (cfg.phases or ()) if ph["epoch"] <= epoch for k in ph}
    lam0, gamma0 = np.asarray(lam0, dtype=float), np.asarray(gamma0, dtype=float)
    if "lam" in changed and cfg_e.lam is not None:
        lam0 = np.array(per_layer(cfg_e.lam, len(lam0), "lam"), dtype=float)
    if "gamma" in changed:
        gamma0 = np.array(per_layer(cfg_e.gamma, len(gamma0), "gamma"), dtype=float)
    lam = np.minimum(lam0 * cfg_e.lam_growth ** epoch, np.maximum(cfg_e.lam_max, lam0))
    gamma = gamma0 * cfg_e.gamma_growth ** epoch
    return cfg_e, lam, gamma


def _plain(v):
    """Arrays and tuples as lists (JSON)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    return v


def _rho_hint(names) -> str:
    if "rho" in names:
        return " (weight decay is the network's: FenchelNetwork(..., rho=...))"
    return ""


def resolve_config(net: FenchelNetwork, config: BCDConfig | dict | None, overrides: dict, who: str) -> BCDConfig:
    """A validated copy of ``config`` (a BCDConfig, a dict of its fields, or None: the default schedule) with
    ``overrides`` applied.

    The default schedule (``config=None``) is the ``"tuned"`` mini-batch preset
    (:func:`~fenchel_cvx.training.presets.preset`, as the CLI's ``--preset tuned``) without its placement
    (numpy, float64 unless overridden); with ``schedule="fullbatch"`` among the overrides it is the plain
    :class:`BCDConfig` defaults instead (fixed λ and γ, no momentum: the monotone full-batch BCD of
    docs/design.md §4, which the mini-batch preset's continuation and inertia would break)."""
    from ..network import FenchelNetwork

    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    if config is None and overrides.get("schedule", "minibatch") == "fullbatch":
        cfg = BCDConfig()
    elif config is None:  # the default schedule: the tuned preset (as the CLI's --preset tuned)
        from .presets import preset

        fields_ = preset("tuned", net.L, conv=getattr(net, "maps", None) is not None)
        cfg = BCDConfig(**{k: v for k, v in fields_.items() if k not in ("backend", "device", "dtype")})
    elif isinstance(config, BCDConfig):
        cfg = copy.deepcopy(config)
    elif isinstance(config, dict):
        cfg = BCDConfig.from_dict(config)
    else:
        raise TypeError(f"config: expected a BCDConfig, a dict or None, got {type(config).__name__}")
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"{who}: unknown option {k!r}{_rho_hint([k])} "
                            f"(fields of BCDConfig: {[f.name for f in fields(BCDConfig)]})")
        setattr(cfg, k, v)
    return cfg.validate(net)
