"""The activation blocks hidden_x / last_x and the FISTA solver behind their fast path.

Parametrised from the registries (activations.names() x losses.names()), so a new activation
or loss is covered with no edits here: CVXPY expression == the shared objective at random
feasible points, DCP/DPP, fast vs reference (objective, certified bound, minimiser), the block
objective as a slice of F_λ, monotone F_λ, numpy/torch x float64/float32 agreement, warm
starts, the closed form at λ_next = 0, and bad input.
"""

import math

import numpy as np
import pytest
from tolerances import RATIO, TOL

from fenchel_cvx import activations, losses
from fenchel_cvx.backend import namespace, to_numpy
from fenchel_cvx.blocks.base import default_tol
from fenchel_cvx.blocks.instances import random_state
from fenchel_cvx.blocks.prox_grad import CompositeProblem, fista
from fenchel_cvx.blocks.x_blocks import HiddenXBlock, LastXBlock

SIZES = (5, 4, 3, 3)  # L = 2: hidden_x is layer 1, last_x is layer 2
M = 12
CASES = ([("hidden_x", a, "cross_entropy") for a in activations.names()]
         + [("last_x", a, lo) for a in activations.names() for lo in losses.names()])
IDS = [f"{k}-{a}-{lo}" for k, a, lo in CASES]
KINDS = {"hidden_x": (HiddenXBlock, 1), "last_x": (LastXBlock, None)}


def _state(kind, act, loss, seed=0, **kw):
    net, X0, y, Xs = random_state(act, loss, sizes=SIZES, m=M, seed=seed, **kw)
    cls, layer = KINDS[kind]
    return net, X0, y, Xs, cls.from_network(net, X0, y, Xs, layer)


def _random_feasible(act, shape, rng, edge_fraction=0.2):
    """A random point of dom f* (numpy float64), with a fraction of entries on finite domain edges."""
    lo, hi = act.domain
    if math.isfinite(lo) and math.isfinite(hi):
        V = lo + (hi - lo) * rng.random(shape)
    elif math.isfinite(lo):
        V = lo + np.abs(rng.normal(size=shape))
    elif math.isfinite(hi):
        V = hi - np.abs(rng.normal(size=shape))
    else:
        return 2.0 * rng.normal(size=shape)
    edges = [e for e in (lo, hi) if math.isfinite(e)]
    mask = rng.random(shape) < edge_fraction
    V[mask] = rng.choice(edges, size=int(mask.sum()))
    return V


# ---- the reference problem ------------------------------------------------------------------

@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_cvxpy_objective_equals_shared_objective(kind, act, loss):
    net, X0, y, Xs, block = _state(kind, act, loss, seed=3)
    rng = np.random.default_rng(3)
    for dpp in (True, False):
        prob = block.problem(dpp=dpp)
        assert prob.is_dcp()
        assert prob.is_dpp()
        assert (len(prob.parameters()) > 0) == dpp
        (V,) = prob.variables()
        for _ in range(3):
            P = _random_feasible(block.act, (block.n, block.m), rng)
            V.value = P
            np.testing.assert_allclose(prob.objective.value, block.objective(P), **TOL["identity"]["float64"])
    # the default (small block) is the DPP build, and it is cached
    assert block.problem() is block.problem()
    assert len(block.problem().parameters()) > 0


# ---- the block objective is F_λ restricted to X_l ---------------------------------------------

@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_objective_differences_are_lifted_objective_differences(kind, act, loss):
    net, X0, y, Xs, block = _state(kind, act, loss, seed=4)
    rng = np.random.default_rng(4)
    V1, V2 = (_random_feasible(block.act, (block.n, block.m), rng) for _ in range(2))
    F1 = net.lifted_objective(X0, y, block.update(net, Xs, V1))
    F2 = net.lifted_objective(X0, y, block.update(net, Xs, V2))
    np.testing.assert_allclose(block.objective(V1) - block.objective(V2), F1 - F2, **TOL["identity"]["float64"])
    # outside dom f* the objective is +inf (f* = +inf there), as for F_λ
    lo, hi = block.act.domain
    if math.isfinite(lo) or math.isfinite(hi):
        bad = V1.copy()
        bad[0, 0] = (lo - 1.0) if math.isfinite(lo) else (hi + 1.0)
        assert block.objective(bad) == math.inf


