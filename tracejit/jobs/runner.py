"""What every job shares: progress reporting, the timed step loop, and results.

A job is a function ``run(settings, log) -> Result``. It reports progress
through ``log`` (a tqdm bar when tqdm is installed and progress is on, else
nothing) and returns its loss curve, headline numbers and a readable report.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from tracejit import tree_util

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is an optional extra: no bar without it
    tqdm = None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """One phase's progress bar (a no-op when bars are off or tqdm is missing)."""

    def __init__(self, total: int, desc: str, enabled: bool, stream: TextIO) -> None:
        self._bar = None
        if enabled and tqdm is not None and _isatty(stream):  # no bar in logs and pipes
            self._bar = tqdm(total=total, desc=desc, file=stream, dynamic_ncols=True, leave=False)

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n`` steps; ``postfix`` values (e.g. ``loss=0.3``) show next to the bar.

        An array value shows as its mean; it is read only when a bar is shown, so a
        quiet run never waits for the device.
        """
        if self._bar is None:
            return
        if postfix:
            shown = {k: f"{float(np.mean(v)):.4g}" for k, v in postfix.items()}
            self._bar.set_postfix(shown, refresh=False)
        self._bar.update(n)

    def describe(self, desc: str) -> None:
        """Change the bar's label (e.g. while the first step compiles)."""
        if self._bar is not None:
            self._bar.set_description_str(desc)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Log:
    """Where a running job reports: progress bars and one-line messages.

    Args:
      progress: show progress bars (tqdm, when installed).
      verbose: print ``info`` messages.
      stream: where bars and messages go (default: stderr for bars, stdout for messages).
    """

    def __init__(
        self, *, progress: bool = True, verbose: bool = True, stream: TextIO | None = None
    ) -> None:
        self.show_progress, self.verbose, self._stream = progress, verbose, stream

    def progress(self, total: int, desc: str) -> Progress:
        """A progress bar over ``total`` steps (use it as a context manager)."""
        return Progress(total, desc, self.show_progress, self._stream or sys.stderr)

    def info(self, message: str) -> None:
        """Print one message line (above any active bar)."""
        if not self.verbose:
            return
        stream = self._stream or sys.stdout
        if tqdm is not None and self.show_progress:
            tqdm.write(message, file=stream)
        else:
            print(message, file=stream, flush=True)


QUIET = Log(progress=False, verbose=False)


@dataclass
class Result:
    """What a job returns.

    Attributes:
      losses: the loss curve, one value per step (plotted as loss.png).
      summary: the headline numbers, printed in the final summary: ``loss``,
        the quality measure (an accuracy or an error), ``steps``, ``steps_per_s``,
        ``compile_s``; None where a number does not apply.
      details: further JSON-able numbers (per-member accuracies, timings, ...).
      report: readable lines printed after the summary (tables of the job's findings).
    """

    losses: list[float]
    summary: dict[str, float | int | None]
    details: dict[str, Any] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)


def block(tree: Any) -> Any:
    """Wait until every array in ``tree`` is computed (JAX dispatches asynchronously)."""
    for leaf in tree_util.tree_leaves(tree):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return tree


@dataclass
class LoopStats:
    """The outcome of ``run_steps``: final carry, per-step losses and timings."""

    carry: Any
    losses: np.ndarray
    compile_s: float
    steps_per_s: float | None


def run_steps(
    step: Callable[..., tuple[Any, Any]],
    carry: Any,
    batch: Callable[[int], tuple],
    steps: int,
    log: Log,
    desc: str = "train",
) -> LoopStats:
    """Run ``carry, loss = step(carry, *batch(i))`` for ``i < steps`` under a progress bar.

    The first call traces and compiles ``step`` (when jit-compiled) and runs it
    once: its wall time is reported as the compile time. Throughput is measured
    over the remaining steps, host-side batch sampling included.

    Returns:
      A ``LoopStats``; ``losses`` is an array with one row per step (a loss may
      be a vector, e.g. one per ensemble member). ``steps_per_s`` is None for a
      single step.
    """
    losses = []
    every = max(1, steps // 100)
    with log.progress(steps, f"{desc} (compiling)") as bar:
        t0 = time.perf_counter()
        carry, loss = step(carry, *batch(0))
        block(loss)
        compile_s = time.perf_counter() - t0
        bar.describe(desc)
        losses.append(loss)
        bar.update(1, loss=loss)
        shown = 1
        t1 = time.perf_counter()
        for i in range(1, steps):
            carry, loss = step(carry, *batch(i))
            losses.append(loss)
            if i % every == 0 or i == steps - 1:
                bar.update(i + 1 - shown, loss=loss)
                shown = i + 1
        block(carry)
        run_s = time.perf_counter() - t1
    steps_per_s = (steps - 1) / run_s if steps > 1 else None
    return LoopStats(carry, np.stack([np.asarray(x) for x in losses]), compile_s, steps_per_s)


def final_loss(losses: np.ndarray, window: int = 10) -> float:
    """The loss at the end of training: the mean over the last ``window`` steps."""
    return float(np.mean(losses[-window:]))


def time_call(fn: Callable[..., Any], *args: Any, repeats: int = 5) -> tuple[float, float]:
    """``(first_call_s, median_s)``: the first call (trace and compile when jitted), then
    the median of ``repeats`` further calls, each waited for."""
    t0 = time.perf_counter()
    block(fn(*args))
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        block(fn(*args))
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def fmt_time(seconds: float) -> str:
    """A duration with a readable unit (``12.3 ms``, ``1.25 s``)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    """Lines of a left-aligned text table (numbers formatted by the caller)."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ["  " + line for line in lines]
