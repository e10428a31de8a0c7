r"""Research script: first-layer MM W-steps shaped by the input space's principal directions (pure lifted).

Θ = [W b] (n_out x (d+1)), X̃ = [X; 1ᵀ] ((d+1) x m), U = Θ X̃. The first hidden W-block of F_λ is the data
term H(U) = (λ/m) Σ [f(U) − U ∘ X_1] (ReLU: f(u) = ½ max(u, 0)², ∇H = (λ/m)(φ(U) − X_1), curvature ≤ κ = λ/m;
ρ = 0). Its usual MM step from Θ_k minimises the majoriser

    H(U_k) + ⟨∇H(U_k), (Θ − Θ_k) X̃⟩ + (κ/2)‖(Θ − Θ_k) X̃‖² + (γ/2)‖Θ − Θ_k‖²,

i.e. the metric on the change is κ X̃X̃ᵀ + γ I. Both variants below write the change as Θ − Θ_k = Δ Rᵀ for a
fixed (d+1) x r matrix R built once from the principal directions of the WHOLE training split's centred
inputs, C = E diag(σ) Eᵀ (d x d, computed once; c = mean σ), and minimise the majoriser over Δ (n_out x r)
with the proximal term (γ/2)‖Δ‖²:

(a) subspace step, ``--k K``: R = P̃ = blockdiag(E_K, 1) (orthonormal, the top-K principal directions and the
    bias coordinate). Then ‖Θ − Θ_k‖ = ‖Δ‖: the exact MM step of the block restricted to the affine subspace
    Θ_k + span (monotone on F_λ). K = d reproduces the usual step (R square orthogonal).
(b) anti-whitening proximal metric, ``--eps e`` (ε = e c): R = blockdiag(E diag(√((σ + ε)/c)), 1). Then
    ‖Δ‖² = ‖(Θ − Θ_k) R⁻ᵀ‖², so the step minimises the data term's majoriser plus (γ/2) tr((Θ − Θ_k) M_p
    (Θ − Θ_k)ᵀ) with M_p = blockdiag(c (C + εI)⁻¹, 1): the metric κ X̃X̃ᵀ + γ M_p. Its extra term is PSD, so
    the surrogate still majorises H and equals it at Θ_k: the step is MM on F_λ (H never rises), and it
    penalises a change along a direction of variance σ by γ c/(σ + ε) (γ keeps its meaning for σ + ε = c; the
    bias keeps the usual weight γ; e = ε/c bounds the penalty by γ/e). (b) with K < d combines both.

With Z = Rᵀ X̃ (r x m, per batch) and Z Zᵀ = V diag(s) Vᵀ (cached per batch of the fixed partition with
Y = Vᵀ Z and T = Vᵀ Rᵀ, r x (d+1)), one step in the basis δ = Δ V is, with G = ∇H(U_j) and centre δ = 0 (Θ_k),

    δ_{j+1} = (κ δ_j diag(s) − G Yᵀ) diag(1/(κ s + γ)),     Θ = Θ_k + δ T,     U = U_k + δ Y,

for every κ, γ (continuation allowed) without a new factorisation. Output layer as shipped; λ, γ without
continuation by default. Shapes: features x samples. Validation split only (the test set is never read).

    python experiments/pca_metric.py --check                       # one batch: K = d vs the usual step, H
    python experiments/pca_metric.py --k 20 50 100 200 --lam 0.3 1 3 --gamma 0.1 1 10
    python experiments/pca_metric.py --eps 0.01 0.1 1 --lam 0.3 1 3 --gamma 0.1 1 10
"""

from __future__ import annotations

import argparse
import itertools
from functools import partial

import numpy as np
from first_layer_runs import mean_validation_curve, report

from fenchel_cvx import data
from fenchel_cvx.training import LocalExecutor


class InputSpaceMetric(LocalExecutor):
    """The local executor with the first layer's MM step on Θ = Θ_k + Δ Rᵀ (module docstring): ``k`` principal
    directions of the training inputs (None: all d), ``eps`` None for (a), ε for (b)."""

    def __init__(self, k: int | None = None, eps: float | None = None):
        super().__init__()
        self.k, self.eps = k, eps
        self.R = None

    def _basis(self):
        """R ((d+1) x r, float64) from the whole training split's centred inputs (once)."""
        if self.R is None:
            X = np.asarray(self.X, dtype=np.float64)  # d x m_train
            Xc = X - X.mean(axis=1, keepdims=True)
            sig, E = np.linalg.eigh(Xc @ Xc.T / X.shape[1])
            sig, E = np.maximum(sig[::-1], 0.0), E[:, ::-1]
            c = sig.mean()
            k = X.shape[0] if self.k is None else int(self.k)
            cols = E[:, :k] if self.eps is None else E[:, :k] * np.sqrt(sig[:k] / c + self.eps)
            d = X.shape[0]
            R = np.zeros((d + 1, k + 1))
            R[:d, :k], R[d, k] = cols, 1.0
            self.R, self.sig = R, sig
        return self.R

    def _batch_factor(self, X, cache):
        """(Y, T, s) of the batch X (module docstring), cached in the batch's dict."""
        if cache is not None and "ism" in cache:
            return cache["ism"]
        R = self._basis()
        Xt = np.vstack([np.asarray(X, dtype=np.float64), np.ones((1, X.shape[1]))])
        Z = R.T @ Xt
        s, V = np.linalg.eigh(Z @ Z.T)
        out = ((V.T @ Z).astype(X.dtype), (V.T @ R.T).astype(X.dtype), np.maximum(s, 0.0))
        if cache is not None:
            cache["ism"] = out
        return out

    def w_step(self, state, l, sch, n_iters, adaptive, U=None, monotone=False, cache=None):
        if l != 0:
            return super().w_step(state, l, sch, n_iters, adaptive, U=U, monotone=monotone, cache=cache)
        if float(self.net.rho[0]) != 0.0:
            raise ValueError("InputSpaceMetric: the step assumes ρ = 0 on the first layer")
        X, X1 = state.inputs(0), state.Xs[0]
        lam, gamma = float(sch.lam[0]), float(sch.gamma[0])
        kappa = lam / X.shape[1]  # ReLU: Lip(φ) = 1
        Y, T, s = self._batch_factor(X, cache)
        d = (1.0 / (kappa * s + gamma)).astype(X.dtype)
        ks = (kappa * s).astype(X.dtype)
        delta, Uj = None, U
        for _ in range(n_iters):
            B = -(kappa * (np.maximum(Uj, 0) - X1)) @ Y.T  # −G Yᵀ
            if delta is not None:
                B += delta * ks
            delta = B * d
            Uj = U + delta @ Y
        dTheta = delta @ T
        return state.W[0] + dTheta[:, :-1], state.b[0] + dTheta[:, -1], Uj