# ---- fast path vs reference ---------------------------------------------------------------------

@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_fast_matches_reference(kind, act, loss):
    net, X0, y, Xs, block = _state(kind, act, loss)
    ref = block.solve_reference()
    fast = block.solve_fast()
    scale = 1.0 + abs(ref.objective)
    assert fast.status == "optimal"
    assert fast.method == "fista"
    assert fast.objective == block.objective(fast.solution)  # the single judge
    assert fast.objective <= ref.objective + TOL["block_objective_rel"]["float64"] * scale
    assert fast.lower_bound <= fast.objective
    assert fast.lower_bound <= ref.objective + TOL["block_bound_rel"]["float64"] * scale
    # the reference's own (dual) bound is below the fast objective as well
    assert ref.lower_bound <= fast.objective + TOL["block_bound_rel"]["float64"] * scale
    # stopping rule: certified gap within the default tolerance
    assert fast.gap <= default_tol(X0) * (1.0 + abs(fast.objective))
    assert block.act.in_domain(fast.solution)
    # every X-block is strongly convex (μ = λ mu_conj / m > 0): the minimisers agree
    np.testing.assert_allclose(fast.solution, ref.solution, **TOL["block_solution"]["float64"])


@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_solving_never_raises_lifted_objective(kind, act, loss):
    net, X0, y, Xs, block = _state(kind, act, loss, seed=5)
    F0 = net.lifted_objective(X0, y, Xs)
    res = block.solve_fast()
    Xs1 = block.update(net, Xs, res.solution)
    F1 = net.lifted_objective(X0, y, Xs1)
    assert F1 <= F0 + RATIO["rounding"] * (1 + abs(F0))
    l = block.layer
    assert all(Xs1[i] is Xs[i] for i in range(len(Xs)) if i != l - 1)  # other layers untouched
    np.testing.assert_array_equal(Xs1[l - 1], res.solution)
    # and the block optimum is a true decrease bound: F0 − F1 ≥ objective(current) − objective(sol)
    np.testing.assert_allclose(F0 - F1, block.objective(block.current) - res.objective, **TOL["identity"]["float64"])


@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_warm_starts(kind, act, loss):
    net, X0, y, Xs, block = _state(kind, act, loss, seed=6)
    res = block.solve_fast()
    # the forward values φ(U) are an alternative start; same optimum
    fwd = block.solve_fast(init="forward")
    np.testing.assert_allclose(fwd.objective, res.objective, rtol=0,
                               atol=4 * default_tol(X0) * (1 + abs(res.objective)))
    np.testing.assert_allclose(to_numpy(block.forward_value), block.act.phi(to_numpy(block.U)))
    # started at the optimum, the certificate stops it at the first check
    again = block.solve_fast(init=res.solution)
    assert again.status == "optimal" and again.iterations == 1


@pytest.mark.parametrize("act", activations.names())
def test_hidden_block_without_next_layer_term_is_the_activation(act):
    """λ_next = 0: min_V Σ f*(V) − ⟨U, V⟩ is solved by V = φ(U) (∇f*(V) = U)."""
    net, X0, y, Xs, block = _state("hidden_x", act, "cross_entropy", seed=7)
    b0 = HiddenXBlock.from_arrays(block.U, block.W, block.b, block.X_next, lam=block.lam,
                                  lam_next=0.0, act=block.act, act_next=block.act_next,
                                  current=block.current)
    res = b0.solve_fast()
    assert res.status == "optimal"
    np.testing.assert_allclose(res.solution, block.act.phi(block.U), **TOL["block_solution"]["float64"])
    assert res.lower_bound <= b0.objective(block.act.phi(block.U)) + RATIO["rounding"]


