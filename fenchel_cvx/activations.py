r"""Activations as Fenchel conjugate pairs, and the Fenchel divergence built from them.

Every monotone activation is the derivative of a convex potential, :math:`\phi = f'`.
With the Fenchel conjugate :math:`f^*` the Fenchel--Young inequality gives the **Fenchel divergence**

.. math::  B_\phi(u, v) = f(u) + f^*(v) - u v \;\ge 0, \qquad B_\phi(u, v) = 0 \iff v = \phi(u).

An activation is written **once** as a conjugate pair (subclass of :class:`Activation`):
``phi``, ``dphi`` (= φ'), ``f``, ``fconj`` (= f*, +inf outside its domain),
``grad_fconj`` (= ∇f* = φ⁻¹ on the domain), ``domain`` (interval of v), the Lipschitz
constant of φ, and the CVXPY expressions ``f_cvx``/``fconj_cvx`` built from existing
atoms. Everything else -- the divergence, its gradients, its CVXPY form, the proximal
operator of f* -- is derived once in the base class.

All numeric methods are elementwise and accept numpy arrays or torch tensors (any
shape; the project convention is features x samples). They are numerically stable for
|u| up to 1e4 in float32 and float64 (softplus, log-cosh and entropies are written
stably) and follow the convention 0·log 0 = 0 on the domain edges.

Registry: :func:`get` (``get("leaky_relu", a=0.1)``) and :func:`names`.

CVXPY is imported only by the ``*_cvx`` methods (``import fenchel_cvx`` does not load it).
"""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .arrays import Array
from .backend import namespace

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import cvxpy

__all__ = [
    "Activation",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "HardTanh",
    "Identity",
    "get",
    "names",
    "register",
    "per_hidden_layer",
]


def _xlogx(xp, x):
    """x log x with the convention 0 log 0 = 0 (x >= 0)."""
    safe = xp.where(x > 0, x, xp.ones_like(x))
    return xp.where(x > 0, x * xp.log(safe), xp.zeros_like(x))


def _softplus(xp, u):
    """log(1 + e^u), stable for any u."""
    return xp.maximum(u, 0.0) + xp.log1p(xp.exp(-xp.abs(u)))


def _cvxpy():
    """The cvxpy module, imported on first use (the reference paths only)."""
    import cvxpy

    return cvxpy


def _is_const(e: Any) -> bool:
    """True when ``e`` holds no CVXPY variable (numpy data, a constant or parameter expression)."""
    cp = _cvxpy()
    return not isinstance(e, cp.Expression) or len(e.variables()) == 0


