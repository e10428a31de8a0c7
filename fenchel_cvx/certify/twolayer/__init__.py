r"""Certified brackets for two-layer ReLU networks at scale: the convex program, its dual, column generation.

Problem. Network ``[d, n, 1]``, f(x) = Σ_i a_i (w_iᵀx + b_i)₊ + c, data X0 (d x m, one column per
sample), a per-sample convex loss ℓ_j, weight decay on the weights only:

    J = (1/m) Σ_j ℓ_j(f(x_j)) + ρ_0/2 ‖W_0‖²_F + ρ_1/2 ‖a‖².

Losses: ``squared`` ℓ_j(z) = ½(z − y_j)²; ``logistic`` ℓ_j(z) = log(1 + e^z) − q_j z with q_j ∈ [0, 1]
(q_j = 1 for the positive class: ℓ = log(1 + e^{−z}); labels y ∈ {0, 1} give q = y, y ∈ {−1, +1} give
q = (1 + y)/2). A ``[d, n, 2]`` cross-entropy network is the same problem exactly: its loss depends on
z = z_0 − z_1 only (ℓ = log(1 + e^z) − q z with q = Y[0] the target probability of class 0), and for
a fixed difference δ = a_0i − a_1i the output decay ρ_1/2 (a_0i² + a_1i²) is minimised by
a_0i = −a_1i = δ/2, giving ρ_1/4 δ², i.e. the one-output problem with **ρ_1' = ρ_1/2** (and the
optimal two-output network is the one-output one with rows (a/2, −a/2), bias (c/2, −c/2)).

Convex program (Pilanci & Ergen 2020; any convex loss). With A = [X0ᵀ 1] (m x p, p = d+1; X0ᵀ
without a bias), β = √(ρ_0ρ_1), patterns D of the chambers of {u : a_jᵀu = 0} and cones
K_D = {u : (2D − 1)∘(A u) ≥ 0}:

    P* = min (1/m) Σ_j ℓ_j(ŷ_j) + β Σ_blocks ‖u[:d]‖,   ŷ = Σ_blocks s·D∘(A u) + c1,   u ∈ K_D,

one block per pattern and sign s = ±1 (only the weight part u[:d] is penalised). The all-ones
pattern is replaced by one free *linear block* ω ∈ ℝ^d (output X0ᵀω, cost β‖ω‖) — exact, because
with the free c its bias part is redundant — and the all-zero pattern is dropped. P* ≤ J for every
width; P* = min J when the width n ≥ r, the number of units of a solution (module
:mod:`fenchel_cvx.certify.twolayer.reference`).

**Dual and the certified lower bound.** For every λ ∈ ℝ^m with (bias) 1ᵀλ = 0 and
S(λ) = sup_{‖w‖≤1, b} |Σ_j λ_j (x_jᵀw + b)₊| ≤ mβ, and every network:

    J ≥ (1/m) Σ_j ℓ_j(ŷ_j) + β Σ_i |a_i| ‖w_i‖                      (AM–GM on each unit)
      ≥ (1/m) [λᵀŷ − Σ_j ℓ_j*(λ_j)] + β Σ_i |a_i| ‖w_i‖               (Fenchel–Young)
      ≥ −(1/m) Σ_j ℓ_j*(λ_j) =: D(λ),

since λᵀŷ = Σ_i a_i Σ_j λ_j (x_jᵀw_i + b_i)₊ + c·1ᵀλ ≥ −Σ_i |a_i| ‖w_i‖ mβ (positive homogeneity;
units with w_i = 0 give a_i (b_i)₊ 1ᵀλ = 0). The same chain bounds P*. Conjugates:
squared ℓ_j*(λ) = ½λ² + λ y_j; logistic ℓ_j*(λ) = p log p + (1−p) log(1−p) with p = λ + q_j ∈ [0, 1]
(+∞ outside). At the optimum λ_j = ℓ_j'(ŷ_j) (the residual ŷ − y, resp. σ(ŷ) − q).
:func:`certified_dual_bound` turns any candidate λ (a primal solution's residual, a solver's duals)
into a feasible point *provably*: clip to the conjugate's domain box, make 1ᵀλ = 0 hold exactly
(:func:`exact_zero_sum`: dyadic rounding with integer bookkeeping), compute S(λ) exactly with a
rigorous rounding allowance (:func:`fenchel_cvx.certify.twolayer.arrangement.dual_oracle`, d ≤ 3) — or,
for any d, bound it from above by SCIP (:mod:`~fenchel_cvx.certify.twolayer.mipbound`: a mixed-integer
SOCP over the sign pattern and the unit ball; valid up to SCIP's tolerances) — scale by
t ≤ min(1, mβ/S) — both domains are intervals containing 0, so scaling keeps ℓ* finite; t maximises
D(tλ) on that range — re-check the scaled float64 point with the oracle, and evaluate D in float64
minus the rounding allowance of :func:`dual_value` (the one place where the evaluation's rounding is
accounted for). The result is a lower bound on P* and on min J **for every width**.

**Column generation.** :func:`convex_certificate` solves the program restricted to a small pattern
set (fast path :func:`solve_restricted_fast`, a primal log-barrier Newton method in numpy with a
Woodbury solve; its CVXPY twin :func:`solve_restricted_cvxpy` is the same program with all m
constraints per block), takes λ = ℓ'(ŷ), certifies it, adds the chambers of the oracle's most
violated units (its maximisers are units through one or two samples), and stops when the certified
lower bound and the J of the recovered network (judged by ``FenchelNetwork.objective``) agree to the
tolerance. For d ≥ 4 (oracle "scip") the rounds use the heuristic maximisers of
:mod:`~fenchel_cvx.certify.twolayer.search` (alternating ascent from many starts: *estimates*, never
reported as bounds), and SCIP certifies the dual point when the estimated gap closes, when the search
finds no violated unit, and at the end; :func:`certify_network` gives a trained network's certified
optimality gap. scnn (``pyscnn``, Mishkin et al.) trains these convex programs with *sampled* patterns —
which yields networks (upper bounds) but no certificate that no pattern is missing; here the exact
oracle over all patterns makes the lower bound certified as well.

Shapes: X0 is d x m (features x samples); blocks are rows u ∈ ℝ^p.
"""

from .certificate import ConvexCertificate, convex_certificate
from .dual import DualCertificate, certified_dual_bound, dual_value, exact_zero_sum
from .network_gap import NetworkGap, certify_network, network_from_scnn
from .program import (
    SUPPORTED_CONVEX_FAST,
    ConvexScopeError,
    LogisticTerms,
    ProgramLoss,
    SquaredTerms,
    TwoLayerProblem,
    out_of_scope,
)
from .recovery import recover_network, recovery_candidates, sparsify_units, units_to_weights
from .restricted import (
    PatternSet,
    RestrictedSolution,
    solve_restricted_cvxpy,
    solve_restricted_fast,
)

__all__ = [
    "SUPPORTED_CONVEX_FAST", "ConvexScopeError", "ProgramLoss", "SquaredTerms", "LogisticTerms",
    "TwoLayerProblem", "out_of_scope", "exact_zero_sum", "dual_value", "DualCertificate", "certified_dual_bound",
    "PatternSet", "RestrictedSolution", "solve_restricted_fast", "solve_restricted_cvxpy",
    "recover_network", "recovery_candidates", "sparsify_units", "units_to_weights", "ConvexCertificate",
    "convex_certificate",
    "NetworkGap", "certify_network", "network_from_scnn",
]
