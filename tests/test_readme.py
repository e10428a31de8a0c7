"""The README's Python snippets run as written, and the design document's sections exist where they are cited.

Each ```python block of README.md is saved as a script and run in a fresh interpreter (so a snippet that needs
``if __name__ == "__main__":`` is tested with it). Leading comment lines mark what a snippet needs:
``# requires: torch, data`` (extras: skipped when their package is missing) and ``# slow`` (run only with ``-m slow``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DESIGN = os.path.join(ROOT, "docs", "design.md")

#: extra -> the module that tells whether it is installed
EXTRAS = {"torch": "torch", "sklearn": "sklearn", "data": "mlxtend", "global": "pyscipopt",
          "distributed": "distributed", "docs": "pdoc"}


def _snippets():
    text = open(README, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        code = m.group(1)
        line = text[:m.start()].count("\n") + 1
        needs, slow = [], False
        for head in code.splitlines():
            if not head.startswith("#"):
                break
            if head.startswith("# requires:"):
                needs += [x.strip() for x in head.split(":", 1)[1].split(",") if x.strip()]
            slow = slow or head.strip() == "# slow"
        marks = [pytest.mark.slow] if slow else []
        out.append(pytest.param(code, needs, id=f"README.md:{line}", marks=marks))
    return out


SNIPPETS = _snippets()


def test_the_readme_has_snippets_and_their_markers_are_known():
    assert len(SNIPPETS) >= 6
    for p in SNIPPETS:
        for extra in p.values[1]:
            assert extra in EXTRAS, f"{p.id}: unknown extra {extra!r} in '# requires:'"


@pytest.mark.parametrize("code,needs", SNIPPETS)
def test_readme_snippet_runs(code, needs, tmp_path):
    missing = [e for e in needs if importlib.util.find_spec(EXTRAS[e]) is None]
    if missing:
        pytest.skip(f"needs the {', '.join(missing)} extra(s)")
    script = tmp_path / "snippet.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=900)
    assert out.returncode == 0, f"snippet failed:\n{code}\n--- stderr ---\n{out.stderr[-3000:]}"


def test_design_sections_cited_by_the_code_exist():
    """Docstrings cite ``docs/design.md §N``: every cited section is a heading of the document."""
    headings = set(re.findall(r"^## §(\d+) ", open(DESIGN, encoding="utf-8").read(), flags=re.M))
    cited = {}
    for folder, _dirs, files in os.walk(ROOT):
        if any(part in folder for part in (".venv", ".git", "__pycache__", os.sep + "docs" + os.sep + "api")):
            continue
        for f in files:
            if f.endswith((".py", ".md")) and f != "design.md":
                path = os.path.join(folder, f)
                for sec in re.findall(r"docs/design\.md §(\d+)", open(path, encoding="utf-8").read()):
                    cited.setdefault(sec, path)
    assert cited, "nothing cites docs/design.md"
    missing = {s: p for s, p in cited.items() if s not in headings}
    assert not missing, f"cited sections missing from docs/design.md: {missing}"
    for sec in cited:
        assert sec in headings


def test_no_docstring_cites_notes_outside_the_repository():
    bad = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "fenchel_cvx")):
        for f in files:
            if f.endswith(".py") and "design notes" in open(os.path.join(folder, f), encoding="utf-8").read():
                bad.append(os.path.join(folder, f))
    assert not bad, bad


@pytest.mark.slow
def test_the_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "build_api.py"), str(tmp_path / "api")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "api" / "fenchel_cvx.html").is_file()
    assert (tmp_path / "api" / "fenchel_cvx" / "model_io.html").is_file()