class Activation(abc.ABC):
    r"""Base class: an activation written as a conjugate pair (φ = f', f, f*).

    Subclasses define ``name``, ``domain`` (lo, hi) of v, ``lip`` (Lipschitz constant
    of φ), and the methods ``phi``, ``dphi``, ``f``, ``fconj``, ``grad_fconj``,
    ``f_cvx``, ``fconj_cvx``; optionally a closed-form ``prox_fconj``.
    """

    name: str = "activation"
    domain: tuple[float, float] = (-math.inf, math.inf)
    lip: float = 1.0

    # ---- the pair (to be defined by subclasses) ---------------------------------
    @abc.abstractmethod
    def phi(self, u: Array) -> Array:
        """See the class docstring."""

    @abc.abstractmethod
    def dphi(self, u: Array) -> Array:
        """φ'(u) (a generalised derivative at kinks), elementwise."""

    def phi_dphi(self, u: Array) -> tuple[Array, Array]:
        """(φ(u), φ'(u)) together; subclasses share the work where they can (Newton loops)."""
        return self.phi(u), self.dphi(u)

    @abc.abstractmethod
    def f(self, u: Array) -> Array:
        """See the class docstring."""

    @abc.abstractmethod
    def fconj(self, v: Array) -> Array:
        """See the class docstring."""

    def fconj_sum(self, v: Array) -> float:
        """Σ f*(v) over all entries (+inf when an entry lies outside dom f*): the X-blocks'
        objective term. The base sums :meth:`fconj`; subclasses with a cheaper closed form
        override it (equal up to rounding)."""
        return float(namespace(v).sum(self.fconj(v)))

    @abc.abstractmethod
    def grad_fconj(self, v: Array) -> Array:
        """∇f*(v) = φ⁻¹(v) on the domain (±inf at open edges)."""

    @abc.abstractmethod
    def f_cvx(self, u: Any) -> cvxpy.Expression:
        """See the class docstring."""

    @abc.abstractmethod
    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        """See the class docstring."""

    # ---- derived facts --------------------------------------------------------
    @property
    def mu_conj(self) -> float:
        """Strong-convexity modulus of f* on its domain, 1 / Lip(φ)."""
        return 1.0 / self.lip

    @property
    def params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({p})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.params.items()))))

    def in_domain(self, v: Array) -> bool:
        """True when every entry of v lies in dom f* (and is not NaN)."""
        xp = namespace(v)
        lo, hi = self.domain
        ok = v == v  # not NaN
        if lo > -math.inf:
            ok = ok & (v >= lo)
        if hi < math.inf:
            ok = ok & (v <= hi)
        return xp.all(ok)

    def project_domain(self, v: Array) -> Array:
        """Euclidean projection of v onto dom f*."""
        lo, hi = self.domain
        if lo == -math.inf and hi == math.inf:
            return v
        xp = namespace(v)
        return xp.clip(v, None if lo == -math.inf else lo, None if hi == math.inf else hi)

    def divergence(self, u: Array, v: Array) -> Array:
        r"""B(u, v) = f(u) + f*(v) − u v, elementwise (+inf where v ∉ dom f*)."""
        return self.f(u) + self.fconj(v) - u * v

    def divergence_grad_u(self, u: Array, v: Array) -> Array:
        """∂B/∂u = φ(u) − v."""
        return self.phi(u) - v

    def divergence_grad_v(self, u: Array, v: Array) -> Array:
        """∂B/∂v = ∇f*(v) − u (on the interior of the domain)."""
        return self.grad_fconj(v) - u

    def domain_cvx(self, v: Any) -> list:
        """CVXPY constraints v ∈ dom f* (empty for dom f* = ℝ or a constant v)."""
        if _is_const(v):
            return []
        lo, hi = self.domain
        cons = []
        if lo > -math.inf:
            cons.append(v >= lo)
        if hi < math.inf:
            cons.append(v <= hi)
        return cons

    def divergence_cvx(self, u: Any, v: Any, inner: Any = None) -> tuple:
        r"""CVXPY form of Σ_entries B(u, v) = Σ f(u) + Σ f*(v) − ⟨u, v⟩.

        ``u`` and ``v`` are CVXPY expressions or arrays of the same shape; at most one of
        them may contain variables (B is biconvex, not jointly convex). ``inner`` may
        give ⟨u, v⟩ as a precomputed expression (DPP: products of two data arrays are
        formed in numpy and passed as one parameter). Returns ``(expr, constraints)``;
        the constraints restrict v to dom f* when v is a variable expression.
        """
        cp = _cvxpy()
        if inner is None:
            if not (_is_const(u) or _is_const(v)):
                raise ValueError("divergence_cvx: u and v both depend on variables; B is not jointly convex")
            inner = cp.sum(cp.multiply(u, v))
        fu = (cp.sum(self.f_cvx(u)) if isinstance(u, cp.Expression)
              else float(np.sum(self.f(np.asarray(u, dtype=float)))))
        fv = (cp.sum(self.fconj_cvx(v)) if isinstance(v, cp.Expression)
              else float(np.sum(self.fconj(np.asarray(v, dtype=float)))))
        return fu + fv - inner, self.domain_cvx(v)

    # ---- proximal operator of f* ------------------------------------------------
    def prox_fconj_into(self, w: Array, t: float) -> Array:
        """:meth:`prox_fconj`, allowed to overwrite w (a fresh array of the caller's; subclasses with a closed form
        compute it in place)."""
        return self.prox_fconj(w, t)

    def prox_fconj(self, w: Array, t: float) -> Array:
        r"""argmin_v  t f*(v) + ½ (v − w)², elementwise (t > 0 scalar or array).

        Optimality: t ∇f*(v) + v = w. Writing s = ∇f*(v) (so v = φ(s)), s solves the
        monotone scalar equation  t s + φ(s) = w,  solved here by safeguarded
        vectorised Newton in s on the bracket [(w − sup v)/t, (w − inf v)/t].
        Subclasses with a closed form override this. (The prox of t(f*(v) − u v) is
        ``prox_fconj(z + t u, t)``.)
        """
        xp = namespace(w)
        lo_v, hi_v = self.domain
        if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
            raise NotImplementedError(f"{self.name}: generic prox needs a bounded domain")
        t = t + xp.zeros_like(w)
        lo = (w - hi_v) / t
        hi = (w - lo_v) / t
        s = xp.clip(w / (t + self.lip), lo, hi)  # the linearised guess, moved into the bracket
        tol = 64 * xp.eps(w)
        for _ in range(100):
            p, dp = self.phi_dphi(s)
            g = t * s + p - w
            lo = xp.where(g < 0, s, lo)
            hi = xp.where(g > 0, s, hi)
            step = g / (t + dp)
            s_new = s - step
            # a step that lands on (or beyond) a bracket end falls back to bisection -- unless it
            # underflowed (s_new == s: converged), which must not be kicked back to the midpoint
            bad = (((s_new <= lo) | (s_new >= hi)) & (s_new != s)) | (s_new != s_new)
            s_new = xp.where(bad, 0.5 * (lo + hi), s_new)
            done = xp.all(xp.abs(s_new - s) <= tol * (1.0 + xp.abs(s)))
            s = s_new
            if done:
                break
        return self.phi(s)


