r"""Accelerated proximal gradient (FISTA) with a certified lower bound, written once for numpy and torch.

Problem (composite, strongly convex)::

    minimise  F(x) = g(x) + h(x),     g(x) = s(A x),

* ``A`` linear (e.g. V ↦ W V); ``s`` smooth convex, so ∇g(x) = Aᵀ ∇s(A x) is Lipschitz
  with a known bound ``lipschitz`` ≥ Lip(∇g); ``A = None`` means g ≡ 0;
* ``h`` proper, closed, μ_h-strongly convex with a cheap proximal operator
  ``prox_h(z, t) = argmin_x t h(x) + ½‖x − z‖²`` (elementwise in the blocks);
* F is μ-strongly convex with μ = μ_h + μ_g > 0 (μ_g: a known modulus of g, often 0).

``x`` is an array (numpy or torch, any shape) or a tuple of arrays (e.g. ``(W, b)``);
no backend switch -- all arithmetic is ``+ − *`` on the arrays plus :func:`namespace` ops.

Iteration (step t, gradient points y_k, iterates x_k)::

    x_{k+1} = prox_h(y_k − t ∇g(y_k), t)
    y_{k+1} = x_{k+1} + β_k (x_{k+1} − x_k)

Momentum β_k = min((θ_k − 1)/θ_{k+1}, β_sc) with Nesterov's θ_{k+1} = (1 + √(1 + 4θ_k²))/2
capped by the strong-convexity momentum β_sc = (1 − √q)/(1 + √q), q = tμ/(1 + tμ_h)
(Chambolle & Pock 2016, FISTA with strong convexity), plus the gradient-based adaptive
restart of O'Donoghue & Candès (2015): θ ← 1 when ⟨y_k − x_{k+1}, x_{k+1} − x_k⟩ > 0.
A x is carried along the iterations (A y_k = A x_k + β(A x_k − A x_{k−1}) by linearity), so an
iteration costs one ``A`` and one ``Aᵀ``.

Step: t = 1/L with L = max(lipschitz, 10⁻³ μ) (the floor keeps t finite when g ≡ 0; then each
step contracts by 1/(1 + tμ) ≤ 10⁻³). Safeguard: at every certificate check the descent
lemma s(Ax⁺) ≤ s(Ay) + ⟨∇g(y), x⁺ − y⟩ + ‖x⁺ − y‖²/(2t) is tested (with a rounding slack);
if it fails, t is halved and the step redone (a correct ``lipschitz`` never triggers this).

**Certificate** (composite gradient mapping). After the step from y to x⁺,
prox optimality gives (y − x⁺)/t − ∇g(y) ∈ ∂h(x⁺), hence

    G = (y − x⁺)/t + ∇g(x⁺) − ∇g(y) ∈ ∂F(x⁺),   and   F(x⁺) − F* ≤ ‖G‖² / (2μ)

by μ-strong convexity: ``lower_bound = F(x⁺) − ‖G‖²/(2μ)`` is a lower bound on F* (valid for
any step t; up to floating-point rounding in evaluating F and G). The certificate is
checked at iteration 1 and every ``check_every`` iterations (F is evaluated only there); the
solver stops when F(x⁺) − best lower bound ≤ tol·(1 + |F(x⁺)|). This bound is computed in the working
dtype: the blocks report a float64 certificate of the returned point instead
(:mod:`fenchel_cvx.blocks.certificates`), and use ``x_lb``, the iterate at which the best bound was
attained, as a second candidate dual point.

**Safeguard**: FISTA is not monotone. F(x0) is evaluated at the start; the returned iterate is the last
one unless the start, or an earlier checked iterate (by more than rounding), has a lower F: never worse than the start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..backend import namespace
from ..errors import SolverError

__all__ = ["CompositeProblem", "ProxGradResult", "fista", "apg_fixed"]


# ---- vector helpers: an iterate is an array or a tuple of arrays -----------------------------
def _first(x):
    return x[0] if isinstance(x, tuple) else x


def _comb(a: float, x, b: float, y):
    """a x + b y as a fresh array, accumulated in place (one temporary of the iterate's size fewer;
    the same floating-point operations: b y + x, resp. a x + b y; a factor 1 is not multiplied, as 1·y = y
    exactly)."""
    if isinstance(x, tuple):
        return tuple(_comb(a, xi, b, yi) for xi, yi in zip(x, y, strict=True))
    if a == 1.0:
        out = y * b
        out += x
        return out
    out = x * a
    if b == 1.0:
        out += y
    else:
        out += y * b
    return out


def _sub(x, y):
    if isinstance(x, tuple):
        return tuple(xi - yi for xi, yi in zip(x, y, strict=True))
    return x - y


def _extrap(x_new, x_old, beta: float):
    """x_new + β (x_new − x_old)."""
    if beta == 0.0:
        return x_new
    return _comb(1.0 + beta, x_new, -beta, x_old)


def _vdot(xp, x, y, scratch: dict | None = None) -> float:
    """⟨x, y⟩ = Σ x∘y. ``scratch``: a dict that keeps an array of the iterate's size and layout for the product
    (written in place: the same values as x * y, without a fresh array per call)."""
    if isinstance(x, tuple):
        return sum(float(xp.sum(xi * yi)) for xi, yi in zip(x, y, strict=True))
    if scratch is None:
        return float(xp.sum(x * y))
    buf = scratch.get("prod")
    if buf is None or buf.shape != x.shape or buf.dtype != x.dtype:
        buf = scratch["prod"] = x * y
    else:
        xp.multiply(x, y, out=buf)
    return float(xp.sum(buf))


def _vdot_diff(xp, a, b, c, scratch: dict) -> float:
    """⟨a − b, c⟩ with a − b and the product written into the kept array of :func:`_vdot` (the same values)."""
    buf = scratch.get("prod")
    if isinstance(a, tuple) or buf is None or buf.shape != a.shape or buf.dtype != a.dtype:
        return _vdot(xp, _sub(a, b), c, scratch)
    xp.subtract(a, b, out=buf)
    buf *= c
    return float(xp.sum(buf))


def _scale_add_(x, a: float, y):
    """x ← a x + y in place (tuple-aware): the same floating-point operations as :func:`_comb` (a, x, 1, y)."""
    if isinstance(x, tuple):
        return tuple(_scale_add_(xi, a, yi) for xi, yi in zip(x, y, strict=True))
    x *= a
    x += y
    return x


def _all_finite(xp, x) -> bool:
    if isinstance(x, tuple):
        return all(xp.all(xp.isfinite(xi)) for xi in x)
    return xp.all(xp.isfinite(x))


@dataclass
class CompositeProblem:
    r"""F(x) = s(A x) + h(x) for :func:`fista` (see the module docstring).

    A, At      : x ↦ A x and r ↦ Aᵀ r (both None when g ≡ 0)
    s_value    : z ↦ s(z) (scalar: float, 0-d array or tensor)
    s_grad     : z ↦ ∇s(z), same shape as z
    h_value    : x ↦ h(x) (scalar; +inf outside dom h)
    prox_h     : (z, t) ↦ argmin_x t h(x) + ½‖x − z‖²
    lipschitz  : L ≥ Lip(∇g) (0 when g ≡ 0)
    mu_h, mu_g : strong-convexity moduli of h and g (μ = μ_h + μ_g must be > 0)
    prox_h_into: prox_h allowed to overwrite z (optional): the solvers call it on the z they form themselves
    start      : x0 ↦ (s(A x0), ∇g(x0)) or None (optional): :func:`fista`'s first point from values the caller
                 already has (the same numbers as through A x0; A x0 itself is then formed only if needed)
    """

    A: Callable | None
    At: Callable | None
    s_value: Callable
    s_grad: Callable
    h_value: Callable
    prox_h: Callable
    lipschitz: float
    mu_h: float
    mu_g: float = 0.0
    prox_h_into: Callable | None = None
    start: Callable | None = None

    def __post_init__(self):
        if (self.A is None) != (self.At is None):
            raise ValueError("CompositeProblem: A and At must both be given or both be None")
        for name in ("lipschitz", "mu_h", "mu_g"):
            v = float(getattr(self, name))
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"CompositeProblem: {name} must be finite and >= 0, got {v}")
            setattr(self, name, v)
        if self.mu_h + self.mu_g <= 0:
            raise ValueError("CompositeProblem: the certificate needs strong convexity, mu_h + mu_g > 0")

    def value_at(self, x, Ax=None) -> float:
        """F(x) = s(A x) + h(x) (``Ax`` may be given to save the product)."""
        val = float(self.h_value(x))
        if self.A is not None:
            val += float(self.s_value(self.A(x) if Ax is None else Ax))
        return val


@dataclass
class ProxGradResult:
    """Output of :func:`fista`: the last certified iterate x, F(x), a certified lower bound on F*."""

    x: Any
    value: float
    lower_bound: float
    iterations: int
    status: str  # "optimal" (certified gap <= tol (1 + |F|)) or "max_iter"
    time: float = 0.0
    info: dict = field(default_factory=dict)
    x_lb: Any = None  # the checked iterate at which the best lower bound was attained

    @property
    def gap(self) -> float:
        return self.value - self.lower_bound


def fista(prob: CompositeProblem, x0, tol: float, max_iter: int = 5000, check_every: int = 5,
          restart: bool = True, max_backtracks: int = 60) -> ProxGradResult:
    r"""Minimise ``prob`` from ``x0`` by FISTA with strong-convexity momentum and adaptive restart.

    Stops when the certified gap F(x) − lower_bound ≤ ``tol``·(1 + |F(x)|) (status "optimal")
    or after ``max_iter`` iterations (status "max_iter", with the honest certified bound of the
    last check). Raises :class:`SolverError` if the iterates become non-finite.
    """
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol: must be a positive finite number, got {tol}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter: must be >= 1, got {max_iter}")
    if int(check_every) < 1:
        raise ValueError(f"check_every: must be >= 1, got {check_every}")
    max_iter, check_every = int(max_iter), int(check_every)
    t_start = time.perf_counter()
    xp = namespace(_first(x0))
    eps = xp.eps(_first(x0))
    mu_h, mu = prob.mu_h, prob.mu_h + prob.mu_g
    has_g = prob.A is not None
    L = max(prob.lipschitz if has_g else 0.0, 1e-3 * mu)

    def momentum_cap(step):
        q = step * mu / (1.0 + step * mu_h)
        q = min(q, 1.0)
        return (1.0 - math.sqrt(q)) / (1.0 + math.sqrt(q))

    t = 1.0 / L
    beta_sc = momentum_cap(t)

    def grad(Az):
        return prob.At(prob.s_grad(Az))

    scratch = {}  # the inner products' array (:func:`_vdot`)

    x = x0
    known = prob.start(x0) if has_g and prob.start is not None else None  # (s(A x0), ∇g(x0)) or None
    Ax = prob.A(x) if has_g and known is None else None  # None with ``known``: formed below only if needed
    s_known = (Ax, float(known[0] if known is not None else prob.s_value(Ax)) if has_g else 0.0)  # (A z, s(A z))
    value0 = float(prob.h_value(x0)) + s_known[1]
    best = (value0, x0, "start")  # (F, x, which): the safeguard of the module docstring
    y, Ay = x, Ax
    gy = (grad(Ay) if known is None else known[1]) if has_g else None
    theta = 1.0
    best_lb = -math.inf
    x_lb = None
    n_back = n_restart = n_check = 0
    value = math.inf
    gnorm = math.inf
    status = "max_iter"
    k = 0
    for k in range(1, max_iter + 1):
        check = k == 1 or k % check_every == 0 or k == max_iter
        s_new = None
        s_y = s_known[1] if Ay is s_known[0] else None  # s(A y) when known (y = x0 at k = 1)
        while True:
            z = _comb(1.0, y, -t, gy) if has_g else y
            x_new = (prob.prox_h_into or prob.prox_h)(z, t) if has_g else prob.prox_h(z, t)  # z fresh with g
            Ax_new = prob.A(x_new) if has_g else None
            if not (check and has_g):
                break
            # safeguard: the descent lemma at the step just taken
            s_y = float(prob.s_value(Ay)) if s_y is None else s_y
            s_new = float(prob.s_value(Ax_new))
            s_known = (Ax_new, s_new)
            d = _sub(x_new, y)
            excess = s_new - s_y - _vdot(xp, gy, d, scratch) - _vdot(xp, d, d, scratch) / (2.0 * t)
            slack = 1e3 * eps * (1.0 + abs(s_y) + abs(s_new))
            if not (excess > slack) or n_back >= max_backtracks:
                break
            t *= 0.5
            beta_sc = momentum_cap(t)
            n_back += 1
        if check:
            n_check += 1
            if has_g:
                gx_new = grad(Ax_new)
                # (y − x⁺)/t = (−1/t)(x⁺ − y) exactly (negation is exact): d of the descent test
                G = _scale_add_(d, -1.0 / t, _sub(gx_new, gy))  # d (fresh) is not read again
                value = s_new + float(prob.h_value(x_new))
            else:
                gx_new = None
                G = _comb(1.0 / t, y, -1.0 / t, x_new)
                value = float(prob.h_value(x_new))
            gn2 = _vdot(xp, G, G, scratch)
            if not (math.isfinite(value) and math.isfinite(gn2)):
                if not _all_finite(xp, x_new):
                    raise SolverError(f"fista: non-finite iterate at iteration {k}")
                raise SolverError(f"fista: non-finite objective ({value}) or gradient mapping at iteration {k}")
            gnorm = math.sqrt(gn2)
            if value - gn2 / (2.0 * mu) > best_lb:
                best_lb, x_lb = value - gn2 / (2.0 * mu), x_new
            if value < best[0] - 1e3 * eps * (1.0 + abs(value)):
                best = (value, x_new, "checked")
            if value - best_lb <= tol * (1.0 + abs(value)):
                x, Ax = x_new, Ax_new
                status = "optimal"
                break
        # momentum: adaptive restart or capped Nesterov sequence; after the last iteration only the restart test
        # (its count is reported): the next gradient point would never be used
        tested = restart and k > 1
        d = _sub(x_new, x) if tested or k < max_iter else None
        if tested and _vdot_diff(xp, y, x_new, d, scratch) > 0:
            theta, beta = 1.0, 0.0
            n_restart += 1
        else:
            theta_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * theta * theta))
            beta = min((theta - 1.0) / theta_new, beta_sc)
            theta = theta_new
        if k == max_iter:
            break
        y = _scale_add_(d, beta, x_new) if beta != 0.0 else x_new  # d (fresh) is not read again
        if has_g:
            Ay = _comb(1.0 + beta, Ax_new, -beta, prob.A(x) if Ax is None else Ax) if beta != 0.0 else Ax_new
            # with β = 0 the gradient at y = x⁺ is already known at a check
            gy = gx_new if (beta == 0.0 and check) else grad(Ay)
        x, Ax = x_new, Ax_new
    if status != "optimal":
        # x is the last iterate; its value/bound are those of the last check (k == max_iter is a check)
        x = x_new
    returned = "last"
    if (best[2] == "start" and value > best[0]
            or best[2] == "checked" and value > best[0] + 1e3 * eps * (1 + abs(value))):
        x, value, returned = best[1], best[0], best[2]
    return ProxGradResult(x=x, value=value, lower_bound=best_lb, iterations=k, status=status,
                          time=time.perf_counter() - t_start, x_lb=x_lb,
                          info={"step": t, "lipschitz": prob.lipschitz, "mu": mu, "backtracks": n_back,
                                "restarts": n_restart, "checks": n_check, "grad_map_norm": gnorm,
                                "returned": returned})


def apg_fixed(prob: CompositeProblem, x0, n_iter: int):
    r"""``n_iter`` steps of accelerated proximal gradient on F = s(A x) + h(x), no certificate.

    Step t = 1/L (L = max(``lipschitz``, 10⁻³(μ_h + μ_g))), constant momentum β = (1 − √q)/(1 + √q)
    with q = tμ_h/(1 + tμ_h) (the strongly convex accelerated scheme):

        x⁺ = prox_{t h}(y − t Aᵀ∇s(A y)),   y⁺ = x⁺ + β (x⁺ − x).

    The cheap fixed-budget mode of the X-blocks (``solve_fixed``; each iteration: one product with
    A and one with Aᵀ and a few elementwise passes); :func:`fista` is the certified solver. With
    g ≡ 0 (``A is None``) the prox of h with a huge step is the minimiser.
    """
    if prob.A is None:
        return prob.prox_h(x0, 1e12)
    L = max(prob.lipschitz, 1e-3 * (prob.mu_h + prob.mu_g))
    t = 1.0 / L
    q = min(1.0, t * prob.mu_h / (1.0 + t * prob.mu_h))
    beta = (1.0 - math.sqrt(q)) / (1.0 + math.sqrt(q))
    x = y = x0
    for _ in range(int(n_iter)):
        z = prob.At(prob.s_grad(prob.A(y)))  # a fresh array (Aᵀ's output): updated in place, two passes fewer
        z *= -t
        z += y
        x_new = (prob.prox_h_into or prob.prox_h)(z, t)
        if beta:
            y = x_new - x
            y *= beta
            y += x_new
        else:
            y = x_new
        x = x_new
    return x
