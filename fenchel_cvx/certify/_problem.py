r"""Validation of a tiny certification problem, shared by every certificate.

A problem is a :class:`~fenchel_cvx.FenchelNetwork` (its architecture, loss, λ and ρ;
its current weights are ignored) together with data ``X0`` (d x m, one column per sample)
and targets ``y``. The certificates model dense networks ``[d, n, 1]`` with one hidden ReLU
layer, the squared loss and weight decay ρ_0, ρ_1 > 0 (the weight decay is what makes the
search space bounded); :func:`check_problem` rejects anything else with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import is_torch
from ..network import FenchelNetwork

#: Sizes the global (SCIP) models accept by default; larger problems raise unless
#: ``allow_large=True`` (spatial branch-and-bound grows exponentially with them).
GLOBAL_LIMITS = {"features": 4, "hidden units per layer": 4, "hidden layers": 1,
                 "samples": 30, "outputs": 1}

SUPPORTED = ("dense networks [d, n, 1] with one hidden ReLU layer, one output, the squared loss and "
             "weight decay rho_0, rho_1 > 0 (d <= 4, n <= 4, m <= 30)")


def require_scip():
    """Import and return :mod:`pyscipopt`, or raise ImportError telling how to install it."""
    try:
        import pyscipopt
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("global certificates need SCIP through PySCIPOpt, the optional "
                          "'global' extra: pip install 'fenchel-cvx[global]'") from e
    return pyscipopt


def _to_numpy(a) -> np.ndarray:
    if is_torch(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


@dataclass
class TinyProblem:
    """A validated problem: a float64 numpy copy of the network and the data.

    ``X0`` is d x m, ``y`` = ``Y`` is the 1 x m target array, ``R0`` = max_j ‖x_j‖ the data radius.
    """

    net: FenchelNetwork
    X0: np.ndarray
    y: object
    Y: np.ndarray

    @property
    def m(self) -> int:
        return self.X0.shape[1]

    @property
    def L(self) -> int:
        return self.net.L

    @property
    def sizes(self) -> list:
        return self.net.sizes

    @property
    def loss(self) -> str:
        return self.net.loss.name

    @property
    def R0(self) -> float:
        return float(np.max(np.linalg.norm(self.X0, axis=0)))

    def with_lam(self, lam) -> FenchelNetwork:
        """A copy of the network with multipliers ``lam`` (scalar or one per hidden layer)."""
        return copy_network(self.net, lam=lam)


def copy_network(net: FenchelNetwork, lam=None, W=None, b=None, sizes=None) -> FenchelNetwork:
    """A numpy float64 copy of ``net`` (optionally with other λ, weights or sizes)."""
    new = FenchelNetwork(sizes or net.sizes, activation=net.activations, loss=net.loss,
                         lam=net.lam if lam is None else lam, rho=net.rho, bias=net.bias, seed=0)
    if W is None and sizes is None:
        W, b = [_to_numpy(w) for w in net.W], [_to_numpy(v) for v in net.b]
    if W is not None:
        new.set_params([np.array(w, dtype=np.float64) for w in W], [np.array(v, dtype=np.float64) for v in b])
    return new


def check_problem(net, X0, y, *, need_lam: bool = True, allow_large: bool = False) -> TinyProblem:
    """Validate (net, X0, y) for the certificates; raise a ValueError/TypeError saying what is supported.

    ``allow_large`` lifts the size limits :data:`GLOBAL_LIMITS` on d, n and m (not the structure).
    """
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    bad = [a.name for a in net.activations if a.name != "relu"]
    if bad:
        raise ValueError(f"net: no global model for activation(s) {sorted(set(bad))}; supported: {SUPPORTED}")
    if net.L != 1:
        raise ValueError(f"net: the certificates model one hidden layer, got sizes {net.sizes}; "
                         f"supported: {SUPPORTED}")
    if net.loss.name != "squared" or net.sizes[-1] != 1:
        raise ValueError(f"net: no global model for loss {net.loss.name!r} with {net.sizes[-1]} output(s): with "
                         f"several outputs (cross-entropy) the output weights enter bilinearly and the unit "
                         f"scaling of the models does not apply; supported: {SUPPORTED}")
    if np.any(net.rho <= 0):
        raise ValueError(f"net.rho: every layer needs weight decay rho_l > 0 (it bounds the weights, "
                         f"so that branch-and-bound can close the gap), got {net.rho.tolist()}")
    if need_lam and np.any(net.lam <= 0):
        raise ValueError(f"lam: the relaxation certificates need lam_l > 0, got {net.lam.tolist()}")
    if not allow_large:
        m = np.shape(X0)[-1] if np.ndim(X0) == 2 else 0
        got = {"features": net.sizes[0], "hidden units per layer": net.sizes[1], "hidden layers": net.L,
               "samples": m, "outputs": net.sizes[-1]}
        over = {key: v for key, v in got.items() if v > GLOBAL_LIMITS[key]}
        if over:
            raise ValueError(f"problem too large for the global certificates: {over} exceeds the supported "
                             f"sizes {GLOBAL_LIMITS} (pass allow_large=True to try anyway)")
    net = copy_network(net)
    X0 = net.check_input(_to_numpy(X0))
    Y = np.asarray(net.check_targets(_to_numpy(y), X0.shape[1]), dtype=np.float64)
    return TinyProblem(net=net, X0=X0, y=Y, Y=Y)
