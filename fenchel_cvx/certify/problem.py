r"""Validation of a tiny certification problem, shared by every certificate.

A problem is a :class:`~fenchel_cvx.FenchelNetwork` (its architecture, activations, loss, λ and ρ;
its current weights are ignored) together with data ``X0`` (d x m, one column per sample) and
targets ``y`` (k x m, or m integer labels for the cross-entropy). :func:`check_problem` accepts
exactly what the global models of :mod:`fenchel_cvx.certify.scip.solve` represent and rejects anything
else with a :class:`~fenchel_cvx.certify.problem.ScopeError` that names the argument and lists what is supported:

* dense networks ``[d, n_1, k]`` or ``[d, n_1, n_2, k]`` (one or two hidden layers);
* hidden activations ``relu``, ``leaky_relu`` (any slope 0 < a < 1) and ``hardtanh``, one per
  layer (piecewise linear: the models are exact complementarity/MIP models);
* the squared loss (any k ≥ 1) and the cross-entropy (k ≥ 2; k = 2 is binary logistic regression,
  ℓ = log(1 + e^{z_other − z_true})); every class must occur in y, else the infimum of J is not attained
  (the bias of an absent class runs to −∞) and no finite box contains a minimiser;
* weight decay ρ_l > 0 on every layer (it bounds the weights, hence the search space).

``sigmoid`` and ``tanh`` are *not* modelled (see :data:`NOT_MODELLED`), nor are convolutional
networks. Sizes beyond :data:`GLOBAL_LIMITS` need ``allow_large=True``.

Multipliers: the relaxation takes one multiplier per hidden entry, λ_l[i, j] > 0 (layer l, neuron i,
sample j); :func:`expand_multipliers` turns a scalar, one value per layer, per-sample, per-neuron or
per-entry input into that form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import is_torch, to_numpy64
from ..errors import FenchelError
from ..network import FenchelNetwork

__all__ = ["ScopeError", "NoLowerBoundError", "SUPPORTED", "SUPPORTED_ACTIVATIONS", "SUPPORTED_LOSSES", "NOT_MODELLED",
           "GLOBAL_LIMITS", "TinyProblem",
           "check_problem", "global_size_excess", "check_dense", "check_network", "copy_network", "require_scip",
           "expand_multipliers", "multipliers_kind", "relative_gap"]


class ScopeError(FenchelError, ValueError):
    """The problem lies outside what the global models represent (architecture, activation, loss, size);
    the message names the argument and lists what is supported."""


class NoLowerBoundError(ScopeError):
    """No certified lower bound exists for this problem as posed (e.g. no weight decay: the search space is
    unbounded and the infimum need not be attained), so the certificates refuse it rather than return one."""


SUPPORTED_ACTIVATIONS = ("relu", "leaky_relu", "hardtanh")
SUPPORTED_LOSSES = ("squared", "cross_entropy")

#: Sizes the global (SCIP) models accept by default; larger problems raise unless ``allow_large=True``
#: (spatial branch-and-bound grows exponentially with them). "lifted entries" = Σ_l n_l·m counts the
#: complementarity pairs of the general model (every case but [d, n, 1] ReLU with the squared loss).
GLOBAL_LIMITS = {"features": 4, "hidden units per layer": 4, "hidden layers": 2, "outputs": 3, "samples": 30,
                 "lifted entries": 64}

SUPPORTED = ("dense networks [d, n1, k] or [d, n1, n2, k] with hidden activations relu, leaky_relu or hardtanh, "
             "the squared loss (k >= 1) or the cross-entropy (k >= 2, every class present; k = 2 is the binary "
             "logistic loss), weight decay rho_l > 0 on every layer "
             f"(default sizes: d <= {GLOBAL_LIMITS['features']}, n_l <= {GLOBAL_LIMITS['hidden units per layer']}, "
             f"k <= {GLOBAL_LIMITS['outputs']}, m <= {GLOBAL_LIMITS['samples']}, "
             f"sum_l n_l*m <= {GLOBAL_LIMITS['lifted entries']} outside [d, n, 1] relu + squared loss)")

#: Why the smooth activations are not modelled (the statement every scope error for them repeats).
NOT_MODELLED = {
    "sigmoid": ("SCIP could represent the divergence B(u, v) = log(1 + e^u) + v log v + (1 - v) log(1 - v) - uv "
                "(a softplus epigraph exp(-t) + exp(u - t) <= 1, entropy terms, and one bilinear term uv per "
                "entry; min J needs the nonconvex equality v(1 + e^-u) = 1), but no finite box for the "
                "unpenalised biases is known to contain a global minimiser: a saturated unit approaches a "
                "constant only as its bias runs to infinity, so spatial branch-and-bound on any box bounds the "
                "problem restricted to the box, not min J"),
    "tanh": "as for sigmoid (tanh(u) = 2 sigmoid(2u) - 1): the divergence is representable, a valid bias box is not",
}
NOT_MODELLED["sigmoid"] += ("; besides, every exp/log term is enforced by outer approximation to SCIP's feasibility "
                            "tolerance (about one cut per entry and node), which is why no such model is shipped")


def relative_gap(lower: float, upper: float) -> float:
    """The relative gap of a bracket, max(upper − lower, 0) / |upper| (never negative; an overshoot of the lower
    bound is reported separately by whoever holds the two bounds)."""
    return max(upper - lower, 0.0) / max(abs(upper), 1e-300)


def require_scip():
    """Import and return :mod:`pyscipopt`, or raise ImportError telling how to install it."""
    try:
        import pyscipopt
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("global certificates need SCIP through PySCIPOpt, the optional "
                          "'global' extra: pip install 'fenchel-cvx[global]'") from e
    return pyscipopt


@dataclass
class TinyProblem:
    """A validated problem: a float64 numpy copy of the network and the data.

    ``X0`` is d x m, ``Y`` (= ``y``) the k x m target array (one-hot columns for the cross-entropy),
    ``R0`` = max_j ‖x_j‖ the data radius.
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
    def activation_names(self) -> list:
        return [a.name for a in self.net.activations]

    @property
    def R0(self) -> float:
        return float(np.max(np.linalg.norm(self.X0, axis=0)))

    @property
    def kind(self) -> str:
        """A short description: architecture, activations, loss."""
        acts = "/".join(dict.fromkeys(self.activation_names))
        return f"{'-'.join(map(str, self.sizes))} {acts}, {self.loss}"

    def with_lam(self, lam) -> FenchelNetwork:
        """A copy of the network with multipliers ``lam`` (scalar or one per hidden layer)."""
        return copy_network(self.net, lam=lam)


