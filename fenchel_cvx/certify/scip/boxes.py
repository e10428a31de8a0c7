r"""Finite variable bounds for the global models, derived from weight decay and an incumbent.

The global models (:mod:`fenchel_cvx.certify.scip.solve`) use the *unit-scaled* variables of a
one-hidden-layer ReLU network with one output: unit i has output sign s_i = ±1, a scale
τ_i ≥ 0 (its share of the objective), first-layer weights w̃_i, bias b̃_i, and per sample
j the pre-activation ũ_ij = w̃_i·x_j + b̃_i and activation ṽ_ij (the network's X_1 entry
times |a_i|, a = W_1). Spatial branch-and-bound needs every variable in a box; the boxes
below are *perspective* boxes, proportional to τ_i, so a unit that is switched off
(τ_i = 0) has all its variables fixed to 0. Every box contains at least one global
minimiser, so restricting the problem to it leaves the optimal value unchanged.

Inputs: ``Fbar`` ≥ the optimal value (an incumbent), data radius R = max_j ‖x_j‖,
β = √(ρ_0ρ_1), and γ = √(2mF̄) ≥ |z_j − y_j| (each sample's loss ½(z_j − y_j)² ≤ mF̄).

* **Both models.** The unit's cost is τ_i ≥ β‖w̃_i‖ (in J it is exactly β‖w̃_i‖; in F_λ,
  τ_i = √(2ρ_1 Ẽ_i) ≥ √(2ρ_1 ρ_0/2)‖w̃_i‖), so ‖w̃_i‖ ≤ τ_i/β, τ_i ≤ F̄ and Σ_i τ_i ≤ F̄.
* **Standard problem J.** A unit with ũ_ij > 0 for all j is shifted, b̃_i → b̃_i − min_j ũ_ij,
  with the output bias c compensating (same J); a unit with ũ_ij ≤ 0 for all j outputs 0
  and is removed (τ_i = 0). So WLOG min_j ũ_ij ≤ 0 ≤ max_j ũ_ij, hence
  |b̃_i| ≤ ‖w̃_i‖R ≤ τ_iR/β and |ũ_ij| ≤ τ_i(‖x_j‖ + R)/β; ṽ = ũ₊ and g̃ = ũ₋ obey the same bound.
* **Relaxation F_λ.** F_λ is differentiable in b̃_i with ∂/∂b̃_i ∝ Σ_j (ũ_ij₊ − ṽ_ij), so
  Σ_j ũ_ij₊ = Σ_j ṽ_ij at a minimiser; a unit with ũ_ij ≤ 0 for all j then has ṽ_i = 0 and is
  removed: b̃_i ≥ −τ_iR/β. A unit with ũ_ij > 0 and ṽ_ij > 0 for all j is shifted
  ((b̃_i, ṽ_i) − min_j min(ũ_ij, ṽ_ij), c compensating; F unchanged since B(u−δ, v−δ) = B(u, v)
  for u−δ, v−δ ≥ 0). Afterwards some ũ_ij ≤ 0 (b̃_i ≤ τ_iR/β), or some ṽ_ij = 0 < ũ_ij, where
  the KKT condition of ṽ_ij ≥ 0 reads (ρ_1/τ_i)(λ/m)(ṽ_ij − ũ_ij) + s_i r_j/m ≥ 0 (dτ/dẼ = ρ_1/τ),
  so ũ_ij ≤ τ_i γ/(λρ_1); also (λ/m)·½ũ_ij² = (λ/m)B(ũ_ij, 0) ≤ Ẽ_i ≤ τ_i²/(2ρ_1), so ũ_ij ≤ τ_i δ
  with δ = √(m/(λρ_1)); let κ = min(γ/(λρ_1), δ). Hence b̃_i ≤ τ_i(R/β + κ), ũ_ij ∈ [−τ_i(‖x_j‖+R)/β,
  τ_i((‖x_j‖+R)/β + κ)], and ṽ_ij ≤ ũ_ij,max + τ_i κ (the divergence gives |ũ₊ − ṽ| ≤ τ_i δ;
  the KKT condition gives ṽ > 0 ⇒ ṽ = ũ − s_i r_j τ_i/(λρ_1)).
* **Output bias.** ∂/∂c = 0 gives c = mean_j (y_j − Σ_i s_i ṽ_ij), so |c| ≤ max_j |y_j| + Σ_i max_j ṽ_ij.

**Output heads** (:func:`output_head`). The unit scaling needs only that the output layer be linear
with weight decay, so it covers three heads: *sign* with the squared loss (k = 1, as above); *sign* with
the logistic loss — the cross-entropy with k = 2 classes depends on δ_j = z_0j − z_1j only, and at every
minimiser W_1[1, :] = −W_1[0, :] (the common shift of the rows that minimises the weight decay) and WLOG
b_1[1] = −b_1[0], so it is the one-output network δ = a·x + c (a = W_1[0] − W_1[1], c = b_1[0] − b_1[1])
with the loss log(1 + e^{−σ_j δ_j}) (σ_j = +1 for class 0, −1 for class 1) and output weight decay
ρ_1/2 (ρ_1/2(‖r‖² + ‖−r‖²) = (ρ_1/2)/2‖a‖²); and *ball* for k ≥ 2 outputs otherwise (squared loss, or
cross-entropy with k ≥ 3): unit i contributes e_i ṽ_ij with a direction e_i = a_i/‖a_i‖; relaxing
‖e_i‖ = 1 to ‖e_i‖ ≤ 1 is exact (a point with 0 < ‖e_i‖ < 1 is dominated: rescaling (w̃_i, b̃_i, ṽ_i) by
‖e_i‖ and e_i to unit length keeps the output and multiplies τ_i by ‖e_i‖). Per head, with ρ_1 the
effective output weight decay, γ bounds the loss derivative |∂ℓ_j/∂z_j| used in the KKT argument
(squared: √(2mF̄); logistic: 1; cross-entropy: ‖softmax − y‖ ≤ √2), and with S = F̄·max_j v_hi,j ≥
|Σ_i e_i ṽ_ij| the output bias lies in: squared, c_k ∈ mean_j y_kj ± S (k = 1: |c| ≤ max|y| + nF̄ max v_hi);
logistic (stationarity Σ_j sigmoid(s_j + c) = n_0 with |s_j| ≤ S), c ∈ log(n_0/n_1) ± S; cross-entropy
(bounds of the general model, item 4, with M = S), c_k ∈ mean_r log(n_k/n_r) ± 4S(K − 1)/K.

Without biases (``bias=False``) b̃ = c = 0 and |ũ_ij| ≤ τ_i‖x_j‖/β. With one multiplier μ_j per
sample instead of λ, each per-sample quantity uses μ_j and each "some sample j" argument the worst μ_j.
Shapes: per-sample coefficient arrays have shape (m,) (one entry per column of X0).

**The general model** (:func:`network_boxes`, used by :mod:`fenchel_cvx.certify.scip.direct` for every
other supported problem: one or two hidden layers, relu / leaky_relu(a) / hardtanh, squared loss or
cross-entropy, k outputs) works in the network's own variables W_l, b_l, U_l (pre-activations), X_{l+1}
(forward activations for J, free lifted variables for F_μ, multipliers μ_l[i, j] > 0). A *global
minimiser* is transformed by moves that keep the objective or lower it (so the result is again a
global minimiser), until it satisfies every condition below; the boxes hold at the result. F̄ ≥ the
optimum, and every term of the objective is ≥ 0, so each one is ≤ F̄ there.

1. **Balance** (relu and leaky_relu layers are positively homogeneous: B(αu, αv) = α²B(u, v)).
   Scaling hidden unit i of layer l, (w_i, b_i, x_i) → α(w_i, b_i, x_i) and column i of W_{l+1} by 1/α,
   keeps U_{l+1}; minimising over α gives, with A_l = ρ_l/2‖W_l‖² and Div_l = (1/m)Σ μ_l B_l,
   A_l = A_{l+1} (J) and A_l + Div_l = A_{l+1} (F) summed over the units. Hence in a chain of g
   layers linked this way each A_l ≤ F̄/g (J) and ≤ F̄/2 (F, g ≥ 2: the total is ≥ 2A_last);
   otherwise A_l ≤ F̄. So ‖W_l‖_F ≤ ω_l = √(2A_l,max/ρ_l), and so is every row.
2. **Pre-activations, with biases** (D_j = max_k ‖x_j − x_k‖ over the layer's inputs, exact for the
   data, from the input box for a hidden layer; u_ij − u_ik = w_i·(x_j − x_k), so u_ij ≤ u_ik + ω_l D_j):
   * relu, J: a unit with all u_ij > 0 is shifted, b_i −= min_j u_ij, b_{l+1} += W_{l+1}[:, i]·min_j u_ij
     (U_{l+1} unchanged); one with all u_ij ≤ 0 outputs 0 and gets w_i = b_i = 0 (J lower). So some
     u_ik ≤ 0 ≤ some u_ik': |u_ij| ≤ ω_l D_j.
   * leaky_relu, J: the same shift from above, and from below (all u_ij < 0: b_i += δ, the outputs move
     by aδ, compensated downstream): |u_ij| ≤ ω_l D_j.
   * relu, F: F is C¹ in b_i with ∂/∂b_i = (1/m)Σ_j μ_ij(u_ij₊ − v_ij), so a unit with all u_ij ≤ 0 has
     v_i = 0 and gets w_i = b_i = 0 (F lower): some u_ik ≥ 0, u_ij ≥ −ω_l D_j. A unit with all u_ij > 0 and
     v_ij > 0 is shifted, (b_i, v_i) −= δ = min_j min(u_ij, v_ij) (B(u − δ, v − δ) = B(u, v) = ½(u − v)²
     there; downstream bias compensates). Then some u_ik ≤ 0, or some v_ik = 0 < u_ik where
     (μ_ik/m)·½u_ik² = (μ_ik/m)B(u_ik, 0) ≤ F̄: u_ij ≤ ω_l D_j + κ_i, κ_i = √(2mF̄/min_k μ_ik).
   * leaky_relu, F: shifts on both linear pieces (B = ½(u − v)² for u, v ≥ 0; B = (au − v)²/(2a) for
     u, v ≤ 0, moved by (δ, aδ)); after them some u_ik ≤ 0 or some v_ik ≤ 0 < u_ik (B ≥ ½u²), and some
     u_ik ≥ 0 or some v_ik ≥ 0 > u_ik (B ≥ (a/2)u²): u_ij ∈ [−ω_l D_j − κ_i/√a, ω_l D_j + κ_i].
   * hardtanh, J: a unit with all u_ij ≥ 1 (≤ −1) outputs the constant ±1 and gets w_i = 0, b_i = ±1;
     F: ∂F/∂b_i = (1/m)Σ μ_ij(clip(u_ij) − v_ij) = 0 forces v_i ≡ 1 for such a unit, and B(1, 1) = 0, so
     the same replacement. So some u_ik ≤ 1 and some u_ik' ≥ −1: |u_ij| ≤ 1 + ω_l D_j.
   The shifts of a layer change only its own bias and the next layer's bias, never U_{l+1}, so the moves of
   all layers and units are compatible. Then b_i = u_ij − w_i·x_j for every j gives
   b_i ∈ [max_j (u_lo,ij − ω_l N_j), min_j (u_hi,ij + ω_l N_j)] with N_j ≥ ‖x_j‖.
   **Without biases** u_ij = w_i·x_j, |u_ij| ≤ ω_l N_j.
3. **Activations.** J: x = φ(u) ∈ [φ(u_lo), φ(u_hi)] (φ is monotone). F: f* is 1-strongly convex for
   these three activations, so (μ_ij/m)·½(v_ij − φ(u_ij))² ≤ (μ_ij/m)B(u_ij, v_ij) ≤ F̄:
   v_ij ∈ [φ(u_lo,ij) − ε_ij, φ(u_hi,ij) + ε_ij] ∩ dom f*, ε_ij = √(2mF̄/μ_ij). These boxes are the inputs of
   the next layer.
4. **Output layer** z_j = W_L x_j + b_L (s_kj = W_L[k]·x_j, |s_kj| ≤ ω_L N_j):
   * squared loss: b_L is unpenalised, so Σ_j (z_kj − y_kj) = 0 and b_L[k] = mean_j (y_kj − s_kj) ∈
     mean_j y_kj ± ω_L mean_j N_j; each sample's loss ½‖z_j − y_j‖² ≤ mF̄ gives |z_kj − y_kj| ≤ √(2mF̄).
   * cross-entropy (classes k = 1..K, n_k ≥ 1 samples each): the loss is invariant under z_j → z_j + c1,
     so WLOG Σ_k b_L[k] = 0, and at every minimiser Σ_k W_L[k, :] = 0 (the common shift of the rows that
     minimises the weight decay). Stationarity in b_L: Σ_j p_kj = n_k with p_j = softmax(z_j). With
     π = softmax(b_L) and |s_kj| ≤ M = ω_L max_j N_j, p_kj ∈ π_k[e^{−2M}, e^{2M}], so
     π_k ∈ (n_k/m)[e^{−2M}, e^{2M}], b_k − b_r = log(π_k/π_r) ∈ log(n_k/n_r) ± 4M, and with Σ b = 0,
     b_k ∈ mean_r log(n_k/n_r) ± 4M(K − 1)/K. Each sample's loss ≤ mF̄ gives z_rj − z_{y_j j} ≤ mF̄.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["OutputHead", "output_head", "UnitBounds", "unit_bounds", "LayerBox", "NetworkBoxes", "network_boxes",
           "input_geometry"]


@dataclass
class OutputHead:
    """The output layer of a one-hidden-layer problem as the unit-scaled model sees it (module docstring).

    ``kind``: "sign" (units carry signs ±1, scalar output) or "ball" (directions e_i ∈ ℝ^k, ‖e_i‖ ≤ 1);
    ``loss``: "squared", "logistic" or "cross_entropy"; ``k``: the model's output dimension; ``rho1``: the
    effective output weight decay; ``targets``: k x m (squared: Y; cross-entropy: one-hot Y; logistic:
    σ_j = ±1 as a 1 x m array); ``gamma``: bound on the loss derivative.
    """

    kind: str
    loss: str
    k: int
    rho1: float
    targets: np.ndarray
    gamma_factor: float  # γ = gamma_factor·√(2mF̄) for the squared loss, the constant γ otherwise

    def gamma(self, m: int, Fbar: float) -> float:
        return self.gamma_factor * math.sqrt(2.0 * m * Fbar) if self.loss == "squared" else self.gamma_factor


def output_head(problem) -> OutputHead:
    """The output head of a one-hidden-layer problem (module docstring, "Output heads")."""
    net, Y = problem.net, problem.Y
    k, rho1 = net.sizes[-1], float(net.rho[-1])
    if problem.loss == "squared":
        return OutputHead("sign" if k == 1 else "ball", "squared", k, rho1, Y, 1.0)
    if k == 2:
        return OutputHead("sign", "logistic", 1, rho1 / 2.0, (Y[0] - Y[1])[None, :], 1.0)
    return OutputHead("ball", "cross_entropy", k, rho1, Y, math.sqrt(2.0))


@dataclass
class UnitBounds:
    """Perspective bounds of one unit, as multiples of its scale τ (τ ∈ [0, ``tau_hi``]).

    ``w``: ‖w̃‖ ≤ w·τ;  ``b_lo``, ``b_hi``: b̃ ∈ [b_lo·τ, b_hi·τ];  ``u_lo``, ``u_hi``, ``v_hi``
    (shape (m,)): ũ_j ∈ [u_lo_j·τ, u_hi_j·τ], ṽ_j ≤ v_hi_j·τ, s̃_j ≤ max(u_hi_j, 0)·τ,
    g̃_j ≤ max(−u_lo_j, 0)·τ. ``c_hi`` bounds |c| (``c_lo``, ``c_box_hi``: the box of each of the head's k
    output biases) and ``e_hi`` each sample's loss; ``Fbar`` is the incumbent.
    """

    w: float
    b_lo: float
    b_hi: float
    u_lo: np.ndarray
    u_hi: np.ndarray
    v_hi: np.ndarray
    tau_hi: float
    c_hi: float
    e_hi: float
    Fbar: float
    c_lo: np.ndarray | None = None
    c_box_hi: np.ndarray | None = None

    @property
    def s_hi(self) -> np.ndarray:
        return np.maximum(self.u_hi, 0.0)

    @property
    def g_hi(self) -> np.ndarray:
        return np.maximum(-self.u_lo, 0.0)


def unit_bounds(problem, Fbar: float, relaxed: bool, lam=None) -> UnitBounds:
    """Perspective bounds (module docstring) for the relaxation (``relaxed=True``, multipliers ``lam``: a
    scalar λ or one multiplier μ_j > 0 per sample, shape (m,)) or the standard problem, given an upper
    bound ``Fbar`` on the optimal value; the output head (:func:`output_head`) sets ρ_1, γ and the box of c.

    With per-sample multipliers the argument is the same with λ replaced by μ_j at sample j; where the
    sample is unknown ("some j with ṽ_ij = 0 < ũ_ij") the worst case μ_min = min_j μ_j is used.
    """
    Fbar = float(Fbar)
    if not (math.isfinite(Fbar) and Fbar > 0):
        raise ValueError(f"Fbar: expected a finite positive incumbent value, got {Fbar}")
    net, m, X0 = problem.net, problem.m, problem.X0
    head = output_head(problem)
    rho0, rho1 = float(net.rho[0]), head.rho1
    beta = math.sqrt(rho0 * rho1)
    xn = np.linalg.norm(X0, axis=0)
    R = float(xn.max())
    bias = net.bias
    if relaxed:
        mu = np.broadcast_to(np.asarray(lam, dtype=float), (m,))
        if not (np.all(mu > 0) and np.all(np.isfinite(mu))):
            raise ValueError(f"lam: expected finite multipliers > 0, got {lam}")
        gamma = head.gamma(m, Fbar)
        # per sample: min(γ/(μ_jρ_1), √(m/(μ_jρ_1))); at an unknown sample: the worst (largest) of them
        slack = np.minimum(gamma / (mu * rho1), np.sqrt(m / (mu * rho1)))
        kappa = float(slack.max())
    if not bias:
        u_hi = xn / beta
        u_lo = -u_hi
        b_lo = b_hi = 0.0
    elif not relaxed:
        u_hi = (xn + R) / beta
        u_lo = -u_hi
        b_lo, b_hi = -R / beta, R / beta
    else:
        u_lo = -(xn + R) / beta
        u_hi = (xn + R) / beta + kappa
        b_lo, b_hi = -R / beta, R / beta + kappa
    v_hi = np.maximum(u_hi, 0.0) + slack if relaxed else np.maximum(u_hi, 0.0)
    n = net.sizes[1]
    S = Fbar * float(v_hi.max())  # ≥ |Σ_i e_i ṽ_ij|, since Σ_i τ_i ≤ F̄
    T = head.targets
    if not bias:
        c_lo = c_hi_k = np.zeros(head.k)
    elif head.loss == "squared" and head.k == 1:
        c_hi_k = np.array([float(np.max(np.abs(T))) + n * S])
        c_lo = -c_hi_k
    elif head.loss == "squared":
        c_lo, c_hi_k = T.mean(axis=1) - S, T.mean(axis=1) + S
    elif head.loss == "logistic":
        n0, n1 = float(np.sum(T > 0)), float(np.sum(T < 0))
        centre = math.log(n0 / n1)
        c_lo, c_hi_k = np.array([centre - S]), np.array([centre + S])
    else:
        logn = np.log(T.sum(axis=1))
        centre = logn - logn.mean()
        half = 4.0 * S * (head.k - 1) / head.k
        c_lo, c_hi_k = centre - half, centre + half
    c_hi = float(np.max(np.abs(np.concatenate([c_lo, c_hi_k]))))
    return UnitBounds(w=1.0 / beta, b_lo=b_lo, b_hi=b_hi, u_lo=u_lo, u_hi=u_hi, v_hi=v_hi,
                      tau_hi=Fbar, c_hi=c_hi, e_hi=m * Fbar, Fbar=Fbar, c_lo=c_lo, c_box_hi=c_hi_k)


# ---- the general model ----------------------------------------------------------------------
@dataclass
class LayerBox:
    """Boxes of weight layer l (module docstring, "the general model").

    ``w``: ‖W_l‖_F ≤ w (so every row and entry too); ``reg_hi``: ρ_l/2‖W_l‖² ≤ reg_hi; ``b_lo``, ``b_hi``
    (n_out,): the bias; ``u_lo``, ``u_hi`` (n_out x m): pre-activations U_l (the logits Z for the output
    layer); ``x_lo``, ``x_hi`` (n_out x m): the activations X_{l+1} (hidden layers only, else None).
    """

    w: float
    reg_hi: float
    b_lo: np.ndarray
    b_hi: np.ndarray
    u_lo: np.ndarray
    u_hi: np.ndarray
    x_lo: np.ndarray | None = None
    x_hi: np.ndarray | None = None


@dataclass
class NetworkBoxes:
    """Boxes of every layer (``layers[l]``, l = 0..L), the per-sample loss bound ``e_hi`` = mF̄ and ``Fbar``."""

    layers: list
    e_hi: float
    Fbar: float


def _homogeneous(act) -> bool:
    return act.name in ("relu", "leaky_relu", "identity")


def _reg_caps(net, Fbar: float, relaxed: bool) -> list:
    """Upper bounds on A_l = ρ_l/2‖W_l‖² from the balance of homogeneous layers (module docstring, item 1)."""
    L = net.L
    groups, cur = [], [0]
    for l in range(L):  # hidden layer l links weight layers l and l+1 when its activation is homogeneous
        if _homogeneous(net.activations[l]):
            cur.append(l + 1)
        else:
            groups.append(cur)
            cur = [l + 1]
    groups.append(cur)
    caps = [Fbar] * (L + 1)
    for g in groups:
        if len(g) >= 2:
            for l in g:
                caps[l] = Fbar / len(g) if not relaxed else Fbar / 2.0
    return caps


def input_geometry(lo: np.ndarray, hi: np.ndarray):
    """For inputs x_j in the box [lo_j, hi_j] (columns of n x m arrays): D_j ≥ max_k ‖x_j − x_k‖ and N_j ≥ ‖x_j‖
    (exact for data, lo = hi)."""
    if lo is hi or np.array_equal(lo, hi):
        diffs = lo[:, :, None] - lo[:, None, :]
        return np.sqrt(np.sum(diffs * diffs, axis=0)).max(axis=1), np.linalg.norm(lo, axis=0)
    lo_min, hi_max = lo.min(axis=1, keepdims=True), hi.max(axis=1, keepdims=True)
    diff = np.maximum(hi - lo_min, hi_max - lo)
    D = np.sqrt(np.sum(diff * diff, axis=0))
    N = np.sqrt(np.sum(np.maximum(np.abs(lo), np.abs(hi)) ** 2, axis=0))
    return D, N


def network_boxes(problem, Fbar: float, relaxed: bool, mu=None) -> NetworkBoxes:
    """Boxes of the general model (module docstring, "the general model") given an upper bound ``Fbar`` on
    the optimum of J (``relaxed=False``) or of F_μ (``relaxed=True``, ``mu`` = one n_{l+1} x m array of
    multipliers per hidden layer, as from :func:`~fenchel_cvx.certify.expand_multipliers`)."""
    Fbar = float(Fbar)
    if not (math.isfinite(Fbar) and Fbar > 0):
        raise ValueError(f"Fbar: expected a finite positive incumbent value, got {Fbar}")
    net, m, X0, Y = problem.net, problem.m, problem.X0, problem.Y
    if relaxed and (mu is None or len(mu) != net.L):
        raise ValueError(f"mu: expected {net.L} multiplier arrays for the relaxation, got {mu!r}")
    caps = _reg_caps(net, Fbar, relaxed)
    xlo, xhi = X0, X0
    layers = []
    for l in range(net.L + 1):
        w = math.sqrt(2.0 * caps[l] / float(net.rho[l]))
        D, N = input_geometry(xlo, xhi)
        n_out = net.sizes[l + 1]
        if l == net.L:
            layers.append(_output_box(net, Y, m, Fbar, w, caps[l], N))
            break
        act = net.activations[l]
        if net.bias:
            kappa_hi, kappa_lo = np.zeros(n_out), np.zeros(n_out)
            if act.name == "hardtanh":
                kappa_hi[:], kappa_lo[:] = 1.0, 1.0
            elif relaxed:
                kappa = np.sqrt(2.0 * m * Fbar / mu[l].min(axis=1))
                kappa_hi = kappa
                if act.name == "leaky_relu":
                    kappa_lo = kappa / math.sqrt(act.a)
            u_hi = w * D[None, :] + kappa_hi[:, None]
            u_lo = -w * D[None, :] - kappa_lo[:, None]
            # never looser than the bias-free bound with the derived bias box
            b_lo = np.max(u_lo - w * N[None, :], axis=1)
            b_hi = np.min(u_hi + w * N[None, :], axis=1)
        else:
            u_hi = np.broadcast_to(w * N[None, :], (n_out, m)).copy()
            u_lo = -u_hi
            b_lo = b_hi = np.zeros(n_out)
        x_lo, x_hi = act.phi(u_lo), act.phi(u_hi)
        if relaxed:
            eps = np.sqrt(2.0 * m * Fbar / mu[l])
            x_lo, x_hi = act.project_domain(x_lo - eps), act.project_domain(x_hi + eps)
        layers.append(LayerBox(w=w, reg_hi=caps[l], b_lo=b_lo, b_hi=b_hi, u_lo=u_lo, u_hi=u_hi, x_lo=x_lo, x_hi=x_hi))
        xlo, xhi = x_lo, x_hi
    return NetworkBoxes(layers=layers, e_hi=m * Fbar, Fbar=Fbar)


def _output_box(net, Y, m, Fbar, w, cap, N) -> LayerBox:
    k = net.sizes[-1]
    s = w * N  # |W_L[k]·x_j| ≤ s_j
    if net.loss.name == "squared":
        if net.bias:
            ybar = Y.mean(axis=1)
            b_lo, b_hi = ybar - w * N.mean(), ybar + w * N.mean()
        else:
            b_lo = b_hi = np.zeros(k)
        r = math.sqrt(2.0 * m * Fbar)
        z_lo = np.maximum(b_lo[:, None] - s[None, :], Y - r)
        z_hi = np.minimum(b_hi[:, None] + s[None, :], Y + r)
    else:
        if net.bias:
            counts = Y.sum(axis=1)
            M = float(s.max())
            logn = np.log(counts)
            centre = logn - logn.mean()  # mean_r log(n_k / n_r)
            half = 4.0 * M * (k - 1) / k
            b_lo, b_hi = centre - half, centre + half
        else:
            b_lo = b_hi = np.zeros(k)
        z_lo = b_lo[:, None] - s[None, :]
        z_hi = b_hi[:, None] + s[None, :]
    return LayerBox(w=w, reg_hi=cap, b_lo=b_lo, b_hi=b_hi, u_lo=z_lo, u_hi=z_hi)
