"""The tolerance table of the test suite (one place; tests import from here).

rtol/atol per purpose and dtype. Loosening any entry must be justified in the commit, and no test writes a
tolerance as a literal (``tests/test_tolerances_used.py`` checks it).

``TOL`` entries are ``assert_allclose`` keyword sets (``**TOL[name][dtype]``) or relative numbers.
``RATIO`` entries are relative slacks used as ``x <= y + RATIO * (1 + |y|)``, as ``x <= y * (1 + RATIO)`` for
y > 0, as the ``rtol``/``rel`` of a comparison of the same meaning, or, for quantities of order one, as an
absolute slack ``x <= y + RATIO``.
"""

import numpy as np

#: float64 machine epsilon
EPS64 = float(np.finfo(np.float64).eps)

TOL = {
    # identities that hold to rounding (B(u, φ(u)) = 0, F(W, forward W) = J(W), cvx == numpy)
    "identity": {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=1e-5, atol=1e-5)},
    # finite-difference gradient checks (central differences, h = 1e-6 in float64)
    "gradient": {"float64": dict(rtol=1e-5, atol=1e-6), "float32": dict(rtol=1e-2, atol=1e-2)},
    # numpy vs torch of the same computation
    "backend": {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-5)},
    # fast block objective vs CVXPY reference objective: fast <= ref + rel * (1 + |ref|)
    "block_objective_rel": {"float64": 1e-7, "float32": 1e-4},
    # certified lower bound vs reference objective (reference solver accuracy)
    "block_bound_rel": {"float64": 1e-7, "float32": 1e-4},
    # minimisers of strongly convex blocks, fast vs reference
    "block_solution": {"float64": dict(rtol=1e-4, atol=1e-4), "float32": dict(rtol=1e-2, atol=1e-2)},
    # the same computation by two code paths that group floating-point operations differently
    # (dense vs all-dense conv trainer, block objective differences vs F_λ differences, inverses φ(∇f*(v)) = v,
    # generic vs closed-form prox, F_λ after X-steps vs J at the forward pass)
    "same_math": {"float64": dict(rtol=1e-9, atol=1e-9)},
    # a training trajectory of many steps on two backends (numpy vs torch, float64): rounding compounds
    "trajectory": {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=1e-3, atol=1e-4)},
    # a training trajectory on CPU vs CUDA (different kernels and reduction orders)
    "device_trajectory": {"float64": dict(rtol=1e-6, atol=1e-8), "float32": dict(rtol=1e-2, atol=1e-3)},
    # bit-identical by construction (deterministic reductions, resumed runs, reshapes)
    "exact": dict(rtol=0, atol=0),
    # histories and weights of today's code vs the ones stored before the renovation of issue 12 (float64,
    # numpy; tests/test_pinned_behaviour.py says why not bit-identical: a behaviour-preserving refactor may
    # regroup a floating-point expression; one changed iteration moves the weights by > 1e-6)
    "pinned": dict(rtol=1e-12, atol=1e-12),
    # --- two-layer convex certificates (tests/certify/test_convex_*.py). Certified bounds are compared with NO
    # tolerance (their float64 rounding allowance is inside the bound); these entries are for the rest.
    # exact dual oracle vs a brute-force grid of 20000 directions (plus every breakpoint): the grid misses
    # an interior arc maximum by ‖g‖(1 − cos Δθ/2) ≈ ‖g‖·1.2e-8 relative
    "oracle_vs_brute_rel": 1e-7,
    # the same for d = 3: a Fibonacci grid of 40000 points of the sphere and 720 points per great circle
    # resolve the interior of a face to ~(1e-2)² relative
    "oracle_vs_brute_3d_rel": 1e-4,
    # a CLARABEL solve of a convex program vs an exact value of the same program (the fast barrier twin's
    # objective, a certified lower bound, the J of the network recovered from it), relative: CLARABEL stops
    # at ~1e-8 relative gap and its point can be ~3e-8 above the optimum (issue 13); the barrier stops at
    # ν/t ≤ 1e-10 relative or its float64 precision limit
    "convex_twin_rel": 1e-6,
    # a "closed" bracket (upper − lower)/upper on tiny instances where n ≥ r: the barrier path ends at
    # t·objective ≈ 1e12, i.e. gaps ~1e-10 … 1e-8 (measured); the target is 1e-6
    "convex_closed_rel": 1e-7,
    # the target for a closed two-layer bracket (issue 15: d = 2, m = 200, ≤ 1e-6 relative)
    "convex_target_rel": 1e-6,
    # --- models of points found by L-BFGS (certify): exact at a stationary point, L-BFGS stops at gtol 1e-10
    # the balance ½ρ_l‖W_l‖² = ½ρ_{l+1}‖W_{l+1}‖² of positively homogeneous layers at an L-BFGS local minimum
    "lbfgs_balance": dict(rtol=1e-3, atol=1e-8),
}

