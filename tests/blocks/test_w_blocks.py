"""W-blocks (hidden weights, output weights): CVXPY reference vs fast Newton-CG, certificates, errors.

Parametrised from the registries (``activations.names()`` x ``losses.names()``), with and without
the proximal term, on numpy/torch in float64/float32. Instances come from ``random_state`` (entries
of X_{l+1} on the domain edges of f*, pre-activations near the kinks).
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tolerances import RATIO, TOL

from fenchel_cvx import activations, losses
from fenchel_cvx.backend import to_numpy
from fenchel_cvx.blocks import BLOCKS
from fenchel_cvx.blocks.base import default_tol
from fenchel_cvx.blocks.instances import random_state
from fenchel_cvx.blocks.w_blocks import HiddenWBlock, LastWBlock

ACTS = activations.names()
LOSSES = losses.names()
GAMMAS = [0.0, 0.7]
W_KINDS = ["hidden_w", "last_w"]


def _seed(act, loss):
    return 11 + 7 * ACTS.index(act) + LOSSES.index(loss)


def _cases(net):
    """(kind, layer) of every W-block of ``net``."""
    return [(kind, l) for kind in W_KINDS for l in BLOCKS[kind].layers(net)]


@functools.cache
def _instance(act, loss, backend="numpy", dtype="float64"):
    return random_state(act, loss, seed=_seed(act, loss), backend=backend, dtype=dtype)


def _block(act, loss, kind, layer, gamma, backend="numpy", dtype="float64"):
    net, X0, y, Xs = _instance(act, loss, backend, dtype)
    return BLOCKS[kind].from_network(net, X0, y, Xs, layer=layer, gamma=gamma)


@functools.cache
def _reference(act, loss, kind, layer, gamma):
    blk = _block(act, loss, kind, layer, gamma)
    return blk.solve_reference()


@functools.cache
def _fast64(act, loss, kind, layer, gamma):
    return _block(act, loss, kind, layer, gamma).solve_fast()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _radius(res, ref, mu, rounding):
    """Certified bound on ‖W − W_ref‖: strong convexity in W gives ‖W − W*‖² ≤ 2 (P(W, b) − P*)/μ for both
    points, with P* ≥ res.lower_bound; ``rounding`` (relative) allows for the evaluation of P."""
    eps = rounding * (1 + abs(ref.objective))
    sub_ref = max(ref.objective - res.lower_bound, 0.0) + eps
    return math.sqrt(2 * (res.gap + eps) / mu) + math.sqrt(2 * sub_ref / mu)


def _np(sol):
    return tuple(np.asarray(to_numpy(a), dtype=np.float64) for a in sol)


def _mu(blk):
    return blk.rho + blk.gamma


# ---------------------------------------------------------------------------------------------
# fast vs reference (float64 numpy): objective, certificate, minimiser
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_fast_matches_reference(act, loss, gamma):
    net = _instance(act, loss)[0]
    rel = TOL["block_objective_rel"]["float64"]
    for kind, layer in _cases(net):
        blk = _block(act, loss, kind, layer, gamma)
        ref = _reference(act, loss, kind, layer, gamma)
        res = _fast64(act, loss, kind, layer, gamma)
        what = f"{blk.name()} {act}/{loss} gamma={gamma}"
        assert res.status == "optimal", what
        slack = rel * (1 + abs(ref.objective))
        assert res.objective <= ref.objective + slack, what
        assert res.lower_bound <= res.objective, what
        assert res.lower_bound <= ref.objective + TOL["block_bound_rel"]["float64"] * (1 + abs(ref.objective)), what
        assert res.rel_gap <= default_tol(np.zeros(1)), what
        # the certificate is the Fenchel dual value at A = ∇H(U), evaluated from the conjugates
        D = blk.dual_objective(blk.dual_point(res.solution))
        assert math.isfinite(D), what
        assert abs(D - res.lower_bound) <= RATIO["dual_evaluation"] * (1 + abs(D)), what
        # minimisers: W is unique (strong convexity in W with modulus ρ + γ); a bound from the certificates
        Wf, bf = _np(res.solution)
        Wr, br = ref.solution
        assert_allclose(Wf, Wr, **TOL["block_solution"]["float64"], err_msg=what)
        assert np.linalg.norm(Wf - Wr) <= _radius(res, ref, _mu(blk), RATIO["radius_float64"]), what
        if gamma > 0:  # then strongly convex in b as well
            assert_allclose(bf, br, **TOL["block_solution"]["float64"], err_msg=what)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_cvxpy_objective_is_the_judge(act, loss):
    """problem().objective.value == objective() at random points; the problem is DCP and DPP."""
    rng = np.random.default_rng(_seed(act, loss))
    net = _instance(act, loss)[0]
    for gamma in GAMMAS:
        for kind, layer in _cases(net):
            blk = _block(act, loss, kind, layer, gamma)
            prob = blk.problem()
            assert prob.is_dcp() and prob.is_dpp(), blk.name()
            assert blk.problem(dpp=False).is_dcp(), blk.name()
            for dpp in (True, False):
                for _ in range(2):
                    sol = (rng.normal(size=(blk.n_out, blk.n_in)), rng.normal(size=blk.n_out))
                    p = blk.problem(dpp=dpp)
                    blk.set_reference_point(sol)
                    assert_allclose(p.objective.value, blk.objective(sol), **TOL["identity"]["float64"],
                                    err_msg=f"{blk.name()} {act}/{loss} gamma={gamma} dpp={dpp}")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_dual_bound_is_weak_duality(act, loss):
    """Dual values at random dual points never exceed the optimum; at the optimum the gap vanishes."""
    rng = np.random.default_rng(1 + _seed(act, loss))
    net = _instance(act, loss)[0]
    gamma = GAMMAS[1]  # any A is dual feasible for H* when γ > 0 (no A1 = 0 constraint)
    for kind, layer in _cases(net):
        blk = _block(act, loss, kind, layer, gamma)
        ref = _reference(act, loss, kind, layer, gamma)
        slack = TOL["block_bound_rel"]["float64"] * (1 + abs(ref.objective))
        for _ in range(3):
            sol = (rng.normal(size=(blk.n_out, blk.n_in)), rng.normal(size=blk.n_out))
            D = blk.dual_objective(blk.dual_point(sol))
            assert math.isfinite(D) and D <= ref.objective + slack, blk.name()
        D_opt = blk.dual_objective(blk.dual_point(ref.solution))
        assert abs(D_opt - ref.objective) <= RATIO["reference_dual"] * (1 + abs(ref.objective)), blk.name()
    # with γ = 0 a dual point violating A1 = 0 gives no bound (−inf), never a wrong one
    blk = _block(act, loss, "last_w", None, 0.0)
    sol = (rng.normal(size=(blk.n_out, blk.n_in)), rng.normal(size=blk.n_out))
    A = blk.dual_point(sol)
    if np.max(np.abs(A.sum(axis=1))) > 1e-8:
        assert blk.dual_objective(A) == -math.inf


# ---------------------------------------------------------------------------------------------
# consistency with the network's lifted objective
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_block_objective_is_lifted_objective_up_to_a_constant(act, loss):
    rng = np.random.default_rng(2 + _seed(act, loss))
    net, X0, y, Xs = _instance(act, loss)
    for kind, layer in _cases(net):
        blk = _block(act, loss, kind, layer, 0.0)
        l = blk.layer
        s1, s2 = [(rng.normal(size=(blk.n_out, blk.n_in)), rng.normal(size=blk.n_out)) for _ in range(2)]
        F = []
        for W, b in (s1, s2):
            Wl, bl = net.get_params()
            Wl[l], bl[l] = W, b
            F.append(net.lifted_objective(X0, y, Xs, W=Wl, b=bl))
        d_block = blk.objective(s1) - blk.objective(s2)
        scale = abs(F[0]) + abs(F[1])
        assert abs(d_block - (F[0] - F[1])) <= RATIO["slice_of_F"] * (1 + scale), blk.name()


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_exact_block_solve_never_raises_F(act, loss):
    net0, X0, y, Xs = _instance(act, loss)
    net = copy.deepcopy(net0)
    F = net.lifted_objective(X0, y, Xs)
    for kind, layer in _cases(net):
        blk = BLOCKS[kind].from_network(net, X0, y, Xs, layer=layer)
        res = blk.solve_fast()
        out = blk.update(net, Xs, res.solution)
        assert out is Xs
        assert_allclose(net.W[blk.layer], to_numpy(res.solution[0]))
        F_new = net.lifted_objective(X0, y, Xs)
        assert F_new <= F + RATIO["rounding"] * (1 + abs(F)), blk.name()
        F = F_new


# ---------------------------------------------------------------------------------------------
# backends and dtypes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend,dtype",
                         [("numpy", "float32"), pytest.param("torch", "float64", marks=pytest.mark.torch),
                                           pytest.param("torch", "float32", marks=pytest.mark.torch)])
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_backends_and_dtypes_agree(act, loss, gamma, backend, dtype):
    net = _instance(act, loss)[0]
    for kind, layer in _cases(net):
        b64 = _block(act, loss, kind, layer, gamma)
        blk = _block(act, loss, kind, layer, gamma, backend, dtype)
        ref = _reference(act, loss, kind, layer, gamma)
        res = blk.solve_fast()
        what = f"{blk.name()} {act}/{loss} gamma={gamma} {backend}/{dtype}"
        assert res.status == "optimal", what
        # the solution stays on the input backend and dtype
        assert type(res.solution[0]) is type(blk.X) and res.solution[0].dtype == blk.X.dtype, what
        # the judge agrees across backends at the same point
        sol = _np(res.solution)
        assert_allclose(blk.objective(sol), b64.objective(sol), **TOL["backend"][dtype], err_msg=what)
        rel_obj = TOL["block_objective_rel"][dtype]
        assert res.objective <= ref.objective + rel_obj * (1 + abs(ref.objective)), what
        assert res.lower_bound <= ref.objective + TOL["block_bound_rel"][dtype] * (1 + abs(ref.objective)), what
        # minimiser: within the radius certified by strong convexity in W, ‖W − W*‖² ≤ 2 (P(W, b) − P*)/(ρ + γ)
        # (in float32 the default tolerance only pins W to that radius; float64 also meets the fixed table)
        radius = _radius(res, ref, _mu(blk), RATIO[f"radius_{dtype}"])
        assert np.linalg.norm(sol[0] - ref.solution[0]) <= radius, what
        if dtype == "float64":
            assert_allclose(sol[0], ref.solution[0], **TOL["block_solution"][dtype], err_msg=what)
        if dtype == "float64":  # the same optimum as numpy float64, up to the two certified gaps
            r64 = _fast64(act, loss, kind, layer, gamma)
            assert abs(res.objective - r64.objective) \
                <= res.gap + r64.gap + RATIO["rounding"] * (1 + abs(res.objective)), what


# ---------------------------------------------------------------------------------------------
# special cases
# ---------------------------------------------------------------------------------------------
def test_layers_and_kinds():
    net = _instance("relu", "cross_entropy")[0]
    assert HiddenWBlock.layers(net) == list(range(net.L)) and LastWBlock.layers(net) == [net.L]
    assert HiddenWBlock.kind == "hidden_w" and LastWBlock.kind == "last_w"
    assert BLOCKS["hidden_w"] is HiddenWBlock and BLOCKS["last_w"] is LastWBlock


@pytest.mark.parametrize("gamma", GAMMAS)
def test_max_iter_still_certified(gamma):
    """An unfinished solve reports max_iter and a lower bound that is still valid."""
    for kind, layer in [("hidden_w", 0), ("last_w", None)]:
        blk = _block("sigmoid", "cross_entropy", kind, layer, gamma)
        ref = _reference("sigmoid", "cross_entropy", kind, layer, gamma)
        res = blk.solve_fast(max_iter=0)
        assert res.status == "max_iter" and res.gap > 0
        rel = TOL["block_bound_rel"]["float64"]
        assert res.lower_bound <= ref.objective + rel * (1 + abs(ref.objective))
        assert res.objective >= ref.objective - rel * (1 + abs(ref.objective))


def test_warm_start_from_optimum_is_immediate():
    blk = _block("relu", "cross_entropy", "hidden_w", 0, 0.0)
    sol = blk.solve_fast().solution
    res = blk.solve_fast(init=sol)
    assert res.status == "optimal" and res.iterations <= 1


@pytest.mark.parametrize("loss", LOSSES)
def test_no_bias_keeps_b_zero(loss):
    net, X0, y, Xs = copy.deepcopy(_instance("relu", loss))
    net.bias = False
    net.b = [np.zeros_like(b) for b in net.b]
    for kind, layer in _cases(net):
        blk = BLOCKS[kind].from_network(net, X0, y, Xs, layer=layer, gamma=0.0)
        ref, res = blk.solve_reference(), blk.solve_fast()
        assert np.all(res.solution[1] == 0) and np.all(ref.solution[1] == 0)
        assert res.objective <= ref.objective + TOL["block_objective_rel"]["float64"] * (1 + abs(ref.objective))
        assert res.lower_bound <= ref.objective + TOL["block_bound_rel"]["float64"] * (1 + abs(ref.objective))
        with pytest.raises(ValueError, match="b"):
            blk.objective((res.solution[0], np.ones(blk.n_out)))


def test_lam_zero_hidden_block_is_weight_decay():
    blk = _block("tanh", "squared", "hidden_w", 0, 0.0)
    W_prev = np.random.default_rng(0).normal(size=(blk.n_out, blk.n_in))
    b2 = HiddenWBlock.from_arrays(blk.X, blk.Y, "tanh", lam=0.0, rho=0.3, gamma=0.6, W_prev=W_prev,
                                  b_prev=np.ones(blk.n_out))
    res = b2.solve_fast()
    assert_allclose(res.solution[0], 0.6 * W_prev / 0.9, **TOL["identity"]["float64"])
    assert_allclose(res.solution[1], np.ones(blk.n_out), **TOL["identity"]["float64"])


def test_squared_last_block_is_one_linear_solve():
    blk = _block("relu", "squared", "last_w", None, 0.0)
    res = blk.solve_fast(init=(np.zeros((blk.n_out, blk.n_in)), np.zeros(blk.n_out)))
    assert res.iterations == 1 and res.info["cg_iterations"] <= 2 and res.status == "optimal"


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_bad_inputs():
    net, X0, y, Xs = _instance("sigmoid", "cross_entropy")
    X, Y = X0, Xs[0]
    with pytest.raises(ValueError, match="rho \\+ gamma"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.0, gamma=0.0)
    with pytest.raises(ValueError, match="rho \\+ gamma"):
        LastWBlock.from_arrays(Xs[-1], net.check_targets(y), "cross_entropy", rho=0.0)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="X.*NaN"):
        HiddenWBlock.from_arrays(Xn, Y, "sigmoid", lam=1.0, rho=0.1)
    with pytest.raises(ValueError, match="Y"):
        HiddenWBlock.from_arrays(X, Y[:, :-1], "sigmoid", lam=1.0, rho=0.1)
    with pytest.raises(ValueError, match="domain"):
        HiddenWBlock.from_arrays(X, Y + 2.0, "sigmoid", lam=1.0, rho=0.1)
    with pytest.raises(ValueError, match="lam"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=-1.0, rho=0.1)
    with pytest.raises(ValueError, match="rho"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=float("nan"))
    with pytest.raises(ValueError, match="W:"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1, W=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="W_prev"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1, gamma=1.0,
                                 W_prev=np.zeros((Y.shape[0], X.shape[0] + 1)))
    with pytest.raises(ValueError, match="b_prev"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1, gamma=1.0,
                                 b_prev=np.zeros(3 + Y.shape[0]))
    # a neuron whose whole target row sits on an edge φ never attains: no minimiser without γ
    Y0 = Y.copy()
    Y0[1] = 0.0
    with pytest.raises(ValueError, match="no minimiser"):
        HiddenWBlock.from_arrays(X, Y0, "sigmoid", lam=1.0, rho=0.1)
    HiddenWBlock.from_arrays(X, Y0, "sigmoid", lam=1.0, rho=0.1, gamma=0.5)  # fine with γ > 0
    Yr = np.abs(Y0)
    HiddenWBlock.from_arrays(X, Yr, "relu", lam=1.0, rho=0.1)  # relu attains 0: fine
    # a class without samples: the cross-entropy bias has no minimiser without γ
    T = net.check_targets(y)
    T[:, T[0] == 1] = np.eye(T.shape[0])[:, [1]]
    with pytest.raises(ValueError, match="no minimiser"):
        LastWBlock.from_arrays(Xs[-1], T, "cross_entropy", rho=0.1)
    # layers
    with pytest.raises(ValueError, match="layer"):
        HiddenWBlock.from_network(net, X0, y, Xs, layer=net.L)
    with pytest.raises(ValueError, match="layer"):
        LastWBlock.from_network(net, X0, y, Xs, layer=0)
    # solutions and options
    blk = HiddenWBlock.from_network(net, X0, y, Xs, layer=0)
    with pytest.raises(TypeError, match="pair"):
        blk.objective(np.zeros((blk.n_out, blk.n_in)))
    with pytest.raises(ValueError, match="sol W"):
        blk.objective((np.zeros((blk.n_out + 1, blk.n_in)), np.zeros(blk.n_out)))
    with pytest.raises(ValueError, match="init W.*NaN"):
        blk.solve_fast(init=(np.full((blk.n_out, blk.n_in), np.nan), np.zeros(blk.n_out)))
    with pytest.raises(ValueError, match="tol"):
        blk.solve_fast(tol=0.0)
    with pytest.raises(ValueError, match="update"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1).update(net, Xs, blk.current)
    with pytest.raises(RuntimeError, match="solve the reference"):
        HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1).reference_solution()


def test_init_trusts_composed_parts_and_from_arrays_validates():
    """``__init__`` stores what it is given (no checks, no copies: the trainers' path); raw names
    and numbers in its place are refused with a pointer to ``from_arrays``, which validates."""
    from fenchel_cvx.blocks.w_blocks import proximal_of

    net, X0, y, Xs = _instance("sigmoid", "cross_entropy")
    X, Y = X0, Xs[0]
    W, b = np.zeros((Y.shape[0], X.shape[0])), np.zeros(Y.shape[0])
    act = activations.get("sigmoid")
    blk = HiddenWBlock(X, Y, act, 1.0, proximal_of(0.1, 0.0, W, b), W, b)
    assert blk.X is X and blk.Y is Y and blk.current[0] is W and blk.W_prev is W
    ref = HiddenWBlock.from_arrays(X, Y, "sigmoid", lam=1.0, rho=0.1)
    assert blk.objective((W, b)) == ref.objective((W, b))
    with pytest.raises(TypeError, match="act: expected Activation.*HiddenWBlock.from_arrays"):
        HiddenWBlock(X, Y, "sigmoid", 1.0, proximal_of(0.1, 0.0, W, b), W, b)
    with pytest.raises(TypeError, match="prox: expected Proximal.*HiddenWBlock.from_arrays"):
        HiddenWBlock(X, Y, act, 1.0, 0.1, W, b)
    with pytest.raises(TypeError, match="loss: expected Loss.*LastWBlock.from_arrays"):
        LastWBlock(Xs[-1], net.check_targets(y), "cross_entropy", proximal_of(0.1, 0.0, W, b), W, b)
