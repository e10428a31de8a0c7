r"""The first layer's W-step restricted to the principal directions of the training inputs
(``BCDConfig(w0_subspace=k)``; experiments/pca_metric.py variant (a), experiments/FINDINGS.md §3d).

Shapes: features x samples. X is d x m (the first layer's input), X̃ = [X; 1ᵀ] ((d+1) x m), Θ = [W | b]
(n_out x (d+1)), U = Θ X̃ (n_out x m).

The basis. From the whole training set the trainer is given (d x m_train), centred, the covariance
C = (X − x̄1ᵀ)(X − x̄1ᵀ)ᵀ/m_train = E diag(σ) Eᵀ (d x d, float64, σ descending) is computed once
(:func:`principal_directions`); E_k (d x k) holds its top-k eigenvectors and P̃ = blockdiag(E_k, 1)
((d+1) x (k+1), orthonormal columns; E_k alone without a bias).

The step. The first W-block (blocks/w_blocks.py, with the proximal term of the mini-batch scheme) is

    P(Θ) = H(Θ X̃) + ρ/2‖W‖² + γ/2‖Θ − Θ_c‖²,

with data term H of curvature ≤ κ (κ scaled by ``w_curvature`` η, as in :func:`fenchel_cvx.blocks.mm.mm_steps`).
From the start Θ_k (the weights before the step) every change is written Θ = Θ_k + Δ P̃ᵀ (Δ is n_out x (k+1)), so
the block is minimised over the affine subspace Θ_k + span P̃. With Z = P̃ᵀ X̃ ((k+1) x m) and the iterate
Δ_j (Δ_0 = 0, U_j = U_k + Δ_j Z, G_j = ∇H(U_j)), one MM step minimises the majoriser

    H(U_j) + ⟨G_j, (Δ − Δ_j) Z⟩ + κ/2‖(Δ − Δ_j) Z‖² + ρ/2‖W_k + Δ_W E_kᵀ‖² + γ/2‖Θ_k − Θ_c + Δ P̃ᵀ‖²

exactly (P̃ has orthonormal columns: ‖Δ P̃ᵀ‖ = ‖Δ‖), i.e. solves the (k+1)² system

    Δ_{j+1} (κ Z Zᵀ + D) = κ Δ_j Z Zᵀ − G_j Zᵀ − [ρ W_k + γ (W_k − W_c)] E_k | −γ (b_k − b_c)],

D = diag(ρ+γ (k times), γ). It is the MM step of the block restricted to the subspace: P never rises (the
majoriser equals P at Δ_j and lies above it). The proximal term keeps the usual meaning (γ towards the
centre Θ_c, here the weights before the step). With k = d, P̃ is square orthogonal and the step equals the
usual MM step (:func:`~fenchel_cvx.blocks.mm.mm_steps`) up to rounding.

Z and Z Zᵀ are kept per batch in the batch's cache when the partition is fixed (``shuffle="batches"``);
otherwise they are formed per batch (k·d·m and k²·m operations, then one (k+1)² Cholesky factor).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import namespace, to_numpy
from ..blocks.mm import augment

__all__ = ["principal_directions", "subspace_mm_steps"]

#: columns of the training inputs per chunk of the covariance (bounds the float64 copy)
_CHUNK = 8192


def principal_directions(X: Any, k: int) -> np.ndarray:
    """E_k (d x k, float64 numpy): the top-``k`` eigenvectors of the covariance of the centred columns of X
    (d x m, numpy or torch), in decreasing order of variance (module docstring). Deterministic for given X."""
    d, m = int(X.shape[0]), int(X.shape[1])
    if not 1 <= k <= d:
        raise ValueError(f"w0_subspace: expected 1 <= k <= d = {d} (the input dimension), got {k}")
    C = np.zeros((d, d))
    s = np.zeros(d)
    for j in range(0, m, _CHUNK):
        B = np.asarray(to_numpy(X[:, j:j + _CHUNK]), dtype=np.float64)
        C += B @ B.T
        s += B.sum(axis=1)
    mean = s / m
    C = C / m - np.outer(mean, mean)
    _, E = np.linalg.eigh((C + C.T) / 2)
    return np.ascontiguousarray(E[:, ::-1][:, :k])


def subspace_mm_steps(blk, E, n_steps: int = 1, curvature: float = 1.0, U=None, cache: dict | None = None):
    r"""``n_steps`` MM steps of the W-block ``blk`` (a hidden or output W-block; its ``current`` weights are
    the start Θ_k, its ``prox`` holds ρ, γ and the centre) restricted to Θ_k + span P̃, P̃ = blockdiag(E, 1)
    (module docstring). ``E``: d x k with orthonormal columns, in the block's backend and dtype; ``U``: the
    pre-activation at the start (n_out x m; default computed); ``cache``: a dict kept for this block's fixed
    input (Z and Z Zᵀ). Returns (W, b, U_new), U_new = W X + b 1ᵀ at the result."""
    X, term, prox = blk.X, blk.term, blk.prox
    xp = namespace(X)
    W0, b0 = blk.current
    bias = prox.bias
    if U is None:
        U = W0 @ X + b0[:, None]
    kappa = float(term.kappa) * float(curvature)
    rho, gamma = float(prox.rho), float(prox.gamma)
    if cache is not None and "subspace" in cache:
        Z, ZZ = cache["subspace"]
    else:
        Z = augment(E.T @ X, bias)                    # (k+1) x m
        ZZ = xp.gram(Z)
        if cache is not None:
            cache["subspace"] = (Z, ZZ)
    k = E.shape[1]
    M = kappa * ZZ + (rho + gamma) * xp.eye(ZZ.shape[0], like=ZZ)
    if bias:
        M[k, k] = M[k, k] - rho
    F = xp.cholesky(M)
    # the constant part of the right-hand side: −[ρ W_k + γ (W_k − W_c)] E_k | −γ (b_k − b_c)]
    c = xp.zeros((W0.shape[0], ZZ.shape[0]), like=ZZ)
    c[:, :k] = -((rho * W0 + gamma * (W0 - prox.W_prev)) @ E)
    if bias:
        c[:, k] = -gamma * (b0 - prox.b_prev)
    delta, Uj = None, U
    for _ in range(int(n_steps)):
        B = -(term.grad(Uj) @ Z.T)
        B += c
        if delta is not None:
            B += kappa * (delta @ ZZ)
        delta = xp.cho_solve_rows(F, B)
        Uj = U + delta @ Z
    W = W0 + delta[:, :k] @ E.T
    b = (b0 + delta[:, k]) if bias else b0
    return W, b, Uj
