"""Tracing: recording primitive applications on abstract values into an IR.

A ``Builder`` is one trace in progress; it is the current trace while its
``with`` block runs (one context variable holds it). Builders nest: a builder
started while another is current is its child, and when the function being
traced touches a tracer of an enclosing (still running) builder, the child
lifts it into an extra constant of its IR whose value is the outer tracer
(closure conversion). Evaluating that ``ClosedIR`` back in the outer builder
then re-binds the dependency, so every transform composes with every other.

A builder may know where its inputs' *values* come from (``sources``): concrete
arrays, or tracers of the parent builder that themselves know. The
differentiation transforms trace this way when called outside ``jit``, so that
``bool(x)``/``float(x)`` on a traced value can be answered by evaluating the
recorded equations it depends on (specialising the trace on those values, as
JAX and torch.func do). Under ``jit`` or for batched ``vmap`` inputs the
source is unknown and the same call raises ``ConcretizationError``.
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.errors import ConcretizationError, TracerLeakError
from tracejit.ir import IR, Aval, ClosedIR, Eqn, Literal, SourceInfo, Var

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_current: contextvars.ContextVar[Builder | None] = contextvars.ContextVar(
    "tracejit_builder", default=None
)

_PY_SCALARS = (bool, int, float, complex)
_CONCRETE_ARRAYS = (np.ndarray, np.generic, jax.Array)


def current_builder() -> Builder | None:
    """The innermost trace in progress, or ``None`` when running eagerly."""
    return _current.get()


def user_source() -> SourceInfo | None:
    """The innermost stack frame outside the tracejit package."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    code = frame.f_code
    return SourceInfo(code.co_filename, frame.f_lineno, code.co_name)


