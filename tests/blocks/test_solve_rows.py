"""The numpy SPD solve of the W-blocks' ridge systems (:meth:`fenchel_cvx.backend.NumpyOps.cho_solve_rows`)."""

import numpy as np
import pytest
import scipy.linalg as sl
from numpy.testing import assert_allclose
from tolerances import TOL

from fenchel_cvx.backend import NUMPY


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve_rows_solves_and_keeps_c_order(dtype, lower):
    """B S⁻¹ for S = L Lᵀ (either triangle), in B's dtype and C order (the weights' layout decides a
    product's rounding; a resumed run must repeat the run bit for bit)."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 90))
    S = (A @ A.T + np.eye(40)).astype(dtype)
    B = rng.standard_normal((7, 40)).astype(dtype)
    Z = NUMPY.cho_solve_rows(sl.cho_factor(S, lower=lower), B)
    assert Z.dtype == B.dtype and Z.shape == B.shape and Z.flags["C_CONTIGUOUS"]
    ref = np.linalg.solve(S.astype(np.float64), B.T.astype(np.float64)).T
    assert_allclose(Z, ref, **TOL["identity"][dtype])


def test_cho_solve_rows_float64_factor_of_float32_rows():
    """A float64 factor (the float32 Cholesky's fallback) solves float32 rows and returns float32."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((20, 50))
    S = A @ A.T + np.eye(20)
    B = rng.standard_normal((3, 20)).astype(np.float32)
    Z = NUMPY.cho_solve_rows(sl.cho_factor(S, lower=True), B)
    assert Z.dtype == np.float32 and Z.flags["C_CONTIGUOUS"]
    assert_allclose(Z, np.linalg.solve(S, B.T.astype(np.float64)).T, **TOL["identity"]["float32"])