def test_max_iter_reports_an_honest_bound():
    net, X0, y, Xs, block = _state("hidden_x", "relu", "cross_entropy", seed=8)
    best = block.solve_fast()
    early = block.solve_fast(init="forward", max_iter=2, tol=1e-14)
    assert early.status == "max_iter" and early.iterations == 2
    assert early.lower_bound <= best.objective + RATIO["rounding"]
    assert early.objective >= best.objective - RATIO["rounding"]
    assert early.gap > 0


# ---- backends and dtypes --------------------------------------------------------------------

BACKENDS = [("numpy", "float32"),
            pytest.param("torch", "float64", marks=pytest.mark.torch),
            pytest.param("torch", "float32", marks=pytest.mark.torch)]


@pytest.mark.parametrize("backend,dtype", BACKENDS)
@pytest.mark.parametrize("kind,act,loss", CASES, ids=IDS)
def test_backends_and_dtypes_agree(kind, act, loss, backend, dtype):
    net, X0, y, Xs, block = _state(kind, act, loss, seed=9)
    base = block.solve_fast()
    _, X0b, yb, Xsb, other = _state(kind, act, loss, seed=9, backend=backend, dtype=dtype)
    res = other.solve_fast()
    xp = namespace(X0b)
    assert namespace(res.solution) is xp
    assert res.solution.dtype == X0b.dtype
    assert res.status == "optimal"
    assert res.lower_bound <= res.objective
    scale = 1.0 + abs(base.objective)
    if dtype == "float64":
        # both certified within 1e-10: the objectives agree to twice that
        assert abs(res.objective - base.objective) <= 2 * default_tol(X0) * scale + RATIO["radius_float64"]
        np.testing.assert_allclose(to_numpy(res.solution), base.solution, **TOL["block_solution"]["float64"])
    else:
        rel = TOL["block_objective_rel"]["float32"] * scale
        assert abs(res.objective - base.objective) <= rel
        # the float32 answer judged in float64: near-optimal, and its bound is below the optimum
        V = np.asarray(to_numpy(res.solution), dtype=np.float64)
        assert block.objective(block.act.project_domain(V)) <= base.objective + rel
        assert res.lower_bound <= base.objective + TOL["block_bound_rel"]["float32"] * scale
        np.testing.assert_allclose(V, base.solution, **TOL["block_solution"]["float32"])


@pytest.mark.torch
def test_torch_update_and_mixed_inputs():
    net, X0, y, Xs, block = _state("last_x", "sigmoid", "cross_entropy", seed=10, backend="torch")
    import torch

    res = block.solve_fast()
    Xs1 = block.update(net, Xs, res.solution)
    assert isinstance(Xs1[-1], torch.Tensor) and Xs1[-1].dtype == torch.float64
    # a numpy candidate is judged on the block's backend
    assert block.objective(res.solution.numpy()) == pytest.approx(res.objective, rel=TOL["backend"]["float64"]["rtol"],
                                                                  abs=TOL["backend"]["float64"]["atol"])


# ---- bad input ----------------------------------------------------------------------------------

def test_lambda_must_be_positive():
    net, X0, y, Xs, block = _state("hidden_x", "relu", "cross_entropy")
    args = (block.U, block.W, block.b, block.X_next)
    for lam in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lam"):
            HiddenXBlock.from_arrays(*args, lam=lam, lam_next=1.0)
    with pytest.raises(ValueError, match="lam_next"):
        HiddenXBlock.from_arrays(*args, lam=1.0, lam_next=-0.5)
    with pytest.raises(TypeError, match="lam"):
        HiddenXBlock.from_arrays(*args, lam="1", lam_next=1.0)
    net.lam = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="lam"):
        HiddenXBlock.from_network(net, X0, y, Xs, 1)
    net.lam = np.array([1.0, 0.0])
    with pytest.raises(ValueError, match="lam"):
        LastXBlock.from_network(net, X0, y, Xs)
    # λ_l = 0 is allowed for the hidden block (it only removes the next-layer term)
    assert HiddenXBlock.from_network(net, X0, y, Xs, 1).lam_next == 0.0


