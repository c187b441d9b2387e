"""Where first-call time goes: trace, transform, optimize, lower, compile.

``jit`` records these phases each time it traces (``Jitted.phases``). Transform
passes report their time with ``transform_timer()``; XLA's own lowering and
compile times come from JAX's public monitoring events.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import jax

_state = threading.local()
F = TypeVar("F", bound=Callable)
_JAX_EVENTS = {
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}


class PhaseRecord:
    """Seconds spent per phase during one trace-and-compile of a jitted function."""

    def __init__(self) -> None:
        self.seconds = {
            "trace": 0.0,
            "transform": 0.0,
            "optimize": 0.0,
            "lower": 0.0,
            "compile": 0.0,
        }
        self.transform_depth = 0

    def as_dict(self) -> dict[str, float]:
        return dict(self.seconds)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v * 1e3:.1f}ms" for k, v in self.seconds.items())
        return f"PhaseRecord({parts})"


def current() -> PhaseRecord | None:
    return getattr(_state, "record", None)


@contextlib.contextmanager
def recording(record: PhaseRecord, jax_name: str | None = None) -> Iterator[PhaseRecord]:
    """Attribute transform time to ``record``, and JAX's lowering/compile events of the
    computation JAX names ``jax_name`` (other small programs JAX compiles meanwhile,
    for eager constants say, are not this function's compile)."""
    previous = current()
    _state.record = record
    _state.pending = record
    _state.pending_name = jax_name
    try:
        yield record
    finally:
        _state.record = previous


@contextlib.contextmanager
def transform_timer() -> Iterator[None]:
    """Count the enclosed time as 'transform' (outermost region only)."""
    record = current()
    if record is None:
        yield
        return
    record.transform_depth += 1
    start = time.perf_counter()
    try:
        yield
    finally:
        record.transform_depth -= 1
        if record.transform_depth == 0:
            record.seconds["transform"] += time.perf_counter() - start


def timed_transform(fn: F) -> F:
    """Decorator: count calls of a transform pass as 'transform' time."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_state, "record", None) is None:
            return fn(*args, **kwargs)
        with transform_timer():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _on_jax_event(event: str, duration: float, fun_name: str | None = None,
                  **_: object) -> None:
    phase = _JAX_EVENTS.get(event)
    record = getattr(_state, "pending", None)
    if phase is None or record is None:
        return
    expected = getattr(_state, "pending_name", None)
    if expected is not None and fun_name is not None and fun_name != expected:
        return
    record.seconds[phase] += duration
    if phase == "compile":
        _state.pending = None


jax.monitoring.register_event_duration_secs_listener(_on_jax_event)
