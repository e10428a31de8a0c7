import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

#: the repository root (scripts live in demos/, benchmarks/, paper_figures/)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(relpath: str, name: str | None = None):
    """Import a script of the repository (``"demos/00_quickstart.py"``; its name may start with a digit) as a
    module; its folder goes on sys.path so that it finds its sibling helpers. One loader for every test."""
    path = os.path.join(ROOT, relpath)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        # appended, not prepended: a script folder must not shadow installed packages for the rest of the session
        # (benchmarks/distributed.py shadowed dask's `distributed` in the worker processes a LocalCluster spawns)
        sys.path.append(folder)
    name = name or "script_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(name="load_script")
def _load_script_fixture():
    """The script loader (:func:`load_script`) as a fixture."""
    return load_script

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    HAVE_TORCH = False

try:
    import pyscipopt  # noqa: F401

    HAVE_SCIP = True
except ImportError:  # pragma: no cover
    HAVE_SCIP = False


def pytest_collection_modifyitems(config, items):
    """Tests marked ``torch`` / ``scip`` are skipped when torch / PySCIPOpt (the 'global' extra) is missing."""
    skip_torch = pytest.mark.skip(reason="torch not installed")
    skip_scip = pytest.mark.skip(reason="pyscipopt (the 'global' extra) is not installed")
    for item in items:
        if "torch" in item.keywords and not HAVE_TORCH:
            item.add_marker(skip_torch)
        if "scip" in item.keywords and not HAVE_SCIP:
            item.add_marker(skip_scip)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module of tiny problems (multi-threaded reductions stall when the cores are
    shared); the previous count is restored afterwards. A no-op without torch. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    if not HAVE_TORCH:  # pragma: no cover
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _matplotlib_agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
