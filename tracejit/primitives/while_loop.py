"""The ``while`` primitive: iterate a body while a predicate holds.

Operands are ``(*cond_consts, *body_consts, *init)``; params ``cond``
(``(cond_consts, carry) -> bool[]``) and ``body`` (``(body_consts, carry) ->
carry``) are const-free IRs. Lowered to one ``jax.lax.while_loop``.

Forward mode and batching work; reverse mode does not, because the trip count
is only known at run time and the residuals of every iteration cannot be
stored: the transpose rule raises a ``TypeError`` pointing to ``fori_loop``
with static bounds or ``scan``.
"""

from __future__ import annotations

import jax
import numpy as np

from tracejit.ir import Aval, ClosedIR, Eqn, Var
from tracejit.passes.dce import dce
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import batch_size, bdim_to_front
from tracejit.primitives.control_flow import (
    add_unused_inputs,
    as_jax,
    batch_fixed_point,
    batch_nested,
    check_operands,
    close_over,
    force_unknown,
    jvp_fixed_point,
    lower_nested,
    permute,
    split,
    to_front,
    zero_tangents_where,
)
from tracejit.tracing import aval_of, trace_flat
from tracejit.transforms.jvp import tangent_aval
from tracejit.transforms.partial_eval import partial_eval
from tracejit.transforms.vmap import batch_eval


def _while_abstract_eval(*avals: Aval, cond, body, cond_nconsts, body_nconsts) -> list[Aval]:
    cc, bc, carry = split(avals, cond_nconsts, body_nconsts)
    check_operands("while", [*cc, *carry], cond.in_avals, "cond")
    check_operands("while", [*bc, *carry], body.in_avals, "body")
    check_operands("while", body.out_avals, carry, "the carry (body outputs)")
    (pred,) = cond.out_avals
    if pred.shape != () or pred.dtype != np.bool_:
        raise TypeError(f"while: cond must return a bool[] scalar, got {pred}")
    return list(body.in_avals[body_nconsts:])


def _while_lower(*args, cond, body, cond_nconsts, body_nconsts):
    args = [as_jax(x, aval_of(x)) for x in args]
    cc, bc, init = split(args, cond_nconsts, body_nconsts)
    carry_avals = body.in_avals[body_nconsts:]
    init = [as_jax(x, a) for x, a in zip(init, carry_avals)]

    def cond_fun(carry):
        return lower_nested(cond, [*cc, *carry])[0]

    def body_fun(carry):
        return lower_nested(body, [*bc, *carry])

    return list(jax.lax.while_loop(cond_fun, body_fun, init))


def _while_jvp(primals, tangents, *, cond, body, cond_nconsts, body_nconsts):
    cc, bc, init = split(primals, cond_nconsts, body_nconsts)
    _, bc_t, init_t = split(tangents, cond_nconsts, body_nconsts)
    bc_nz = [t is not None for t in bc_t]
    jbody, carry_nz, _ = jvp_fixed_point(body, bc_nz, [t is not None for t in init_t], [])
    nb, nk, nbt, nkt = len(bc), len(init), sum(bc_nz), sum(carry_nz)
    # jvp order (bc, carry, bc_t, carry_t) -> while order (bc, bc_t | carry, carry_t).
    order = [
        *range(nb),
        *range(nb + nk, nb + nk + nbt),
        *range(nb, nb + nk),
        *range(nb + nk + nbt, nb + nk + nbt + nkt),
    ]
    (jbody,), consts = close_over([permute(jbody, order, range(nk + nkt))])
    carry_avals = body.in_avals[body_nconsts:]
    jcond = add_unused_inputs(cond, [tangent_aval(a) for a, nz in zip(carry_avals, carry_nz) if nz])
    init_ts = zero_tangents_where(init_t, carry_nz, carry_avals)
    bc_ts = [t for t in bc_t if t is not None]
    outs = while_p.bind(
        *cc,
        *consts,
        *bc,
        *bc_ts,
        *init,
        *init_ts,
        cond=jcond,
        body=jbody,
        cond_nconsts=len(cc),
        body_nconsts=len(consts) + nb + nbt,
    )
    t_outs = iter(outs[nk:])
    return outs[:nk], [next(t_outs) if nz else None for nz in carry_nz]


# --- batching ------------------------------------------------------------------------


def _while_batch(args, dims, *, cond, body, cond_nconsts, body_nconsts):
    size = batch_size(args, dims)
    args, dims = to_front(args, dims, size)
    cc, bc, init = split(args, cond_nconsts, body_nconsts)
    cc_d, bc_d, init_d = split(dims, cond_nconsts, body_nconsts)
    bbody, carry_b, _ = batch_fixed_point(body, size, bc_d, [d is not None for d in init_d], [])
    carry_d = [0 if b else None for b in carry_b]
    bcond, (pred_batched,) = batch_nested(cond, size, [*cc_d, *carry_d], [False])
    if pred_batched:
        return _batched_predicate(cc, cc_d, bc, bc_d, init, init_d, size, cond, body)
    init = [bdim_to_front(x, d, size) if b else x for x, d, b in zip(init, init_d, carry_b)]
    (bcond,), c_consts = close_over([bcond])
    (bbody,), b_consts = close_over([bbody])
    outs = while_p.bind(
        *c_consts,
        *cc,
        *b_consts,
        *bc,
        *init,
        cond=bcond,
        body=bbody,
        cond_nconsts=len(c_consts) + len(cc),
        body_nconsts=len(b_consts) + len(bc),
    )
    return outs, carry_d


