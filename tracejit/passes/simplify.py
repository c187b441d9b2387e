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
  gradient of vmap(grad) is exactly this pattern);
- dot_general with an identity matrix (``convert(eq(iota0, iota1))``, the basis
  jacfwd / jacrev build) -> the other operand, transposed into the product's layout
  (an n^3 matmul that computes a copy; JAX performs it);
- transpose of an elementwise equation (used once) whose operands all transpose for
  free (scalars; arrays where only size-1 axes move, which is a reshape; a transpose;
  a dot_general whose free dimensions swap; unit-axis reshapes of those) -> the
  elementwise equation on the transposed operands. A Jacobian built by vmap ends in
  such a transpose (jacfwd puts the basis axis last); without this, XLA's fused
  loop reads one operand with a stride (3.6x slower on W6's vmap(jacfwd)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.ir import IR, Aval, ClosedIR, Eqn, Literal, Var
from tracejit.primitives.elementwise import ELEMENTWISE, scalar_literal
from tracejit.primitives.shape import reshape_p, transpose_p

# Scalar folds, computed with NumPy on the literals' dtype: only correctly rounded
# operations, so a fold gives exactly what XLA would (and costs no XLA compile: an
# eager JAX op compiles a small program the first time it meets a dtype, 30-100 ms
# of a cold first call).
_FOLD = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
    "max": np.maximum, "min": np.minimum, "sqrt": np.sqrt,
}
_ELEMENTWISE_FOLD = {*_FOLD, "div", "integer_pow", "convert_element_type"}
_ELEMENTWISE_BINARY = {"add", "sub", "mul", "div", "max", "min", "pow", "atan2", "rem"}


def _is_lit(a: Any, value: float) -> bool:
    return type(a) is Literal and a.aval.dtype != np.bool_ and np.all(np.asarray(a.val) == value)


def _same_type(a: Any, out: Var) -> bool:
    return (a.aval.shape, a.aval.dtype) == (out.aval.shape, out.aval.dtype)


