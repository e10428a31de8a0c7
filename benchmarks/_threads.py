"""Limit the BLAS/OpenMP threads of a benchmark script from its ``--threads`` option, before numpy is imported.

Used inside ``if __name__ == "__main__":`` at the top of ``benchmarks/*.py`` (the script's folder is on
``sys.path`` then); importing the scripts as modules (the smoke tests) does not touch the environment.
"""

from __future__ import annotations

import argparse
import os


def limit_threads_from_argv(default: int = 1) -> int:
    """Set OPENBLAS/MKL/OMP_NUM_THREADS to ``--threads`` (default ``default``) from sys.argv; returns it."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int, default=default)
    n = pre.parse_known_args()[0].threads
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(n)
    return n