class ReLU(Activation):
    r"""φ(u) = max(u, 0);  f(u) = ½u₊²;  f*(v) = ½v², dom f* = [0, ∞).

    B(u, v) = ½(u₊ − v)² + v·(−u)₊ : a squared error plus a hinge.
    """

    name = "relu"
    domain = (0.0, math.inf)
    lip = 1.0

    def phi(self, u: Array) -> Array:
        return namespace(u).maximum(u, 0.0)

    def dphi(self, u: Array) -> Array:
        xp = namespace(u)
        return xp.where(u > 0, xp.ones_like(u), xp.zeros_like(u))

    def f(self, u: Array) -> Array:
        up = namespace(u).maximum(u, 0.0)
        return 0.5 * up * up

    def fconj(self, v: Array) -> Array:
        xp = namespace(v)
        return xp.where(v >= 0, 0.5 * v * v, xp.full_like(v, math.inf))

    def fconj_sum(self, v: Array) -> float:
        """Σ f*(v) = ½ Σ v² when v ≥ 0 everywhere, +inf otherwise (two passes instead of five
        temporaries of the size of v; the domain test is min(v) < 0, one reduction, not a boolean array:
        the same verdict, NaN included)."""
        xp = namespace(v)
        if min(v.shape, default=1) > 0 and float(xp.min(v)) < 0:
            return math.inf
        return 0.5 * float(xp.sum(v * v))

    def grad_fconj(self, v: Array) -> Array:
        return v

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(cp.pos(u))

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(v)

    def prox_fconj(self, w: Array, t: float) -> Array:
        return namespace(w).maximum(w / (1.0 + t), 0.0)

    def prox_fconj_into(self, w: Array, t: float) -> Array:
        """:meth:`prox_fconj` computed in w (the same operations)."""
        w /= 1.0 + t
        return namespace(w).maximum_(w, 0.0)


