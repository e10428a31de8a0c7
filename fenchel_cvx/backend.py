"""Array namespaces: one numerical code path for numpy and torch (CPU or CUDA).

Every fast routine in fenchel_cvx is written once against an :class:`Ops` object
obtained from its input arrays with :func:`namespace`; there is no global backend
switch. ``namespace(*arrays)`` returns :data:`NUMPY` for numpy arrays and a
:class:`TorchOps` for torch tensors (dtype and device follow the tensors).

Only the operations the library needs are exposed, with numpy semantics
(``axis=``, ``keepdims=``, scalars accepted wherever an array is), including the dense linear
algebra of the solvers: ``eye``, ``cholesky`` (a factor object), ``cho_solve_rows`` (B S⁻¹ for an
SPD S given by its factor), ``spd_inverse`` and ``solve``.

**The SPD policy** (one home for both the MM ridge steps and the Newton-CG preconditioner): a symmetric
positive definite matrix is factored by Cholesky in its own dtype; a float32 factorisation that fails
(rounding can make a weakly regularised float32 Gram matrix numerically indefinite) is redone in float64.
Solves and inverses come back in the dtype of their inputs.
Shapes follow the project convention: features x samples.

torch is optional (the ``torch`` extra) and imported lazily: a tensor can only exist once torch
has been imported, so :func:`is_torch` looks it up in ``sys.modules`` and ``import fenchel_cvx`` never imports it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from .errors import FenchelError


def _torch_module():
    """The torch module if it has been imported already (None otherwise); never imports it."""
    return sys.modules.get("torch")


def have_torch() -> bool:
    """True when torch can be imported (imports it)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def is_torch(x: Any) -> bool:
    """True for a torch tensor (without importing torch)."""
    t = _torch_module()
    return t is not None and isinstance(x, t.Tensor)


#: bound to the torch module by the first :class:`TorchOps` (torch is imported lazily)
torch = None


class NotSPDError(FenchelError, FloatingPointError):
    """A matrix that should be symmetric positive definite has no Cholesky factor (non-finite data?)."""


