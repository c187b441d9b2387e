"""The IR validator: scoping and types, re-inferred equation by equation.

Tests run it after every pass and transform: a rule that emits ill-typed IR
is caught where it happens, not by XLA three transforms later.
"""

from __future__ import annotations

from tracejit.errors import IRTypeError
from tracejit.ir import IR, ClosedIR, Literal, Var, nested_irs


def check_ir(ir: IR | ClosedIR) -> None:
    """Raise ``IRTypeError`` unless every equation re-infers to its declared types."""
    ir = ir.ir if isinstance(ir, ClosedIR) else ir
    defined: set[Var] = set()

    def define(v: Var, where: str) -> None:
        if not isinstance(v, Var):
            raise IRTypeError(f"{where}: {v!r} is not a Var")
        if v in defined:
            raise IRTypeError(f"{where}: variable {v!r} is defined twice")
        defined.add(v)

    def use(a: object, where: str) -> None:
        if isinstance(a, Literal):
            if a.aval.shape != ():
                raise IRTypeError(f"{where}: literal {a!r} is not a scalar")
            return
        if a not in defined:
            raise IRTypeError(f"{where}: variable {a!r} is used before it is defined")

    for v in ir.constvars:
        define(v, "constvars")
    for v in ir.invars:
        define(v, "invars")
    for i, eqn in enumerate(ir.eqns):
        where = f"equation {i} ({eqn.prim.name})"
        for a in eqn.invars:
            use(a, where)
        try:
            inferred = eqn.prim.abstract_eval(*[a.aval for a in eqn.invars], **eqn.params)
        except (TypeError, ValueError) as e:
            raise IRTypeError(f"{where}: abstract evaluation failed: {e}") from e
        inferred = list(inferred) if eqn.prim.multiple_results else [inferred]
        if len(inferred) != len(eqn.outvars):
            raise IRTypeError(
                f"{where}: {len(inferred)} results inferred, {len(eqn.outvars)} declared"
            )
        for v, aval in zip(eqn.outvars, inferred):
            if (v.aval.shape, v.aval.dtype) != (tuple(aval.shape), aval.dtype):
                raise IRTypeError(f"{where}: declared {v.aval}, inferred {aval}")
        for sub in nested_irs(eqn.params):
            check_ir(sub)
        for v in eqn.outvars:
            define(v, where)
    for a in ir.outvars:
        use(a, "outvars")
