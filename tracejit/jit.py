"""jit: compile a function once per signature through XLA.

The hot path is JAX's own C++ dispatch: ``Jitted`` wraps ``jax.jit`` around
a body that traces the user's function into tracejit's IR, runs the passes
and lowers the IR with jax.lax. JAX caches on (pytree structure, shapes,
dtypes, weak types, static values), so tracejit traces only on a cache miss;
``trace_count`` counts those traces. Called inside another tracejit trace,
the function's IR is traced (cached per signature) and inlined into the
enclosing IR, so ``grad(jit(f))`` and ``vmap(jit(f))`` are ordinary IR.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax

from tracejit import phases
from tracejit.errors import TracerLeakError
from tracejit.interpret import eval_ir, lower_ir
from tracejit.ir import Aval, ClosedIR
from tracejit.passes import optimize
from tracejit.phases import PhaseRecord
from tracejit.tracing import Tracer, _current, aval_of, trace_flat
from tracejit.transforms._util import check_leaves, fun_name, tree_util


def _as_tuple(x: int | Sequence[int] | None) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, (int, str)) else tuple(x)


def _jax_aval(x: Any) -> Aval:
    t = jax.typeof(x)
    return Aval(tuple(t.shape), t.dtype, bool(getattr(t, "weak_type", False)))


class Lowered:
    """A jit-compiled function lowered to StableHLO for one signature."""

    def __init__(self, jax_lowered: Any):
        self._lowered = jax_lowered

    def as_text(self) -> str:
        """The StableHLO module as text."""
        return self._lowered.as_text()

    def compile(self) -> Compiled:
        return Compiled(self._lowered.compile())


class Compiled:
    """An XLA executable for one signature; call it like the function."""

    def __init__(self, jax_compiled: Any):
        self._compiled = jax_compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def cost_analysis(self) -> dict:
        """XLA's cost estimates (flops, bytes accessed, ...) as a dict."""
        cost = self._compiled.cost_analysis()
        if isinstance(cost, (list, tuple)):
            cost = cost[0] if cost else {}
        return dict(cost or {})

    def as_text(self) -> str:
        return self._compiled.as_text()