def test_bad_shapes_and_values():
    net, X0, y, Xs, hb = _state("hidden_x", "sigmoid", "cross_entropy")
    _, _, _, _, lb = _state("last_x", "sigmoid", "cross_entropy")
    U, W, b, Xn = hb.U, hb.W, hb.b, hb.X_next
    kw = dict(lam=1.0, lam_next=1.0, act="sigmoid", act_next="sigmoid")
    with pytest.raises(ValueError, match="W"):
        HiddenXBlock.from_arrays(U, W[:, :-1], b, Xn, **kw)
    with pytest.raises(ValueError, match="b"):
        HiddenXBlock.from_arrays(U, W, b[:-1], Xn, **kw)
    with pytest.raises(ValueError, match="X_next"):
        HiddenXBlock.from_arrays(U, W, b, Xn[:, :-1], **kw)
    with pytest.raises(ValueError, match="U"):
        HiddenXBlock.from_arrays(U.ravel(), W, b, Xn, **kw)
    Unan = U.copy()
    Unan[0, 0] = np.nan
    with pytest.raises(ValueError, match="U.*NaN"):
        HiddenXBlock.from_arrays(Unan, W, b, Xn, **kw)
    with pytest.raises(ValueError, match="X_next.*domain"):
        HiddenXBlock.from_arrays(U, W, b, Xn + 2.0, **kw)
    with pytest.raises(ValueError, match="current.*domain"):
        HiddenXBlock.from_arrays(U, W, b, Xn, current=hb.current - 2.0, **kw)
    with pytest.raises(TypeError, match="W"):
        HiddenXBlock.from_arrays(U, "W", b, Xn, **kw)
    with pytest.raises(ValueError, match="unknown activation"):
        HiddenXBlock.from_arrays(U, W, b, Xn, lam=1.0, lam_next=1.0, act="swish")
    with pytest.raises(ValueError, match="Y"):
        LastXBlock.from_arrays(lb.U, lb.W, lb.b, lb.Y[:, :-1], lam=1.0, act="sigmoid")
    with pytest.raises(ValueError, match="targets"):
        LastXBlock.from_arrays(lb.U, lb.W, lb.b, 2.0 * lb.Y, lam=1.0, act="sigmoid")
    # objective / solve_fast / update arguments
    with pytest.raises(ValueError, match="sol"):
        hb.objective(hb.current[:, :-1])
    bad = hb.current.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="sol"):
        hb.objective(bad)
    with pytest.raises(ValueError, match="init"):
        hb.solve_fast(init=hb.current.T)
    with pytest.raises(ValueError, match="init"):
        hb.solve_fast(init="backward")
    with pytest.raises(ValueError, match="tol"):
        hb.solve_fast(tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        hb.solve_fast(max_iter=0)
    with pytest.raises(ValueError, match="sol.*domain"):
        hb.update(net, Xs, hb.current + 2.0)
    with pytest.raises(ValueError, match="Xs"):
        hb.update(net, Xs[:1], hb.current)
    with pytest.raises(RuntimeError, match="not been solved"):
        HiddenXBlock.from_arrays(U, W, b, Xn, **kw).reference_solution()


def test_from_network_arguments():
    net, X0, y, Xs = random_state("tanh", "squared", sizes=SIZES, m=M, seed=11)
    assert HiddenXBlock.layers(net) == [1] and LastXBlock.layers(net) == [2]
    for layer in (0, 2, 3):
        with pytest.raises(ValueError, match="layer"):
            HiddenXBlock.from_network(net, X0, y, Xs, layer)
    assert HiddenXBlock.from_network(net, X0, y, Xs).layer == 1  # None: the only hidden_x layer (issue 22)
    with pytest.raises(ValueError, match="layer"):
        LastXBlock.from_network(net, X0, y, Xs, 1)
    assert LastXBlock.from_network(net, X0, y, Xs, 2).layer == 2
    with pytest.raises(ValueError, match="gamma"):
        HiddenXBlock.from_network(net, X0, y, Xs, 1, gamma=0.5)
    with pytest.raises(ValueError, match="W_prev"):
        LastXBlock.from_network(net, X0, y, Xs, W_prev=net.W[-1])
    with pytest.raises(ValueError, match="X\\[1\\]"):
        HiddenXBlock.from_network(net, X0, y, [Xs[0][:, :-1], Xs[1]], 1)
    out = [Xs[0].copy(), Xs[1]]
    out[0][0, 0] = 5.0  # outside [-1, 1]
    with pytest.raises(ValueError, match="domain"):
        HiddenXBlock.from_network(net, X0, y, out, 1)
    with pytest.raises(ValueError, match="targets"):
        LastXBlock.from_network(net, X0, y[:, :-1], Xs)


# ---- the generic solver -------------------------------------------------------------------------

def _nnls_problem(rng, lipschitz_scale=1.0, tuple_var=False):
    """min ½‖A x + c0 − c‖² + (μ/2)‖x‖² s.t. x ≥ 0 (x = (x1, x2) stacked when tuple_var)."""
    A = rng.normal(size=(8, 6))
    c = rng.normal(size=(8, 3))
    mu = 0.3

    def prox(z, t):
        if isinstance(z, tuple):
            return tuple(np.maximum(zi / (1 + t * mu), 0.0) for zi in z)
        return np.maximum(z / (1 + t * mu), 0.0)

    def hval(x):
        xs = x if isinstance(x, tuple) else (x,)
        if any(np.any(xi < 0) for xi in xs):
            return math.inf
        return 0.5 * mu * sum(float(np.sum(xi * xi)) for xi in xs)

    if tuple_var:
        Afun = lambda x: A[:, :4] @ x[0] + A[:, 4:] @ x[1]  # noqa: E731
        Atfun = lambda r: (A[:, :4].T @ r, A[:, 4:].T @ r)  # noqa: E731
    else:
        Afun, Atfun = (lambda x: A @ x), (lambda r: A.T @ r)
    L = float(np.linalg.norm(A, 2) ** 2) * lipschitz_scale
    prob = CompositeProblem(A=Afun, At=Atfun, s_value=lambda z: 0.5 * float(np.sum((z - c) ** 2)),
                            s_grad=lambda z: z - c, h_value=hval, prox_h=prox, lipschitz=L, mu_h=mu)
    import cvxpy as cp

    X = cp.Variable((6, 3))
    opt = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ X - c) + 0.5 * mu * cp.sum_squares(X)), [X >= 0])
    opt.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return prob, opt.value, X.value


