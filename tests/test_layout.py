"""The house rules of the code base, checked: no cross-module private names, a light import, one error base.

* No module in ``fenchel_cvx/``, ``benchmarks/``, ``demos/`` or ``paper_figures/`` imports another module's
  private name (``from m import _x``, ``import m._x``) or reaches into an imported module's private name
  (``m._x`` where ``m`` is a module bound by an import). Helper modules whose own name starts with an
  underscore (``_fig_util``, ``_demo_util``) are private to their folder and may be imported from it.
* ``import fenchel_cvx`` and ``fenchel-cvx --help`` import neither torch nor CVXPY.
* Every exception class the package defines derives from :class:`fenchel_cvx.FenchelError`.
* ``fenchel_cvx.__all__`` resolves and names no private or solver-internal objects, and ``dir(fenchel_cvx)``
  shows nothing else (no ``annotations``, ``importlib``); no library module is longer than 600 lines.
* No two library modules share a file name (``__init__.py`` aside).
* No import cycle among the library's modules: the graph of ``fenchel_cvx``'s modules built from the source
  (every ``import`` statement, function-local ones included; those under ``if TYPE_CHECKING:`` are not run
  and do not count) has no strongly connected component of more than one module.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKED = ("fenchel_cvx", "benchmarks", "demos", "paper_figures")


def _python_files():
    for top in CHECKED:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, top)):
            if "__pycache__" in folder:
                continue
            for f in files:
                if f.endswith(".py"):
                    yield os.path.join(folder, f)


def _module_name(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] == "__init__":
        rel = rel[:-1]
    return ".".join(rel)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(qualname: str) -> bool:
    try:
        return importlib.util.find_spec(qualname) is not None
    except (ImportError, ValueError):
        return False


def _ours(qualname: str) -> bool:
    """True for a module of this repository (the package or a script folder), not stdlib/third-party
    (whose documented names may start with an underscore, like ``os._exit``)."""
    if qualname.split(".")[0] == "fenchel_cvx":
        return True
    try:
        spec = importlib.util.find_spec(qualname)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None) or ""
    return origin.startswith(ROOT + os.sep) and ".venv" not in origin


def _violations(path):
    """(line, text) of every cross-module private access in the file at ``path``."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    package = _module_name(path) if path.endswith("__init__.py") else _module_name(path).rpartition(".")[0]
    modules = set()  # names bound to modules in this file
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if any(_private(part) for part in alias.name.split(".")[1:]):
                    out.append((node.lineno, f"import {alias.name}"))
                if _ours(alias.name):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package) if package else base
            for alias in node.names:
                if _private(alias.name):
                    out.append((node.lineno, f"from {base} import {alias.name}"))
                elif base.startswith("fenchel_cvx") and _is_module(f"{base}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name) \
                and node.value.id in modules:
            out.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(out)


def test_no_cross_module_private_names():
    sys.path[:0] = [os.path.join(ROOT, top) for top in CHECKED[1:]]
    try:
        bad = [f"{os.path.relpath(p, ROOT)}:{line}: {text}" for p in _python_files() for line, text in _violations(p)]
    finally:
        del sys.path[:len(CHECKED) - 1]
    assert not bad, "cross-module private names:\n" + "\n".join(bad)


def test_the_checker_catches_what_it_should(tmp_path):
    """The AST check itself: each forbidden form is flagged, the allowed ones are not."""
    src = tmp_path / "probe.py"
    src.write_text("import fenchel_cvx.backend as B\nfrom fenchel_cvx.training import batches as D\n"
                   "from fenchel_cvx.network import _x\nfrom _fig_util import save\n"
                   "B._torch_module()\nD._y\nself._z\n")
    got = [text for _line, text in _violations(str(src))]
    assert got == ["from fenchel_cvx.network import _x", "B._torch_module", "D._y"], got


def _run(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    return out.stdout.strip()


HEAVY = "('torch', 'cvxpy', 'sklearn', 'distributed', 'pyscipopt')"


def test_import_is_light():
    loaded = _run(f"import sys, fenchel_cvx\nprint(sorted(m for m in {HEAVY} if m in sys.modules))")
    assert loaded == "[]", f"import fenchel_cvx loaded {loaded}"


def test_cli_help_is_light():
    code = ("import sys, contextlib, io\nfrom fenchel_cvx.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in {HEAVY} if m in sys.modules))")
    assert _run(code) == "[]"


def _all_modules():
    import fenchel_cvx

    for info in pkgutil.walk_packages(fenchel_cvx.__path__, "fenchel_cvx."):
        if info.name == "fenchel_cvx.training.dask" and importlib.util.find_spec("distributed") is None:
            continue
        yield importlib.import_module(info.name)


def test_every_exception_derives_from_fenchel_error():
    import fenchel_cvx

    classes = {(m.__name__, name): obj for m in _all_modules() for name, obj in vars(m).items()
               if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == m.__name__}
    assert classes, "no exception classes found"
    bad = [k for k, cls in classes.items() if not issubclass(cls, fenchel_cvx.FenchelError)]
    assert not bad, f"exceptions outside FenchelError: {bad}"


def test_public_surface():
    import fenchel_cvx as fc

    for name in fc.__all__:
        assert not _private(name), name
        assert getattr(fc, name) is not None
    assert sorted(n for n in dir(fc) if not n.startswith("_")) == sorted(n for n in fc.__all__ if n != "__version__")
    for leaked in ("annotations", "importlib"):
        assert leaked not in vars(fc), f"import fenchel_cvx exposes {leaked!r}"
    for internal in ("GLMSolver", "DataTerm", "mm_steps", "apg_fixed", "fista", "LocalExecutor"):
        assert internal not in fc.__all__


@pytest.mark.parametrize("path", [p for p in _python_files() if os.sep + "fenchel_cvx" + os.sep in p])
def test_modules_stay_small(path):
    with open(path, encoding="utf-8") as fh:
        n = sum(1 for _ in fh)
    assert n <= 600, f"{os.path.relpath(path, ROOT)} has {n} lines: split it by concept"


def _library_modules() -> dict:
    """{module name: path} of every module of the package."""
    return {_module_name(p): p for p in _python_files() if os.sep + "fenchel_cvx" + os.sep in p}


def test_no_two_library_modules_share_a_file_name():
    seen: dict = {}
    for path in _library_modules().values():
        name = os.path.basename(path)
        if name != "__init__.py":
            seen.setdefault(name, []).append(os.path.relpath(path, ROOT))
    assert not {k: v for k, v in seen.items() if len(v) > 1}


def _type_checking_imports(tree) -> set:
    """The import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                out.update(id(n) for n in ast.walk(sub) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return out


def import_graph(modules: dict) -> dict:
    """{module: set of the package's modules it imports} from the source (module docstring): ``import a.b``
    and ``from a import b`` count as importing ``a.b`` when that is a module, else the package ``a``."""
    graph = {}
    for mod, path in modules.items():
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        skip = _type_checking_imports(tree)
        is_pkg = path.endswith("__init__.py")
        deps = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = mod.split(".")[: len(mod.split(".")) - (node.level - (1 if is_pkg else 0))]
                    base = ".".join(parts + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    deps.add(name)
        graph[mod] = deps
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = import_graph(_library_modules())
    assert "fenchel_cvx.training.loop" in graph["fenchel_cvx.training.dask"]  # the graph sees module imports
    assert "fenchel_cvx.model_format" in graph["fenchel_cvx.network"]          # ... and function-local ones
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
                              "def g():\n    from .a import x\n")
    mods = {"pkg": str(pkg / "__init__.py"), **{f"pkg.{n}": str(pkg / f"{n}.py") for n in "abc"}}
    graph = import_graph(mods)
    assert graph["pkg.c"] == {"pkg.a"}      # the TYPE_CHECKING import does not count
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("doc, heading",
                         [("README.md", "## Layout"), (os.path.join("docs", "design.md"), "## §8 Layout")])
def test_layout_sections_name_every_module(doc, heading):
    """The README's Layout section and docs/design.md §8 match the tree: every module and sub-package of the
    library (certify/'s inside aside: its own section) is named, and every ``.py`` name they give exists."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as fh:
        text = fh.read()
    section = text[text.index(heading):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    files = {os.path.relpath(p, os.path.join(ROOT, "fenchel_cvx")) for p in _library_modules().values()}
    named = set()
    for rel in files:
        parts = rel.split(os.sep)
        if parts[0] == "certify":
            continue
        name = parts[-1]
        if name == "__init__.py":
            name = parts[-2] + "/" if len(parts) > 1 else name
        named.add(name)
    missing = sorted(n for n in named if n not in section)
    assert not missing, f"{doc} ({heading}) does not name {missing}"
    basenames = {os.path.basename(r) for r in files}
    tests_and_docs = {"build_api.py", "conftest.py", "tolerances.py"}
    stale = sorted({n for n in re.findall(r"\b([a-z_]+\.py)\b", section)} - basenames - tests_and_docs)
    assert not stale, f"{doc} ({heading}) names files that do not exist: {stale}"