class LeakyReLU(Activation):
    r"""φ(u) = u₊ − a u₋ (0 < a < 1);  f(u) = ½u₊² + (a/2)u₋²;  f*(v) = ½v₊² + v₋²/(2a), dom ℝ."""

    name = "leaky_relu"
    domain = (-math.inf, math.inf)
    lip = 1.0

    def __init__(self, a: float = 0.01) -> None:
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)):
            raise TypeError(f"a: the leaky_relu slope must be a number in (0, 1), got {type(a).__name__} {a!r}")
        a = float(a)
        if not (0.0 < a < 1.0):
            raise ValueError(f"leaky_relu: slope a must satisfy 0 < a < 1, got {a}")
        self.a = a

    @property
    def params(self) -> dict:
        return {"a": self.a}

    def phi(self, u: Array) -> Array:
        return namespace(u).where(u >= 0, u, self.a * u)

    def dphi(self, u: Array) -> Array:
        xp = namespace(u)
        return xp.where(u > 0, xp.ones_like(u), xp.full_like(u, self.a))

    def f(self, u: Array) -> Array:
        return namespace(u).where(u >= 0, 0.5 * u * u, 0.5 * self.a * u * u)

    def fconj(self, v: Array) -> Array:
        return namespace(v).where(v >= 0, 0.5 * v * v, 0.5 * v * v / self.a)

    def grad_fconj(self, v: Array) -> Array:
        return namespace(v).where(v >= 0, v, v / self.a)

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(cp.pos(u)) + (self.a / 2) * cp.square(cp.neg(u))

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(cp.pos(v)) + (1.0 / (2 * self.a)) * cp.square(cp.neg(v))

    def prox_fconj(self, w: Array, t: float) -> Array:
        return namespace(w).where(w >= 0, w / (1.0 + t), self.a * w / (self.a + t))


class Sigmoid(Activation):
    r"""φ(u) = 1/(1+e^{−u});  f(u) = log(1+e^u);  f*(v) = v log v + (1−v) log(1−v), dom [0, 1]."""

    name = "sigmoid"
    domain = (0.0, 1.0)
    lip = 0.25

    def phi(self, u: Array) -> Array:
        return namespace(u).sigmoid(u)

    def dphi(self, u: Array) -> Array:
        s = namespace(u).sigmoid(u)
        return s * (1.0 - s)

    def phi_dphi(self, u: Array) -> tuple[Array, Array]:
        s = namespace(u).sigmoid(u)
        return s, s * (1.0 - s)

    def f(self, u: Array) -> Array:
        return _softplus(namespace(u), u)

    def fconj(self, v: Array) -> Array:
        xp = namespace(v)
        inside = (v >= 0) & (v <= 1)
        vc = xp.clip(v, 0.0, 1.0)
        return xp.where(inside, _xlogx(xp, vc) + _xlogx(xp, 1.0 - vc), xp.full_like(v, math.inf))

    def grad_fconj(self, v: Array) -> Array:
        xp = namespace(v)
        return xp.log(v) - xp.log1p(-v)

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return cp.logistic(u)

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return -cp.entr(v) - cp.entr(1 - v)


class Tanh(Activation):
    r"""φ(u) = tanh u;  f(u) = log cosh u;  f*(v) = ½[(1+v)log(1+v) + (1−v)log(1−v)], dom [−1, 1]."""

    name = "tanh"
    domain = (-1.0, 1.0)
    lip = 1.0

    def phi(self, u: Array) -> Array:
        return namespace(u).tanh(u)

    def dphi(self, u: Array) -> Array:
        t = namespace(u).tanh(u)
        return 1.0 - t * t

    def phi_dphi(self, u: Array) -> tuple[Array, Array]:
        t = namespace(u).tanh(u)
        return t, 1.0 - t * t

    def f(self, u: Array) -> Array:
        xp = namespace(u)
        a = xp.abs(u)
        return a + xp.log1p(xp.exp(-2.0 * a)) - math.log(2.0)

    def fconj(self, v: Array) -> Array:
        xp = namespace(v)
        inside = (v >= -1) & (v <= 1)
        vc = xp.clip(v, -1.0, 1.0)
        val = 0.5 * (_xlogx(xp, 1.0 + vc) + _xlogx(xp, 1.0 - vc))
        return xp.where(inside, val, xp.full_like(v, math.inf))

    def grad_fconj(self, v: Array) -> Array:
        xp = namespace(v)
        return 0.5 * (xp.log1p(v) - xp.log1p(-v))

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return cp.logistic(2 * u) - u - math.log(2.0)

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return -(cp.entr(1 + v) + cp.entr(1 - v)) / 2


