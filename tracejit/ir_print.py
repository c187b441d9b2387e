"""The IR printer: a jaxpr-like listing, one equation a line, nested IRs indented.

    { lambda a:f32[3] ; b:f32[3] c:f32[]. let
        d:f32[3] = sin b
        e:f32[3] = mul d c
      in (e,) }

Names are generated per listing (a, b, ..., z, ba, bb, ...) so the output is
deterministic; nested IRs get their own names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit.ir import IR, ClosedIR, Literal, Var


def _name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = letters[i % 26]
    i //= 26
    while i:
        name = letters[i % 26] + name
        i //= 26
    return name


class _Names:
    def __init__(self) -> None:
        self.names: dict[Var, str] = {}

    def __call__(self, v: Any) -> str:
        if isinstance(v, Literal):
            return f"{_fmt_scalar(v.val)}:{v.aval}"
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = _name(len(self.names))
        return name

    def decl(self, v: Var) -> str:
        return f"{self(v)}:{v.aval}"


def _fmt_scalar(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return str(x)


def _fmt_param(value: Any, indent: int) -> str:
    if isinstance(value, (IR, ClosedIR)):
        return "\n" + pp_ir(value, indent + 4)
    if isinstance(value, tuple) and any(isinstance(v, (IR, ClosedIR)) for v in value):
        pad = " " * (indent + 2)
        inner = "\n".join(pp_ir(v, indent + 4) for v in value)
        return f"(\n{inner}\n{pad})"
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if isinstance(value, tuple):
        items = ", ".join(_fmt_param(v, indent) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _fmt_scalar(value)
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return repr(value) if isinstance(value, str) else str(value)


def pp_ir(ir: IR | ClosedIR, indent: int = 0) -> str:
    """Render an IR as text (the format is part of the public contract)."""
    ir = ir.ir if isinstance(ir, ClosedIR) else ir
    names = _Names()
    pad = " " * indent
    consts = " ".join(names.decl(v) for v in ir.constvars)
    ins = " ".join(names.decl(v) for v in ir.invars)
    head = f"{pad}{{ lambda {consts}{' ' if consts else ''}; {ins}. let"
    lines = [head]
    for eqn in ir.eqns:
        outs = " ".join(names.decl(v) for v in eqn.outvars)
        args = " ".join(names(a) for a in eqn.invars)
        params = ""
        if eqn.params:
            parts = [f"{k}={_fmt_param(v, indent + 4)}" for k, v in sorted(eqn.params.items())]
            if any("\n" in p for p in parts):
                inner = "\n".join(f"{pad}      {p}" for p in parts)
                params = f"[\n{inner}\n{pad}    ]"
            else:
                params = f"[{' '.join(parts)}]"
        lhs = outs if outs else "_"
        lines.append(f"{pad}    {lhs} = {eqn.prim.name}{params} {args}".rstrip())
    outs = ", ".join(names(a) for a in ir.outvars)
    trailing = "," if len(ir.outvars) == 1 else ""
    lines.append(f"{pad}  in ({outs}{trailing}) }}")
    return "\n".join(lines)
