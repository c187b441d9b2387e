"""``tracejit bench [--only NAME] [--quick] [--json PATH]``: the benchmark suite.

A subcommand module of ``tracejit.cli``. The workloads live in the source
checkout's ``benchmarks/`` folder (next to the package), each written in
tracejit, JAX and torch.func (when torch is installed) and timed in one process.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

NAME = "bench"
HELP = "time tracejit next to JAX (and torch.func) on the benchmark workloads"


def suite_dir() -> str:
    """The benchmarks/ folder next to the package (an editable/source install)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", metavar="NAME",
                        help="run only workloads whose id or name contains NAME (e.g. W4)")
    parser.add_argument("--quick", action="store_true",
                        help="few calls per round, contended rounds flagged not retried: "
                        "about a minute (CI)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")


def main(args: argparse.Namespace) -> int:
    """Run benchmarks/run.py; exit code 2 when the suite is not there."""
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
    argv = (["--only", args.only] if args.only else []) + (["--quick"] if args.quick else []) \
        + (["--json", args.json] if args.json else [])
    return module.main(argv)
