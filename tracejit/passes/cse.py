"""Common-subexpression elimination: one equation per distinct computation."""

from __future__ import annotations

from typing import Any

from tracejit.ir import IR, ClosedIR, Eqn, Var

# Binary primitives whose operands commute: mul(a, b) and mul(b, a) are one value
# (forward-over-reverse derivatives produce both orders, e.g. the Hessian-vector
# product of tanh).
_COMMUTATIVE = {"add", "mul", "max", "min", "and", "or", "xor", "eq", "ne"}


def _param_key(params: dict[str, Any]) -> Any:
    return tuple(sorted(params.items()))


def _operand_key(prim: Any, invars: tuple) -> tuple:
    keys = tuple(a if type(a) is Var else ("lit", a) for a in invars)
    if prim.name in _COMMUTATIVE and len(keys) == 2:
        rank = [(0, id(k)) if type(k) is Var else (1, hash(k)) for k in keys]
        if rank[1] < rank[0]:
            keys = (keys[1], keys[0])
    return keys


def cse_ir(ir: IR) -> IR:
    """``ir`` with repeated equations (same primitive, inputs and params) merged."""
    rename: dict[Var, Var] = {}
    seen: dict[Any, tuple[Var, ...]] = {}
    eqns: list[Eqn] = []

    def sub(a):
        return rename.get(a, a) if type(a) is Var else a

    for eqn in ir.eqns:
        invars = tuple(sub(a) for a in eqn.invars)
        eqn = eqn._replace(invars=invars, params=_cse_nested(eqn.params))
        if eqn.prim.effects:
            eqns.append(eqn)
            continue
        try:
            key = (eqn.prim, _operand_key(eqn.prim, invars), _param_key(eqn.params))
            hash(key)
        except TypeError:
            eqns.append(eqn)
            continue
        previous = seen.get(key)
        if previous is None:
            seen[key] = eqn.outvars
            eqns.append(eqn)
        else:
            rename.update(zip(eqn.outvars, previous))
    outvars = tuple(sub(a) for a in ir.outvars)
    return IR(ir.constvars, ir.invars, tuple(eqns), outvars)


def _cse_nested(params: dict[str, Any]) -> dict[str, Any]:
    if not any(isinstance(v, (ClosedIR, tuple)) for v in params.values()):
        return params
    new = {}
    for k, v in params.items():
        if isinstance(v, ClosedIR):
            new[k] = ClosedIR(cse_ir(v.ir), v.consts)
        elif isinstance(v, tuple) and v and all(isinstance(b, ClosedIR) for b in v):
            new[k] = tuple(ClosedIR(cse_ir(b.ir), b.consts) for b in v)
        else:
            new[k] = v
    return new


def cse(cir: ClosedIR) -> ClosedIR:
    return ClosedIR(cse_ir(cir.ir), cir.consts)


