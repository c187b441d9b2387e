"""Timing harness: medians over many calls, systems interleaved in one process,
rounds on a contended CPU detected and retried (or flagged).

Contention: XLA slows ~1.7x and torch ~30x when another process competes for
the 2 cores, so each round reads /proc/stat and this process's CPU time; if
other processes used more than a quarter of a core during the round, the
round is retried (up to 3 times) and flagged if it never runs clean.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax


def block(x: Any) -> None:
    """Wait until every array in ``x`` is computed."""
    leaves = jax.tree_util.tree_leaves(x)
    for leaf in leaves:
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


def _system_busy_jiffies() -> int | None:
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class Timing:
    """Per-call seconds of one system on one workload."""

    times: list[float] = field(default_factory=list)
    contended: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def spread(self) -> float:
        """Relative half-width of the interquartile range."""
        if len(self.times) < 4:
            return 0.0
        q = statistics.quantiles(self.times, n=4)
        return (q[2] - q[0]) / 2 / self.median


def time_round(fn: Callable[[], Any], calls: int) -> tuple[list[float], bool]:
    """Time ``calls`` calls of ``fn``; returns per-call times and contention."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0, own0, wall0 = _system_busy_jiffies(), _own_cpu_seconds(), time.perf_counter()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - start)
    wall = time.perf_counter() - wall0
    busy1, own1 = _system_busy_jiffies(), _own_cpu_seconds()
    if busy0 is None or busy1 is None:
        return times, False
    others = (busy1 - busy0) / hz - (own1 - own0)
    return times, others > 0.25 * wall + 0.02


def measure(systems: dict[str, Callable[[], Any]], calls: int, rounds: int,
            attempts: int = 3) -> dict[str, Timing]:
    """Warm up each system, then interleave timed rounds of all systems (a contended
    round is run up to ``attempts`` times, then flagged)."""
    results = {name: Timing() for name in systems}
    for fn in systems.values():
        block(fn())
        block(fn())
    for _ in range(rounds):
        for name, fn in systems.items():
            for _ in range(attempts):
                times, contended = time_round(fn, calls)
                if not contended:
                    break
            results[name].times.extend(times)
            results[name].contended |= contended
    return results


def first_call_seconds(make: Callable[[], Callable[[], Any]]) -> tuple[float, Any]:
    """Wall time of building and running a fresh function once (trace + compile)."""
    start = time.perf_counter()
    fn = make()
    block(fn())
    return time.perf_counter() - start, fn


class JaxPhases:
    """JAX's own lowering/compile durations for the next compilation."""

    EVENTS = {
        "/jax/core/compile/jaxpr_trace_duration": "trace",
        "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
        "/jax/core/compile/backend_compile_duration": "compile",
    }

    def __init__(self) -> None:
        self.seconds = {"trace": 0.0, "lower": 0.0, "compile": 0.0}
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, event: str, duration: float, **_: Any) -> None:
        phase = self.EVENTS.get(event)
        if self.active and phase is not None:
            self.seconds[phase] += duration

    def __enter__(self) -> JaxPhases:
        self.seconds = {k: 0.0 for k in self.seconds}
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