def test_fista_certificate_and_solution():
    prob, opt, Xopt = _nnls_problem(np.random.default_rng(0))
    res = fista(prob, np.zeros((6, 3)), tol=1e-12)
    assert res.status == "optimal"
    slack = RATIO["vs_tight_reference"]
    assert res.lower_bound <= opt + slack <= res.value + 2 * slack
    assert res.value - opt <= slack
    np.testing.assert_allclose(res.x, Xopt, **TOL["block_solution"]["float64"])
    assert res.value == prob.value_at(res.x)  # the reported value is the objective at the returned point


def test_fista_tuple_variables_and_backtracking():
    prob, opt, Xopt = _nnls_problem(np.random.default_rng(1), tuple_var=True)
    res = fista(prob, (np.zeros((4, 3)), np.zeros((2, 3))), tol=1e-12)
    assert res.status == "optimal" and isinstance(res.x, tuple)
    np.testing.assert_allclose(np.vstack(res.x), Xopt, **TOL["block_solution"]["float64"])
    # a Lipschitz "bound" 100x too small: the safeguard halves the step until descent holds
    bad, opt2, _ = _nnls_problem(np.random.default_rng(1), lipschitz_scale=0.01, tuple_var=True)
    res2 = fista(bad, (np.zeros((4, 3)), np.zeros((2, 3))), tol=1e-12, check_every=1)
    assert res2.status == "optimal" and res2.info["backtracks"] >= 5
    assert res2.lower_bound <= opt2 + RATIO["vs_tight_reference"] and res2.value - opt2 <= RATIO["vs_tight_reference"]


