"""Exceptions of the certificates.

Both derive from the package's error base (:class:`fenchel_cvx.errors.FenchelError`) and from ``ValueError``
(what the command line and callers already catch).
"""

from __future__ import annotations

from ..errors import FenchelError

__all__ = ["ScopeError", "NoLowerBoundError"]


class ScopeError(FenchelError, ValueError):
    """The problem lies outside what the global models represent (architecture, activation, loss, size);
    the message names the argument and lists what is supported."""


class NoLowerBoundError(ScopeError):
    """No certified lower bound exists for this problem as posed (e.g. no weight decay: the search space is
    unbounded and the infimum need not be attained), so the certificates refuse it rather than return one."""
