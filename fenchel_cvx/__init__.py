"""fenchel_cvx: Fenchel lifted networks (Gu, Askari, El Ghaoui, AISTATS 2020).

What a user needs, from one place (shapes are features x samples everywhere)::

    import fenchel_cvx as fc
    net = fc.FenchelNetwork([64, 100, 10])             # or fc.ConvFenchelNetwork("lenet5")
    ds = fc.data.load("digits")
    result = fc.train(net, ds.X_train, ds.y_train, ds.X_test, ds.y_test, fc.BCDConfig(**fc.tuned(net.L)))

* models: :class:`FenchelNetwork`, :class:`ConvFenchelNetwork`, :class:`LiftedTerms`; saving and loading:
  :func:`save`, :func:`load` (:mod:`fenchel_cvx.model_io`); torch: ``net.to_torch()``, :func:`from_torch`
  (:mod:`fenchel_cvx.interop`);
* training: :func:`train`, :class:`BCDConfig`, :class:`TrainResult`, :func:`tuned` (:mod:`fenchel_cvx.training`),
  :func:`train_backprop` (:mod:`fenchel_cvx.baselines`);
* the facts: :mod:`activations` (conjugate pairs), :mod:`losses`; the blocks: :mod:`blocks`;
* data: :mod:`data`; certificates: :mod:`certify`; errors: :class:`FenchelError` and its subclasses;
  scikit-learn estimators: :mod:`fenchel_cvx.estimators`; messages go to the ``fenchel_cvx`` logger
  (:mod:`fenchel_cvx.log`).

The mathematics, the block contract and the layout are described in ``docs/design.md``.

Importing the package loads neither torch nor CVXPY: the submodules and names below are imported on
first use (``fc.blocks``, ``fc.train``...), and torch/CVXPY only when a torch array or a reference problem appears.
"""

import importlib as _importlib

from . import log as _log  # noqa: F401 - installs the package logger's NullHandler
from ._version import __version__
from .errors import (
    FenchelError,
    FileFormatError,
    LiftedModeError,
    ResumeMismatch,
    SchedulerUnreachable,
    SolverError,
    TrainingDiverged,
)
from .network import FenchelNetwork, LiftedTerms

#: name -> (module, attribute or None for the module itself), imported on first access
_LAZY = {
    "activations": ("fenchel_cvx.activations", None),
    "losses": ("fenchel_cvx.losses", None),
    "data": ("fenchel_cvx.data", None),
    "blocks": ("fenchel_cvx.blocks", None),
    "training": ("fenchel_cvx.training", None),
    "certify": ("fenchel_cvx.certify", None),
    "baselines": ("fenchel_cvx.baselines", None),
    "ConvFenchelNetwork": ("fenchel_cvx.conv", "ConvFenchelNetwork"),
    "train": ("fenchel_cvx.training", "train"),
    "BCDConfig": ("fenchel_cvx.training", "BCDConfig"),
    "TrainResult": ("fenchel_cvx.training", "TrainResult"),
    "tuned": ("fenchel_cvx.training", "tuned"),
    "evaluate": ("fenchel_cvx.training", "evaluate"),
    "load_checkpoint": ("fenchel_cvx.training", "load_checkpoint"),
    "train_backprop": ("fenchel_cvx.baselines", "train_backprop"),
    "save": ("fenchel_cvx.model_io", "save"),
    "load": ("fenchel_cvx.model_io", "load"),
    "from_torch": ("fenchel_cvx.interop", "from_torch"),
    "model_io": ("fenchel_cvx.model_io", None),
    "interop": ("fenchel_cvx.interop", None),
}

__all__ = ["FenchelNetwork", "ConvFenchelNetwork", "LiftedTerms", "train", "BCDConfig", "TrainResult", "tuned",
           "evaluate", "load_checkpoint", "train_backprop", "save", "load", "from_torch", "activations", "losses",
           "data", "blocks", "training", "certify", "baselines", "model_io", "interop", "FenchelError", "SolverError",
           "LiftedModeError", "TrainingDiverged", "SchedulerUnreachable", "FileFormatError", "ResumeMismatch",
           "__version__"]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = _importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fenchel_cvx' has no attribute {name!r}")


def __dir__():
    """The public names (``__all__``): what ``dir(fenchel_cvx)`` and tab completion show."""
    return sorted(__all__)
