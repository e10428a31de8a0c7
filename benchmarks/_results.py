"""Write a benchmark's results: ``PREFIX.md`` (the table a reader sees) and ``PREFIX.json`` (everything measured).

Used by the ``benchmarks/*.py`` scripts (the script's folder is on ``sys.path``, as for ``_threads.py``).
"""

from __future__ import annotations

import json
import os


def write_results(prefix: str, markdown: str, payload: dict, default=None) -> None:
    """Create the folder of ``prefix`` if needed, write ``markdown`` to PREFIX.md and ``payload`` (indented JSON;
    ``default`` converts what json cannot) to PREFIX.json."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    with open(prefix + ".md", "w") as fh:
        fh.write(markdown)
    with open(prefix + ".json", "w") as fh:
        json.dump(payload, fh, indent=1, default=default)