def _batched_predicate(cc, cc_d, bc, bc_d, init, init_d, size, cond, body):
    """A predicate that differs across the batch: loop while any member's holds,
    and leave the members that are done unchanged (every carry is batched)."""
    from tracejit.primitives.elementwise import select_n
    from tracejit.primitives.shape import broadcast_in_dim

    init = [bdim_to_front(x, d, size) for x, d in zip(init, init_d)]
    carry_d = [0] * len(init)
    carry_avals = [aval_of(x) for x in init]
    nc, nb = len(cc), len(bc)

    def member_pred(cc_, carry):
        (pred,), (d,) = batch_eval(cond, [*cc_, *carry], [*cc_d, *carry_d])
        return bdim_to_front(pred, d, size)

    def cond_fun(*args):
        return [_any(member_pred(args[:nc], args[nc:]))]

    def body_fun(*args):
        cc_, bc_, carry = split(args, nc, nb)
        pred = member_pred(cc_, carry)
        new, new_d = batch_eval(body, [*bc_, *carry], [*bc_d, *carry_d])
        outs = []
        for c, n, d in zip(carry, new, new_d):
            n = bdim_to_front(n, d, size)
            shape = aval_of(c).shape
            which = pred if len(shape) == 1 else broadcast_in_dim(pred, shape, (0,))
            outs.append(select_n(which, c, n))  # done members keep their carry
        return outs

    cc_avals = [aval_of(x) for x in cc]
    bc_avals = [aval_of(x) for x in bc]
    bcond = trace_flat(cond_fun, [*cc_avals, *carry_avals], kind="vmap")
    bbody = trace_flat(body_fun, [*cc_avals, *bc_avals, *carry_avals], kind="vmap")
    (bcond,), c_consts = close_over([bcond])
    (bbody,), b_consts = close_over([bbody])
    outs = while_p.bind(
        *c_consts,
        *cc,
        *b_consts,
        *cc,
        *bc,
        *init,
        cond=bcond,
        body=bbody,
        cond_nconsts=len(c_consts) + nc,
        body_nconsts=len(b_consts) + nc + nb,
    )
    return outs, carry_d


def _any(pred):
    """``bool[n] -> bool[]``: whether any member is true."""
    from tracejit.primitives.reductions import reduce_or

    return reduce_or(pred, (0,))


# --- reverse mode ----------------------------------------------------------------------


def _while_partial_eval(eqn: Eqn, unknowns: list[bool]):
    """Known carries that never read unknown ones run in a known while loop; the
    unknown carries come from the whole loop, re-run on the unknown side (so
    ``linearize`` works; transposing it raises, see ``_while_transpose``)."""
    p = eqn.params
    cc_u, bc_u, carry_u = split(unknowns, p["cond_nconsts"], p["body_nconsts"])
    cond, body = p["cond"], p["body"]
    while True:
        pe_body = partial_eval(body, [*bc_u, *carry_u])
        new = [a or b for a, b in zip(carry_u, pe_body.out_unknowns)]
        if new == carry_u:
            break
        carry_u = new
    pe_cond = partial_eval(cond, [*cc_u, *carry_u])
    if pe_cond.out_unknowns[0] or all(carry_u):
        return [], [eqn], [True] * len(eqn.outvars)
    pe_body = force_unknown(pe_body, carry_u)
    n_known = carry_u.count(False)
    known_body = dce(pe_body.known, [True] * n_known + [False] * pe_body.num_res)
    known_cond = dce(pe_cond.known, [True] + [False] * pe_cond.num_res)
    cc, bc, init = split(eqn.invars, p["cond_nconsts"], p["body_nconsts"])
    known_cc = [a for a, u in zip(cc, cc_u) if not u]
    known_bc = [a for a, u in zip(bc, bc_u) if not u]
    known_init = [a for a, u in zip(init, carry_u) if not u]
    known_outs = tuple(v for v, u in zip(eqn.outvars, carry_u) if not u)
    params = dict(
        cond=ClosedIR(known_cond.ir, ()),
        body=ClosedIR(known_body.ir, ()),
        cond_nconsts=len(known_cc),
        body_nconsts=len(known_bc),
    )
    known = Eqn(while_p, (*known_cc, *known_bc, *known_init), known_outs, params, eqn.source)
    # The unknown side recomputes the known carries; its copies of them are dead.
    outvars = tuple(v if u else Var(v.aval) for v, u in zip(eqn.outvars, carry_u))
    return [known], [eqn._replace(outvars=outvars)], carry_u


def _while_transpose(cts, *args, cond, body, cond_nconsts, body_nconsts):
    raise TypeError(
        "Reverse-mode differentiation (grad / vjp) does not work through "
        "tj.lax.while_loop (nor fori_loop with traced bounds): its trip count is only "
        "known at run time, so the values of every iteration cannot be saved. Use "
        "tj.lax.fori_loop with bounds that are Python ints, or tj.lax.scan, which are "
        "differentiable in reverse mode; forward mode (jvp, jacfwd) works with while_loop."
    )


while_p = register(
    Primitive(
        "while",
        abstract_eval=_while_abstract_eval,
        lower=_while_lower,
        jvp=_while_jvp,
        transpose=_while_transpose,
        batch=_while_batch,
        multiple_results=True,
        partial_eval=_while_partial_eval,
    )
)