def _data_term(lam, U, X1):
    """H(U) of the first W-block (ReLU), float64."""
    U, X1 = np.asarray(U, np.float64), np.asarray(X1, np.float64)
    Up = np.maximum(U, 0.0)
    return lam / U.shape[1] * float(np.sum(0.5 * Up * Up - U * X1))


def check(ds, split, lam=1.0, gamma=1.0, seed=100):
    """On the first batch of one run after one epoch: (a) with k = d against the usual MM step (relative
    difference of W, b, U), and H before/after each variant's step (MM: never up)."""
    from fenchel_cvx import FenchelNetwork
    from fenchel_cvx.training import BCDConfig, Trainer, prepare_data, tuned_fashion

    Xtr, ytr, Xva, yva = split
    net = FenchelNetwork([ds.n_features, 300, ds.n_classes], seed=seed, dtype="float32")
    cfg = BCDConfig(**dict(tuned_fashion(1), shuffle="batches", epochs=1, batch_size=500, seed=seed,
                           dtype="float32", restore_best=False, lam=lam, gamma=[gamma, 1.0], lam_growth=1.0,
                           gamma_growth=1.0))
    ex = InputSpaceMetric()
    tr = Trainer(net, prepare_data(net, Xtr, ytr, X_val=Xva, y_val=yva), cfg, executor=ex, verbose=0)
    list(tr.iterate())
    st = tr.state
    X0 = ex.X[:, :500]
    Us, Xs, _ = ex.net.forward_pass(list(st.W), list(st.b), X0)
    lifted = ex._lifted(list(st.W), list(st.b), X0, ex.Y[:, :500], list(Xs), Us, ex.schedule(st, 1).lam)
    ex.x_steps(lifted, cfg.x_iters, solver="apg")
    U0, X1 = Us[0], lifted.Xs[0]
    sch = ex.schedule(st, 1)
    Wr, br, Ur = LocalExecutor.w_step(ex, lifted, 0, sch, 1, None, U=U0, cache={})
    h0 = _data_term(lam, U0, X1)
    print(f"check lam={lam} gamma={gamma}: H(start)={h0:.6g}  usual step: H={_data_term(lam, Ur, X1):.6g}")

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return np.linalg.norm(a - b) / np.linalg.norm(b)

    for k, eps in [(None, None), (20, None), (50, None), (200, None), (None, 0.01), (None, 0.1), (None, 1.0),
                   (50, 0.1)]:
        ex.k, ex.eps, ex.R = k, eps, None
        for n in (1, 3):
            W, b, Un = ex.w_step(lifted, 0, sch, n, None, U=U0, cache={})
            Uf = np.asarray(W, np.float64) @ np.asarray(X0, np.float64) + np.asarray(b, np.float64)[:, None]
            h = _data_term(lam, Uf, X1)
            line = f"  k={k} eps={eps} iters={n}: H={h:.6g} (Δ {h - h0:+.3g})  U consistent {rel(Un, Uf):.1e}"
            if k is None and eps is None and n == 1:
                line += f"  vs usual step: W {rel(W, Wr):.1e} b {rel(b, br):.1e} U {rel(Un, Ur):.1e}"
            print(line, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--k", type=int, nargs="+", default=[None], help="principal directions kept (default: all)")
    p.add_argument("--eps", type=float, nargs="+", default=[None], help="(b): ε of the anti-whitening metric")
    p.add_argument("--lam", type=float, nargs="+", default=[1.0])
    p.add_argument("--gamma", type=float, nargs="+", default=[1.0])
    p.add_argument("--momentum", type=float, nargs="+", default=[0.7])
    p.add_argument("--growth", type=float, nargs="+", default=[1.0], help="λ and γ per-epoch factor (equal)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    p.add_argument("--check", action="store_true", help="the one-batch checks (module docstring) and exit")
    args = p.parse_args(argv)
    ds = data.load(args.dataset, dtype=np.float32)
    split = ds.split_validation(0.1, seed=0)
    if args.check:
        check(ds, split, lam=args.lam[0], gamma=args.gamma[0])
        return
    for k, eps, lam, gamma, mom, gr in itertools.product(
        args.k, args.eps, args.lam, args.gamma, args.momentum, args.growth
    ):
        a = mean_validation_curve(ds, split, args.seeds, args.epochs, partial(InputSpaceMetric, k, eps), lam=lam,
                                  gamma=[gamma, 1.0], lam_growth=gr, gamma_growth=gr, momentum=mom)
        report(f"k={k} eps={eps} lam={lam} gamma={gamma} momentum={mom} growth={gr}", a)


if __name__ == "__main__":
    main()