class _Simplifier:
    def __init__(self) -> None:
        self.rename: dict[Var, Any] = {}
        self.producer: dict[Var, Eqn] = {}
        self.uses: dict[Var, int] = {}
        self.emitted: list[Eqn] = []  # equations a rule adds before its result

    def sub(self, a: Any) -> Any:
        return self.rename.get(a, a) if type(a) is Var else a

    def count_uses(self, ir: IR) -> None:
        for eqn in ir.eqns:
            for a in eqn.invars:
                if type(a) is Var:
                    self.uses[a] = self.uses.get(a, 0) + 1
        for a in ir.outvars:
            if type(a) is Var:
                self.uses[a] = self.uses.get(a, 0) + 1

    def emit(self, prim: Any, invars: tuple, aval: Aval, params: dict, source: Any) -> Var:
        out = Var(aval)
        eqn = Eqn(prim, invars, (out,), params, source)
        self.emitted.append(eqn)
        self.producer[out] = eqn
        self.uses[out] = 1
        return out

    def run(self, ir: IR) -> IR:
        self.count_uses(ir)
        eqns: list[Eqn] = []
        for eqn in ir.eqns:
            eqn = eqn._replace(invars=tuple(self.sub(a) for a in eqn.invars))
            result = None if eqn.prim.multiple_results else self.rewrite(eqn)
            eqns.extend(self.emitted)
            self.emitted.clear()
            if result is None:
                new = eqn
            elif isinstance(result, Eqn):
                new = result
            else:
                old = eqn.outvars[0]
                self.rename[old] = result
                if type(result) is Var:
                    self.uses[result] = self.uses.get(result, 0) + self.uses.get(old, 0) - 1
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
        if name == "dot_general":
            return self.identity_dot(eqn)
        if name == "broadcast_in_dim":
            inner = self.producer.get(ins[0]) if type(ins[0]) is Var else None
            if (inner is not None and inner.prim.name == "broadcast_in_dim"
                    and inner.invars[0].aval.shape == ()):
                params = {"shape": out.aval.shape, "broadcast_dimensions": ()}
                return eqn._replace(invars=inner.invars, params=params)
        return None

    def fold(self, eqn: Eqn) -> Any:
        out = eqn.outvars[0]
        name, dtype = eqn.prim.name, out.aval.dtype
        args = [np.asarray(a.val, a.aval.dtype)[()] for a in eqn.invars]
        with np.errstate(all="ignore"):  # integers wrap and floats overflow as in XLA
            if name in _FOLD:
                value = _FOLD[name](*args)
            elif name == "div" and dtypes.is_inexact(dtype):
                value = np.divide(*args)
            elif name == "integer_pow" and abs(eqn.params["y"]) <= 2:
                y = eqn.params["y"]
                value = (np.multiply(args[0], args[0]) if abs(y) == 2 else
                         args[0] if abs(y) == 1 else np.ones((), dtype)[()])
                value = np.divide(np.ones((), dtype)[()], value) if y < 0 else value
            elif name == "convert_element_type" and not dtypes.is_complex(args[0].dtype) and (
                    dtypes.is_inexact(dtype) or not dtypes.is_inexact(args[0].dtype)):
                value = np.asarray(args[0]).astype(dtype)  # not float -> int: XLA saturates
            else:
                return None
        value = np.asarray(value, dtype)[()]
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
            eqn = eqn._replace(invars=tuple(new))
            return self.binary(eqn) or eqn  # the scalar may make an identity (1.0 * x)
        return None

    def transpose(self, eqn: Eqn) -> Any:
        (x,) = eqn.invars
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
        if inner.prim.name in ELEMENTWISE and self.uses.get(x, 2) == 1:
            return self.sink_transpose(eqn, inner)
        return None

    def sink_transpose(self, eqn: Eqn, inner: Eqn) -> Eqn | None:
        """transpose(f(a, b, ...)) -> f(transpose a, transpose b, ...) when every
        operand transposes for free (see ``free_transpose``)."""
        perm = eqn.params["permutation"]
        if not all(type(a) is Literal or a.aval.ndim == 0 or self.can_transpose(a, perm, 3)
                   for a in inner.invars):
            return None
        ins = tuple(a if a.aval.ndim == 0 else self.free_transpose(a, perm, eqn.source)
                    for a in inner.invars)
        return Eqn(inner.prim, ins, eqn.outvars, inner.params, eqn.source)

    def can_transpose(self, a: Any, perm: tuple, depth: int) -> bool:
        return self._transposed(a, perm, depth, None) is not None

    def free_transpose(self, a: Any, perm: tuple, source: Any) -> Any:
        return self._transposed(a, perm, 3, source)

    def _transposed(self, a: Any, perm: tuple, depth: int, source: Any) -> Any:
        """``transpose(a, perm)`` written without a transpose of ``a``'s data, or None.
        With ``source`` None this only checks (emits nothing, returns True)."""
        check = source is None
        shape = a.aval.shape
        new_shape = tuple(shape[p] for p in perm)
        if [p for p in perm if shape[p] != 1] == sorted(p for p in perm if shape[p] != 1):
            if check:
                return True  # only size-1 axes move: a reshape
            if new_shape == shape:
                return a
            inner = self.producer.get(a) if type(a) is Var else None
            if inner is not None and inner.prim.name == "reshape":
                a = inner.invars[0]  # a reshape of a reshape: one reshape
            return self.emit(reshape_p, (a,), a.aval.update(shape=new_shape),
                             {"new_sizes": new_shape}, source)
        inner = self.producer.get(a) if type(a) is Var else None
        if inner is None or depth == 0 or self.uses.get(a, 2) != 1:
            return None
        name = inner.prim.name
        if name == "transpose":
            if check:
                return True
            composed = tuple(inner.params["permutation"][p] for p in perm)
            src = inner.invars[0]
            if composed == tuple(range(len(composed))):
                return src
            return self.emit(transpose_p, (src,), a.aval.update(shape=new_shape),
                             {"permutation": composed}, source)
        if name == "dot_general":
            probe = Eqn(transpose_p, (a,), (Var(a.aval.update(shape=new_shape)),),
                        {"permutation": perm}, source)
            swapped = self.swap_dot(probe, inner)
            if swapped is None:
                return None
            if check:
                return True
            self.emitted.append(swapped)
            self.producer[swapped.outvars[0]] = swapped
            self.uses[swapped.outvars[0]] = 1
            return swapped.outvars[0]
        if name == "reshape":
            (y,) = inner.invars
            kept = [i for i, n in enumerate(shape) if n != 1]
            if 1 in y.aval.shape or tuple(shape[i] for i in kept) != y.aval.shape:
                return None  # not a pure insertion of unit axes
            y_perm = tuple(kept.index(p) for p in perm if shape[p] != 1)
            y_t = self._transposed(y, y_perm, depth - 1, source)
            if y_t is None or check:
                return y_t
            return self.emit(reshape_p, (y_t,), a.aval.update(shape=new_shape),
                             {"new_sizes": new_shape}, source)
        return None

    def is_identity(self, a: Any) -> bool:
        """``a`` is an n x n identity matrix built as convert(eq(iota0, iota1))."""
        conv = self.producer.get(a) if type(a) is Var else None
        if conv is None or conv.prim.name != "convert_element_type" or a.aval.ndim != 2:
            return False
        eq = self.producer.get(conv.invars[0]) if type(conv.invars[0]) is Var else None
        if eq is None or eq.prim.name != "eq" or a.aval.shape[0] != a.aval.shape[1]:
            return False
        iotas = [self.producer.get(v) if type(v) is Var else None for v in eq.invars]
        if any(i is None or i.prim.name != "iota" for i in iotas):
            return False
        return {i.params["dimension"] for i in iotas} == {0, 1}

    def identity_dot(self, eqn: Eqn) -> Any:
        """dot_general(x, I) or dot_general(I, x) -> x's axes in the product's order."""
        (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
        out = eqn.outvars[0]
        if xb or yb or len(xc) != 1:
            return None
        x, y = eqn.invars
        if self.is_identity(y):
            other, c = x, xc[0]
            perm = tuple(i for i in range(x.aval.ndim) if i != c) + (c,)
        elif self.is_identity(x):
            other, c = y, yc[0]
            perm = (c,) + tuple(i for i in range(y.aval.ndim) if i != c)
        else:
            return None
        if type(other) is not Var or other.aval.weak_type != out.aval.weak_type:
            return None
        if other.aval.dtype != out.aval.dtype:
            return None
        if perm == tuple(range(len(perm))):
            return other
        return Eqn(transpose_p, (other,), eqn.outvars, {"permutation": perm}, eqn.source)

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
