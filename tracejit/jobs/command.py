"""``tracejit run [CONFIG] [--out DIR] [--steps N]``: run an example job from a TOML config.

A subcommand module of ``tracejit.cli``: ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``main(args) -> exit code``. ``example_main``
gives ``examples/*.py`` the same behaviour for one shipped config.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tracejit import jobs
from tracejit.jobs import config as config_mod
from tracejit.jobs.output import default_out_dir, summary_lines, write_outputs
from tracejit.jobs.runner import Log, Result

NAME = "run"
HELP = "run an example job described by a TOML config"

#: Exit codes: a bad config or command line (as argparse), a job that cannot run here.
EXIT_USAGE, EXIT_FAILED = 2, 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_run_options(
    parser: argparse.ArgumentParser, out_default: str = "runs/<config>-<timestamp>/"
) -> None:
    """The options of a run: ``--out``, ``--steps``, ``--no-progress``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where metrics.json and loss.png go (default: {out_default})",
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train for N steps instead of the config's [train] steps",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``run`` subcommand's arguments."""
    shipped = ", ".join(config_mod.shipped_configs())
    parser.add_argument(
        "config",
        nargs="?",
        default=None,
        metavar="CONFIG",
        help=f"a TOML file, or the name of a shipped config ({shipped}); "
        f"default: {config_mod.DEFAULT_CONFIG}",
    )
    add_run_options(parser)
    parser.add_argument("--list", action="store_true", help="list the shipped configs and exit")


def _list_configs() -> int:
    names = config_mod.shipped_configs()
    width = max(len(n) for n in names)
    for name in names:
        cfg = jobs.load_config(name)
        default = " (default)" if name == config_mod.DEFAULT_CONFIG else ""
        print(f"{name.ljust(width)}  {cfg.description}{default}")
    return 0


class _UsageError(Exception):
    """A bad command-line value (exit code 2, as argparse)."""


def _check_out_dir(out: Path) -> None:
    """Fail before the job runs when ``--out`` cannot be a directory."""
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise _UsageError(f"--out {out}: {parent} exists and is not a directory")
            return


def _fail(message: str, code: int) -> int:
    print(f"tracejit {NAME}: error: {message}", file=sys.stderr)
    return code


def execute(args: argparse.Namespace, *, write: bool = True) -> tuple[int, Result | None]:
    """Load, run, print and (with ``write``) save; returns ``(exit code, result)``.

    Errors a user can fix print one line (no traceback) and give a nonzero code.
    """
    try:
        if args.list:
            return _list_configs(), None
        cfg = jobs.load_config(args.config)
        if args.steps is not None:  # metrics.json records the settings actually run
            cfg = dataclasses.replace(cfg, settings=jobs.with_steps(cfg.settings, args.steps))
        out = None
        if write or args.out is not None:
            out = args.out if args.out is not None else default_out_dir(cfg.name)
            _check_out_dir(out)
        log = Log(progress=args.progress)
        log.info(f"{cfg.name}: job {cfg.job} from {cfg.path}")
        result = jobs.run_job(cfg, log=log)
        print("\n".join(summary_lines(cfg, result)), flush=True)
        if out is not None:
            written = write_outputs(cfg, result, out)
            print("wrote " + ", ".join(str(p) for p in written))
    except (jobs.ConfigError, _UsageError) as e:
        return _fail(str(e), EXIT_USAGE), None
    except jobs.JobError as e:
        return _fail(str(e), EXIT_FAILED), None
    except BrokenPipeError:  # stdout closed early (e.g. piped into `head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED, None
    except OSError as e:  # e.g. an --out directory that cannot be written
        return _fail(f"{e.strerror or e}: {e.filename}", EXIT_FAILED), None
    except KeyboardInterrupt:
        return _fail("interrupted", 130), None
    return 0, result


def main(args: argparse.Namespace) -> int:
    """Run the ``run`` subcommand; returns the exit code."""
    code, _ = execute(args)
    return code


def example_main(config: str, argv: Sequence[str] | None = None) -> Result:
    """What ``examples/<config>.py`` does: run a shipped config and print its summary.

    Args:
      config: the shipped config's name.
      argv: ``[--steps N] [--out DIR] [--no-progress]`` (default: ``sys.argv[1:]``);
        without ``--out`` nothing is written.

    Returns:
      The job's Result (tests check the example's claims on it).

    Raises:
      SystemExit: with the exit code when the job fails.
    """
    parser = argparse.ArgumentParser(
        prog=f"examples/{config}.py",
        description=f"{jobs.load_config(config).description} "
                    f"(the same as `tracejit run {config}`)",
    )  # fmt: skip
    add_run_options(parser, out_default="nowhere: only print the summary")
    args = parser.parse_args(argv)
    args.config, args.list = config, False
    code, result = execute(args, write=False)
    if result is None:
        raise SystemExit(code)
    return result
