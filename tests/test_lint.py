"""The lint rules of ``pyproject.toml`` (``[tool.ruff]``, line length 120 included) hold on the whole tree.

Runs ``python -m ruff check`` on the paths of the Makefile's ``lint`` target; skipped where ruff is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = ("fenchel_cvx", "tests", "demos", "benchmarks", "paper_figures", "experiments", "docs")


def test_ruff_check_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    run = subprocess.run([sys.executable, "-m", "ruff", "check", *PATHS], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, f"ruff check {' '.join(PATHS)} failed:\n{run.stdout}{run.stderr}"
