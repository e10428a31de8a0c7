"""A cache of finished runs for ``make_figures.py`` (scripts only; the library never imports it).

A *run* is one unit of work (one training curve, one block timing, one λ of a sweep),
identified by its section, a short name and a JSON-serialisable ``params`` dict. Its
result (a JSON-serialisable dict) is stored in ``<cache_dir>/<section>/<name>-<key>.json``
where ``key`` hashes (section, name, params, section version). Changing any parameter or
bumping a section's ``VERSION`` therefore recomputes; ``force=True`` recomputes everything.
A run is written only after it finished, atomically, so an interrupted ``make figures``
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable

import numpy as np


def _jsonable(x):
    """Convert numpy scalars/arrays and tuples to plain JSON types (recursively)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return repr(x)  # 'nan', 'inf': JSON has no such numbers
    return x


def _unjson(x):
    if isinstance(x, dict):
        return {k: _unjson(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unjson(v) for v in x]
    if x in ("nan", "inf", "-inf"):
        return float(x)
    return x


def source_fingerprint(*modules: str) -> str:
    """A hash of the source files of ``modules`` (a package counts with all its ``.py`` files).

    Sections put it into their runs' parameters, so that a change of the library code a run
    depends on invalidates the cached result (the cache never serves numbers of older code).
    """
    import importlib

    h = hashlib.sha256()
    for name in sorted(modules):
        mod = importlib.import_module(name)
        paths = []
        if hasattr(mod, "__path__"):  # a package: every .py file below it
            for root in mod.__path__:
                for d, _, files in os.walk(root):
                    paths += [os.path.join(d, f) for f in files if f.endswith(".py")]
        elif getattr(mod, "__file__", None):
            paths.append(mod.__file__)
        for path in sorted(paths):
            with open(path, "rb") as fh:
                h.update(os.path.basename(path).encode() + b"\0" + fh.read())
    return h.hexdigest()[:16]


def environment() -> dict:
    env = {"python": platform.python_version(), "machine": platform.machine(), "numpy": np.__version__}
    try:
        import torch

        env["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        import cvxpy

        env["cvxpy"] = cvxpy.__version__
    except ImportError:
        pass
    return env


class RunCache:
    """Cache of finished runs under ``root`` (see the module docstring)."""

    def __init__(self, root: str, force: bool = False, verbose: bool = True):
        self.root = os.fspath(root)
        self.force = bool(force)
        self.verbose = verbose
        self.hits = 0
        self.misses = 0
        os.makedirs(self.root, exist_ok=True)

    def path(self, section: str, name: str, params: dict, version: int = 1) -> str:
        blob = json.dumps(_jsonable({"section": section, "name": name, "params": params, "version": version}),
                          sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()[:16]
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        return os.path.join(self.root, section, f"{safe}-{key}.json")

    def get(self, section: str, name: str, params: dict, version: int = 1):
        """The cached result, or None."""
        p = self.path(section, name, params, version)
        if self.force or not os.path.isfile(p):
            return None
        with open(p) as fh:
            return _unjson(json.load(fh))["result"]

    def run(self, section: str, name: str, params: dict, fn: Callable[[], dict], version: int = 1) -> dict:
        """Return the cached result of ``fn()`` for (section, name, params), computing and storing it if needed."""
        cached = self.get(section, name, params, version)
        if cached is not None:
            self.hits += 1
            if self.verbose:
                print(f"  [cache] {section}/{name}")
            return cached
        self.misses += 1
        if self.verbose:
            print(f"  [run]   {section}/{name} ...", flush=True)
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        record = {"section": section, "name": name, "params": params, "version": version, "elapsed_s": elapsed,
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "environment": environment(), "result": result}
        p = self.path(section, name, params, version)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(p), suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(_jsonable(record), fh, indent=1)
        os.replace(tmp, p)
        if self.verbose:
            print(f"          done in {elapsed:.1f} s")
        return _unjson(_jsonable(result))