class NumpyOps:
    """numpy implementation of the array operations used by the fast paths."""

    name = "numpy"
    inf = math.inf

    # ---- elementwise -------------------------------------------------
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)
    abs = staticmethod(np.abs)
    sqrt = staticmethod(np.sqrt)
    tanh = staticmethod(np.tanh)
    arctanh = staticmethod(np.arctanh)
    sign = staticmethod(np.sign)
    isfinite = staticmethod(np.isfinite)
    logaddexp = staticmethod(np.logaddexp)

    @staticmethod
    def maximum(a, b):
        return np.maximum(a, b)

    @staticmethod
    def multiply(a, b, out):
        """a ∘ b written into ``out`` (an array of their shape)."""
        return np.multiply(a, b, out=out)

    @staticmethod
    def subtract(a, b, out):
        """a − b written into ``out`` (an array of their shape)."""
        return np.subtract(a, b, out=out)

    @staticmethod
    def maximum_(a, b):
        """maximum(a, b) written into a."""
        return np.maximum(a, b, out=a)

    @staticmethod
    def minimum(a, b):
        return np.minimum(a, b)

    @staticmethod
    def clip(x, lo=None, hi=None):
        return np.clip(x, lo, hi)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def sigmoid(u):
        # scipy's expit: one stable, correctly rounded pass (5x faster than exp/where); keeps float32.
        # Imported on first use (scipy.special costs ~0.4 s of import time).
        from scipy.special import expit

        return expit(u)

    # ---- reductions ----------------------------------------------------
    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        return np.max(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def min(x, axis=None, keepdims=False):
        return np.min(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def any(x):
        return bool(np.any(x))

    @staticmethod
    def all(x):
        return bool(np.all(x))

    @staticmethod
    def logsumexp(x, axis=0, keepdims=False):
        mx = np.max(x, axis=axis, keepdims=True)
        mx = np.where(np.isfinite(mx), mx, 0.0)
        out = np.log(np.sum(np.exp(x - mx), axis=axis, keepdims=True)) + mx
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def softmax(x, axis=0):
        mx = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - mx)
        return e / np.sum(e, axis=axis, keepdims=True)

    @staticmethod
    def norm2(x):
        """Frobenius norm (2-norm of the flattened array), as a Python float."""
        return float(np.sqrt(np.sum(x * x)))

    @staticmethod
    def spectral_norm(A):
        """Largest singular value of a 2-D array (Python float)."""
        if A.size == 0:
            return 0.0
        return float(np.linalg.norm(A, 2))

    # ---- creation / conversion -------------------------------------------
    @staticmethod
    def zeros_like(x):
        return np.zeros_like(x)

    @staticmethod
    def ones_like(x):
        return np.ones_like(x)

    @staticmethod
    def full_like(x, value):
        return np.full_like(x, value)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def asarray(x, like=None):
        if like is None:
            return np.asarray(x)
        return np.asarray(x, dtype=like.dtype)

    @staticmethod
    def copy(x):
        return np.array(x, copy=True)

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)

    @staticmethod
    def item(x):
        return float(x)

    @staticmethod
    def eps(x):
        return float(np.finfo(x.dtype).eps)

    @staticmethod
    def is_float64(x):
        return x.dtype == np.float64

    @staticmethod
    def solve(A, B):
        return np.linalg.solve(A, B)

    # ---- dense linear algebra (the one SPD policy: module docstring) --------------------
    @staticmethod
    def eye(n: int, like):
        """The n x n identity in ``like``'s dtype."""
        return np.eye(n, dtype=like.dtype)

    @staticmethod
    def gram(X):
        """X Xᵀ (numpy evaluates ``a @ a.T`` by a symmetric rank-k update: half the flops)."""
        return X @ X.T

    @staticmethod
    def add_diagonal(S, value: float):
        """S += value·I in place (square S); returns S."""
        S.flat[::S.shape[0] + 1] += value
        return S

    @staticmethod
    def cholesky(S, overwrite: bool = False):
        """The lower Cholesky factor of an SPD matrix S, as an opaque factor for :meth:`cho_solve_rows`
        (the SPD policy of the module docstring); raises :class:`NotSPDError` when S is not numerically SPD.
        ``overwrite=True`` lets the factorisation use S's memory (S is scratch then)."""
        from scipy.linalg import LinAlgError, cho_factor

        try:
            return cho_factor(S, lower=True, overwrite_a=overwrite, check_finite=False)
        except LinAlgError as e:
            if S.dtype != np.float32:
                raise NotSPDError("the matrix is not positive definite (non-finite data?)") from e
        try:
            return cho_factor(np.asarray(S, dtype=np.float64), lower=True, check_finite=False)
        except LinAlgError as e:
            raise NotSPDError("the matrix is not positive definite (non-finite data?)") from e

    @staticmethod
    def cho_solve_rows(F, B):
        """B S⁻¹: the rows of B solved against S = L Lᵀ given by :meth:`cholesky` (in B's dtype).

        Two right-hand triangular solves on B itself, Y Lᵀ = B then Z L = Y (BLAS ``trsm``,
        side R): the same arithmetic as LAPACK's ``potrs`` on Bᵀ up to rounding, ~1.3x faster
        with OpenBLAS on the trainers' 500 x 500 systems with 300 rows (measured, one thread,
        float32; the result is returned in C order)."""
        from scipy.linalg import get_blas_funcs

        c, lower = F
        Bc = B if c.dtype == B.dtype else np.asarray(B, dtype=c.dtype)
        trsm = get_blas_funcs("trsm", (c,))
        Y = trsm(1.0, c, Bc, side=1, lower=int(lower), trans_a=0 if not lower else 1)
        Z = trsm(1.0, c, Y, side=1, lower=int(lower), trans_a=1 if not lower else 0, overwrite_b=1)
        # C order, as B: the weights built from Z keep one memory layout (a product's rounding
        # depends on it; a resumed run, whose weights are read back in C order, must repeat the
        # run bit for bit)
        return np.ascontiguousarray(Z, dtype=B.dtype)

    @classmethod
    def spd_inverse(cls, A):
        """S⁻¹ of an SPD matrix (the SPD policy), symmetrised, in A's dtype; None when S is not SPD."""
        try:
            F = cls.cholesky(A)
        except NotSPDError:
            return None
        if not np.all(np.isfinite(F[0])):
            return None
        Ainv = cls.cho_solve_rows(F, np.eye(A.shape[0], dtype=A.dtype))
        return (0.5 * (Ainv + Ainv.T)).astype(A.dtype)