class Jitted:
    """The result of ``jit(fun)``: compiled on first call per signature."""

    def __init__(
        self,
        fun: Callable,
        static_argnums: tuple[int, ...],
        static_argnames: tuple[str, ...],
        donate_argnums: tuple[int, ...],
        in_shardings: Any,
        out_shardings: Any,
    ):
        self._fun = fun
        self._static_argnums = static_argnums
        self._static_argnames = static_argnames
        self._has_static = bool(static_argnums or static_argnames)
        self.trace_count = 0
        # Seconds per phase of the latest trace: trace, transform, optimize,
        # lower (tracejit's lowering plus JAX's MLIR emission), compile (XLA).
        self.phases: PhaseRecord | None = None
        self._ir_cache: dict[Any, tuple[ClosedIR, Any]] = {}
        options: dict[str, Any] = dict(
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
        )
        if in_shardings is not None:
            options["in_shardings"] = in_shardings
        if out_shardings is not None:
            options["out_shardings"] = out_shardings
        # JAX names the computation after this body: jit(tracejit_<function>) in the
        # StableHLO and in JAX's compile events (which phases match on).
        def body(*args: Any, **kwargs: Any) -> Any:
            return self._lowered_body(*args, **kwargs)

        body.__name__ = body.__qualname__ = f"tracejit_{fun_name(fun)}"
        self._jax_name = f"jit({body.__name__})"
        self._jax = jax.jit(body, **options)
        functools.update_wrapper(self, fun)

    # -- tracing -------------------------------------------------------------
    def _split(self, args: tuple, kwargs: dict) -> tuple[list, Any, Callable]:
        """Dynamic leaves, their tree, and a function rebuilding the full call."""
        n = len(args)
        static = {i % n for i in self._static_argnums if -n <= i < n}
        dyn_args = [a for i, a in enumerate(args) if i not in static]
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self._static_argnames}
        leaves, tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))

        def rebuild(flat):
            d_args, d_kwargs = tree_util.tree_unflatten(tree, flat)
            it = iter(d_args)
            full = [a if i in static else next(it) for i, a in enumerate(args)]
            full_kwargs = {**kwargs, **d_kwargs}
            return self._fun(*full, **full_kwargs)

        return leaves, tree, rebuild

    def _trace(self, args: tuple, kwargs: dict, avals: Sequence[Aval]) -> tuple[ClosedIR, Any]:
        self.trace_count += 1
        leaves, _, rebuild = self._split(args, kwargs)
        out_tree_box: list = []

        def flat_fun(*tracers):
            out = rebuild(list(tracers))
            flat_out, out_tree = tree_util.tree_flatten(out)
            check_leaves(f"output of jit({fun_name(self._fun)})", out)
            out_tree_box.append(out_tree)
            return flat_out

        record = PhaseRecord()
        with phases.recording(record, self._jax_name):
            start = time.perf_counter()
            cir = trace_flat(flat_fun, avals, kind="jit")
            traced = time.perf_counter()
            cir = optimize(cir)
            record.seconds["optimize"] = time.perf_counter() - traced
        record.seconds["trace"] = traced - start - record.seconds["transform"]
        self.phases = record
        return cir, out_tree_box[0]

    def _lowered_body(self, *args: Any, **kwargs: Any) -> Any:
        leaves, _, _ = self._split(args, kwargs)
        cir, out_tree = self._trace(args, kwargs, [_jax_aval(x) for x in leaves])
        start = time.perf_counter()
        outs = lower_ir(cir.ir, cir.consts, leaves)
        self.phases.seconds["lower"] += time.perf_counter() - start
        return tree_util.tree_unflatten(out_tree, outs)

    # -- calling -------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._has_static:
            self._check_static(args, kwargs)
        if _current.get() is None:
            try:
                return self._jax(*args, **kwargs)
            except TypeError as e:
                self._diagnose(args, kwargs, e)
                raise
        return self._call_in_trace(args, kwargs)

    def _call_in_trace(self, args: tuple, kwargs: dict) -> Any:
        leaves, tree, _ = self._split(args, kwargs)
        for i, a in enumerate(args):
            check_leaves(f"jit({fun_name(self._fun)}) argument {i}", a)
        avals = tuple(aval_of(x) for x in leaves)
        n = len(args)
        static = tuple((i, args[i]) for i in sorted({i % n for i in self._static_argnums}))
        static_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in self._static_argnames))
        key = (tree, avals, static, static_kw)
        hit = self._ir_cache.get(key)
        if hit is None:
            cir, out_tree = self._trace(args, kwargs, avals)
            if not any(isinstance(c, Tracer) for c in cir.consts):
                self._ir_cache[key] = (cir, out_tree)
        else:
            cir, out_tree = hit
        return tree_util.tree_unflatten(out_tree, eval_ir(cir, leaves))

    def _check_static(self, args: tuple, kwargs: dict) -> None:
        n = len(args)
        for i in self._static_argnums:
            if -n <= i < n:
                _check_hashable(f"static argument {i % n}", args[i])
        for k in self._static_argnames:
            if k in kwargs:
                _check_hashable(f"static argument {k!r}", kwargs[k])

    def _diagnose(self, args: tuple, kwargs: dict, error: Exception) -> None:
        leaves, _, _ = self._split(args, kwargs)
        for x in leaves:
            if isinstance(x, Tracer):
                raise TracerLeakError(
                    f"jit({fun_name(self._fun)}) was called with a traced value {x.aval} "
                    f"from {x._builder.kind}, whose trace has already ended"
                ) from error
        for i, a in enumerate(args):
            if i in self._static_argnums:
                continue
            check_leaves(f"jit({fun_name(self._fun)}) positional argument {i}", a)
        for k, v in kwargs.items():
            if k not in self._static_argnames:
                check_leaves(f"jit({fun_name(self._fun)}) keyword argument {k!r}", v)

    # -- ahead of time ---------------------------------------------------------
    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Lower for the signature of ``args`` (StableHLO, not yet compiled)."""
        if self._static_argnums or self._static_argnames:
            self._check_static(args, kwargs)
        return Lowered(self._jax.lower(*args, **kwargs))

    def trace(self, *args: Any, **kwargs: Any) -> ClosedIR:
        """The optimized ``ClosedIR`` that would be lowered for ``args``."""
        leaves, _, _ = self._split(args, kwargs)
        for i, a in enumerate(args):
            if i not in self._static_argnums:
                check_leaves(f"jit({fun_name(self._fun)}) argument {i}", a)
        cir, _ = self._trace(args, kwargs, [aval_of(x) for x in leaves])
        return cir


def _check_hashable(what: str, value: Any) -> None:
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"jit: {what} has unhashable type {type(value).__name__}; static arguments "
            "must be hashable (use a tuple instead of a list, or pass arrays as "
            "non-static arguments)"
        ) from None


def jit(
    fun: Callable,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    donate_argnums: int | Sequence[int] = (),
    in_shardings: Any = None,
    out_shardings: Any = None,
) -> Jitted:
    """Compile ``fun`` with XLA, once per signature of its arguments.

    Args:
      fun: the function to compile (pytrees of arrays in and out).
      static_argnums / static_argnames: arguments treated as compile-time
        constants (must be hashable; a new value compiles anew).
      donate_argnums: arguments whose buffers XLA may reuse for outputs.
      in_shardings / out_shardings: ``jax.sharding`` objects for SPMD.

    Returns:
      A ``Jitted`` callable with ``.lower``, ``.trace``, ``trace_count`` and
      ``phases`` (where the latest first-call time went).
    """
    return Jitted(
        fun,
        _as_tuple(static_argnums),
        _as_tuple(static_argnames),
        _as_tuple(donate_argnums),
        in_shardings,
        out_shardings,
    )
