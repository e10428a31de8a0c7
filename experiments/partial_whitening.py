r"""Research script: first-layer MM W-steps with a partially whitened majoriser (pure lifted).

The MM step of the first hidden W-block (data term H with curvature ≤ κ in U, proximal weight γ, ρ =
0) minimises the quadratic majoriser H(U_k) + ⟨∇H, U − U_k⟩ + (κ/2)‖(Θ − Θ_k) X̃‖², i.e. its metric
on Θ is κ X̃X̃ᵀ (whitening: a step ∝ σ^{-1/2} along an input direction of variance σ). Any metric κ
f(X̃X̃ᵀ) with f(σ) ≥ σ also majorises H, so the step Θ = Θ_k − ∇H X̃ᵀ (κ f(X̃X̃ᵀ) + γ I)⁻¹ is still
an MM step on F_λ (monotone in the block). With f(σ) = σ^α σ_max^{1−α}: α = 1 the usual step, α = 0
the isotropic (Lipschitz) step, between them a metric that whitens partly. In sample space, with
X̃ᵀX̃ = Q diag(σ) Qᵀ (the batch's Gram, cached per batch of a fixed partition):

    ΔΘ = −(∇H Q diag(1/(κ f(σ) + γ)) Qᵀ) X̃ᵀ,      ΔU = ΔΘ X̃ = −(∇H Q diag(σ/(κ f(σ) + γ))) Qᵀ.

Shapes: features x samples. Validation split only (the test set is never read).

    python experiments/partial_whitening.py --alpha 1 0.5 --gamma 1 --lam 1
"""

from __future__ import annotations

import argparse
import itertools
from functools import partial

import numpy as np
from first_layer_runs import mean_validation_curve, report

from fenchel_cvx import data
from fenchel_cvx.training import LocalExecutor


class PartialWhitening(LocalExecutor):
    """The local executor with the first layer's MM step on the metric κ f(X̃X̃ᵀ) + γ I (module docstring)."""

    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = float(alpha)

    def w_step(self, state, l, sch, n_iters, adaptive, U=None, monotone=False, cache=None):
        if l != 0 or cache is None:
            return super().w_step(state, l, sch, n_iters, adaptive, U=U, monotone=monotone, cache=cache)
        X, X1 = state.inputs(0), state.Xs[0]
        m = X.shape[1]
        lam, gamma = float(sch.lam[0]), float(sch.gamma[0])
        kappa = lam / m  # ReLU: Lip(φ) = 1
        if "pw_eig" not in cache:
            K = np.asarray(X.T @ X, dtype=np.float64) + 1.0  # X̃ᵀX̃ = XᵀX + 11ᵀ
            sig, Q = np.linalg.eigh(K)
            cache["pw_eig"] = (np.maximum(sig, 0.0), Q.astype(X.dtype))
        sig, Q = cache["pw_eig"]
        f = sig**self.alpha * sig.max() ** (1.0 - self.alpha)
        d = (1.0 / (kappa * f + gamma)).astype(X.dtype)
        G = (lam / m) * (np.maximum(U, 0) - X1)  # ∇H(U) = (λ/m)(φ(U) − X_1)
        GQ = G @ Q
        A = (GQ * d) @ Q.T
        W = state.W[0] - A @ X.T
        b = state.b[0] - A.sum(axis=1)
        Unew = U - (GQ * (d * sig.astype(X.dtype))) @ Q.T
        return W, b, Unew


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--alpha", type=float, nargs="+", default=[1.0, 0.5])
    p.add_argument("--lam", type=float, nargs="+", default=[1.0])
    p.add_argument("--gamma", type=float, nargs="+", default=[1.0])
    p.add_argument("--momentum", type=float, nargs="+", default=[0.7])
    p.add_argument(
        "--growth", type=float, nargs="+", default=[1.0], help="λ and γ per-epoch factor (equal)"
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    args = p.parse_args(argv)
    ds = data.load(args.dataset, dtype=np.float32)
    split = ds.split_validation(0.1, seed=0)
    for alpha, lam, gamma, mom, gr in itertools.product(
        args.alpha, args.lam, args.gamma, args.momentum, args.growth
    ):
        a = mean_validation_curve(ds, split, args.seeds, args.epochs, partial(PartialWhitening, alpha), lam=lam,
                                  gamma=[gamma, 1.0], lam_growth=gr, gamma_growth=gr, momentum=mom)
        report(f"alpha={alpha} lam={lam} gamma={gamma} momentum={mom} growth={gr}", a)


if __name__ == "__main__":
    main()