class TorchOps:
    """torch implementation (any device, any float dtype) of the same operations."""

    name = "torch"
    inf = math.inf

    def __init__(self):
        global torch  # the module, bound here (lazily) for the methods of this class
        try:
            import torch as _t
        except ImportError as e:  # pragma: no cover - exercised only without torch
            raise ImportError("torch is not installed: pip install 'fenchel-cvx[torch]'") from e
        torch = _t
        t = torch
        self.exp, self.log, self.log1p, self.expm1 = t.exp, t.log, t.log1p, t.expm1
        self.abs, self.sqrt, self.tanh, self.arctanh = t.abs, t.sqrt, t.tanh, t.atanh
        self.sign, self.isfinite, self.logaddexp = t.sign, t.isfinite, t.logaddexp
        self.sigmoid = t.sigmoid

    @staticmethod
    def _t(a, like):
        return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=like.dtype, device=like.device)

    @staticmethod
    def multiply(a, b, out):
        """a ∘ b written into ``out`` (a tensor of their shape)."""
        return torch.mul(a, b, out=out)

    @staticmethod
    def subtract(a, b, out):
        """a − b written into ``out`` (a tensor of their shape)."""
        return torch.sub(a, b, out=out)

    def maximum_(self, a, b):
        """maximum(a, b) written into the tensor a."""
        return torch.maximum(a, self._t(b, a), out=a)

    def maximum(self, a, b):
        if not isinstance(a, torch.Tensor):
            a, b = b, a
        return torch.maximum(a, self._t(b, a))

    def minimum(self, a, b):
        if not isinstance(a, torch.Tensor):
            a, b = b, a
        return torch.minimum(a, self._t(b, a))

    @staticmethod
    def clip(x, lo=None, hi=None):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def where(cond, a, b):
        ref = a if isinstance(a, torch.Tensor) else b if isinstance(b, torch.Tensor) else cond
        if not isinstance(a, torch.Tensor):
            a = torch.as_tensor(a, dtype=ref.dtype if ref.is_floating_point() else torch.get_default_dtype(),
                                device=ref.device)
        if not isinstance(b, torch.Tensor):
            b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
        return torch.where(cond, a, b)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        if axis is None:
            return torch.sum(x)
        return torch.sum(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        # amax for the full reduction too: the same value, but torch.max(x) is ~10x slower on a transposed
        # (samples-first) array on the CPU (5 vs 0.4 ms for 4,704 x 500, measured)
        return torch.amax(x) if axis is None else torch.amax(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def min(x, axis=None, keepdims=False):
        return torch.amin(x) if axis is None else torch.amin(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def any(x):
        return bool(torch.any(x))

    @staticmethod
    def all(x):
        return bool(torch.all(x))

    @staticmethod
    def logsumexp(x, axis=0, keepdims=False):
        return torch.logsumexp(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def softmax(x, axis=0):
        return torch.softmax(x, dim=axis)

    @staticmethod
    def norm2(x):
        return float(torch.sqrt(torch.sum(x * x)))

    @staticmethod
    def spectral_norm(A):
        if A.numel() == 0:
            return 0.0
        return float(torch.linalg.matrix_norm(A, ord=2))

    @staticmethod
    def zeros_like(x):
        return torch.zeros_like(x)

    @staticmethod
    def ones_like(x):
        return torch.ones_like(x)

    @staticmethod
    def full_like(x, value):
        return torch.full_like(x, value)

    @staticmethod
    def zeros(shape, like):
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    @staticmethod
    def asarray(x, like=None):
        if like is None:
            return torch.as_tensor(x)
        if isinstance(x, np.ndarray) or not isinstance(x, torch.Tensor):
            return torch.as_tensor(np.asarray(x), dtype=like.dtype, device=like.device)
        return x.to(dtype=like.dtype, device=like.device)

    @staticmethod
    def copy(x):
        return x.clone()

    @staticmethod
    def to_numpy(x):
        return x.detach().cpu().numpy()

    @staticmethod
    def item(x):
        return float(x)

    @staticmethod
    def eps(x):
        return float(torch.finfo(x.dtype).eps)

    @staticmethod
    def is_float64(x):
        return x.dtype == torch.float64

    @staticmethod
    def solve(A, B):
        return torch.linalg.solve(A, B)

    # ---- dense linear algebra (see NumpyOps; the same SPD policy) ----------------------
    @staticmethod
    def eye(n: int, like):
        return torch.eye(n, dtype=like.dtype, device=like.device)

    @staticmethod
    def gram(X):
        """X Xᵀ; on the CPU through numpy's symmetric rank-k update (shared memory: torch's CPU matmul does not
        exploit the symmetry; 19 vs 32 ms for LeNet-5's 151 x 50,000 im2col matrix, measured)."""
        if X.device.type == "cpu" and X.dtype in (torch.float32, torch.float64) and not X.requires_grad:
            a = X.numpy()
            return torch.from_numpy(a @ a.T)
        return X @ X.T

    @staticmethod
    def add_diagonal(S, value: float):
        S.diagonal().add_(value)
        return S

    @staticmethod
    def cholesky(S, overwrite: bool = False):
        L, info = torch.linalg.cholesky_ex(S)
        if int(info) != 0 and S.dtype == torch.float32:
            L, info = torch.linalg.cholesky_ex(S.to(torch.float64))
        if int(info) != 0:
            raise NotSPDError("the matrix is not positive definite (non-finite data?)")
        return L

    @staticmethod
    def cho_solve_rows(F, B):
        if F.dtype == B.dtype:
            return torch.cholesky_solve(B.T, F).T
        return torch.cholesky_solve(B.T.to(F.dtype), F).T.to(B.dtype)

    def spd_inverse(self, A):
        try:
            F = self.cholesky(A)
        except NotSPDError:
            return None
        if not bool(torch.all(torch.isfinite(F))):
            return None
        Ainv = torch.cholesky_inverse(F).to(A.dtype)
        return 0.5 * (Ainv + Ainv.T)


NUMPY = NumpyOps()
_TORCH: TorchOps | None = None


def namespace(*arrays: Any):
    """Return the :class:`NumpyOps`/:class:`TorchOps` matching ``arrays``.

    Any torch tensor among the (non-None) arguments selects torch; otherwise numpy.
    Mixing numpy arrays and tensors is allowed (numpy inputs are converted by the
    caller through ``ops.asarray(x, like=tensor)``).
    """
    global _TORCH
    if _torch_module() is None:  # no tensor can exist before torch is imported
        return NUMPY
    for a in arrays:
        if is_torch(a):
            if _TORCH is None:
                _TORCH = TorchOps()
            return _TORCH
    return NUMPY


def to_numpy(x: Any) -> np.ndarray:
    """Convert a numpy array, torch tensor or scalar to a numpy array (copy-free when possible)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def to_numpy64(x: Any) -> np.ndarray:
    """A numpy float64 array of x (numpy, torch or scalar): the reference paths' data."""
    return np.asarray(to_numpy(x), dtype=np.float64)


def as_float64(x: Any):
    """``x`` (numpy array or torch tensor) in float64 on the same backend and device (no copy when it already is)."""
    if is_torch(x):
        return x.to(sys.modules["torch"].float64)
    return np.asarray(x, dtype=np.float64)


def same_order(a: Any, ref: Any) -> bool:
    """Whether ``a`` is stored in the memory order of ``ref`` (True for numpy, for ``ref`` None and for arrays of other
    shapes: no order to match)."""
    return not (is_torch(a) and is_torch(ref)) or a.shape != ref.shape or a.stride() == ref.stride()


def in_order(a: Any, ref: Any):
    """``a`` with its values in the memory order (strides) of ``ref``, an array of the same shape: ``a`` itself when it
    already is (:func:`same_order`), else a torch copy laid out as ``torch.empty_like(ref)``."""
    if same_order(a, ref):
        return a
    out = sys.modules["torch"].empty_like(ref)
    out.copy_(a)
    return out


def scaled_in_order(a: Any, c: float, ref: Any):
    """c·a (the products of ``c * a``) stored in the memory order of ``ref`` (:func:`same_order`; ``ref`` None: a's
    order): torch writes them with ``torch.mul(a, c, out=torch.empty_like(ref))``."""
    if ref is None or same_order(a, ref):
        return c * a
    return sys.modules["torch"].mul(a, c, out=sys.modules["torch"].empty_like(ref))


def like(x: Any, ref: Any):
    """``x`` converted to the array type, dtype and device of ``ref`` (None passes through)."""
    if x is None:
        return None
    return namespace(ref).asarray(x, like=ref)


#: the array libraries the trainers run on, and their float dtypes
BACKENDS = ("numpy", "torch")
DTYPES = ("float32", "float64")


def check_backend(backend: str, device: str = "cpu") -> None:
    """Check that ``backend`` ("numpy"/"torch") can run on ``device`` (imports torch for "torch").

    Raises ``ValueError`` naming the argument (unknown backend, a device numpy cannot use, a
    malformed or unavailable torch device) and ``ImportError`` when torch is missing.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        if str(device) != "cpu":
            raise ValueError(f"device: the numpy backend runs on the CPU only, got device={device!r}")
        return
    try:
        import torch as _t
    except ImportError as e:
        raise ImportError("backend 'torch' needs torch: pip install 'fenchel-cvx[torch]'") from e
    try:
        dev = _t.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device: {device!r} is not a torch device ({e})") from e
    if dev.type == "cuda" and not _t.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but CUDA is not available")


def to_backend(a, backend: str, device: str, dtype: str):
    """A contiguous copy of ``a`` (numpy, torch or None) on ``backend``/``device`` in ``dtype``."""
    if a is None:
        return None
    if backend == "torch":
        import torch as _t

        return _t.as_tensor(np.ascontiguousarray(to_numpy(a)), dtype=getattr(_t, dtype), device=device)
    return np.ascontiguousarray(to_numpy(a), dtype=np.dtype(dtype))


def synchronize(x) -> None:
    """Wait for the device of ``x`` (CUDA tensors) to finish its queued work (timings); no-op otherwise."""
    if is_torch(x) and x.is_cuda:
        sys.modules["torch"].cuda.synchronize()
