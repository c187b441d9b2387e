"""Transposition of linear IR: the backward half of reverse mode.

Walks the linear equations backwards, handing each primitive's transpose rule
the cotangent of its output and the linear inputs as ``UndefinedPrimal``.
Cotangents are ``None`` when symbolically zero; an equation whose outputs all
have zero cotangents is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracejit.ir import IR, ClosedIR, Literal, Var
from tracejit.phases import timed_transform
from tracejit.primitive import NOT_LINEAR
from tracejit.primitives._rules import UndefinedPrimal, add_tangents, zeros_like_aval
from tracejit.tracing import bind, current_builder, trace_flat


def backward_pass(ir: IR, linear: Sequence[bool], args: Sequence[Any], cts: Sequence[Any]):
    """Cotangents of ``ir``'s linear inputs (``None`` where zero), given output ``cts``."""
    linear_vars = {v for v, lin in zip(ir.invars, linear) if lin}
    env: dict = {v: a for v, a, lin in zip(ir.invars, args, linear) if not lin}
    # Equations reading no linear value are forward (non-linear) computations.
    lin_eqns = []
    builder = current_builder()
    for eqn in ir.eqns:
        if any(type(a) is Var and a in linear_vars for a in eqn.invars):
            linear_vars.update(eqn.outvars)
            lin_eqns.append(eqn)
        else:
            ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
            outs = bind(eqn.prim, ins, eqn.params)
            env.update(zip(eqn.outvars, outs if eqn.prim.multiple_results else [outs]))

    ct_env: dict = {}
    for v, ct in zip(ir.outvars, cts):
        if type(v) is Var and v in linear_vars and ct is not None:
            ct_env[v] = add_tangents(ct_env.get(v), ct)

    for eqn in reversed(lin_eqns):
        cts_out = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(ct is None for ct in cts_out):
            continue
        prim = eqn.prim
        if prim.transpose is NOT_LINEAR or prim.transpose is None:
            raise TypeError(
                f"`{prim}` is not linear in its inputs, so reverse mode cannot transpose it; "
                "this is a bug in a jvp rule (please report it)"
            )
        ins = [
            a.val if type(a) is Literal
            else UndefinedPrimal(a.aval) if a in linear_vars
            else env[a]
            for a in eqn.invars
        ]
        if builder is not None:
            builder.source_hint = eqn.source
        try:
            ct_in = prim.transpose(cts_out if prim.multiple_results else cts_out[0], *ins,
                                   **eqn.params)
        finally:
            if builder is not None:
                builder.source_hint = None
        for a, ct in zip(eqn.invars, ct_in):
            if ct is not None and type(a) is Var and a in linear_vars:
                ct_env[a] = add_tangents(ct_env.get(a), ct)

    return [ct_env.get(v) for v, lin in zip(ir.invars, linear) if lin]


@timed_transform
def transpose_ir(ir: IR, linear: Sequence[bool], instantiate: bool = True) -> ClosedIR:
    """The transpose of ``ir`` (linear in the inputs marked ``linear``).

    The result maps ``(non-linear inputs..., output cotangents...)`` to the
    cotangents of the linear inputs (zeros materialised when ``instantiate``).
    """
    nonlin_avals = [v.aval for v, lin in zip(ir.invars, linear) if not lin]
    lin_avals = [v.aval for v, lin in zip(ir.invars, linear) if lin]
    n = len(nonlin_avals)
    out_avals = [v.aval for v in ir.outvars]

    def fun(*args):
        it = iter(args[:n])
        full = [None if lin else next(it) for lin in linear]
        cts = backward_pass(ir, linear, full, args[n:])
        if instantiate:
            cts = [zeros_like_aval(a) if c is None else c for c, a in zip(cts, lin_avals)]
        return cts

    return trace_flat(fun, nonlin_avals + out_avals, kind="transpose")


__all__ = ["UndefinedPrimal", "backward_pass", "transpose_ir"]
