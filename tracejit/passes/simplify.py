"""Algebraic simplification: identities that transforms leave behind.

Each rule looks at one equation (and the equations producing its inputs) and
returns a replacement atom, a replacement equation, or ``None``. Rules never
change a value's shape or dtype and never reassociate floating-point math:

- ``x * 1``, ``1 * x``, ``x + 0``, ``0 + x``, ``x - 0``, ``x / 1``, ``neg(neg x)``,
  ``integer_pow[y=1] x`` -> ``x`` (only where ``x`` already has the result's type);
- scalar folding: an elementwise equation on literals only becomes a literal;
- ``broadcast_in_dim`` of a scalar feeding an elementwise op whose other operand
  already has the full shape -> the scalar itself (ops broadcast scalars);
- reshape of reshape -> one reshape; reshape or broadcast of a broadcast
  scalar -> one broadcast of the scalar; reshape / transpose / convert that changes
  nothing -> its input; transpose of transpose -> one transpose;
- transpose of a dot_general that only swaps the two operands' free dimensions
  -> the dot_general with its operands swapped (XLA then writes the result in
  its final layout once, instead of writing and transposing it: the per-example
  gradient of vmap(grad) is exactly this pattern).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from tracejit.ir import IR, Aval, ClosedIR, Eqn, Literal, Var
from tracejit.primitives.elementwise import scalar_literal

_ELEMENTWISE_FOLD = {
    "add", "sub", "mul", "div", "neg", "max", "min", "exp", "log", "sin", "cos", "tanh",
    "sqrt", "rsqrt", "integer_pow", "convert_element_type", "pow",
}
_ELEMENTWISE_BINARY = {"add", "sub", "mul", "div", "max", "min", "pow", "atan2", "rem"}


def _is_lit(a: Any, value: float) -> bool:
    return type(a) is Literal and a.aval.dtype != np.bool_ and np.all(np.asarray(a.val) == value)


def _same_type(a: Any, out: Var) -> bool:
    return (a.aval.shape, a.aval.dtype) == (out.aval.shape, out.aval.dtype)


class _Simplifier:
    def __init__(self) -> None:
        self.rename: dict[Var, Any] = {}
        self.producer: dict[Var, Eqn] = {}

    def sub(self, a: Any) -> Any:
        return self.rename.get(a, a) if type(a) is Var else a

    def run(self, ir: IR) -> IR:
        eqns: list[Eqn] = []
        for eqn in ir.eqns:
            eqn = eqn._replace(invars=tuple(self.sub(a) for a in eqn.invars))
            result = None if eqn.prim.multiple_results else self.rewrite(eqn)
            if result is None:
                new = eqn
            elif isinstance(result, Eqn):
                new = result
            else:
                self.rename[eqn.outvars[0]] = result
                continue
            eqns.append(new)
            for v in new.outvars:
                self.producer[v] = new
        outvars = tuple(self.sub(a) for a in ir.outvars)
        return IR(ir.constvars, ir.invars, tuple(eqns), outvars)

    def rewrite(self, eqn: Eqn) -> Any:
        name = eqn.prim.name
        ins, out = eqn.invars, eqn.outvars[0]
        if name in _ELEMENTWISE_FOLD and all(type(a) is Literal for a in ins) and ins:
            return self.fold(eqn)
        if name in _ELEMENTWISE_BINARY:
            return self.binary(eqn)
        if name == "neg":
            inner = self.producer.get(ins[0]) if type(ins[0]) is Var else None
            if inner is not None and inner.prim.name == "neg" and _same_type(inner.invars[0], out):
                return inner.invars[0]
        if name == "integer_pow" and eqn.params["y"] == 1 and _same_type(ins[0], out):
            return ins[0]
        if name in ("reshape", "convert_element_type") and _same_type(ins[0], out):
            return ins[0]
        if name == "reshape":
            inner = self.producer.get(ins[0]) if type(ins[0]) is Var else None
            if inner is not None and inner.prim.name == "reshape":
                return eqn._replace(invars=(inner.invars[0],))
            if (inner is not None and inner.prim.name == "broadcast_in_dim"
                    and inner.invars[0].aval.shape == ()):
                params = {"shape": out.aval.shape, "broadcast_dimensions": ()}
                return Eqn(inner.prim, inner.invars, eqn.outvars, params, eqn.source)
        if name == "transpose":
            return self.transpose(eqn)
        if name == "broadcast_in_dim":
            inner = self.producer.get(ins[0]) if type(ins[0]) is Var else None
            if (inner is not None and inner.prim.name == "broadcast_in_dim"
                    and inner.invars[0].aval.shape == ()):
                params = {"shape": out.aval.shape, "broadcast_dimensions": ()}
                return eqn._replace(invars=inner.invars, params=params)
        return None

    def fold(self, eqn: Eqn) -> Any:
        out = eqn.outvars[0]
        try:
            with jax.ensure_compile_time_eval():
                value = eqn.prim.lower(*[a.val for a in eqn.invars], **eqn.params)
                value = np.asarray(value)
        except (TypeError, ValueError, ArithmeticError):  # a fold that fails is not done
            return None
        value = np.asarray(value, out.aval.dtype)[()]
        if out.aval.weak_type:  # a weak literal is a Python scalar (see ir.Literal)
            value = scalar_literal(value.item(), out.aval.dtype)
        return Literal(value, Aval((), out.aval.dtype, not isinstance(value, np.generic)))

    def binary(self, eqn: Eqn) -> Any:
        name = eqn.prim.name
        (x, y), out = eqn.invars, eqn.outvars[0]
        if name == "mul":
            if _is_lit(y, 1) and _same_type(x, out):
                return x
            if _is_lit(x, 1) and _same_type(y, out):
                return y
        if name == "add":
            if _is_lit(y, 0) and _same_type(x, out):
                return x
            if _is_lit(x, 0) and _same_type(y, out):
                return y
        if name == "sub" and _is_lit(y, 0) and _same_type(x, out):
            return x
        if name == "div" and _is_lit(y, 1) and _same_type(x, out):
            return x
        # A broadcast scalar next to a full-shape operand: use the scalar.
        new = list(eqn.invars)
        for i, a in enumerate(eqn.invars):
            other = new[1 - i]  # the operand as rewritten so far: keep one full-shape
            inner = self.producer.get(a) if type(a) is Var else None
            if (inner is not None and inner.prim.name == "broadcast_in_dim"
                    and inner.invars[0].aval.shape == () and _same_type(other, out)):
                new[i] = inner.invars[0]
        if new != list(eqn.invars):
            return eqn._replace(invars=tuple(new))
        return None

    def transpose(self, eqn: Eqn) -> Any:
        (x,), out = eqn.invars, eqn.outvars[0]
        perm = eqn.params["permutation"]
        if perm == tuple(range(len(perm))):
            return x
        inner = self.producer.get(x) if type(x) is Var else None
        if inner is None:
            return None
        if inner.prim.name == "transpose":
            composed = tuple(inner.params["permutation"][p] for p in perm)
            if composed == tuple(range(len(composed))):
                return inner.invars[0]
            return eqn._replace(invars=inner.invars, params={"permutation": composed})
        if inner.prim.name == "dot_general":
            return self.swap_dot(eqn, inner)
        return None

    def swap_dot(self, eqn: Eqn, dot: Eqn) -> Any:
        (xc, yc), (xb, yb) = dot.params["dimension_numbers"]
        a, b = dot.invars
        nb = len(xb)
        na = a.aval.ndim - len(xc) - nb
        nf = b.aval.ndim - len(yc) - len(yb)
        swapped = (tuple(range(nb)) + tuple(range(nb + na, nb + na + nf))
                   + tuple(range(nb, nb + na)))
        if eqn.params["permutation"] != swapped:
            return None
        params = dict(dot.params, dimension_numbers=((yc, xc), (yb, xb)))
        return Eqn(dot.prim, (b, a), eqn.outvars, params, eqn.source)


def simplify_ir(ir: IR) -> IR:
    """``ir`` with the identities above applied (run dce afterwards)."""
    return _Simplifier().run(ir)


def simplify(cir: ClosedIR) -> ClosedIR:
    return ClosedIR(simplify_ir(cir.ir), cir.consts)
