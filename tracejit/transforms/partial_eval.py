"""Partial evaluation: split an IR into the part computable from known inputs
and the part that needs the unknown ones.

On an IR this is a dependency analysis: an equation is unknown when any input
is. Applied to a jvp IR with the tangents unknown, the known part is the
primal computation and the unknown part is linear in the tangents; the known
values the unknown part reads are the residuals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tracejit.ir import IR, ClosedIR, Var
from tracejit.passes.dce import dce
from tracejit.phases import timed_transform


class PartialEval(NamedTuple):
    known: ClosedIR  # (known inputs...) -> (known outputs..., residuals...)
    unknown: IR  # (residuals..., unknown inputs...) -> (unknown outputs...)
    out_unknowns: list[bool]
    num_res: int


@timed_transform
def partial_eval(cir: ClosedIR, unknowns: Sequence[bool]) -> PartialEval:
    """Split ``cir`` by which inputs are unknown (see the module docstring)."""
    ir = cir.ir
    unknown_vars = {v for v, u in zip(ir.invars, unknowns) if u}
    known_eqns, unknown_eqns = [], []
    for eqn in ir.eqns:
        in_unknown = [type(a) is Var and a in unknown_vars for a in eqn.invars]
        if not any(in_unknown):
            known_eqns.append(eqn)
        elif eqn.prim.partial_eval is not None:
            known, unknown, out_unknowns = eqn.prim.partial_eval(eqn, in_unknown)
            known_eqns.extend(known)
            unknown_eqns.extend(unknown)
            unknown_vars.update(v for v, u in zip(eqn.outvars, out_unknowns) if u)
        else:
            unknown_eqns.append(eqn)
            unknown_vars.update(eqn.outvars)
    out_unknowns = [type(a) is Var and a in unknown_vars for a in ir.outvars]

    residuals: list[Var] = []
    seen: set[Var] = set()

    def need(a) -> None:
        if type(a) is Var and a not in unknown_vars and a not in seen:
            seen.add(a)
            residuals.append(a)

    for eqn in unknown_eqns:
        for a in eqn.invars:
            need(a)
    known_outs = [a for a, u in zip(ir.outvars, out_unknowns) if not u]
    unknown_outs = [a for a, u in zip(ir.outvars, out_unknowns) if u]

    known_invars = tuple(v for v, u in zip(ir.invars, unknowns) if not u)
    known_ir = IR(ir.constvars, known_invars, tuple(known_eqns), (*known_outs, *residuals))
    unknown_invars = tuple(v for v, u in zip(ir.invars, unknowns) if u)
    unknown_ir = IR((), (*residuals, *unknown_invars), tuple(unknown_eqns), tuple(unknown_outs))
    known = dce(ClosedIR(known_ir, cir.consts))
    return PartialEval(known, unknown_ir, out_unknowns, len(residuals))
