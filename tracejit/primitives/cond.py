"""The ``cond`` primitive: run one of several branches, chosen by an index.

``cond_p`` backs both ``lax.cond`` (two branches: false, true) and
``lax.switch``. Operands are ``(index, *ops)``: ``index`` is an ``i32[]``
already clamped into range, ``ops`` every branch's inputs (closed-over values
first). ``branches`` is a tuple of const-free IRs, all with the same input and
output types. Lowered to one ``jax.lax.switch`` (an XLA conditional).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from tracejit.interpret import eval_ir
from tracejit.ir import IR, Aval, ClosedIR, Eqn, Literal, Var
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import batch_size, bdim_to_front, is_undefined, zeros_like_aval
from tracejit.primitives.control_flow import (
    as_jax,
    batch_nested,
    check_operands,
    close_over,
    force_unknown,
    jvp_nested,
    lower_nested,
    same_type,
)
from tracejit.tracing import aval_of, trace_flat
from tracejit.transforms.partial_eval import partial_eval
from tracejit.transforms.transpose import backward_pass
from tracejit.transforms.vmap import batch_eval


def _cond_abstract_eval(index: Aval, *ops: Aval, branches: tuple[ClosedIR, ...]) -> list[Aval]:
    if index.shape != () or index.dtype != np.int32:
        raise TypeError(f"cond: the branch index must be an i32[] scalar, got {index}")
    for i, br in enumerate(branches):
        check_operands("cond", ops, br.in_avals, f"branch {i}")
    first = branches[0].out_avals
    for i, br in enumerate(branches[1:], 1):
        if len(br.out_avals) != len(first) or not all(map(same_type, br.out_avals, first)):
            raise TypeError(
                f"cond: branch 0 returns ({' '.join(map(str, first))}) but branch {i} "
                f"returns ({' '.join(map(str, br.out_avals))})"
            )
    # An output is weakly typed only when it is in every branch (JAX's join).
    return [
        Aval(a.shape, a.dtype, all(br.out_avals[j].weak_type for br in branches))
        for j, a in enumerate(first)
    ]


def _cond_lower(index, *ops, branches):
    fns = [lambda *a, br=br: lower_nested(br, a) for br in branches]
    ops = [as_jax(o, a) for o, a in zip(ops, branches[0].in_avals)]
    return jax.lax.switch(index, fns, *ops)


# --- forward mode ------------------------------------------------------------------


def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nonzeros = [t is not None for t in tangents[1:]]
    n_out = len(branches[0].out_avals)
    traced = [jvp_nested(br, nonzeros, [False] * n_out) for br in branches]
    # Every branch must produce the same tangent outputs: the union of theirs.
    out_nz = [any(nz[j] for _, nz in traced) for j in range(n_out)]
    traced = [
        (jcir, nz) if nz == out_nz else jvp_nested(br, nonzeros, out_nz)
        for br, (jcir, nz) in zip(branches, traced)
    ]
    jbranches, consts = close_over([jcir for jcir, _ in traced])
    ts = [t for t in tangents[1:] if t is not None]
    outs = cond_p.bind(index, *consts, *ops, *ts, branches=tuple(jbranches))
    t_outs = iter(outs[n_out:])
    return outs[:n_out], [next(t_outs) if nz else None for nz in out_nz]


# --- batching ------------------------------------------------------------------------


def _cond_batch(args, dims, *, branches):
    (index, *ops), (index_dim, *op_dims) = args, dims
    size = batch_size(args, dims)
    if index_dim is not None:
        return _select_batch(index, index_dim, ops, op_dims, size, branches)
    n_out = len(branches[0].out_avals)
    traced = [batch_nested(br, size, op_dims, [False] * n_out) for br in branches]
    out_batched = [any(b[j] for _, b in traced) for j in range(n_out)]
    traced = [
        (bcir, b) if b == out_batched else batch_nested(br, size, op_dims, out_batched)
        for br, (bcir, b) in zip(branches, traced)
    ]
    bbranches, consts = close_over([bcir for bcir, _ in traced])
    outs = cond_p.bind(index, *consts, *ops, branches=tuple(bbranches))
    return outs, [0 if b else None for b in out_batched]


def _select_batch(index, index_dim, ops, op_dims, size, branches):
    """A batched index: run every branch on the whole batch and select per member."""
    from tracejit.primitives.elementwise import select_n
    from tracejit.primitives.shape import broadcast_in_dim

    which = bdim_to_front(index, index_dim, size)
    results = [batch_eval(br, ops, op_dims) for br in branches]
    outs = []
    for j, aval in enumerate(branches[0].out_avals):
        cases = [bdim_to_front(o[j], d[j], size) for o, d in results]
        w = which if not aval.shape else broadcast_in_dim(which, (size, *aval.shape), (0,))
        outs.append(select_n(w, *cases))
    return outs, [0] * len(outs)


# --- reverse mode: partial evaluation and transposition ------------------------------


def _cond_partial_eval(eqn: Eqn, unknowns: list[bool]):
    """Split a cond into a known cond (emitting residuals) and an unknown one.

    Each branch is split by ``partial_eval``; the outputs unknown in any branch
    are unknown in all. Residuals of branch i occupy their own slots of the
    known cond's outputs (other branches fill them with zeros); a residual that
    is just a known operand is read by the unknown cond directly.
    """
    (index_unknown, *ops_unknown), branches = unknowns, eqn.params["branches"]
    n_out = len(eqn.outvars)
    if index_unknown:
        return [], [eqn], [True] * n_out
    ops = eqn.invars[1:]
    pes = [partial_eval(br, ops_unknown) for br in branches]
    out_unknown = [any(pe.out_unknowns[j] for pe in pes) for j in range(n_out)]
    pes = [force_unknown(pe, out_unknown) for pe in pes]
    known_ops = [a for a, u in zip(ops, ops_unknown) if not u]
    unknown_ops = [a for a, u in zip(ops, ops_unknown) if u]

    # Residual layout: (slots of branch 0, slots of branch 1, ..., forwarded known ops).
    slots, forwarded = [], []  # per branch: residual index -> slot / known-op position
    slot_avals: list[Aval] = []
    fwd_positions: list[int] = []
    for pe in pes:
        known_in = {v: p for p, v in enumerate(pe.known.ir.invars)}
        residuals = pe.known.ir.outvars[len(pe.known.ir.outvars) - pe.num_res :]
        mine, fwd = {}, {}
        for r, var in enumerate(residuals):
            if type(var) is Var and var in known_in:
                p = known_in[var]
                fwd[r] = p
                if p not in fwd_positions:
                    fwd_positions.append(p)
            else:
                mine[r] = len(slot_avals)
                slot_avals.append(var.aval)
        slots.append(mine)
        forwarded.append(fwd)

    known_branches = [_known_branch(pe, s, slot_avals) for pe, s in zip(pes, slots)]
    unknown_branches = [
        _unknown_branch(pe, s, f, slot_avals, fwd_positions, known_ops)
        for pe, s, f in zip(pes, slots, forwarded)
    ]
    res_vars = [Var(a) for a in slot_avals]
    known_outs = [v for v, u in zip(eqn.outvars, out_unknown) if not u]
    unknown_outs = [v for v, u in zip(eqn.outvars, out_unknown) if u]
    known_eqns, unknown_eqns = [], []
    if known_outs or res_vars:
        known_eqns.append(
            Eqn(
                cond_p,
                (eqn.invars[0], *known_ops),
                (*known_outs, *res_vars),
                {"branches": tuple(known_branches)},
                eqn.source,
            )
        )
    if unknown_outs:
        fwd_atoms = [known_ops[p] for p in fwd_positions]
        unknown_eqns.append(
            Eqn(
                cond_p,
                (eqn.invars[0], *res_vars, *fwd_atoms, *unknown_ops),
                tuple(unknown_outs),
                {"branches": tuple(unknown_branches)},
                eqn.source,
            )
        )
    return known_eqns, unknown_eqns, out_unknown


def _known_branch(pe, slots: dict, slot_avals: list[Aval]) -> ClosedIR:
    """``known ops -> (known outs..., every residual slot...)`` for one branch."""
    n_known = len(pe.known.ir.outvars) - pe.num_res

    def fun(*known_ops):
        outs = eval_ir(pe.known, known_ops)
        res = [zeros_like_aval(a) for a in slot_avals]
        for r, s in slots.items():
            res[s] = outs[n_known + r]
        return [*outs[:n_known], *res]

    cir = trace_flat(fun, pe.known.in_avals, kind="partial_eval")
    assert not cir.consts, "cond partial_eval: a known branch captured a constant"
    return cir


def _unknown_branch(pe, slots, fwd, slot_avals, fwd_positions, known_ops) -> ClosedIR:
    """``(residual slots..., forwarded ops..., unknown ops...) -> unknown outs``."""
    ir = pe.unknown
    res_in, unknown_in = ir.invars[: pe.num_res], ir.invars[pe.num_res :]
    slot_vars = [Var(a) for a in slot_avals]
    fwd_vars = [Var(known_ops[p].aval) for p in fwd_positions]
    for r, s in slots.items():
        slot_vars[s] = res_in[r]
    for r, p in fwd.items():
        fwd_vars[fwd_positions.index(p)] = res_in[r]
    invars = (*slot_vars, *fwd_vars, *unknown_in)
    return ClosedIR(IR((), invars, ir.eqns, ir.outvars), ())


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise ValueError("cond: the branch index cannot be a linear input")
    linear = [is_undefined(o) for o in ops]
    nonlinear_ops = [o for o, lin in zip(ops, linear) if not lin]
    ct_mask = [ct is not None for ct in cts]
    nz_cts = [ct for ct in cts if ct is not None]
    lin_avals = [o.aval for o in ops if is_undefined(o)]
    nonlin_avals = [aval_of(o) for o in nonlinear_ops]
    ct_avals = [a for a, m in zip(branches[0].out_avals, ct_mask) if m]

    def transposed(br):
        def fun(*args):
            it = iter(args[: len(nonlin_avals)])
            full = [None if lin else next(it) for lin in linear]
            ct_it = iter(args[len(nonlin_avals) :])
            cts_full = [next(ct_it) if m else None for m in ct_mask]
            cts_in = backward_pass(br.ir, linear, full, cts_full)
            return [zeros_like_aval(a) if c is None else c for c, a in zip(cts_in, lin_avals)]

        return trace_flat(fun, [*nonlin_avals, *ct_avals], kind="transpose")

    tbranches, consts = close_over([transposed(br) for br in branches])
    outs = iter(cond_p.bind(index, *consts, *nonlinear_ops, *nz_cts, branches=tuple(tbranches)))
    return [None, *[next(outs) if lin else None for lin in linear]]


cond_p = register(
    Primitive(
        "cond",
        abstract_eval=_cond_abstract_eval,
        lower=_cond_lower,
        jvp=_cond_jvp,
        transpose=_cond_transpose,
        batch=_cond_batch,
        multiple_results=True,
        partial_eval=_cond_partial_eval,
    )
)


# --- inlining a cond whose index is a constant (run by dce) ---------------------------------


def inline_constant_conds(ir: IR) -> IR:
    """``ir`` with every ``cond`` whose index is a literal replaced by its branch."""
    if not any(e.prim is cond_p and type(e.invars[0]) is Literal for e in ir.eqns):
        return ir
    rename: dict[Var, Any] = {}

    def sub(a):
        return rename.get(a, a) if type(a) is Var else a

    eqns: list[Eqn] = []
    for eqn in ir.eqns:
        invars = tuple(sub(a) for a in eqn.invars)
        if eqn.prim is not cond_p or type(invars[0]) is not Literal:
            eqns.append(eqn._replace(invars=invars))
            continue
        branches = eqn.params["branches"]
        i = min(max(int(invars[0].val), 0), len(branches) - 1)
        br = branches[i].ir
        local: dict[Var, Any] = dict(zip(br.invars, invars[1:]))
        for inner in br.eqns:
            outvars = tuple(Var(v.aval) for v in inner.outvars)
            local.update(zip(inner.outvars, outvars))
            ins = tuple(local.get(a, a) if type(a) is Var else a for a in inner.invars)
            eqns.append(inner._replace(invars=ins, outvars=outvars))
        for v, a in zip(eqn.outvars, br.outvars):
            rename[v] = local.get(a, a) if type(a) is Var else a
    outvars = tuple(sub(a) for a in ir.outvars)
    return IR(ir.constvars, ir.invars, tuple(eqns), outvars)
