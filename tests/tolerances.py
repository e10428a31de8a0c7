"""The tolerance table of the test suite (one place; tests import from here).

rtol/atol per purpose and dtype. Loosening any entry must be justified in the commit.
"""

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
}
