r"""The configuration of lifted BCD training: :class:`BCDConfig` (the schedule) and :func:`resolve_config`.

Who holds what (one source of truth each):

* the **network** holds the model: its weights, the weight decay ρ_l (part of J and F_λ) and the
  multipliers λ_l of the relaxation F_λ it currently represents;
* the **config** holds the schedule: λ_0 (``lam``; None = start from the network's λ), the continuation
  λ_e = min(λ_0·``lam_growth``^e, ``lam_max``), the proximal weights γ_e = γ_0·``gamma_growth``^e, inertia,
  inner iterations, solvers, batch size, epochs, backend, seeds. Training sets the network's λ to the λ of
  the last epoch it ran (the relaxation the trained weights belong to); it never writes ρ.

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

__all__ = ["BCDConfig", "resolve_config", "BACKENDS", "DTYPES", "SCHEDULES", "W_SOLVERS", "X_SOLVERS"]

SCHEDULES = ("minibatch", "fullbatch")
W_SOLVERS = ("mm", "block")
X_SOLVERS = ("apg", "block")


@dataclass
class BCDConfig:
    """Hyperparameters of lifted BCD training: the schedule (module docstring; :mod:`fenchel_cvx.training`).

    lam           : λ_0 of the schedule: None (start from the network's λ), a scalar, or one value per
                    hidden layer (L values)
    gamma         : proximal weights γ_l ≥ 0 of the W-steps, a scalar or L+1 values
    x_weight      : weight ≥ 1 of the next-layer term in the mini-batch X-steps (1 = plain block)
    lam_growth, lam_max, gamma_growth : per-epoch continuation factors of λ (capped) and γ
    momentum      : inertia β ∈ [0, 1) of the W's across batches (mini-batch)
    refresh       : re-forward X_{l+1} after the W_l step (mini-batch)
    refresh_inertia : re-forward with the weights after the inertia step (True) or with the W-step's
                    solution before it (False, the default)
    x_iters       : iterations per X-block (mini-batch); full batch: 50 x x_iters at most
    x_solver      : mini-batch X-steps by "apg" (the blocks' fixed-budget APG, ``solve_fixed``, no
                    certificate) or "block" (the blocks' certified FISTA, ``solve_fast``)
    w_solver      : "mm" (the blocks' majorise–minimise ridge steps, ``solve_fixed``) or "block" (Newton-CG,
                    ``solve_fast``)
    w_iters, last_w_iters : inner iterations of hidden / output W-steps
    tol           : relative tolerance of block solves (None: the blocks' default)
    val_fraction  : fraction of the training set held out for early stopping (0 = none)
    patience      : epochs without validation improvement before stopping (None = never)
    restore_best  : with early stopping, return the weights of the best validation epoch
    eval_samples  : training samples (seeded subset) used for the per-epoch F, J, train accuracy

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
    w_iters: int = 1
    last_w_iters: int = 10
    tol: float | None = None
    backend: str = "numpy"
    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    shuffle: bool = True
    val_fraction: float = 0.0
    patience: int | None = None
    restore_best: bool = True
    eval_samples: int | None = 10000

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
        check_int(self.seed, "seed", 0)
        if net is not None:
            L = net.L
            lam = net.lam if self.lam is None else per_layer(self.lam, L, "lam")
            per_layer(self.gamma, L + 1, "gamma")
            if L and np.any(lam <= 0):
                raise ValueError(f"lam: the X-blocks need λ_l > 0 on every layer, got {np.asarray(lam).tolist()}")
            if np.any(np.asarray(net.rho) + per_layer(self.gamma, L + 1, "gamma") <= 0):
                raise ValueError(f"gamma, rho: the W-blocks need rho_l + gamma_l > 0 on every layer, got "
                                 f"rho={np.asarray(net.rho).tolist()} (the network's), gamma={self.gamma}")
        return self

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (arrays and tuples become lists, inf becomes "inf")."""
        d = asdict(self)
        for k in ("lam", "gamma"):
            if isinstance(d[k], np.ndarray):
                d[k] = d[k].tolist()
            elif isinstance(d[k], tuple):
                d[k] = list(d[k])
        if d["lam_max"] == math.inf:
            d["lam_max"] = "inf"
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
        return cls(**d)


def _rho_hint(names) -> str:
    if "rho" in names:
        return " (weight decay is the network's: FenchelNetwork(..., rho=...))"
    return ""


def resolve_config(net: FenchelNetwork, config: BCDConfig | dict | None, overrides: dict, who: str) -> BCDConfig:
    """A validated copy of ``config`` (BCDConfig, dict of its fields, or None) with ``overrides`` applied."""
    from ..network import FenchelNetwork

    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    if config is None:
        cfg = BCDConfig()
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
