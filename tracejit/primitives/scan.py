"""The ``scan`` primitive: a loop with a carry over the leading axis of ``xs``.

Operands are ``(*consts, *init, *xs)``; ``body`` is a const-free IR
``(consts, carry, x slices) -> (carry, y slices)``; the outputs are the final
carry and the ``ys`` stacked along a new leading axis of size ``length``.
Lowered to one ``jax.lax.scan``. Reverse mode: partial evaluation splits the
body into a known scan that stacks the residuals of every iteration and an
unknown scan linear in the tangents, whose transpose is a scan running the
other way.
"""

from __future__ import annotations

import jax

from tracejit.ir import IR, Aval, ClosedIR, Eqn, Var
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import (
    add_tangents,
    batch_size,
    bdim_to_front,
    is_undefined,
    move_bdim,
    zeros_like_aval,
)
from tracejit.primitives.control_flow import (
    as_jax,
    batch_fixed_point,
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
from tracejit.tracing import trace_flat
from tracejit.transforms.partial_eval import partial_eval
from tracejit.transforms.transpose import backward_pass


def _stacked(aval: Aval, length: int) -> Aval:
    return Aval((length, *aval.shape), aval.dtype, aval.weak_type)


def _scan_abstract_eval(*avals: Aval, body, num_consts, num_carry, length, reverse, unroll):
    consts, init, xs = split(avals, num_consts, num_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ValueError(f"scan: every xs needs a leading axis of length {length}, got {x}")
    x_avals = [Aval(x.shape[1:], x.dtype, x.weak_type) for x in xs]
    check_operands("scan", [*consts, *init, *x_avals], body.in_avals, "body")
    carry_out, ys = split(body.out_avals, num_carry)
    check_operands("scan", carry_out, init, "the carry (body outputs)")
    return [*body.in_avals[num_consts : num_consts + num_carry], *[_stacked(y, length) for y in ys]]


def _scan_lower(*args, body, num_consts, num_carry, length, reverse, unroll):
    consts, init, xs = split(args, num_consts, num_carry)
    consts = [as_jax(c, a) for c, a in zip(consts, body.in_avals)]
    init = [as_jax(c, a) for c, a in zip(init, body.in_avals[num_consts:])]

    def f(carry, x):
        outs = lower_nested(body, [*consts, *carry, *x])
        return outs[:num_carry], outs[num_carry:]

    carry, ys = jax.lax.scan(f, init, list(xs), length=length, reverse=reverse, unroll=unroll)
    return [*carry, *ys]


def _scan_jvp(primals, tangents, *, body, num_consts, num_carry, **params):
    consts, init, xs = split(primals, num_consts, num_carry)
    c_t, init_t, xs_t = split(tangents, num_consts, num_carry)
    c_nz, x_nz = [t is not None for t in c_t], [t is not None for t in xs_t]
    init_nz = [t is not None for t in init_t]
    jbody, carry_nz, out_nz = jvp_fixed_point(body, c_nz, init_nz, x_nz)
    nc, nk, nx = len(consts), len(init), len(xs)
    ny = len(body.out_avals) - nk
    y_nz = out_nz[nk:]
    nct, nkt, nxt, nyt = sum(c_nz), sum(carry_nz), sum(x_nz), sum(y_nz)
    # jvp order (c, k, x, c_t, k_t, x_t) -> scan order (c, c_t | k, k_t | x, x_t), and
    # outputs (k, y, k_t, y_t) -> (k, k_t | y, y_t).
    b = nc + nk + nx
    in_order = [
        *range(nc),
        *range(b, b + nct),
        *range(nc, nc + nk),
        *range(b + nct, b + nct + nkt),
        *range(nc + nk, b),
        *range(b + nct + nkt, b + nct + nkt + nxt),
    ]
    o = nk + ny
    out_order = [*range(nk), *range(o, o + nkt), *range(nk, o), *range(o + nkt, o + nkt + nyt)]
    (jbody,), new_consts = close_over([permute(jbody, in_order, out_order)])
    init_ts = zero_tangents_where(init_t, carry_nz, body.in_avals[num_consts:])
    outs = scan_p.bind(
        *new_consts,
        *consts,
        *[t for t in c_t if t is not None],
        *init,
        *init_ts,
        *xs,
        *[t for t in xs_t if t is not None],
        body=jbody,
        num_consts=len(new_consts) + nc + nct,
        num_carry=nk + nkt,
        **params,
    )
    carry, carry_t, ys, ys_t = split(outs, nk, nkt, ny)
    carry_t, ys_t = iter(carry_t), iter(ys_t)
    t_outs = [next(carry_t) if nz else None for nz in carry_nz]
    t_outs += [next(ys_t) if nz else None for nz in y_nz]
    return [*carry, *ys], t_outs


def _scan_batch(args, dims, *, body, num_consts, num_carry, **params):
    size = batch_size(args, dims)
    consts, init, xs = split(args, num_consts, num_carry)
    c_d, init_d, xs_d = split(dims, num_consts, num_carry)
    consts, c_d = to_front(consts, c_d, size)
    # A batched xs gets its batch axis right after the scanned axis: slices batched at 0.
    xs = [x if d is None else move_bdim(x, d, 1) for x, d in zip(xs, xs_d)]
    slice_d = [None if d is None else 0 for d in xs_d]
    bbody, carry_b, out_b = batch_fixed_point(
        body, size, c_d, [d is not None for d in init_d], slice_d
    )
    init = [bdim_to_front(x, d, size) if b else x for x, d, b in zip(init, init_d, carry_b)]
    (bbody,), new_consts = close_over([bbody])
    outs = scan_p.bind(
        *new_consts,
        *consts,
        *init,
        *xs,
        body=bbody,
        num_consts=len(new_consts) + len(consts),
        num_carry=num_carry,
        **params,
    )
    out_dims = [0 if b else None for b in carry_b]
    out_dims += [1 if b else None for b in out_b[num_carry:]]
    return outs, out_dims


# --- reverse mode: partial evaluation -----------------------------------------------------


def _scan_partial_eval(eqn: Eqn, unknowns: list[bool]):
    """Split a scan into a known scan and an unknown one (linear in the tangents).

    Which carries are unknown is a fixed point (a carry becomes unknown once the
    body mixes it with an unknown value). The known scan emits the residuals of
    every iteration as extra stacked outputs; residuals that are known consts
    or known xs of the body are read by the unknown scan directly.
    """
    p = eqn.params
    nc, nk, body = p["num_consts"], p["num_carry"], p["body"]
    c_u, carry_u, x_u = split(unknowns, nc, nk)
    while True:
        pe = partial_eval(body, [*c_u, *carry_u, *x_u])
        new = [a or b for a, b in zip(carry_u, pe.out_unknowns[:nk])]
        if new == carry_u:
            break
        carry_u = new
    out_u = [*carry_u, *pe.out_unknowns[nk:]]
    pe = force_unknown(pe, out_u)
    consts, init, xs = split(eqn.invars, nc, nk)
    known_c = [a for a, u in zip(consts, c_u) if not u]
    known_x = [a for a, u in zip(xs, x_u) if not u]
    n_kc, n_kk = len(known_c), carry_u.count(False)
    known_ir = pe.known.ir
    n_known_out = len(known_ir.outvars) - pe.num_res
    position = {v: i for i, v in enumerate(known_ir.invars)}
    # Each residual is a known const (hoisted), a known xs (forwarded) or stacked.
    const_res, xs_res, stacked = [], [], []
    for r, var in enumerate(known_ir.outvars[n_known_out:]):
        i = position.get(var, -1) if type(var) is Var else -1
        if 0 <= i < n_kc:
            const_res.append((r, known_c[i]))
        elif i >= n_kc + n_kk:
            xs_res.append((r, known_x[i - n_kc - n_kk]))
        else:
            stacked.append((r, Var(_stacked(var.aval, p["length"]))))
    stacked_out = tuple(known_ir.outvars[n_known_out + r] for r, _ in stacked)
    known_body = IR(
        (), known_ir.invars, known_ir.eqns, (*known_ir.outvars[:n_known_out], *stacked_out)
    )
    known_init = [a for a, u in zip(init, carry_u) if not u]
    known_outs = [v for v, u in zip(eqn.outvars, out_u) if not u]
    known_eqn = Eqn(
        scan_p,
        (*known_c, *known_init, *known_x),
        (*known_outs, *[v for _, v in stacked]),
        dict(p, body=ClosedIR(known_body, ()), num_consts=n_kc, num_carry=n_kk),
        eqn.source,
    )
    # Unknown body: (const residuals, unknown consts | carries | xs residuals, unknown xs).
    unk = pe.unknown
    res_in, (u_c, u_k, u_x) = (
        unk.invars[: pe.num_res],
        split(unk.invars[pe.num_res :], c_u.count(True), carry_u.count(True))[:3],
    )
    invars = (
        *[res_in[r] for r, _ in const_res],
        *u_c,
        *u_k,
        *[res_in[r] for r, _ in (*xs_res, *stacked)],
        *u_x,
    )
    unknown_body = ClosedIR(IR((), invars, unk.eqns, unk.outvars), ())
    unknown_c = [a for a, u in zip(consts, c_u) if u]
    unknown_init = [a for a, u in zip(init, carry_u) if u]
    unknown_x = [a for a, u in zip(xs, x_u) if u]
    operands = (
        *[a for _, a in const_res],
        *unknown_c,
        *unknown_init,
        *[a for _, a in (*xs_res, *stacked)],
        *unknown_x,
    )
    unknown_outs = tuple(v for v, u in zip(eqn.outvars, out_u) if u)
    unknown_eqn = Eqn(
        scan_p,
        operands,
        unknown_outs,
        dict(
            p,
            body=unknown_body,
            num_consts=len(const_res) + len(unknown_c),
            num_carry=len(unknown_init),
        ),
        eqn.source,
    )
    known_eqns = [known_eqn] if known_eqn.outvars else []
    return known_eqns, [unknown_eqn] if unknown_outs else [], out_u


# --- reverse mode: transposition ----------------------------------------------------------


def _scan_transpose(cts, *args, body, num_consts, num_carry, length, reverse, unroll):
    """Transpose of a scan linear in its carries and in the undefined consts / xs.

    A reverse-direction scan whose carry is (cotangents of the linear consts,
    accumulated over iterations; cotangent of the carry) and whose xs are the
    non-linear xs (residuals) and the output cotangents of the ys.
    """
    consts, init, xs = split(args, num_consts, num_carry)
    lin_c = [is_undefined(c) for c in consts]
    lin_x = [is_undefined(x) for x in xs]
    in_avals = body.in_avals
    c_avals, k_avals, x_avals = split(in_avals, num_consts, num_carry)
    ct_carry, ct_ys = cts[:num_carry], cts[num_carry:]
    ct_carry = [zeros_like_aval(a) if ct is None else ct for ct, a in zip(ct_carry, k_avals)]
    y_mask = [ct is not None for ct in ct_ys]
    nonlin_c = [c for c, lin in zip(consts, lin_c) if not lin]
    nonlin_x = [x for x, lin in zip(xs, lin_x) if not lin]
    acc_avals = [a for a, lin in zip(c_avals, lin_c) if lin]
    lin_x_avals = [a for a, lin in zip(x_avals, lin_x) if lin]
    linear = [*lin_c, *[True] * num_carry, *lin_x]
    n_nc, n_acc, n_nx = len(nonlin_c), len(acc_avals), len(nonlin_x)

    def fun(*a):
        nc_vals, acc, ct_k, nx_vals, ct_y = split(a, n_nc, n_acc, num_carry, n_nx)
        nc_it, nx_it, y_it = iter(nc_vals), iter(nx_vals), iter(ct_y)
        full = [
            *[None if lin else next(nc_it) for lin in lin_c],
            *[None] * num_carry,
            *[None if lin else next(nx_it) for lin in lin_x],
        ]
        ct_out = [*ct_k, *[next(y_it) if m else None for m in y_mask]]
        ct_in = backward_pass(body.ir, linear, full, ct_out)
        ct_c, ct_k_in, ct_x = split(ct_in, n_acc, num_carry)
        acc = [add_tangents(s, c) for s, c in zip(acc, ct_c)]
        return [
            *_zeros_where_none(acc, acc_avals),
            *_zeros_where_none(ct_k_in, k_avals),
            *_zeros_where_none(ct_x, lin_x_avals),
        ]

    nonlin_c_avals = [a for a, lin in zip(c_avals, lin_c) if not lin]
    nonlin_x_avals = [a for a, lin in zip(x_avals, lin_x) if not lin]
    ct_y_avals = [a for a, m in zip(body.out_avals[num_carry:], y_mask) if m]
    tbody = trace_flat(
        fun, [*nonlin_c_avals, *acc_avals, *k_avals, *nonlin_x_avals, *ct_y_avals], kind="transpose"
    )
    (tbody,), new_consts = close_over([tbody])
    acc0 = [zeros_like_aval(a) for a in acc_avals]
    outs = scan_p.bind(
        *new_consts,
        *nonlin_c,
        *acc0,
        *ct_carry,
        *nonlin_x,
        *[ct for ct in ct_ys if ct is not None],
        body=tbody,
        num_consts=len(new_consts) + n_nc,
        num_carry=n_acc + num_carry,
        length=length,
        reverse=not reverse,
        unroll=unroll,
    )
    ct_consts, ct_init, ct_xs = split(outs, n_acc, num_carry)
    ct_consts, ct_xs = iter(ct_consts), iter(ct_xs)
    return [
        *[next(ct_consts) if lin else None for lin in lin_c],
        *ct_init,
        *[next(ct_xs) if lin else None for lin in lin_x],
    ]


def _zeros_where_none(ts, avals):
    return [zeros_like_aval(a) if t is None else t for t, a in zip(ts, avals)]


scan_p = register(
    Primitive(
        "scan",
        abstract_eval=_scan_abstract_eval,
        lower=_scan_lower,
        jvp=_scan_jvp,
        transpose=_scan_transpose,
        batch=_scan_batch,
        multiple_results=True,
        partial_eval=_scan_partial_eval,
    )
)

__all__ = ["scan_p"]