class HardTanh(Activation):
    r"""φ(u) = clip(u, −1, 1);  f(u) = ½ huber(u, 1);  f*(v) = ½v², dom [−1, 1].

    (CVXPY's huber(u, 1) = u² for |u| ≤ 1 and 2|u| − 1 otherwise.)
    """

    name = "hardtanh"
    domain = (-1.0, 1.0)
    lip = 1.0

    def phi(self, u: Array) -> Array:
        return namespace(u).clip(u, -1.0, 1.0)

    def dphi(self, u: Array) -> Array:
        xp = namespace(u)
        return xp.where(xp.abs(u) < 1, xp.ones_like(u), xp.zeros_like(u))

    def f(self, u: Array) -> Array:
        xp = namespace(u)
        a = xp.abs(u)
        return xp.where(a <= 1, 0.5 * u * u, a - 0.5)

    def fconj(self, v: Array) -> Array:
        xp = namespace(v)
        return xp.where((v >= -1) & (v <= 1), 0.5 * v * v, xp.full_like(v, math.inf))

    def grad_fconj(self, v: Array) -> Array:
        return v

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.huber(u, 1)

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(v)

    def prox_fconj(self, w: Array, t: float) -> Array:
        return namespace(w).clip(w / (1.0 + t), -1.0, 1.0)


class Identity(Activation):
    r"""φ(u) = u;  f(u) = ½u²;  f*(v) = ½v², dom ℝ  (B(u, v) = ½(u − v)²)."""

    name = "identity"
    domain = (-math.inf, math.inf)
    lip = 1.0

    def phi(self, u: Array) -> Array:
        return u

    def dphi(self, u: Array) -> Array:
        return namespace(u).ones_like(u)

    def f(self, u: Array) -> Array:
        return 0.5 * u * u

    def fconj(self, v: Array) -> Array:
        return 0.5 * v * v

    def grad_fconj(self, v: Array) -> Array:
        return v

    def f_cvx(self, u: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(u)

    def fconj_cvx(self, v: Any) -> cvxpy.Expression:
        cp = _cvxpy()
        return 0.5 * cp.square(v)

    def prox_fconj(self, w: Array, t: float) -> Array:
        return w / (1.0 + t)


_REGISTRY: dict[str, type[Activation]] = {}


def register(cls: type[Activation]) -> type[Activation]:
    """Add an :class:`Activation` subclass to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (ReLU, LeakyReLU, Sigmoid, Tanh, HardTanh, Identity):
    register(_cls)


def names() -> list[str]:
    """Names of the registered activations."""
    return list(_REGISTRY)


def get(name: str | Activation, **params: Any) -> Activation:
    """Return the activation called ``name`` (an :class:`Activation` passes through).

    ``params`` are forwarded to the constructor (e.g. ``get("leaky_relu", a=0.1)``).
    An unknown name raises ``ValueError`` listing the known ones.
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name ({', '.join(names())}) or an Activation, got "
                        f"{type(name).__name__} {name!r}")
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"activation: unknown activation {name!r}; known activations: {', '.join(names())}")
    return _REGISTRY[key](**params)


def per_hidden_layer(activation: Any, L: int, allow_none: bool = False) -> list:
    """``activation`` as a list of L entries (one per hidden layer): a name or an :class:`Activation` repeated,
    or a sequence of exactly L of them (entries may be None when ``allow_none``: "the default"). Raises
    ``TypeError``/``ValueError`` naming ``activation``."""
    if isinstance(activation, (str, Activation)):
        return [activation] * L
    if activation is None or isinstance(activation, bytes) or not hasattr(activation, "__iter__"):
        raise TypeError(f"activation: expected a name ({', '.join(names())}), an Activation, or one per hidden "
                        f"layer, got {type(activation).__name__} {activation!r}")
    acts = list(activation)
    if len(acts) != L:
        raise ValueError(f"activation: expected one activation per hidden layer ({L}), got {len(acts)}")
    for a in acts:
        if not (isinstance(a, (str, Activation)) or (allow_none and a is None)):
            raise TypeError(f"activation: expected names or Activations, got {type(a).__name__} {a!r} in {acts!r}")
    return acts