def check_dense(net, what: str = "the certificates", supported: str = SUPPORTED) -> None:
    """Raise unless ``net`` is a dense :class:`~fenchel_cvx.FenchelNetwork`: TypeError for anything else (a torch
    module, a dict, ...), ScopeError naming ``net`` and listing ``supported`` for a subclass such as
    ``ConvFenchelNetwork`` (its layers are not the dense maps W_l X + b_l every certificate is written for, even
    when they are all dense)."""
    if not isinstance(net, FenchelNetwork):
        raise TypeError(f"net: expected a FenchelNetwork, got {type(net).__name__}")
    if type(net) is not FenchelNetwork:
        raise ScopeError(f"net: {what} take a dense FenchelNetwork, got {type(net).__name__} (convolutional and "
                         f"pooling layers are not modelled); supported: {supported}")


def copy_network(net: FenchelNetwork, lam=None, W=None, b=None, sizes=None) -> FenchelNetwork:
    """A numpy float64 copy of the dense network ``net`` (optionally with other λ, weights or sizes); refuses
    anything else (:func:`check_dense`)."""
    check_dense(net)
    new = FenchelNetwork(sizes or net.sizes, activation=net.activations, loss=net.loss,
                         lam=net.lam if lam is None else lam, rho=net.rho, bias=net.bias, seed=0)
    if W is None and sizes is None:
        W, b = [to_numpy64(w) for w in net.W], [to_numpy64(v) for v in net.b]
    if W is not None:
        new.set_params([np.array(w, dtype=np.float64) for w in W], [np.array(v, dtype=np.float64) for v in b])
    return new


def check_network(net) -> None:
    """Raise unless the global models represent ``net`` (module docstring): a dense network with one or two
    hidden layers, supported activations and loss, ρ_l > 0. Every message names ``net`` (or ``net.rho``) and
    lists what is supported."""
    check_dense(net, "the global models")
    acts = [a.name for a in net.activations]
    smooth = sorted({a for a in acts if a in NOT_MODELLED})
    if smooth:
        raise ScopeError(f"net: no global model for activation(s) {smooth}: {NOT_MODELLED[smooth[0]]}. "
                         f"Supported: {SUPPORTED}")
    bad = sorted({a for a in acts if a not in SUPPORTED_ACTIVATIONS})
    if bad:
        raise ScopeError(f"net: no global model for activation(s) {bad}; supported activations "
                         f"{list(SUPPORTED_ACTIVATIONS)}; supported problems: {SUPPORTED}")
    if net.L not in (1, 2):
        raise ScopeError(f"net: the global models have one or two hidden layers, got sizes {net.sizes} "
                         f"({net.L} hidden layers); supported: {SUPPORTED}")
    if net.loss.name not in SUPPORTED_LOSSES:
        raise ScopeError(f"net: no global model for loss {net.loss.name!r}; supported: {SUPPORTED}")
    if net.loss.name == "cross_entropy" and net.sizes[-1] < 2:
        raise ScopeError(f"net: the cross-entropy needs k >= 2 outputs (k = 2: binary logistic), got sizes {net.sizes}")
    if np.any(net.rho <= 0):
        raise NoLowerBoundError(f"net.rho: every layer needs weight decay rho_l > 0, got {net.rho.tolist()}: without "
                                "it the weights are unbounded, the infimum of J need not be attained, and no finite "
                                "search box (hence no certified lower bound) exists")