def test_fista_bad_arguments():
    prob, _, _ = _nnls_problem(np.random.default_rng(2))
    with pytest.raises(ValueError, match="tol"):
        fista(prob, np.zeros((6, 3)), tol=-1.0)
    with pytest.raises(ValueError, match="check_every"):
        fista(prob, np.zeros((6, 3)), tol=1e-8, check_every=0)
    with pytest.raises(ValueError, match="strong convexity"):
        CompositeProblem(A=None, At=None, s_value=None, s_grad=None, h_value=None, prox_h=None,
                         lipschitz=0.0, mu_h=0.0)
    with pytest.raises(ValueError, match="lipschitz"):
        CompositeProblem(A=None, At=None, s_value=None, s_grad=None, h_value=None, prox_h=None,
                         lipschitz=float("nan"), mu_h=1.0)
    with pytest.raises(ValueError, match="A and At"):
        CompositeProblem(A=lambda x: x, At=None, s_value=None, s_grad=None, h_value=None, prox_h=None,
                         lipschitz=1.0, mu_h=1.0)


def test_init_trusts_composed_parts_and_from_arrays_validates():
    """``__init__`` stores the map out of V (an out map), Activation objects and arrays as given;
    raw arrays and names in their place are refused with a pointer to ``from_arrays``."""
    from fenchel_cvx.blocks.out_maps import DenseOut

    net, X0, y, Xs, hb = _state("hidden_x", "sigmoid", "cross_entropy")
    out = DenseOut(hb.W, hb.b)
    parts = (hb.U, out, hb.X_next, hb.lam, hb.lam_next, hb.act, hb.act_next)
    blk = HiddenXBlock(*parts, hb.current, 1)
    assert blk.U is hb.U and blk.out is out and blk.current is hb.current
    assert blk.objective(hb.current) == hb.objective(hb.current)
    assert HiddenXBlock(*parts).current is not None  # default warm start φ(U)
    with pytest.raises(TypeError, match="out: expected DenseOut or LayerOut.*from_arrays"):
        HiddenXBlock(hb.U, hb.W, hb.X_next, hb.lam, hb.lam_next, hb.act, hb.act_next)
    with pytest.raises(TypeError, match="act: expected Activation.*LastXBlock.from_arrays"):
        LastXBlock(hb.U, out, hb.X_next, 1.0, "sigmoid", losses.get("squared"))


def test_fista_last_iteration_forms_no_unused_gradient_and_the_same_iterates():
    """At ``max_iter`` FISTA stops after the restart test (its count is reported): no extrapolation and no gradient at
    a next point, which would never be used. The iterates are those of a longer run, bit for bit."""
    prob, _, _ = _nnls_problem(np.random.default_rng(3))
    calls, trace = [0], []
    At, prox = prob.At, prob.prox_h

    def counted(r):
        calls[0] += 1
        return At(r)

    def traced(z, t):
        trace.append(prox(z, t))
        return trace[-1]

    prob.At, prob.prox_h = counted, traced
    fista(prob, np.zeros((6, 3)), tol=1e-300, max_iter=12, check_every=100)
    long = list(trace)
    for n in range(1, 8):
        calls[0], trace[:] = 0, []
        res = fista(prob, np.zeros((6, 3)), tol=1e-300, max_iter=n, check_every=100)
        assert res.iterations == n and res.status == "max_iter" and np.array_equal(trace[n - 1], long[n - 1])
        assert res.info["returned"] != "last" or np.array_equal(res.x, long[n - 1])
        # gradients: the start, one per gradient point of iterations 2..n, the checks at k = 1 and k = n (k = 1's is
        # the next point's when n > 1: β = 0 there)
        assert calls[0] == (2 if n == 1 else n + 1)
