"""The ``tracejit`` command line: one argparse subcommand per module.

    tracejit run [CONFIG] [--out DIR] [--steps N]
    tracejit bench [--only NAME] [--quick] [--json PATH]

A subcommand is a module with ``NAME`` (the word after ``tracejit``),
``HELP`` (one line for ``tracejit --help``), ``add_arguments(parser)`` and
``main(args) -> int`` (the exit code). Adding one is adding its module's
name to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: The modules implementing the subcommands, in the order ``--help`` lists them.
SUBCOMMANDS = ("tracejit.jobs.command", "tracejit.bench")


def build_parser() -> argparse.ArgumentParser:
    """The ``tracejit`` parser with every subcommand of ``SUBCOMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="tracejit",
        description="tracejit: a JIT tracing framework with its own IR and transforms.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(name)
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_main=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the subcommand.

    Returns:
      The exit code: 0 on success, 2 for a bad command line or config file.
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return args._main(args)


if __name__ == "__main__":
    sys.exit(main())
