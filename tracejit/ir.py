"""The IR: abstract values, variables, literals, equations and (closed) programs.

Everything here is immutable once built; passes and transforms build new IRs
(they may share ``Var`` objects with the IR they came from, since a ``Var`` is
just an identity with an abstract value).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tracejit import dtypes


class Aval(NamedTuple):
    """Abstract value: what tracing knows about an array (shape, dtype, weak type)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    weak_type: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def strong(self) -> Aval:
        return Aval(self.shape, self.dtype, False)

    def update(self, shape=None, dtype=None, weak_type=None) -> Aval:
        return Aval(
            self.shape if shape is None else tuple(shape),
            self.dtype if dtype is None else np.dtype(dtype),
            self.weak_type if weak_type is None else weak_type,
        )

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __str__(self) -> str:
        return self.str_short()


class Var:
    """A variable of the IR: an identity carrying an abstract value."""

    __slots__ = ("aval",)

    def __init__(self, aval: Aval):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval})"


class Literal:
    """A scalar constant written inline in the IR (``2.0:f32[]``).

    ``val`` is a Python scalar when the literal is weakly typed, else a numpy
    scalar of the literal's dtype, so that re-binding it reproduces its type.
    """

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: Aval):
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({self.val!r}:{self.aval})"

    def _key(self) -> tuple:
        return (self.aval, np.asarray(self.val, self.aval.dtype).tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


Atom = Var | Literal


class SourceInfo(NamedTuple):
    """Where in user code an equation was traced (for error messages)."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno} ({self.function})"


class Eqn(NamedTuple):
    """One primitive application: ``outvars = prim[params] invars``."""

    prim: Any  # tracejit.primitive.Primitive (kept untyped here to avoid a cycle)
    invars: tuple[Atom, ...]
    outvars: tuple[Var, ...]
    params: dict[str, Any]
    source: SourceInfo | None = None


class IR:
    """A program: ``{ lambda constvars ; invars. let eqns in (outvars) }``."""

    __slots__ = ("constvars", "invars", "eqns", "outvars")

    def __init__(
        self,
        constvars: tuple[Var, ...],
        invars: tuple[Var, ...],
        eqns: tuple[Eqn, ...],
        outvars: tuple[Atom, ...],
    ):
        self.constvars = tuple(constvars)
        self.invars = tuple(invars)
        self.eqns = tuple(eqns)
        self.outvars = tuple(outvars)

    @property
    def in_avals(self) -> tuple[Aval, ...]:
        return tuple(v.aval for v in self.invars)

    @property
    def out_avals(self) -> tuple[Aval, ...]:
        return tuple(v.aval for v in self.outvars)

    def __str__(self) -> str:
        from tracejit.ir_print import pp_ir

        return pp_ir(self)

    __repr__ = __str__


class ClosedIR:
    """An IR together with the values of its constants.

    A const is a concrete array, or a tracer of an enclosing trace when the IR
    closed over a value of an outer transform (closure conversion).
    """

    __slots__ = ("ir", "consts")

    def __init__(self, ir: IR, consts: tuple | list = ()):
        assert len(consts) == len(ir.constvars), (len(consts), len(ir.constvars))
        self.ir = ir
        self.consts = tuple(consts)

    @property
    def invars(self) -> tuple[Var, ...]:
        return self.ir.invars

    @property
    def outvars(self) -> tuple[Atom, ...]:
        return self.ir.outvars

    @property
    def eqns(self) -> tuple[Eqn, ...]:
        return self.ir.eqns

    @property
    def constvars(self) -> tuple[Var, ...]:
        return self.ir.constvars

    @property
    def in_avals(self) -> tuple[Aval, ...]:
        return self.ir.in_avals

    @property
    def out_avals(self) -> tuple[Aval, ...]:
        return self.ir.out_avals

    def check(self) -> None:
        """Re-infer every equation's types; raise ``IRTypeError`` on a mismatch."""
        from tracejit.ir_check import check_ir

        check_ir(self.ir)

    def __str__(self) -> str:
        from tracejit.ir_print import pp_ir

        return pp_ir(self.ir)

    __repr__ = __str__


def count_eqns(ir: IR | ClosedIR, *, nested: bool = True) -> int:
    """Number of equations, counting those of nested IRs when ``nested``."""
    ir = ir.ir if isinstance(ir, ClosedIR) else ir
    total = 0
    for eqn in ir.eqns:
        total += 1
        if nested:
            for sub in nested_irs(eqn.params):
                total += count_eqns(sub)
    return total


def nested_irs(params: dict[str, Any]) -> list[ClosedIR]:
    """The IRs held in an equation's params (control-flow bodies, branches)."""
    found = []
    for value in params.values():
        if isinstance(value, (ClosedIR, IR)):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, (ClosedIR, IR)))
    return found