def global_size_excess(net: FenchelNetwork, X0) -> dict:
    """The sizes of (``net``, ``X0``: d x m) beyond :data:`GLOBAL_LIMITS`, {name: value} ({} when the global models
    take the problem at their default sizes); ``net`` is checked first (:func:`check_network`)."""
    check_network(net)
    m = np.shape(X0)[-1] if np.ndim(X0) == 2 else 0
    hidden = net.sizes[1:-1]
    got = {"features": net.sizes[0], "hidden units per layer": max(hidden), "hidden layers": net.L,
           "samples": m, "outputs": net.sizes[-1]}
    if not _unit_case(net):
        got["lifted entries"] = sum(hidden) * m
    return {key: v for key, v in got.items() if v > GLOBAL_LIMITS[key]}


def check_problem(net, X0, y, *, need_lam: bool = True, allow_large: bool = False) -> TinyProblem:
    """Validate (net, X0, y) for the certificates (module docstring); raise ScopeError/TypeError/ValueError
    naming the argument and saying what is supported.

    ``need_lam``: also require the network's λ_l > 0. ``allow_large`` lifts the size limits
    :data:`GLOBAL_LIMITS` (not the structure).
    """
    check_network(net)
    if need_lam and np.any(net.lam <= 0):
        raise ValueError(f"lam: the relaxation certificates need lam_l > 0, got {net.lam.tolist()}")
    if not allow_large and (over := global_size_excess(net, X0)):
        raise ScopeError(f"problem too large for the global certificates: {over} exceeds the supported "
                         f"sizes {GLOBAL_LIMITS} (pass allow_large=True, or --allow-large, to try anyway)")
    net = copy_network(net)
    X0 = net.check_input(to_numpy64(X0))
    Y = np.asarray(net.check_targets(to_numpy64(y) if is_torch(y) else y, X0.shape[1]), dtype=np.float64)
    if net.loss.name == "cross_entropy":
        if not np.all((Y == 0) | (Y == 1)):
            raise ScopeError("y: the global models take class labels (one-hot targets) for the cross-entropy, "
                             "not probability targets")
        counts = Y.sum(axis=1)
        if np.any(counts == 0):
            raise NoLowerBoundError(f"y: classes {np.flatnonzero(counts == 0).tolist()} never occur: the bias of an "
                                    "absent class decreases J without bound towards its infimum, which is not "
                                    "attained, so no finite box contains a minimiser; drop the class (fewer outputs)")
    return TinyProblem(net=net, X0=X0, y=Y, Y=Y)


def _unit_case(net) -> bool:
    return (net.L == 1 and net.sizes[-1] == 1 and net.loss.name == "squared"
            and all(a.name == "relu" for a in net.activations))


def expand_multipliers(net, m: int, lam) -> list:
    """Multipliers as one n_{l+1} x m array per hidden layer (entry [i, j]: neuron i, sample j).

    ``lam``: a scalar (every entry); a sequence of L scalars (one per layer); or a sequence of L arrays,
    each broadcastable to n_{l+1} x m: shape (m,) per sample, (n, 1) per neuron, (n, m) per entry (with one
    hidden layer the array may be given alone). Every entry must be finite and > 0.
    """
    L = net.L
    shapes = [(n, m) for n in net.sizes[1:-1]]
    if not isinstance(lam, (list, tuple)) and np.ndim(lam) == 0:
        items = [lam] * L
    else:
        seq = isinstance(lam, (list, tuple)) or (isinstance(lam, np.ndarray) and lam.ndim == 1 and L > 1)
        items = list(lam) if seq else [lam]
        if len(items) != L:
            if L != 1:
                raise ValueError(f"lam: expected a scalar, {L} values (one per hidden layer) or {L} arrays, "
                                 f"got {len(items)} items")
            items = [np.asarray(lam, dtype=float)]
    out = []
    for l, (item, s) in enumerate(zip(items, shapes)):
        a = np.asarray(item, dtype=float)
        try:
            out.append(np.array(np.broadcast_to(a, s), dtype=float))
        except ValueError:
            raise ValueError(f"lam[{l}]: shape {a.shape} does not broadcast to {s} (neurons x samples)") from None
    for l, a in enumerate(out):
        if not (np.all(np.isfinite(a)) and np.all(a > 0)):
            raise ValueError(f"lam[{l}]: expected finite multipliers > 0, got min {np.min(a)}")
    return out


def multipliers_kind(mu: list) -> str:
    """'scalar', 'per layer', 'per sample', 'per neuron' or 'per entry': the least structure of ``mu``."""
    if all(np.all(a == mu[0].flat[0]) for a in mu):
        return "scalar"
    if all(np.all(a == a.flat[0]) for a in mu):
        return "per layer"
    if all(np.all(a == a[:1, :]) for a in mu):
        return "per sample"
    if all(np.all(a == a[:, :1]) for a in mu):
        return "per neuron"
    return "per entry"