RATIO = {
    # float64 rounding of an evaluation (sums of up to O(1e3) terms): the same number computed twice or by an
    # equivalent formula (re-judged values, softmax of two logits vs a sigmoid, an oracle's value at its
    # maximiser), a descent step, an accepted block value, a certified bound or a nonnegative quantity (B ≥ 0,
    # certified gaps, exact zero sums, Fenchel–Young) vs its limit
    "rounding": 1e-12,
    # full-batch BCD with inexact inner solves: F_λ may rise by the blocks' certified tolerance
    "bcd_descent": 1e-10,
    # block-objective differences vs F_λ differences at random (far-from-optimal) points: two sums of O(n m) terms
    "slice_of_F": 1e-10,
    # the demo's full-batch BCD (certified tolerances 1e-8 of its blocks)
    "demo_descent": 1e-8,
    # certified gaps the fast solvers must reach at their default tolerance (1e-10 requested; 1e-6 asserted)
    "certified_gap": 1e-6,
    # min over X of F_λ <= J up to the inexact X-steps of the evaluation (a few APG iterations)
    "lifted_below_J": 1e-6,
    # the Fenchel dual at the reference optimum vs the reference objective (CLARABEL's accuracy)
    "reference_dual": 1e-6,
    # the certificate's dual value D(A) evaluated two ways (closed-form gap vs conjugates)
    "dual_evaluation": 1e-9,
    # a first-order solver vs CLARABEL run at 1e-12 on a small problem (absolute, objective ~1)
    "vs_tight_reference": 1e-9,
    # the same block solved by the fast path on numpy and on torch float64 (conv blocks), each to its certified
    # tolerance: the two objectives agree to this (relative, with the 1 + |objective| floor)
    "fast_vs_fast": 1e-9,
    # the demo's bracket and the λ-sweep bounds vs the best upper bound (SCIP's tolerances)
    "scip_bracket": 1e-6,
    # a lower bound of fenchel_cvx.certify (SCIP's dual bound on min J or min F_λ, the two-layer convex dual
    # bound) vs an upper bound on the same problem, relative: float64 rounding of the final evaluations only;
    # SCIP's feasibility tolerance is *not* granted (measured overshoot: none; closest: convex brackets 1.6e-10)
    "bound_vs_upper": 1e-9,
    # a trained network's weights and pre-activations vs the search boxes derived from its own J (certify's
    # bounds module): rounding of the norms and products, values of order one
    "box_membership": 1e-9,
    # an incumbent value J (or F_λ) at an L-BFGS point, inflated before deriving boxes that hold at exact
    # stationary points; and a balance cap checked at such a point (relative)
    "lbfgs_incumbent": 1e-6,
    # the relaxation's boxes (b, U, V) at L-BFGS points of F_λ, relative to 1 + max τ (inexact stationarity)
    "lbfgs_box": 1e-5,
    # a bracket overshoot (factor − 1)·u recomputed as factor·u − u with factor − 1 ≥ 1e-7: cancellation loses
    # up to ε/1e-7 ≈ 2e-9 relative
    "overshoot_cancellation": 1e-6,
    # the exact dual oracle's rounding allowance relative to its value (m ≤ 22 samples): negligible
    "oracle_allowance": 1e-11,
    # B(u, φ(u)) ≥ 0 evaluated in float32 at |u| up to 1e4: f(u) + f*(v) − uv cancels terms of size u²,
    # relative to 1 + |u|
    "float32_divergence": 1e-3,
    # ‖W − W*‖ vs the radius certified by strong convexity, and two objectives each certified to its own gap:
    # absolute slack for the rounding of the two gaps
    "radius_float64": 1e-13,
    "radius_float32": 1e-6,
    # the heuristic oracle search (fenchel_cvx.certify.twolayer.search) vs the exact supremum S(λ) on random λ
    # (d = 2, 3, m = 25): alternating ascent from ~800 starts reached the exact value on most draws (measured:
    # within 1.1 % on the worst of 6); it is a heuristic for column generation, never a bound
    "search_vs_exact": 5e-2,
    # SCIP's bound on S(λ) vs the exact oracle's when SCIP proves optimality (feastol 1e-9 and its allowance)
    "scip_oracle_bound": 1e-6,
    # the same comparison's absolute part: SCIP's feasibility tolerance (1e-9), which mipbound adds to its bound
    "scip_oracle_abs": 1e-9,
    # the Shor + RLT SDP bound on S(λ) (fenchel_cvx.certify.twolayer.sdpbound) vs the exact supremum on random
    # d = 2, m = 12 instances: a relaxation, above S by 0 … 7 % on the draws measured (d = 2, 6; m = 15 … 40); the
    # bound's validity is asserted with no tolerance, this entry only says it is not vacuous
    "sdp_oracle_tightness": 0.25,
    # the SDP bound's dual objective y₀ + μ_w + μ_b from CVXPY's dual values vs SCS's objective at eps 1e-8
    # (checks the sign conventions; a wrong sign would be off by O(1))
    "sdp_dual_vs_solver": 1e-5,
    # the triangle inequality ‖x_j − x_k‖ ≤ ‖x_j‖ + ‖x_k‖ between float64 norms of short vectors (each norm a few
    # roundings): big_m's constants against the older ones
    "triangle_rounding": 1e-12,
    # exact-by-construction identities that involve one division (κ = λ Lip(φ)/m written two ways)
    "one_rounding": 4 * EPS64,
    # the vector dual bound of [2, 3, 2] squared (m = 8) at the residual of the best of 300 L-BFGS starts vs that
    # network's J (measured 6.6e-4): the bound's tightness, which depends on how close the network is to optimal
    "vector_dual_gap": 2e-3,
}

#: accuracies recomputed in another dtype may differ by this many samples (argmax of nearly tied logits)
ACC_SAMPLES = 1.5
