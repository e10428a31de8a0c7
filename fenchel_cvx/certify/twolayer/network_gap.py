r"""The certified optimality gap of a given two-layer ReLU network (issue 21 item 3).

Shapes: X0 is d x m (features x samples); the network is ``[d, n, 1]`` (squared loss) or ``[d, n, 2]`` (two-class
cross-entropy), ReLU, weight decay ρ_0, ρ_1 > 0 (biases unpenalised), as in :mod:`fenchel_cvx.certify.twolayer`.

For a trained network with parameters θ (from ``fenchel-cvx train``, ``fc.from_torch``, scnn through
:func:`network_from_scnn`, or any other source) and the certified lower bound L ≤ min J of
:func:`~fenchel_cvx.certify.twolayer.convex_certificate` (valid for every width),

    J(θ) − min J ≤ J(θ) − L,     certified relative gap = (J(θ) − L)/|J(θ)|,

where J(θ) is evaluated by ``FenchelNetwork.objective`` in float64 (an upper bound on min J at the network's width,
labelled as that network). The certificate's own recovered network is reported beside it (a second upper bound, at its
own width r).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...backend import to_numpy
from ...network import FenchelNetwork
from ..problem import relative_gap
from .certificate import ConvexCertificate, convex_certificate
from .program import TwoLayerProblem

__all__ = ["NetworkGap", "certify_network", "network_from_scnn"]


@dataclass
class NetworkGap:
    """What :func:`certify_network` returns.

    J          : the given network's objective (``FenchelNetwork.objective``, float64): an upper bound on min J at its
                 width n, labelled ``upper_provenance``
    lower      : the certified lower bound on min J (every width), ``lower_provenance`` says what it rests on
    gap        : (J − lower)/|J|, the network's certified relative optimality gap (≥ 0 unless rounding)
    abs_gap    : J − lower
    recovered  : J of the certificate's recovered network (r units; an upper bound on min J at widths ≥ r)
    oracle     : the dual oracle used (exact sweep, or SCIP's bound) and what it rests on
    certificate: the full :class:`ConvexCertificate`
    """

    J: float
    lower: float
    upper_provenance: str
    lower_provenance: str
    recovered: float
    recovered_units: int
    width: int
    oracle: str
    status: str
    time: float
    certificate: ConvexCertificate = field(repr=False, default=None)

    @property
    def gap(self) -> float:
        return relative_gap(self.lower, self.J)

    @property
    def abs_gap(self) -> float:
        return self.J - self.lower

    def summary(self) -> str:
        """A few lines for a terminal: the network's J, the certified lower bound, the gap, provenance."""
        return "\n".join(
            [
                f"J(network) = {self.J:.12g}   ({self.upper_provenance})",
                f"lower bound on min J = {self.lower:.12g}   ({self.lower_provenance})",
                f"certified optimality gap of the network: {self.abs_gap:.3e} absolute, "
                f"{self.gap:.3e} relative",
                f"the certificate's own network: J = {self.recovered:.12g} with r = "
                f"{self.recovered_units} units "
                f"(width n = {self.width}); status {self.status}; {self.time:.1f} s",
                f"oracle: {self.oracle}",
            ]
        )

    def to_dict(self) -> dict:
        return {
            "J": self.J,
            "lower": self.lower,
            "gap": self.gap,
            "abs_gap": self.abs_gap,
            "upper_provenance": self.upper_provenance,
            "lower_provenance": self.lower_provenance,
            "recovered": self.recovered,
            "recovered_units": self.recovered_units,
            "width": self.width,
            "oracle": self.oracle,
            "status": self.status,
            "time": self.time,
        }


def certify_network(
    net: FenchelNetwork,
    X0,
    y,
    *,
    tol: float = 1e-7,
    time_limit: float = 300.0,
    allow_large: bool = False,
    oracle: str = "auto",
    seed: int = 0,
    verbose: bool = False,
) -> NetworkGap:
    r"""The certified optimality gap J(θ) − L of the trained network ``net`` (module docstring).

    ``net``: a ``FenchelNetwork`` ``[d, n, 1]`` squared loss or ``[d, n, 2]`` cross-entropy, ReLU, ρ_0, ρ_1 > 0, with
    its trained weights; ``X0`` d x m; ``y`` its targets. ``tol``, ``time_limit``, ``allow_large``, ``oracle`` and
    ``seed`` are passed to :func:`~fenchel_cvx.certify.twolayer.convex_certificate` (the lower bound); J(θ) is
    ``net.objective(X0, y)``. Raises ConvexScopeError (a ValueError) outside the scope and TypeError when ``net`` is not
    a ``FenchelNetwork`` (use :func:`network_from_scnn` for scnn models).
    """
    if not isinstance(net, FenchelNetwork):
        raise TypeError(
            f"net: expected a FenchelNetwork, got {type(net).__name__} (scnn models: "
            f"network_from_scnn)"
        )
    problem = TwoLayerProblem.from_network(net, X0, y, allow_large=allow_large, oracle=oracle)
    J = float(net.objective(problem.X0, problem.targets))
    cert = convex_certificate(
        problem=problem, tol=tol, time_limit=time_limit, seed=seed, verbose=verbose
    )
    return NetworkGap(
        J=J,
        lower=cert.lower,
        upper_provenance=f"the given network {list(net.sizes)}: "
        "J by FenchelNetwork.objective in float64 (an upper bound on min J at its width)",
        lower_provenance=cert.lower_provenance,
        recovered=cert.upper,
        recovered_units=cert.n_active,
        width=problem.width,
        oracle=cert.oracle,
        status=cert.status,
        time=cert.time,
        certificate=cert,
    )


def network_from_scnn(model, rho, loss: str = "squared") -> FenchelNetwork:
    r"""A ``FenchelNetwork`` with the weights of an scnn ``NonConvexReLU`` model (``pyscnn``, trained without biases:
    ``optimize(..., bias=False, unitize_data=False)``).

    scnn's prediction is h(X) = Σ_i (X W1_iᵀ)₊ W2_iᵀ with ``model.parameters = [W1 (p x d), W2 (c x p)]``; the returned
    network is ``[d, p, 1]`` (squared, c = 1) or ``[d, p, 2]`` cross-entropy (``loss`` "logistic": scnn's one logit z
    becomes the two outputs (z/2, −z/2), the same loss and the same weight decay with ρ_1 doubled, see
    :mod:`fenchel_cvx.certify.twolayer`), biases 0 and ``bias=False``; ``rho`` is ρ or (ρ_0, ρ_1) of the one-output
    problem. scnn's group-lasso weight for this problem is √(ρ_0ρ_1).
    """
    params = getattr(model, "parameters", None)
    if not isinstance(params, (list, tuple)) or len(params) != 2:
        raise TypeError(
            "model: expected an scnn NonConvexReLU without biases (parameters [W1 (p x d), W2 (c "
            "x p)])"
        )
    W1, W2 = (np.asarray(to_numpy(p), dtype=np.float64) for p in params)
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0] or W2.shape[0] != 1:
        raise ValueError(
            f"model: expected W1 (p x d) and W2 (1 x p), got shapes {W1.shape}, {W2.shape}"
        )
    r = np.broadcast_to(np.asarray(rho, dtype=float).reshape(-1), (2,)).astype(float)
    d, p = W1.shape[1], W1.shape[0]
    if loss == "squared":
        net = FenchelNetwork([d, p, 1], "relu", "squared", rho=[r[0], r[1]], bias=False, seed=0)
        net.set_params([W1, W2], [np.zeros(p), np.zeros(1)])
    elif loss == "logistic":
        net = FenchelNetwork(
            [d, p, 2], "relu", "cross_entropy", rho=[r[0], 2.0 * r[1]], bias=False, seed=0
        )
        net.set_params([W1, np.vstack([W2 / 2, -W2 / 2])], [np.zeros(p), np.zeros(2)])
    else:
        raise ValueError(f"loss: expected 'squared' or 'logistic', got {loss!r}")
    return net
