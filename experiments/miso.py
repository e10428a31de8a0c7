r"""Research script: the first layer's W-step as stochastic MM with memory of past surrogates.

MISO (Mairal), pure lifted.

The W-block of the first layer on the whole training set is H(Θ) = Σ_b H_b(Θ X̃_b) (λ/m) Σ[f(U) −
U∘X_1] summed over the batches b of a fixed partition, with each batch's X_1 at its last X-step
value (the lifted variables of the batches not in hand do not move). When batch b is visited at Θ_b, its MM surrogate

    H_b(Θ) ≤ H_b(Θ_b X̃_b) + ⟨∇H_b, (Θ − Θ_b) X̃_b⟩ + (κ/2)‖(Θ − Θ_b) X̃_b‖² = const + (κ/2)‖Θ X̃_b
    − T_b‖², T_b = U_b − ∇H_b(U_b)/κ = U_b − (φ(U_b) − X_1,b)    (ReLU: κ = λ/m),

is stored as P_b = T_b X̃_bᵀ (its Gram G_b = X̃_b X̃_bᵀ does not change: the inputs are the data).
The step minimises the sum of the stored surrogates of the batches visited so far plus the proximal term:

    Θ = (c Σ_b P_b + γ Θ_pre)(c Σ_b G_b + γ I)⁻¹,     c = λ / (samples visited so far),   ρ = 0,

an MM step on F_λ's first W-block over all visited data: the metric is the Gram of all the data, not
of one batch. Shapes: features x samples. Validation split only.

    python experiments/miso.py --gamma 0.01 0.1 1 --momentum 0 0.7
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import scipy.linalg
from first_layer_runs import mean_validation_curve, report

from fenchel_cvx import data
from fenchel_cvx.training import LocalExecutor


class Miso(LocalExecutor):
    """The local executor with the first layer's W-step of the module docstring (numpy, ReLU, ρ = 0)."""

    def __init__(self):
        super().__init__()
        self.P = self.G = None
        self.seen = 0

    def w_step(self, state, l, sch, n_iters, adaptive, U=None, monotone=False, cache=None):
        if l != 0 or cache is None:
            return super().w_step(state, l, sch, n_iters, adaptive, U=U, monotone=monotone, cache=cache)
        X, X1 = state.inputs(0), state.Xs[0]
        m = X.shape[1]
        Xa = np.vstack([X, np.ones((1, m), dtype=X.dtype)])
        T = U - (np.maximum(U, 0) - X1)
        Pb = T @ Xa.T
        if "miso_G" not in cache:
            cache["miso_G"] = Xa @ Xa.T
            self.G = (
                cache["miso_G"].astype(np.float64) if self.G is None else self.G + cache["miso_G"]
            )
            self.seen += m
            self.P = np.zeros_like(Pb, dtype=np.float64) if self.P is None else self.P
        else:
            self.P -= cache["miso_P"]
        cache["miso_P"] = Pb
        self.P += Pb
        lam, gamma = float(sch.lam[0]), float(sch.gamma[0])
        c = lam / self.seen
        Theta_pre = np.hstack([state.W[0], state.b[0][:, None]]).astype(np.float64)
        M = c * self.G
        M.flat[:: M.shape[0] + 1] += gamma
        Theta = scipy.linalg.cho_solve(
            scipy.linalg.cho_factor(M, lower=True), (c * self.P + gamma * Theta_pre).T
        ).T
        Theta = Theta.astype(X.dtype)
        W, b = np.ascontiguousarray(Theta[:, :-1]), Theta[:, -1].copy()
        return W, b, W @ X + b[:, None]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--lam", type=float, nargs="+", default=[1.0])
    p.add_argument("--gamma", type=float, nargs="+", default=[0.1])
    p.add_argument("--momentum", type=float, nargs="+", default=[0.0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    args = p.parse_args(argv)
    ds = data.load(args.dataset, dtype=np.float32)
    split = ds.split_validation(0.1, seed=0)
    for lam, gamma, mom in itertools.product(args.lam, args.gamma, args.momentum):
        a = mean_validation_curve(ds, split, args.seeds, args.epochs, Miso, lam=lam,
                                  gamma=[gamma, 1.0], lam_growth=1.0, gamma_growth=1.0, momentum=mom)
        report(f"lam={lam} gamma={gamma} momentum={mom}", a)


if __name__ == "__main__":
    main()