def aval_of(x: Any) -> Aval:
    """Abstract value of a concrete or traced value (weak types as JAX has them)."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, jax.Array):
        return Aval(tuple(x.shape), np.dtype(x.dtype), bool(getattr(x, "weak_type", False)))
    if isinstance(x, (np.ndarray, np.generic)):
        return Aval(tuple(x.shape), dtypes.canonicalize(x.dtype), False)
    if isinstance(x, _PY_SCALARS):
        return Aval((), dtypes.python_scalar_dtype(x), not isinstance(x, bool))
    if isinstance(x, Literal):
        return x.aval
    raise TypeError(f"{type(x).__name__} is not an array type")


def is_arraylike(x: Any) -> bool:
    return isinstance(x, (Tracer, *_CONCRETE_ARRAYS, *_PY_SCALARS))


class Builder:
    """One trace in progress: the equations recorded so far and their inputs."""

    def __init__(self, kind: str, parent: Builder | None = None):
        self.kind = kind
        self.parent = parent
        self.invars: list[Var] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self.eqns: list[Eqn] = []
        self.alive = True
        self.source_hint: SourceInfo | None = None
        self._sources: dict[Var, Any] = {}
        self._const_ids: dict[int, Var] = {}
        self._known: dict[Var, Any] = {}
        self._producer: dict[Var, Eqn] | None = None
        self._token: contextvars.Token | None = None

    # -- context ---------------------------------------------------------
    def __enter__(self) -> Builder:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _current.reset(self._token)
        self.alive = False

    # -- inputs ----------------------------------------------------------
    def new_arg(self, aval: Aval, source: Any = None) -> Tracer:
        """A new input of the IR; ``source`` is its value, if it can be known."""
        var = Var(aval)
        self.invars.append(var)
        if source is not None:
            self._sources[var] = source
        return Tracer(self, var)

    def _add_const(self, value: Any, aval: Aval) -> Var:
        var = self._const_ids.get(id(value))
        if var is None:
            var = Var(aval)
            self.constvars.append(var)
            self.consts.append(value)
            self._const_ids[id(value)] = var
            self._sources[var] = value
        return var

    def lift(self, tracer: Tracer) -> Var:
        """Closure conversion: a tracer of an enclosing trace becomes a const."""
        var = self._const_ids.get(id(tracer))
        if var is not None:
            return var
        owner = tracer._builder
        if self.parent is None or not owner.alive:
            raise _leak_error(tracer)
        value = tracer if owner is self.parent else Tracer(self.parent, self.parent.lift(tracer))
        return self._add_const(value, tracer.aval)

    def to_atom(self, x: Any) -> Var | Literal:
        if type(x) is Tracer:
            if x._builder is self:
                return x.irvar
            return self.lift(x)
        if isinstance(x, _PY_SCALARS):
            return Literal(x, aval_of(x))
        if isinstance(x, (np.ndarray, np.generic)):
            if x.dtype == jax.dtypes.float0:  # a symbolic-zero tangent: data-free, never inline
                return self._add_const(np.asarray(x), aval_of(x))
            if x.ndim == 0:
                aval = aval_of(x)
                return Literal(np.asarray(x, aval.dtype)[()], aval)
            return self._add_const(x, aval_of(x))
        if isinstance(x, jax.Array):
            return self._add_const(x, aval_of(x))
        if isinstance(x, Literal):
            return x
        if isinstance(x, Tracer):  # a subclass (none today) behaves as a tracer
            return x.irvar if x._builder is self else self.lift(x)
        raise TypeError(
            f"value of type {type(x).__name__} is not a valid tracejit array; "
            "pass a jax.Array, numpy array or Python scalar"
        )

    # -- equations -------------------------------------------------------
    def add_eqn(self, prim: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
        if not self.alive:
            raise TracerLeakError(
                f"`{prim}` was applied inside a trace ({self.kind}) that has already ended"
            )
        atoms = tuple(self.to_atom(a) for a in args)
        out_aval = prim.abstract_eval(*[a.aval for a in atoms], **params)
        source = self.source_hint or user_source()
        if prim.multiple_results:
            outvars = tuple(Var(a) for a in out_aval)
            self.eqns.append(Eqn(prim, atoms, outvars, params, source))
            self._producer = None
            return [Tracer(self, v) for v in outvars]
        outvar = Var(out_aval)
        self.eqns.append(Eqn(prim, atoms, (outvar,), params, source))
        self._producer = None
        return Tracer(self, outvar)

    def build(self, outs: Sequence[Any]) -> ClosedIR:
        """Close the trace over ``outs`` (tracers, concrete values or scalars)."""
        outvars = tuple(self.to_atom(o) for o in outs)
        ir = IR(tuple(self.constvars), tuple(self.invars), tuple(self.eqns), outvars)
        return ClosedIR(ir, tuple(self.consts))

    # -- concretization --------------------------------------------------
    def concrete_value(self, tracer: Tracer, op: str) -> Any:
        """The value of ``tracer``, evaluated from known sources, or raise."""
        if not self.alive:
            raise _leak_error(tracer)
        var = tracer.irvar
        if var in self._known:
            return self._known[var]
        if self._producer is None:
            self._producer = {v: e for e in self.eqns for v in e.outvars}
        order: list[Eqn] = []
        self._collect(var, order, set(), tracer, op)
        for eqn in order:
            vals = [a.val if isinstance(a, Literal) else self._known[a] for a in eqn.invars]
            outs = eqn.prim.lower(*vals, **eqn.params)
            outs = outs if eqn.prim.multiple_results else [outs]
            self._known.update(zip(eqn.outvars, outs))
        return self._known[var]

    def _collect(self, var: Var, order: list, seen: set, tracer: Tracer, op: str) -> None:
        if var in self._known or var in seen:
            return
        seen.add(var)
        eqn = self._producer.get(var)
        if eqn is None:
            self._known[var] = self._source_value(var, tracer, op)
            return
        for a in eqn.invars:
            if isinstance(a, Var):
                self._collect(a, order, seen, tracer, op)
        order.append(eqn)

    def _source_value(self, var: Var, tracer: Tracer, op: str) -> Any:
        source = self._sources.get(var)
        if source is None:
            raise _concretization_error(tracer, op, self)
        if isinstance(source, Tracer):
            return source._builder.concrete_value(source, op)
        return source


def _leak_error(tracer: Tracer) -> TracerLeakError:
    return TracerLeakError(
        f"a traced value {tracer.aval} created inside {tracer._builder.kind} "
        f"({_origin(tracer)}) was used after that transform finished. Traced values "
        "must not escape the function being transformed (e.g. through a global, "
        "a closure or a mutable argument); return them as outputs instead."
    )


def _origin(tracer: Tracer) -> str:
    for eqn in reversed(tracer._builder.eqns):
        if tracer.irvar in eqn.outvars:
            where = f" at {eqn.source}" if eqn.source else ""
            return f"produced by `{eqn.prim}`{where}"
    if tracer.irvar in tracer._builder.invars:
        index = tracer._builder.invars.index(tracer.irvar)
        return f"input {index} of the traced function"
    return "a value closed over from an enclosing trace"


def _concretization_error(tracer: Tracer, op: str, builder: Builder) -> ConcretizationError:
    why = {
        "vmap": "its value differs across the batch being mapped",
    }.get(builder.kind, f"its value is not known while tracing under {builder.kind}")
    return ConcretizationError(
        f"{op} needs a concrete value, but got a traced value {tracer.aval} "
        f"({_origin(tracer)}); {why}. For control flow on traced values use "
        "tj.lax.cond / tj.lax.switch / tj.lax.while_loop / tj.lax.fori_loop or "
        "tnp.where; for an argument that is a Python constant of the program, mark "
        "it static with jit(..., static_argnums=...) / static_argnames."
    )


def bind(prim: Any, args: Sequence[Any], params: dict[str, Any]) -> Any:
    """Apply ``prim``: record it in the current trace, or run it eagerly."""
    builder = _current.get()
    if builder is not None:
        return builder.add_eqn(prim, args, params)
    for a in args:
        if isinstance(a, Tracer):
            raise _leak_error(a)
    # Type-check eagerly too, so errors read the same with and without jit.
    prim.abstract_eval(*[aval_of(a) for a in args], **params)
    return prim.lower(*args, **params)


def trace_flat(
    fun: Callable[..., Sequence[Any]],
    in_avals: Sequence[Aval],
    *,
    kind: str,
    sources: Sequence[Any] | None = None,
) -> ClosedIR:
    """Trace ``fun`` (flat tracers in, flat outputs out) into a ``ClosedIR``."""
    with Builder(kind, _current.get()) as builder:
        if sources is None:
            args = [builder.new_arg(a) for a in in_avals]
        else:
            args = [builder.new_arg(a, s) for a, s in zip(in_avals, sources)]
        outs = fun(*args)
        return builder.build(outs)


def source_of(x: Any) -> Any:
    """What a new trace may use to learn ``x``'s value (a tracer asks its own trace)."""
    return x


def concrete_or_none(x: Any) -> Any:
    """``x``'s concrete value if it is known now, else ``None`` (never raises)."""
    if not isinstance(x, Tracer):
        return x
    try:
        return x._builder.concrete_value(x, "value lookup")
    except (ConcretizationError, TracerLeakError):
        return None


from tracejit.tracer import Tracer  # noqa: E402  (Tracer needs the names above)
