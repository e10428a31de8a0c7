"""Issue 22, item 9: the README's command-line examples and every demo run as written, at their defaults.

* Each ```bash block of README.md whose commands call ``fenchel-cvx`` runs in a fresh folder through bash,
  with ``fenchel-cvx`` and ``python`` bound to this interpreter (the installed console script is the same
  ``fenchel_cvx.cli.main``); ``# slow`` everywhere: they train and certify at the README's sizes.
* Each demo of the README's demo list runs with no option at all (its defaults), in-process, writing its PNGs
  to a temporary folder; the CPU time it took is compared with what the README says of it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time

import pytest
from conftest import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _blocks(lang: str) -> list[tuple[int, str]]:
    text = open(README, encoding="utf-8").read()
    return [(text[:m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)]


def _commands(code: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line.split("  #")[0].strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _cli_commands():
    out = []
    for line, code in _blocks("bash"):
        for i, cmd in enumerate(_commands(code)):
            if cmd.startswith("fenchel-cvx "):
                needs_scip = cmd.startswith("fenchel-cvx certify") and "--no-standard" not in cmd
                out.append(pytest.param(cmd, needs_scip, id=f"README.md:{line}:{i}", marks=[pytest.mark.slow]))
    return out


@pytest.fixture
def shell_env(tmp_path):
    """A bin folder with ``fenchel-cvx`` and ``python`` bound to this interpreter, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("fenchel-cvx", f'exec "{sys.executable}" -m fenchel_cvx.cli "$@"'),
                         ("python", f'exec "{sys.executable}" "$@"')):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{target}\n")
        script.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=ROOT,
               MPLBACKEND="Agg")
    work = tmp_path / "work"
    work.mkdir()
    return env, work


def test_the_readme_has_command_examples():
    assert len(_cli_commands()) >= 4


@pytest.mark.parametrize("cmd, needs_scip", _cli_commands())
def test_readme_command_runs_as_written(cmd, needs_scip, shell_env):
    if needs_scip and importlib.util.find_spec("pyscipopt") is None:
        pytest.skip("needs the global extra (PySCIPOpt)")
    env, work = shell_env
    out = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    assert "Traceback" not in out.stderr


def _demo_claims() -> dict[str, float]:
    """``{demo file: CPU seconds the README allows it}`` from the README's demo list: every demo "runs in
    under a minute" unless its line says ``under N min``."""
    text = open(README, encoding="utf-8").read()
    under = re.search(r"Each runs in under (a|\d+) minutes? of CPU time", text)
    assert under, "the README's demo section no longer says how long the demos take"
    default = 60.0 * (1 if under.group(1) == "a" else int(under.group(1)))
    claims = {}
    for _line, code in _blocks("bash"):
        for cmd in code.splitlines():
            m = re.search(r"demos/(\d\d_\w+\.py)", cmd)
            if m:
                own = re.search(r"under (\d+) min", cmd)
                claims[m.group(1)] = 60.0 * int(own.group(1)) if own else default
    return claims


def test_every_demo_is_listed_in_the_readme():
    listed = set(_demo_claims())
    files = {f for f in os.listdir(os.path.join(ROOT, "demos")) if re.match(r"\d\d_\w+\.py$", f)}
    assert listed == files


@pytest.mark.slow
@pytest.mark.parametrize("demo", sorted(f for f in os.listdir(os.path.join(ROOT, "demos"))
                                        if re.match(r"\d\d_\w+\.py$", f)))
def test_demo_runs_at_its_defaults_within_the_readme_claim(demo, tmp_path):
    if demo.startswith(("04_", "06_")) and importlib.util.find_spec("pyscipopt") is None:
        pytest.skip("needs the global extra (PySCIPOpt)")
    mod = load_script(os.path.join("demos", demo))
    t0 = time.process_time()
    out = mod.main(["--out", str(tmp_path)])
    cpu = time.process_time() - t0
    for f in out["files"]:
        assert os.path.isfile(f), f
    claim = _demo_claims()[demo]
    assert cpu <= claim, f"{demo}: {cpu:.0f} CPU-s at its defaults, the README says under {claim:.0f} s"
