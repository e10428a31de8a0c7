import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # pragma: no cover
    HAVE_TORCH = False


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="torch not installed")
    for item in items:
        if "torch" in item.keywords and not HAVE_TORCH:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _matplotlib_agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
