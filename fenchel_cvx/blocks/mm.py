r"""Majorise–minimise (MM) ridge steps: the fixed-budget solver of the W-blocks (``solve_fixed``).

Shapes: features x samples. X is n_in x m, X̃ = [X; 1ᵀ] ((n_in+1) x m) with a bias (X itself
without), Θ = [W | b] (n_out x (n_in+1)), U = Θ X̃ (n_out x m).

Block (docs/design.md §2, with the proximal term of the mini-batch scheme)::

    P(W, b) = H(W X + b 1ᵀ) + ρ/2‖W‖² + γ/2 (‖W − W_pre‖² + ‖b − b_pre‖²),

where the data term H (a :class:`fenchel_cvx.blocks.glm.DataTerm`: (λ/m) Σ[f(U) − U∘Y] of an
activation with Lip(φ) = L_φ, or ℓ(Y, U)/m with ∇²ℓ ≼ c_ℓ I per sample) has curvature ≤ κ in U
(κ = λL_φ/m, resp. c_ℓ/m). At the current point U_k, H is majorised by the quadratic
H(U_k) + ⟨∇H(U_k), U − U_k⟩ + (κ/2)‖U − U_k‖², so one MM step minimises the ridge regression

    κ/2 ‖Θ X̃ − T‖² + Σ_ic r_c/2 (Θ − Θ_c)²_ic,     T = U_k − ∇H(U_k)/κ,

(r = ρ+γ on W, γ on b, centre Θ_c = [γ W_pre/(ρ+γ) | b_pre]) exactly. Every step decreases P
(monotone), and T − U_k is exactly the "target shift" of target propagation. Weight space: the
(n_in+1)² system M = κ X̃X̃ᵀ + D (:func:`ridge_system`, one Cholesky factor for all neurons, reused by
every step); sample space, when m < n_in + 1 and γ > 0: the m x m system S = κ X̃ᵀD⁻¹X̃ + I, then
U_new = T − R for free (R = (T − Θ_c X̃) S⁻¹).
Only X̃X̃ᵀ and T X̃ᵀ depend on the samples, so a sharded run (:mod:`fenchel_cvx.training.dask`)
sums them over shards and calls :func:`ridge_system` / :func:`ridge_solve` once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backend import NotSPDError, is_torch, namespace

__all__ = ["Proximal", "augment", "ridge_system", "ridge_solve", "split_theta", "mm_steps", "proximal_mm_steps",
           "gram_augmented", "times_augmented_T"]


@dataclass(frozen=True)
class Proximal:
    r"""The regularisation of a W-block, R(W, b) = ρ/2‖W‖² + γ/2 (‖W − W_prev‖² + ‖b − b_prev‖²), and its bias
    flag: ``rho`` = ρ ≥ 0 (weight decay), ``gamma`` = γ ≥ 0 (proximal weight), the proximal centre ``W_prev``
    (n_out x n_in) and ``b_prev`` (n_out,), and ``bias`` (False: b stays 0). Trusted (the blocks validate it)."""

    rho: float
    gamma: float
    W_prev: Any
    b_prev: Any
    bias: bool = True


def augment(X, bias: bool):
    """X̃ = [X; 1ᵀ] ((n_in+1) x m) with a bias, X itself without (numpy or torch)."""
    if not bias:
        return X
    xp = namespace(X)
    Xa = xp.zeros((X.shape[0] + 1, X.shape[1]), like=X)
    Xa[:-1] = X
    Xa[-1] = 1.0
    return Xa


def split_theta(Theta, bias: bool):
    """Θ = [W | b] → (W, b) (b = 0 without a bias)."""
    if bias:
        return Theta[:, :-1], Theta[:, -1]
    return Theta, namespace(Theta).zeros((Theta.shape[0],), like=Theta)


def ridge_system(G, kappa: float, prox: Proximal):
    r"""The weight-space ridge system of an MM step from the Gram matrix G = X̃X̃ᵀ, for the regularisation
    ``prox`` (ρ, γ and the centre W_pre = ``prox.W_prev``, b_pre = ``prox.b_prev``).

    Returns ``(F, Cd)``: F the Cholesky factor of M = κG + D (D = ρ+γ on the weight columns, γ on
    the bias column) and Cd = Θ_c D = [γ W_pre | γ b_pre]; a step is then Θ = :func:`ridge_solve`
    (F, κ T X̃ᵀ + Cd). Raises ``ValueError`` unless ρ + γ > 0 and ``FloatingPointError`` when M is
    not numerically positive definite (non-finite data).
    """
    xp = namespace(G)
    rho, gamma, W_pre, b_pre, bias = prox.rho, prox.gamma, prox.W_prev, prox.b_prev, prox.bias
    r_w, r_b = float(rho + gamma), float(gamma)
    if r_w <= 0:
        raise ValueError("rho + gamma: the MM step needs rho + gamma > 0 (a strongly convex majoriser)")
    n_aug = G.shape[0]
    M = kappa * G + r_w * xp.eye(n_aug, like=G)
    if bias:
        n_in = n_aug - 1
        M[n_in, n_in] = M[n_in, n_in] + (r_b - r_w)
        Cd = xp.zeros((W_pre.shape[0], n_aug), like=G)
        Cd[:, :n_in] = gamma * W_pre
        Cd[:, n_in] = r_b * b_pre
    else:
        Cd = gamma * W_pre
    return xp.cholesky(M), Cd


def ridge_solve(F, B):
    """B M⁻¹ for M = L Lᵀ given by its factor F (:func:`ridge_system`): the rows (neurons) at once."""
    return namespace(B).cho_solve_rows(F, B)


def gram_augmented(X, bias: bool):
    """X̃X̃ᵀ = [[X Xᵀ, X 1], [1ᵀ Xᵀ, m]] (bias) or X Xᵀ, without forming X̃ (for a conv layer X is the im2col
    matrix, fan_in x P·m: an augmented copy is costly)."""
    xp = namespace(X)
    if not bias:
        return xp.gram(X)
    n = X.shape[0]
    G = xp.zeros((n + 1, n + 1), like=X)
    G[:n, :n] = xp.gram(X)
    r = xp.sum(X, axis=1)
    G[:n, n] = r
    G[n, :n] = r
    G[n, n] = float(X.shape[1])
    return G


def times_augmented_T(T, X, bias: bool):
    """T X̃ᵀ = [T Xᵀ, T 1] (bias) or T Xᵀ, without forming X̃."""
    if not bias:
        return T @ X.T
    xp = namespace(X)
    n = X.shape[0]
    out = xp.zeros((T.shape[0], n + 1), like=X)
    out[:, :n] = T @ X.T
    out[:, n] = xp.sum(T, axis=1)
    return out


def mm_steps(term, X, U, prox: Proximal, n_steps: int = 1, U_c=None, curvature: float = 1.0,
             cache: dict | None = None, final_u: bool = True):
    r"""``n_steps`` MM steps (module docstring) of the block with data term ``term`` and regularisation ``prox``
    (ρ, γ, proximal centre (W_pre, b_pre) = (``prox.W_prev``, ``prox.b_prev``), bias), starting from the point
    whose pre-activation is ``U``.

    ``term`` supplies ∇H and κ (:class:`fenchel_cvx.blocks.glm.DataTerm`). The start enters only through
    U; the centre through Θ_c (and, in sample space, Θ_c X̃, computed from ``U_c`` = W_pre X + b_pre 1ᵀ;
    default U: the start is the centre, the trainers' case). Returns ``(W, b, U_new)`` with
    U_new = W X + b 1ᵀ at the result. Requires ρ + γ > 0 and κ > 0. ``final_u=False``: the caller does not
    read U_new (the trainers' re-forward after inertia); in weight space its product Θ X̃ after the last step is
    then skipped and U_new is None (sample space has it for free and returns it).

    ``curvature`` η scales κ (a diagnostic option, ``BCDConfig.w_curvature``): η = 1 is the MM step; η < 1 is a
    damped Gauss–Newton step that no longer majorises H (not monotone); η = 0 linearises H at U: the proximal
    gradient step Θ = argmin ⟨∇H(U), ΘX̃⟩ + ρ/2‖W‖² + γ/2‖Θ − Θ_pre‖², i.e. W = (γ W_pre − ∇H(U) Xᵀ)/(ρ + γ),
    b = b_pre − ∇H(U) 1/γ (no Gram matrix, no factorisation).

    The arithmetic is written in place where it is the per-batch hot path (one m x m scratch matrix factorised
    in place in sample space; no X̃ formed in weight space).

    ``cache``: a dict owned by the caller for one fixed input X (the first layer of a batch that
    recurs every epoch, ``BCDConfig(shuffle="batches")``); it keeps the eigenvalue decomposition of
    the sample-space Gram matrix XᵀX (m x m), which solves S for every κ, ρ, γ
    (:func:`_sample_space_factor`), resp. the weight-space Gram X̃X̃ᵀ. The result equals the
    uncached one up to rounding.
    """
    xp = namespace(X)
    n_in, m = X.shape
    rho, gamma, W_pre, b_pre, bias = prox.rho, prox.gamma, prox.W_prev, prox.b_prev, prox.bias
    r_w = float(rho + gamma)
    if r_w <= 0:
        raise ValueError("rho + gamma: the MM step needs rho + gamma > 0 (a strongly convex majoriser)")
    kappa = term.kappa * float(curvature)
    if curvature == 0.0:
        return _linearised_steps(term, X, U, prox, n_steps)
    if not kappa > 0:
        raise ValueError(f"kappa: the MM step needs a positive curvature bound, got {kappa}")
    s = gamma / r_w
    r_b = float(gamma)
    n_aug = n_in + (1 if bias else 0)
    Uk = U
    if m < n_aug and (not bias or r_b > 0):
        # sample space: S = κ X̃ᵀ D⁻¹ X̃ + I,  R = (T − C) S⁻¹,  Θ = Θ_c + κ R X̃ᵀ D⁻¹,  U_new = T − R,
        # with C = Θ_c X̃ = s (U_c − b_pre) + b_pre (U_c = W_pre X + b_pre 1ᵀ; C = U_c when s = 1, i.e. ρ = 0)
        Uc = U if U_c is None else U_c
        if s == 1.0:
            C = Uc
        elif bias:
            C = Uc - b_pre[:, None]
            C *= s
            C += b_pre[:, None]
        else:
            C = s * Uc
        solve = _sample_space_factor(X, kappa / r_w, (kappa / r_b) if bias else None, cache)
        R = None
        for _ in range(n_steps):
            B = term.grad(Uk)             # a fresh array, updated in place
            B *= -1.0 / kappa
            B += Uk
            B -= C                        # B = T − C,  T = U_k − ∇H(U_k)/κ
            R = solve(B)
            B -= R
            B += C                        # U_new = T − R
            Uk = B
        W = R @ X.T
        W *= kappa / r_w
        if s == 1.0:
            W += W_pre
        elif s != 0.0:
            W += s * W_pre
        b = (b_pre + (kappa / r_b) * xp.sum(R, axis=1)) if bias else xp.zeros((W.shape[0],), like=X)
        return W, b, Uk
    # weight space: Θ (κ X̃X̃ᵀ + D) = κ T X̃ᵀ + Θ_c D, with X̃X̃ᵀ, T X̃ᵀ and Θ X̃ = W X + b 1ᵀ computed without X̃
    if cache is None:
        G = gram_augmented(X, bias)
    else:
        G = cache.get("G")
        if G is None:
            G = cache["G"] = gram_augmented(X, bias)
    F, Cd = ridge_system(G, kappa, prox)
    Theta = None
    for step in range(n_steps):
        T = term.grad(Uk)
        T *= -1.0 / kappa
        T += Uk
        TX = times_augmented_T(T, X, bias)
        TX *= kappa
        TX += Cd
        Theta = ridge_solve(F, TX)
        if not final_u and step == n_steps - 1:
            Uk = None  # nobody reads it (``final_u``): no Θ X̃ product
            break
        Uk = Theta[:, :n_in] @ X
        if bias:
            Uk += Theta[:, n_in:]
    return (*split_theta(Theta, bias), Uk)


def _sample_space_factor(X, c_w: float, c_b: float | None, cache: dict | None):
    r"""A solver ``B ↦ B S⁻¹`` (rows of B at once) of S = c_w XᵀX + c_b 11ᵀ + I (m x m; c_b None:
    no bias term), the sample-space system of :func:`mm_steps` with c_w = κ/(ρ+γ), c_b = κ/γ.

    Without ``cache``: the Cholesky factor of S. With ``cache`` (the input X recurs every epoch):
    the eigenvalue decomposition XᵀX = Q diag(σ) Qᵀ, computed once and kept, gives S⁻¹ for every
    (c_w, c_b) as A⁻¹ − c_b a aᵀ/(1 + c_b 1ᵀa) with A⁻¹ = Q diag(1/(c_w σ + 1)) Qᵀ and a = A⁻¹1
    (Sherman–Morrison), i.e. B S⁻¹ = B A⁻¹ − c_b/(1 + c_b 1ᵀa) (B A⁻¹ 1) aᵀ: two products with Q,
    no Gram matrix and no factorisation.
    """
    xp = namespace(X)
    if cache is None:
        S = xp.gram(X.T)
        S *= c_w
        if c_b is not None:
            S += c_b
        xp.add_diagonal(S, 1.0)
        F = xp.cholesky(S, overwrite=True)
        return lambda B: xp.cho_solve_rows(F, B)
    eig = cache.get("eig")
    if eig is None:
        eig = cache["eig"] = _gram_eigh(X)
    sig, Q = eig
    d = 1.0 / (c_w * sig + 1.0)
    if c_b is not None:
        a = Q @ (d * xp.sum(Q, axis=0))          # a = A⁻¹ 1
        coef = float(c_b) / (1.0 + float(c_b) * float(xp.sum(a)))

    def solve(B):
        R = B @ Q
        R *= d
        R = R @ Q.T
        if c_b is not None:
            R -= (coef * xp.sum(R, axis=1))[:, None] * a[None, :]
        return R

    return solve


def _gram_eigh(X):
    """(σ, Q) with XᵀX = Q diag(σ) Qᵀ (X is n x m, Q is m x m) in X's dtype, σ clipped at 0. In
    float32 the eigenvalues carry an absolute error of about 1e-7·σ_max, far below the 1 that
    S = c XᵀX + I adds to c·σ for the c = κ/(ρ+γ) of training."""
    if is_torch(X):
        import torch

        sig, Q = torch.linalg.eigh(X.T @ X)
        return sig.clamp_min(0.0), Q
    import numpy as np

    sig, Q = np.linalg.eigh(X.T @ X)
    return np.maximum(sig, 0.0), np.ascontiguousarray(Q)


def _linearised_steps(term, X, U, prox: Proximal, n_steps):
    """η = 0 (:func:`mm_steps`): proximal gradient steps on the linearised data term, centred at (W_pre, b_pre)."""
    xp = namespace(X)
    rho, gamma, W_pre, b_pre, bias = prox.rho, prox.gamma, prox.W_prev, prox.b_prev, prox.bias
    if bias and gamma <= 0:
        raise ValueError("gamma: the linearised W-step (w_curvature = 0) needs gamma > 0 for the bias")
    r_w = float(rho + gamma)
    Uk, W, b = U, W_pre, b_pre
    for _ in range(n_steps):
        G = term.grad(Uk)
        W = (gamma * W_pre - G @ X.T) / r_w
        b = (b_pre - xp.sum(G, axis=1) / gamma) if bias else xp.zeros((W.shape[0],), like=X)
        Uk = W @ X + b[:, None]
    return W, b, Uk


def proximal_mm_steps(term, X, U, W, b, prox: Proximal, iters: int, name: str = "w_block"):
    r"""MM steps (:func:`mm_steps`) from (W, b) (pre-activation ``U``) with the extra proximal term δ/2‖Θ − Θ_k‖²: the
    fallback of the W-blocks' ``solve_fixed`` when the ridge system has no Cholesky factor (ρ + γ ≈ 0,
    collinear inputs).

    Each step minimises the majoriser plus δ/2‖Θ − Θ_k‖², i.e. the MM step of the block with proximal weight
    γ + δ towards ((γ W_prev + δ W_k)/(γ + δ), (γ b_prev + δ b_k)/(γ + δ)): still monotone in P. δ starts at
    1e-8·(κ(‖X‖² + m) + 1) and grows ×100 until the factorisation succeeds. Returns (W, b, U, δ).
    """
    xp = namespace(X)
    m = X.shape[1]
    gamma, W_prev, b_prev = prox.gamma, prox.W_prev, prox.b_prev
    delta = 1e-8 * (term.kappa * (float(xp.sum(X * X)) + m) + 1.0)
    for _ in range(12):
        try:
            Wk, bk, Uk = W, b, U
            for _s in range(iters):
                g2 = gamma + delta
                Wc, bc = (gamma * W_prev + delta * Wk) / g2, (gamma * b_prev + delta * bk) / g2
                step = Proximal(prox.rho, g2, Wc, bc, prox.bias)
                Wk, bk, Uk = mm_steps(term, X, Uk, step, n_steps=1, U_c=Wc @ X + bc[:, None])
            return Wk, bk, Uk, delta
        except NotSPDError:
            delta *= 100.0
    raise NotSPDError(f"{name}: the MM ridge system has no Cholesky factor even with a proximal term "
                      f"{delta:.1e} (non-finite data?)")
