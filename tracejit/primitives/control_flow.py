"""Machinery shared by the control-flow primitives (``cond``, ``while``, ``scan``).

Their params hold nested IRs that are *const-free*: every value a branch or
body closes over is an explicit operand of the equation, so transforms see it
as an ordinary input. The helpers here turn traced ``ClosedIR``s into that
form, transform nested IRs (jvp, batching, partial evaluation) with the
output masks the enclosing primitive needs, and lower nested IRs inside a
jax.lax control-flow op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from tracejit.interpret import lower_ir
from tracejit.ir import IR, Aval, ClosedIR, Var
from tracejit.primitives._rules import bdim_to_front, zeros_like_aval
from tracejit.tracing import trace_flat
from tracejit.transforms.jvp import differentiable, jvp_eval, tangent_aval
from tracejit.transforms.partial_eval import PartialEval
from tracejit.transforms.vmap import batch_eval

# --- const-free nested IRs ----------------------------------------------------------


def close_over(cirs: Sequence[ClosedIR]) -> tuple[list[ClosedIR], list]:
    """Make the consts of ``cirs`` explicit leading inputs shared by all of them.

    Returns const-free IRs taking ``(*consts, *original inputs)`` (each ignores
    the consts of the others) and the list of const values (deduplicated).
    """
    consts: list = []
    avals: list[Aval] = []
    index: dict[int, int] = {}
    for cir in cirs:
        for c, v in zip(cir.consts, cir.ir.constvars):
            if id(c) not in index:
                index[id(c)] = len(consts)
                consts.append(c)
                avals.append(v.aval)
    closed = []
    for cir in cirs:
        mine = {index[id(c)]: v for c, v in zip(cir.consts, cir.ir.constvars)}
        lead = tuple(mine[i] if i in mine else Var(a) for i, a in enumerate(avals))
        ir = cir.ir
        closed.append(ClosedIR(IR((), lead + ir.invars, ir.eqns, ir.outvars), ()))
    return closed, consts


def permute(cir: ClosedIR, in_order: Sequence[int], out_order: Sequence[int]) -> ClosedIR:
    """``cir`` with its (const-free) inputs and outputs reordered."""
    ir = cir.ir
    invars = tuple(ir.invars[i] for i in in_order)
    outvars = tuple(ir.outvars[i] for i in out_order)
    return ClosedIR(IR(ir.constvars, invars, ir.eqns, outvars), cir.consts)


def add_unused_inputs(cir: ClosedIR, avals: Sequence[Aval]) -> ClosedIR:
    """``cir`` taking extra trailing inputs it ignores."""
    ir = cir.ir
    extra = tuple(Var(a) for a in avals)
    return ClosedIR(IR(ir.constvars, ir.invars + extra, ir.eqns, ir.outvars), cir.consts)


def split(seq: Sequence[Any], *sizes: int) -> list[list]:
    """``seq`` cut into consecutive pieces of the given sizes (and the rest)."""
    out, start = [], 0
    for n in sizes:
        out.append(list(seq[start : start + n]))
        start += n
    out.append(list(seq[start:]))
    return out


def same_type(a: Aval, b: Aval) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


# --- forward mode --------------------------------------------------------------------


def jvp_nested(
    cir: ClosedIR, nonzeros: Sequence[bool], instantiate: Sequence[bool]
) -> tuple[ClosedIR, list[bool]]:
    """The jvp IR of a const-free ``cir``: ``(primals, nonzero tangents) ->
    (primal outs, nonzero tangent outs)``; outputs marked ``instantiate`` get a
    materialised zero tangent when theirs is symbolically zero."""
    n = len(cir.in_avals)
    t_avals = [tangent_aval(a) for a, nz in zip(cir.in_avals, nonzeros) if nz]
    out_nz: list[bool] = []

    def fun(*args):
        primals, it = args[:n], iter(args[n:])
        tangents = [next(it) if nz else None for nz in nonzeros]
        outs, t_outs = jvp_eval(cir, primals, tangents)
        for i, (t, a, inst) in enumerate(zip(t_outs, cir.out_avals, instantiate)):
            if t is None and inst and differentiable(a):
                t_outs[i] = zeros_like_aval(tangent_aval(a))
        out_nz[:] = [t is not None for t in t_outs]
        return [*outs, *[t for t in t_outs if t is not None]]

    return trace_flat(fun, [*cir.in_avals, *t_avals], kind="jvp"), out_nz


def jvp_fixed_point(
    cir: ClosedIR, before_nz: Sequence[bool], carry_nz: Sequence[bool], after_nz: Sequence[bool]
) -> tuple[ClosedIR, list[bool], list[bool]]:
    """jvp of a loop body ``(before..., carry..., after...) -> (carry..., rest...)``.

    Iterates until the set of carries with nonzero tangents is stable (a carry
    whose tangent is zero on entry may become nonzero after an iteration).
    Returns the jvp IR, the final carry mask and the output mask.
    """
    carry_nz = list(carry_nz)
    num_carry = len(carry_nz)
    while True:
        nonzeros = [*before_nz, *carry_nz, *after_nz]
        inst = [*carry_nz, *[False] * (len(cir.out_avals) - num_carry)]
        jcir, out_nz = jvp_nested(cir, nonzeros, inst)
        new = [a or b for a, b in zip(carry_nz, out_nz[:num_carry])]
        if new == carry_nz:
            return jcir, carry_nz, out_nz
        carry_nz = new


def zero_tangents_where(ts: Sequence[Any], mask: Sequence[bool], avals: Sequence[Aval]) -> list:
    """The tangents selected by ``mask``, materialising the zero ones."""
    return [
        zeros_like_aval(tangent_aval(a)) if t is None else t
        for t, m, a in zip(ts, mask, avals)
        if m
    ]


# --- batching ------------------------------------------------------------------------


def batched_aval(aval: Aval, d: int | None, size: int) -> Aval:
    if d is None:
        return aval
    return Aval(aval.shape[:d] + (size,) + aval.shape[d:], aval.dtype, aval.weak_type)


def batch_nested(
    cir: ClosedIR, size: int, dims: Sequence[int | None], force: Sequence[bool]
) -> tuple[ClosedIR, list[bool]]:
    """The batched IR of a const-free ``cir`` with inputs batched at ``dims``.

    Batched outputs (and those marked ``force``, broadcast) have their batch
    dimension at axis 0; the others stay unbatched. Returns the IR and which
    outputs are batched.
    """
    in_avals = [batched_aval(a, d, size) for a, d in zip(cir.in_avals, dims)]
    out_batched: list[bool] = []

    def fun(*args):
        outs, out_dims = batch_eval(cir, args, dims)
        results = []
        out_batched.clear()
        for o, d, f in zip(outs, out_dims, force):
            if d is None and not f:
                results.append(o)
                out_batched.append(False)
            else:
                results.append(bdim_to_front(o, d, size))
                out_batched.append(True)
        return results

    return trace_flat(fun, in_avals, kind="vmap"), out_batched


def batch_fixed_point(
    cir: ClosedIR,
    size: int,
    before_dims: Sequence[int | None],
    carry_batched: Sequence[bool],
    after_dims: Sequence[int | None],
) -> tuple[ClosedIR, list[bool], list[bool]]:
    """Batch a loop body ``(before..., carry..., after...) -> (carry..., rest...)``.

    Batched carries sit at axis 0. Iterates until the set of batched carries
    is stable (an unbatched carry becomes batched once the body mixes it with
    a batched value). Returns the batched IR, the carry mask and the output mask.
    """
    carry_batched = list(carry_batched)
    num_carry = len(carry_batched)
    while True:
        dims = [*before_dims, *[0 if b else None for b in carry_batched], *after_dims]
        force = [*carry_batched, *[False] * (len(cir.out_avals) - num_carry)]
        bcir, out_batched = batch_nested(cir, size, dims, force)
        new = [a or b for a, b in zip(carry_batched, out_batched[:num_carry])]
        if new == carry_batched:
            return bcir, carry_batched, out_batched
        carry_batched = new


def to_front(args: Sequence[Any], dims: Sequence[int | None], size: int) -> tuple[list, list]:
    """Move each batched value's batch dimension to axis 0."""
    out, out_dims = [], []
    for x, d in zip(args, dims):
        out.append(x if d is None else bdim_to_front(x, d, size))
        out_dims.append(None if d is None else 0)
    return out, out_dims


