"""``tracejit bench``: the benchmark suite in benchmarks/ (a source checkout)."""

from __future__ import annotations

import importlib.util
import os
import sys


def suite_dir() -> str:
    """The benchmarks/ folder next to the package (an editable/source install)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def main(argv: list[str] | None = None) -> int:
    """Run benchmarks/run.py's main with ``argv``; exit code 2 if the suite is missing."""
    path = os.path.join(suite_dir(), "run.py")
    if not os.path.exists(path):
        print(
            f"tracejit bench: the benchmark suite was not found at {path}; it ships with the "
            "source repository (pip install -e . from a checkout)",
            file=sys.stderr,
        )
        return 2
    spec = importlib.util.spec_from_file_location("tracejit_benchmarks_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)
