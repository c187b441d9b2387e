"""The two basic interpreters of the IR.

- ``eval_ir`` re-binds every equation in the current context: eagerly (each
  primitive runs through JAX) or, inside another trace, recording the
  equations there. It is how a transformed IR is "run" wherever the
  transform was called from.
- ``lower_ir`` calls every primitive's lowering rule on JAX values; under
  ``jax.jit`` that builds the StableHLO program. ``to_jax`` exposes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracejit.ir import IR, ClosedIR, Literal
from tracejit.tracing import bind, current_builder


def eval_ir(cir: ClosedIR, args: Sequence[Any], consts: Sequence[Any] | None = None) -> list:
    """Evaluate ``cir`` on ``args`` in the current context; returns the outputs."""
    ir = cir.ir
    env: dict = dict(zip(ir.constvars, cir.consts if consts is None else consts))
    env.update(zip(ir.invars, args))
    builder = current_builder()
    for eqn in ir.eqns:
        ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        if builder is not None:
            builder.source_hint = eqn.source
        try:
            outs = bind(eqn.prim, ins, eqn.params)
        finally:
            if builder is not None:
                builder.source_hint = None
        if eqn.prim.multiple_results:
            env.update(zip(eqn.outvars, outs))
        else:
            env[eqn.outvars[0]] = outs
    return [a.val if type(a) is Literal else env[a] for a in ir.outvars]


def lower_ir(ir: IR, consts: Sequence[Any], args: Sequence[Any]) -> list:
    """Evaluate ``ir`` with each primitive's jax.lax lowering (eager or under jax.jit)."""
    env: dict = dict(zip(ir.constvars, consts))
    env.update(zip(ir.invars, args))
    for eqn in ir.eqns:
        ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        outs = eqn.prim.lower(*ins, **eqn.params)
        if eqn.prim.multiple_results:
            env.update(zip(eqn.outvars, outs))
        else:
            env[eqn.outvars[0]] = outs
    return [a.val if type(a) is Literal else env[a] for a in ir.outvars]


def lower_closed(cir: ClosedIR, *args: Any) -> list:
    """``lower_ir`` of a closed IR (its consts must be concrete)."""
    return lower_ir(cir.ir, cir.consts, args)
