"""Dead-code elimination: drop equations whose results nobody uses."""

from __future__ import annotations

from tracejit.ir import IR, ClosedIR, Eqn, Var


def dce_ir(ir: IR, used_outputs: list[bool] | None = None) -> IR:
    """``ir`` without dead equations (inputs and constvars are kept).

    ``used_outputs`` optionally drops outputs too. Nested IRs (control-flow
    bodies) are cleaned in place of their equation, their interface unchanged.
    """
    ir = _inline_constant_conds(ir)
    outvars = ir.outvars
    if used_outputs is not None:
        outvars = tuple(v for v, used in zip(outvars, used_outputs) if used)
    live: set[Var] = {v for v in outvars if type(v) is Var}
    kept: list[Eqn] = []
    for eqn in reversed(ir.eqns):
        if eqn.prim.effects or any(v in live for v in eqn.outvars):
            live.update(a for a in eqn.invars if type(a) is Var)
            kept.append(_dce_nested(eqn))
    kept.reverse()
    return IR(ir.constvars, ir.invars, tuple(kept), outvars)


def _inline_constant_conds(ir: IR) -> IR:
    """A ``cond`` whose index is a literal is replaced by the chosen branch."""
    from tracejit.primitives.cond import inline_constant_conds

    return inline_constant_conds(ir)


def _dce_nested(eqn: Eqn) -> Eqn:
    params = eqn.params
    if not any(isinstance(v, (ClosedIR, tuple)) for v in params.values()):
        return eqn
    new = {}
    changed = False
    for k, v in params.items():
        if isinstance(v, ClosedIR):
            nv = ClosedIR(dce_ir(v.ir), v.consts)
            changed = changed or nv.ir.eqns != v.ir.eqns
            new[k] = nv
        elif isinstance(v, tuple) and v and all(isinstance(b, ClosedIR) for b in v):
            nv = tuple(ClosedIR(dce_ir(b.ir), b.consts) for b in v)
            changed = changed or any(a.ir.eqns != b.ir.eqns for a, b in zip(nv, v))
            new[k] = nv
        else:
            new[k] = v
    return eqn._replace(params=new) if changed else eqn


def dce(cir: ClosedIR, used_outputs: list[bool] | None = None) -> ClosedIR:
    """``dce_ir`` of a closed IR, also dropping constants no equation reads."""
    ir = dce_ir(cir.ir, used_outputs)
    used: set[Var] = {a for e in ir.eqns for a in e.invars if type(a) is Var}
    used.update(v for v in ir.outvars if type(v) is Var)
    keep = [i for i, v in enumerate(ir.constvars) if v in used]
    if len(keep) == len(ir.constvars):
        return ClosedIR(ir, cir.consts)
    constvars = tuple(ir.constvars[i] for i in keep)
    consts = tuple(cir.consts[i] for i in keep)
    return ClosedIR(IR(constvars, ir.invars, ir.eqns, ir.outvars), consts)
