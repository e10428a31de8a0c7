r"""Backend primitives of the conv maps on "C x H x W x m" arrays (the features-x-samples columns reshaped, no copy).

numpy: im2col matrix products; torch: ``torch.nn.functional`` (its (m, C, H, W) inputs are permuted views). The
kernel K is C_out x C_in x k_h x k_w (cross-correlation with zero padding, :mod:`fenchel_cvx.layers`);
:class:`fenchel_cvx.layers.LinearMap` is the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .arrays import Array
from .backend import is_torch

Pair = tuple[int, int]  # (along H, along W)

__all__ = ["conv_output_size", "out_hw", "conv_forward", "conv_adjoint", "conv_weight_grad", "conv_unfold",
           "rows_contiguous", "samples_first", "same_bits"]


def conv_output_size(n: int, k: int, s: int, p: int) -> int:
    """⌊(n + 2p − k)/s⌋ + 1: output length of a convolution along one axis."""
    return (n + 2 * p - k) // s + 1


def _np_windows(Xc, kernel, stride, padding):
    """(C, H_out, W_out, m, k_h, k_w) view of the k_h x k_w windows of the zero-padded input (im2col)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    Xp = np.pad(Xc, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if (ph or pw) else Xc
    win = np.lib.stride_tricks.sliding_window_view(Xp, (kh, kw), axis=(1, 2))
    return win[:, ::sh, ::sw]


def out_hw(hw: Sequence[int], kernel: Pair, stride: Pair, padding: Pair) -> tuple[int, int]:
    """(H_out, W_out) of a convolution of an H x W map (``hw``) with the given kernel, stride and padding pairs."""
    return tuple(conv_output_size(n, k, st, p) for n, k, st, p in zip(hw, kernel, stride, padding))


def _nchw(Xc):
    """(C, H, W, m) → (m, C, H, W) (a view)."""
    return Xc.permute(3, 0, 1, 2)


def _chwm(X4):
    """(m, C, H, W) → (C, H, W, m) (a view)."""
    return X4.permute(1, 2, 3, 0)


def conv_forward(Xc: Array, K: Array, stride: Pair, padding: Pair) -> Array:
    """Cross-correlation of Xc (C, H, W, m) with K (O, C, k_h, k_w): (O, H_out, W_out, m)."""
    if is_torch(Xc):
        import torch.nn.functional as F

        return _chwm(F.conv2d(_nchw(Xc), K, stride=stride, padding=padding))
    D = conv_unfold(Xc, K.shape[2:], stride, padding)  # (C kh kw, P m)
    Ho, Wo = out_hw(Xc.shape[1:3], K.shape[2:], stride, padding)
    return (K.reshape(K.shape[0], -1) @ D).reshape(K.shape[0], Ho, Wo, Xc.shape[3])


def conv_adjoint(Rc: Array, K: Array, stride: Pair, padding: Pair, in_hw: Pair) -> Array:
    """Adjoint of :func:`conv_forward` in X: (O, H_out, W_out, m) → (C, H, W, m)."""
    (sh, sw), (ph, pw) = stride, padding
    H, W = in_hw
    kh, kw = K.shape[2], K.shape[3]
    Ho, Wo = Rc.shape[1], Rc.shape[2]
    if is_torch(Rc):
        import torch.nn.functional as F

        out_pad = (H + 2 * ph - kh - (Ho - 1) * sh, W + 2 * pw - kw - (Wo - 1) * sw)
        return _chwm(F.conv_transpose2d(_nchw(Rc), K, stride=stride, padding=padding, output_padding=out_pad))
    m, C = Rc.shape[3], K.shape[1]
    O = K.shape[0]
    cols = (K.reshape(O, -1).T @ Rc.reshape(O, -1)).reshape(C, kh, kw, Ho, Wo, m)
    Xp = np.zeros((C, H + 2 * ph, W + 2 * pw, m), dtype=np.result_type(Rc.dtype, K.dtype))
    for i in range(kh):
        for j in range(kw):
            Xp[:, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw, :] += cols[:, i, j]
    return Xp[:, ph:ph + H, pw:pw + W, :]


def conv_weight_grad(Xc: Array, Rc: Array, kshape: Sequence[int], stride: Pair, padding: Pair) -> Array:
    """∂/∂K ⟨R, conv(X, K)⟩ = Σ_{positions, samples} R ⊗ window: (O, C, k_h, k_w)."""
    if is_torch(Xc):
        import torch

        return torch.nn.grad.conv2d_weight(_nchw(Xc), tuple(kshape), _nchw(Rc), stride=stride, padding=padding)
    D = conv_unfold(Xc, kshape[2:], stride, padding)  # (C kh kw, P m)
    # (D Rᵀ)ᵀ rather than R Dᵀ: the same product, but multithreaded OpenBLAS is pathologically slow (~100x,
    # measured) on a few-row left factor with a long inner dimension
    return (D @ Rc.reshape(Rc.shape[0], -1).T).T.reshape(kshape)


def conv_unfold(Xc: Array, kernel: Pair, stride: Pair, padding: Pair, workspace: dict | None = None) -> Array:
    """im2col: (C·k_h·k_w) x (P·m), rows ordered (c, i, j), columns (position p, sample j) → p·m + j. ``workspace``
    (torch): the caller's dict whose array "D" receives it (the next call overwrites it): LeNet-5's first is 39 MB,
    above glibc's mmap threshold, and a fresh one is page-faulted in every batch (filling it: 18 vs 6 ms reused)."""
    if is_torch(Xc):
        # one copy of the (C, k_h, k_w, H_out, W_out, m) window view of the padded map (``as_strided``: window
        # (i, j) at output (h, w) reads X̄[c, s_h h + i, s_w w + j, :]), not F.unfold on the permuted (m, C, H, W)
        # view and a transposing copy (3.5-12x less CPU time on LeNet-5's layers), nor k_h·k_w slice copies (2.0 vs
        # 6.4 ms for its 6 x 14 x 14 map on 500 samples, 6.7 vs 7.6 for the 28 x 28 input; measured); the same values
        import torch
        import torch.nn.functional as F

        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        C, H, W, m = Xc.shape
        # (the padded map is a fresh contiguous array; an unpadded samples-first one is made so first: faster, measured)
        Xp = F.pad(Xc, (0, 0, pw, pw, ph, ph)) if (ph or pw) else Xc.contiguous()
        Ho, Wo = out_hw((H, W), kernel, stride, padding)
        shape, D = (C, kh, kw, Ho, Wo, m), (workspace or {}).get("D")
        if D is None or tuple(D.shape) != shape or D.dtype != Xc.dtype or D.device != Xc.device:
            D = torch.empty(shape, dtype=Xc.dtype, device=Xc.device)
            if workspace is not None:
                workspace["D"] = D
        s0, s1, s2, s3 = Xp.stride()
        D.copy_(Xp.as_strided(shape, (s0, s1, s2, sh * s1, sw * s2, s3), Xp.storage_offset()))
        return D.reshape(C * kh * kw, Ho * Wo * m)
    win = _np_windows(Xc, kernel, stride, padding)  # (C, Ho, Wo, m, kh, kw)
    C, Ho, Wo, m, kh, kw = win.shape
    return win.transpose(0, 4, 5, 1, 2, 3).reshape(C * kh * kw, Ho * Wo * m)


# ---- layout copies (the same values) ---------------------------------------------------------------------------
_BLOCK = 128  # columns per strided copy (4,704 x 500 float32: 2.1 vs 2.6 ms for torch's copy, measured)


def _transposed_copy_cpu(src, dst) -> None:
    """dst ← src for torch CPU n x m arrays, src with strides (1, n) (samples-first) and dst C-contiguous,
    written through numpy in blocks of ``_BLOCK`` columns (the same values)."""
    a, b = src.numpy(), dst.numpy()
    for s in range(0, a.shape[1], _BLOCK):
        b[:, s:s + _BLOCK] = a[:, s:s + _BLOCK]


def rows_contiguous(A: Array) -> Array:
    """A (n x m, numpy or torch) as a C-contiguous n x m array with the same values: A itself when it already is;
    a torch CPU array stored samples-first (strides (1, n), the layout of a conv map's output) is copied through
    numpy (:func:`_transposed_copy_cpu`) into a fresh ``torch.empty`` array -- the array ``A.reshape`` would
    give, faster; otherwise ``A.contiguous()`` / ``np.ascontiguousarray``."""
    if not is_torch(A):
        return np.ascontiguousarray(A)
    if A.is_contiguous():
        return A
    import torch

    if (A.device.type == "cpu" and not A.requires_grad and A.dim() == 2 and A.stride() == (1, A.shape[0])
            and A.dtype in (torch.float32, torch.float64)):
        out = torch.empty(A.shape, dtype=A.dtype, device=A.device)
        _transposed_copy_cpu(A, out)
        return out
    return A.contiguous()


def samples_first(A: Array) -> Array:
    """A (n x m torch, C-contiguous) copied into the samples-first order (strides (1, n): the n x m view of a
    contiguous m x n array, as a conv map's output is) with the same values: the inverse of :func:`rows_contiguous`,
    through numpy in blocks of ``_BLOCK`` rows on the CPU (4.1 vs 7.3 ms for torch's copy of a 4,704 x 500 float32
    array, measured), else ``A.T.contiguous().T``."""
    import torch

    if A.device.type != "cpu" or A.requires_grad or not A.is_contiguous() or A.dim() != 2 \
            or A.dtype not in (torch.float32, torch.float64):
        return A.T.contiguous().T
    out = torch.empty((A.shape[1], A.shape[0]), dtype=A.dtype, device=A.device).T
    a, b = A.numpy(), out.numpy()
    for s in range(0, a.shape[0], _BLOCK):
        b[s:s + _BLOCK] = a[s:s + _BLOCK]
    return out


def same_bits(a: Array, b: Array) -> bool:
    """Whether two torch arrays of one shape and float dtype hold the same bits entry by entry (signed zeros and NaN
    payloads told apart, unlike ``torch.equal``)."""
    import torch

    ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    return a.dtype == b.dtype and torch.equal(a.contiguous().view(ints), b.contiguous().view(ints))
