r"""The row-wise Gram preconditioner of the W-blocks' Newton-CG (:mod:`fenchel_cvx.blocks.glm`).

Shapes: X̃ is n x m (features x samples, the bias row included); the rows of the iterate Θ
(n_out x n) are the neurons. See :class:`GramPreconditioner`.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import namespace, to_numpy

__all__ = ["GramPreconditioner"]


class GramPreconditioner:
    """Row-wise preconditioner M_i = c_i (K + diag(r)/ĉ_{k(i)}) built from K = X̃X̃ᵀ/m.

    ``set_scale(c)`` assigns rows to buckets k = round(log₄ c_i) (Cholesky factors cached
    per bucket, representative ĉ_k = geometric mean of the bucket's c at creation);
    rows with negligible data curvature (c_i·tr K ≤ 1e-3·min r_W) use the Jacobi
    preconditioner c_i diag(K) + r. ``apply(R)`` returns the rows of R times M_i⁻¹.
    """

    JACOBI = None

    def __init__(self, Xt, r_row, r_floor: float):
        xp = namespace(Xt)
        self.xp = xp
        m = Xt.shape[1]
        self.Xt = Xt
        self.m = m
        self.r_row = r_row  # (1, n)
        self.r_floor = r_floor
        self.K = None
        self.diagK = xp.sum(Xt * Xt, axis=1, keepdims=True).T / m  # (1, n)
        self.trace = float(xp.sum(self.diagK))
        self.factors: dict = {}
        self.n_factorisations = 0
        self.groups = []
        self.c = None

    def _factor(self, key, c_rep):
        if key in self.factors:
            return self.factors[key]
        xp = self.xp
        if self.K is None:
            self.K = (self.Xt @ self.Xt.T) / self.m
        n = self.K.shape[0]
        I = xp.eye(n, like=self.K)
        A = self.K + I * (self.r_row / c_rep)
        jitter = 0.0
        Minv = xp.spd_inverse(A)
        while Minv is None:  # numerically indefinite (float32 Gram, tiny regularisation): add jitter
            jitter = max(1e2 * xp.eps(A) * (self.trace / n + 1e-30), 10.0 * jitter)
            if jitter > 1e6 * (self.trace + 1.0):
                raise RuntimeError("preconditioner: Cholesky factorisation failed")
            Minv = xp.spd_inverse(A + I * jitter)
        self.n_factorisations += 1
        self.factors[key] = Minv
        return Minv

    def set_scale(self, c):
        xp = self.xp
        self.c = c
        c_np = np.asarray(to_numpy(c), dtype=np.float64).ravel()
        jac = c_np * self.trace <= 1e-3 * self.r_floor
        with np.errstate(divide="ignore"):
            keys = np.where(jac, np.nan, np.round(np.log(np.maximum(c_np, 1e-300)) / math.log(4.0)))
        groups = []
        uniq = [k for k in np.unique(keys[~jac])]
        key_dev = None
        if len(uniq) + int(jac.any()) > 1:
            key_dev = xp.asarray(np.where(jac, -1e9, keys), like=c).reshape(-1)
        for k in uniq:
            sel = keys == k
            if k not in self.factors:
                c_rep = float(np.exp(np.mean(np.log(c_np[sel]))))
                self._factor(k, c_rep)
            groups.append((k, None if key_dev is None else key_dev == float(k)))
        if jac.any():
            groups.append((self.JACOBI, None if key_dev is None else key_dev == -1e9))
        self.groups = groups

    def apply(self, R):
        xp = self.xp
        c = self.c
        if len(self.groups) == 1:
            k, _ = self.groups[0]
            if k is self.JACOBI:
                return R / self._jacobi(c)
            return (R @ self.factors[k]) / c
        Z = xp.zeros_like(R)
        for k, mask in self.groups:
            if k is self.JACOBI:
                Z[mask] = R[mask] / self._jacobi(c[mask])
            else:
                Z[mask] = (R[mask] @ self.factors[k]) / c[mask]
        return Z

    def _jacobi(self, c):
        d = c * self.diagK + self.r_row
        return self.xp.where(d > 0, d, 1.0)
