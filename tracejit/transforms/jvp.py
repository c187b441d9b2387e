"""Forward mode: the jvp interpreter and the ``jvp_ir`` pass.

Tangents are ``None`` when symbolically zero: an equation none of whose
inputs carries a tangent is re-bound as is, and no zero array is ever built
for a tangent nobody asked for. Integer and boolean values never carry
tangents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracejit import dtypes
from tracejit.ir import Aval, ClosedIR, Literal
from tracejit.phases import timed_transform
from tracejit.primitive import ZERO_TANGENT
from tracejit.tracing import bind, current_builder, trace_flat


def tangent_aval(aval: Aval) -> Aval:
    # As in JAX, a weakly typed primal (a Python scalar) has a weakly typed tangent, so
    # derivatives of weak values stay weak and do not promote what they meet.
    return Aval(aval.shape, aval.dtype, aval.weak_type)


def differentiable(aval: Aval) -> bool:
    return dtypes.is_inexact(aval.dtype)


def jvp_eval(cir: ClosedIR, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
    """Run ``cir`` forward on primals and tangents in the current context."""
    ir = cir.ir
    env: dict = dict(zip(ir.constvars, cir.consts))
    env.update(zip(ir.invars, primals))
    tenv: dict = {v: t for v, t in zip(ir.invars, tangents) if t is not None}
    builder = current_builder()
    for eqn in ir.eqns:
        ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        ts = [None if type(a) is Literal else tenv.get(a) for a in eqn.invars]
        prim = eqn.prim
        if builder is not None:
            builder.source_hint = eqn.source
        try:
            if prim.jvp is ZERO_TANGENT or all(t is None for t in ts):
                outs = bind(prim, ins, eqn.params)
                t_outs = None
            else:
                outs, t_outs = prim.jvp(ins, ts, **eqn.params)
        finally:
            if builder is not None:
                builder.source_hint = None
        if prim.multiple_results:
            env.update(zip(eqn.outvars, outs))
            if t_outs is not None:
                for v, t in zip(eqn.outvars, t_outs):
                    if t is not None and differentiable(v.aval):
                        tenv[v] = t
        else:
            env[eqn.outvars[0]] = outs
            if t_outs is not None and differentiable(eqn.outvars[0].aval):
                tenv[eqn.outvars[0]] = t_outs
    outs = [a.val if type(a) is Literal else env[a] for a in ir.outvars]
    t_outs = [None if type(a) is Literal else tenv.get(a) for a in ir.outvars]
    return outs, t_outs


@timed_transform
def jvp_ir(cir: ClosedIR, nonzeros: Sequence[bool]) -> tuple[ClosedIR, list[bool]]:
    """The forward-mode IR of ``cir``.

    Returns an IR from ``(primals..., tangents of the nonzero inputs...)`` to
    ``(primal outputs..., tangents of the nonzero outputs...)`` and the mask of
    nonzero output tangents.
    """
    n = len(cir.in_avals)
    in_avals = list(cir.in_avals)
    t_avals = [tangent_aval(a) for a, nz in zip(in_avals, nonzeros) if nz]
    out_nonzero: list[bool] = []

    def fun(*args):
        primals, it = args[:n], iter(args[n:])
        tangents = [next(it) if nz else None for nz in nonzeros]
        outs, t_outs = jvp_eval(cir, primals, tangents)
        out_nonzero[:] = [t is not None for t in t_outs]
        return [*outs, *[t for t in t_outs if t is not None]]

    return trace_flat(fun, in_avals + t_avals, kind="jvp"), out_nonzero
