"""Every tolerance of the test suite comes from ``tests/tolerances.py`` (issue 12): a check of the test files' source.

Flagged (AST, per test module):

* a numeric literal passed as ``rtol=``, ``atol=``, ``rel=``, ``abs=``, ``rel_tol=`` or ``abs_tol=`` anywhere
  (0 allowed: "no relative/absolute part");
* inside an ``assert``'s comparison, a small literal (0 < |v| < 0.01) used as an operand or added, subtracted or
  multiplied into one (``x <= y + 1e-9``, ``y * (1 + 1e-7)``, ``x <= 1e-6``); literals passed as function
  arguments (solver settings, data) are not looked at.

Not tolerances, hence allowed: literals below 1e-100 (floors that keep a bound or a denominator away from zero,
e.g. ``max(value, 1e-300)``), and the comparisons in :data:`ALLOWED`, each with the reason.
"""

from __future__ import annotations

import ast
import os

ROOT = os.path.dirname(os.path.abspath(__file__))
TOLERANCE_KEYWORDS = {"rtol", "atol", "rel", "abs", "rel_tol", "abs_tol"}
#: below this a literal is a floor against underflow or division by zero, not a tolerance
FLOOR = 1e-100

#: (test file, comparison as ``ast.unparse`` writes it) -> why its literal is not a tolerance
ALLOWED = {
    ("test_train.py", "F[-1] < F[0] - 0.001"): "a decrease the training must achieve (a property, not a slack)",
    ("test_conv_train.py", "F[-1] < F[0] - 0.001"): "a decrease the training must achieve (a property, not a slack)",
    ("test_conv_train.py", "np.abs(w - w0).max() > 0.001"): "the weights must move by more than this (a property)",
    ("test_comparison.py", "res.grid['lr'][-1] > 0.003"): "a grid point: the extended grid goes past its old edge 3e-3",
}


def _literal(node) -> float | None:
    """The value of a numeric literal (``1e-9``, ``-1e-9``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _small(v) -> bool:
    return v is not None and FLOOR <= abs(v) < 1e-2


def _arithmetic_leaves(node):
    """The nodes reached from ``node`` through arithmetic only (not into calls, subscripts or attributes)."""
    yield node
    if isinstance(node, ast.BinOp):
        yield from _arithmetic_leaves(node.left)
        yield from _arithmetic_leaves(node.right)
    elif isinstance(node, ast.UnaryOp):
        yield from _arithmetic_leaves(node.operand)


def literal_tolerances(source: str, filename: str = "probe.py") -> list:
    """(line, text) of every literal tolerance in ``source`` (module docstring), minus :data:`ALLOWED`."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in TOLERANCE_KEYWORDS:
            v = _literal(node.value)
            if v is not None and v != 0 and abs(v) >= FLOOR:
                out.append((node.value.lineno, f"{node.arg}={ast.unparse(node.value)}"))
        if isinstance(node, ast.Assert):
            for cmp in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
                if (filename, ast.unparse(cmp)) in ALLOWED:
                    continue
                for operand in [cmp.left, *cmp.comparators]:
                    if any(_small(_literal(leaf)) for leaf in _arithmetic_leaves(operand)):
                        out.append((cmp.lineno, ast.unparse(cmp)))
                        break
    return sorted(set(out))


def _test_files():
    """The test files, in tests/ and its sub-folders (laid out like the package), relative to tests/; the
    allow-list above names them by file name (no two test files share one)."""
    out = []
    for folder, _dirs, files in os.walk(ROOT):
        out += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files
                if f.endswith(".py") and f != "tolerances.py" and "__pycache__" not in folder]
    return sorted(out)


def test_no_literal_tolerances_in_the_tests():
    bad = []
    for f in _test_files():
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            bad += [f"{f}:{line}: {text}" for line, text in literal_tolerances(fh.read(), os.path.basename(f))]
    assert not bad, "literal tolerances (name them in tests/tolerances.py):\n" + "\n".join(bad)


def test_every_allowed_comparison_still_exists():
    """An allow-list entry whose comparison is gone (edited or deleted) is removed, not kept as a loophole."""
    present = set()
    for f in _test_files():
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        present |= {(os.path.basename(f), ast.unparse(n)) for n in ast.walk(tree) if isinstance(n, ast.Compare)}
    assert set(ALLOWED) <= present, set(ALLOWED) - present


def test_the_checker_catches_what_it_should():
    src = ("assert_allclose(a, b, rtol=1e-6)\n"                          # flagged: literal rtol
           "assert x <= y + 1e-9\n"                                       # flagged: added slack
           "assert x <= y * (1 + 1e-7)\n"                                 # flagged: relative slack
           "assert gap <= 1e-6\n"                                         # flagged: bare literal
           "assert z == pytest.approx(w, rel=1e-12)\n"                    # flagged: literal rel
           "assert_allclose(a, b, rtol=0, atol=TOL['x'])\n"               # allowed: 0 and a table entry
           "assert x <= y + RATIO['rounding'] * (1 + abs(y))\n"           # allowed: named
           "assert f(x, tol=1e-9) <= 2.0\n"                               # allowed: a solver setting, not a slack
           "assert v <= b * (1 + B) + 1e-300\n"                           # allowed: a floor
           "assert F[-1] < F[0] - 0.001\n")                               # allowed in test_train.py only
    got = [line for line, _ in literal_tolerances(src, "test_train.py")]
    assert got == [1, 2, 3, 4, 5], got
    assert [line for line, _ in literal_tolerances(src, "other.py")] == [1, 2, 3, 4, 5, 10]
