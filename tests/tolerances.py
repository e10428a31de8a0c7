"""The tolerance table of the test suite (one place; tests import from here).

rtol/atol per purpose and dtype. Loosening any entry must be justified in the commit.
``RATIO`` entries are relative slacks used as ``x <= y + RATIO * (1 + |y|)``.
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
    # generic vs closed-form prox)
    "same_math": {"float64": dict(rtol=1e-9, atol=1e-9)},
    # a training trajectory of many steps on two backends (numpy vs torch, float64): rounding compounds
    "trajectory": {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=1e-3, atol=1e-4)},
    # a training trajectory on CPU vs CUDA (different kernels and reduction orders)
    "device_trajectory": {"float64": dict(rtol=1e-6, atol=1e-8), "float32": dict(rtol=1e-2, atol=1e-3)},
    # bit-identical by construction (deterministic reductions, resumed runs, reshapes)
    "exact": dict(rtol=0, atol=0),
    # --- two-layer convex certificates (tests/test_convex_*.py). Certified bounds are compared with NO
    # tolerance (their float64 rounding allowance is inside the bound); these entries are for the rest.
    # exact dual oracle vs a brute-force grid of 20000 directions (plus every breakpoint): the grid misses
    # an interior arc maximum by ‖g‖(1 − cos Δθ/2) ≈ ‖g‖·1.2e-8 relative
    "oracle_vs_brute_rel": 1e-7,
    # fast barrier restricted solve vs its CVXPY (CLARABEL) twin, relative objective: CLARABEL stops at
    # ~1e-8 relative gap and its point can be ~3e-8 above the optimum (issue 13); the barrier stops at
    # ν/t ≤ 1e-10 relative or its float64 precision limit
    "convex_twin_rel": 1e-6,
    # a "closed" bracket (upper − lower)/upper on tiny instances where n ≥ r: the barrier path ends at
    # t·objective ≈ 1e12, i.e. gaps ~1e-10 … 1e-8 (measured); the target is 1e-6
    "convex_closed_rel": 1e-7,
}

RATIO = {
    # a descent step, an accepted block value or a certified bound vs an objective, all in float64: rounding of
    # the evaluation of sums of O(1e3) terms
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
    # the demo's bracket and the λ-sweep bounds vs the best upper bound (SCIP's tolerances)
    "scip_bracket": 1e-6,
    # ‖W − W*‖ vs the radius certified by strong convexity: absolute slack for the rounding of the two gaps
    "radius_float64": 1e-13,
    "radius_float32": 1e-6,
    # exact-by-construction identities that involve one division (κ = λ Lip(φ)/m written two ways)
    "one_rounding": 4 * EPS64,
}

#: accuracies recomputed in another dtype may differ by this many samples (argmax of nearly tied logits)
ACC_SAMPLES = 1.5