# --- partial evaluation ---------------------------------------------------------------


def force_unknown(pe: PartialEval, force: Sequence[bool]) -> PartialEval:
    """``pe`` with the known outputs marked in ``force`` made unknown.

    Such an output's known value becomes an extra residual, and the unknown
    IR returns that residual, so every branch of a ``cond`` (or every
    iteration of a loop) can agree on which outputs are unknown.
    """
    if not any(f and not u for f, u in zip(force, pe.out_unknowns)):
        return pe
    known_ir, unknown_ir = pe.known.ir, pe.unknown
    n_known = len(known_ir.outvars) - pe.num_res
    known_outs = iter(known_ir.outvars[:n_known])
    unknown_outs = iter(unknown_ir.outvars)
    kept, outs, new_res, new_res_vars, out_unknowns = [], [], [], [], []
    for u, f in zip(pe.out_unknowns, force):
        if u:
            outs.append(next(unknown_outs))
        elif f:
            value = next(known_outs)
            var = Var(value.aval)
            new_res.append(value)
            new_res_vars.append(var)
            outs.append(var)
        else:
            kept.append(next(known_outs))
        out_unknowns.append(u or f)
    residuals = known_ir.outvars[n_known:]
    known = IR(known_ir.constvars, known_ir.invars, known_ir.eqns, (*kept, *residuals, *new_res))
    res_in, unknown_in = unknown_ir.invars[: pe.num_res], unknown_ir.invars[pe.num_res :]
    unknown = IR((), (*res_in, *new_res_vars, *unknown_in), unknown_ir.eqns, tuple(outs))
    return PartialEval(
        ClosedIR(known, pe.known.consts), unknown, out_unknowns, pe.num_res + len(new_res)
    )


# --- lowering ----------------------------------------------------------------------------


def as_jax(x: Any, aval: Aval) -> Any:
    """A JAX value for ``x`` (Literal values arrive as Python / numpy scalars)."""
    if isinstance(x, jax.Array):
        return x
    return jnp.asarray(x, aval.dtype)


def lower_nested(cir: ClosedIR, args: Sequence[Any]) -> list:
    """Run a const-free nested IR on JAX values (inside a jax.lax control-flow op)."""
    outs = lower_ir(cir.ir, (), args)
    return [as_jax(o, a) for o, a in zip(outs, cir.out_avals)]


def check_operands(name: str, avals: Sequence[Aval], expected: Sequence[Aval], what: str):
    """Raise ``TypeError`` unless ``avals`` match ``expected`` in shape and dtype."""
    if len(avals) != len(expected) or not all(map(same_type, avals, expected)):
        got = " ".join(map(str, avals))
        want = " ".join(map(str, expected))
        raise TypeError(f"{name}: {what} expects operands ({want}), got ({got})")
