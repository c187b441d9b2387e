"""Memoised transforms: an IR's structure decides its derivative.

A transform is re-run every time a transformed function is called, because the
function must be traced again (it may close over new values or branch on
them in Python). What the transform does to the traced IR, however, depends
only on the IR's structure: its equations, their parameters, literals and
source lines, and the types of its inputs and constants, never on the values
of those constants. So the IR -> IR work (jvp, partial evaluation, transpose,
dce) is cached under a structural key, and the constants are passed in as
inputs of the cached result. Eager ``grad(grad(f))`` and the repeated inner
steps of an unrolled MAML loop then pay for tracing and evaluation only.

IRs holding nested IRs (control flow, custom rules with bodies) are not keyed:
their bodies are compared by identity, so they would never hit anyway.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from tracejit.ir import IR, ClosedIR, Var, nested_irs

T = TypeVar("T")

_MAX_ENTRIES = 512
_cache: OrderedDict[Hashable, Any] = OrderedDict()
enabled = True  # tests switch it off to compare against the uncached path


def structure_key(ir: IR) -> tuple | None:
    """A hashable key equal for two IRs exactly when they are the same program up to
    the names of their variables (and the values of their constants); ``None`` when
    the IR cannot be keyed (nested IRs, unhashable parameters)."""
    ids: dict[Var, int] = {}
    for v in ir.constvars:
        ids[v] = len(ids)
    for v in ir.invars:
        ids[v] = len(ids)
    parts: list = [
        tuple(v.aval for v in ir.constvars),
        tuple(v.aval for v in ir.invars),
    ]
    for eqn in ir.eqns:
        if eqn.params and nested_irs(eqn.params):
            return None
        ins = tuple(ids[a] if type(a) is Var else a for a in eqn.invars)
        for v in eqn.outvars:
            ids[v] = len(ids)
        parts.append((eqn.prim, ins, tuple(v.aval for v in eqn.outvars),
                      tuple(eqn.params.items()), eqn.source))
    parts.append(tuple(ids[a] if type(a) is Var else a for a in ir.outvars))
    key = tuple(parts)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def opened(cir: ClosedIR) -> ClosedIR:
    """``cir`` with its constants turned into leading inputs (a constant-free IR)."""
    ir = cir.ir
    if not ir.constvars:
        return cir
    return ClosedIR(IR((), (*ir.constvars, *ir.invars), ir.eqns, ir.outvars), ())


def memoized(kind: str, cir: ClosedIR, extra: Hashable, build: Callable[[], T]) -> T:
    """``build()``, cached under ``cir``'s structure, ``kind`` and ``extra``."""
    if not enabled:
        return build()
    skey = structure_key(cir.ir)
    if skey is None:
        return build()
    key = (kind, extra, skey)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    value = build()
    _cache[key] = value
    if len(_cache) > _MAX_ENTRIES:
        _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached transform."""
    _cache.clear()
