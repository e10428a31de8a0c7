"""The public API is typed (PEP 561: the package ships ``py.typed``): every public function and method of the
modules below annotates all its parameters and its return value (``__init__`` may omit ``-> None``)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os

import pytest

import fenchel_cvx

TYPED = ["fenchel_cvx.activations", "fenchel_cvx.network", "fenchel_cvx.conv", "fenchel_cvx.layers",
         "fenchel_cvx.conv_ops", "fenchel_cvx.model_io", "fenchel_cvx.model_format", "fenchel_cvx.interop",
         "fenchel_cvx.torch_export",
         "fenchel_cvx.data", "fenchel_cvx.validation",
         "fenchel_cvx.errors", "fenchel_cvx.log", "fenchel_cvx.plotting", "fenchel_cvx.estimators", "fenchel_cvx.cli",
         "fenchel_cvx.baselines", "fenchel_cvx.commands.train", "fenchel_cvx.commands.check_blocks",
         "fenchel_cvx.commands.certify", "fenchel_cvx.training.loop", "fenchel_cvx.training.config",
         "fenchel_cvx.training.history", "fenchel_cvx.training.checkpoint", "fenchel_cvx.training.batches",
         "fenchel_cvx.training.backprop", "fenchel_cvx.training.presets", "fenchel_cvx.training.executor",
         "fenchel_cvx.training.cluster",
         "fenchel_cvx.training.dask", "fenchel_cvx.blocks.check_external", "fenchel_cvx.blocks.instances",
         "fenchel_cvx.blocks.out_maps",
         "fenchel_cvx.torch_modules"]
OPTIONAL = {"fenchel_cvx.estimators": "sklearn", "fenchel_cvx.training.dask": "distributed",
            "fenchel_cvx.training.cluster": "distributed", "fenchel_cvx.torch_modules": "torch",
            "fenchel_cvx.baselines": None}


def _untyped(modname: str) -> list[str]:
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", [n for n in vars(mod) if not n.startswith("_")])
    bad = []
    for name in names:
        obj = getattr(mod, name, None)
        if getattr(obj, "__module__", None) != modname:
            continue  # re-exported from elsewhere
        funcs = [(name, obj)] if inspect.isfunction(obj) else []
        if inspect.isclass(obj):
            funcs = [(f"{name}.{k}", v) for k, v in vars(obj).items()
                     if inspect.isfunction(v) and (not k.startswith("_") or k == "__init__")]
        for qual, f in funcs:
            sig = inspect.signature(f)
            params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
            if any(p.annotation is inspect.Parameter.empty for p in params) or (
                    sig.return_annotation is inspect.Parameter.empty and not qual.endswith("__init__")):
                bad.append(qual)
    return bad


@pytest.mark.parametrize("modname", TYPED)
def test_public_functions_are_annotated(modname):
    need = OPTIONAL.get(modname)
    if need and importlib.util.find_spec(need) is None:
        pytest.skip(f"needs {need}")
    assert _untyped(modname) == []


def test_the_package_is_marked_typed():
    assert os.path.isfile(os.path.join(os.path.dirname(fenchel_cvx.__file__), "py.typed"))
