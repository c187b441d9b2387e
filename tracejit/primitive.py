"""Primitives: a name declared once together with all of its rules.

Rule signatures (the field's vocabulary, as in JAX and autodidax):

- ``abstract_eval(*avals, **params) -> Aval`` (a list of avals when the
  primitive has multiple results); raises ``TypeError``/``ValueError`` naming
  the primitive, the shapes and the dtypes.
- ``lower(*vals, **params)``: the jax.lax implementation. It is both the eager
  implementation and the lowering used under ``jit``.
- ``jvp(primals, tangents, **params) -> (primal_out, tangent_out)``: tangents
  are ``None`` when symbolically zero; the rule is written with tracejit ops
  so it traces into IR and can be differentiated again. The tangent part must
  be linear in the tangents (reverse mode transposes it).
- ``transpose(ct, *args, **params) -> list``: only for primitives linear in
  some inputs; linear inputs arrive as ``UndefinedPrimal``; returns one
  cotangent (or ``None``) per input.
- ``batch(args, dims, **params) -> (out, out_dim)``: ``dims`` holds each
  argument's batch dimension or ``None``.
- ``partial_eval(eqn, unknowns) -> (known_eqns, unknown_eqns, out_unknowns)``:
  optional, for primitives holding nested IRs (control flow, custom rules,
  checkpoint) that must be split rather than sent whole to the unknown side
  when some inputs are unknown. Known equations may define new variables
  (residuals) that unknown equations read.

A primitive whose outputs carry no derivative (integer results, comparisons)
sets ``jvp=ZERO_TANGENT``; one that is never linear keeps
``transpose=NOT_LINEAR``.
The registry test checks that every primitive has every rule it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NOT_LINEAR = "not linear"
ZERO_TANGENT = "zero tangent"


@dataclass(frozen=True, eq=False)
class Primitive:
    """A primitive operation of the IR and every rule tracejit needs for it."""

    name: str
    abstract_eval: Callable[..., Any]
    lower: Callable[..., Any]
    jvp: Callable[..., Any] | None = None
    transpose: Callable[..., Any] | str | None = NOT_LINEAR
    batch: Callable[..., Any] | None = None
    multiple_results: bool = False
    partial_eval: Callable[..., Any] | None = None
    # Primitives that can never be executed eagerly on their own (none yet)
    # or need special handling by passes declare it here.
    effects: frozenset = field(default_factory=frozenset)

    def bind(self, *args: Any, **params: Any) -> Any:
        from tracejit.tracing import bind

        return bind(self, args, params)

    def __repr__(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


REGISTRY: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    """Add a primitive to the registry (once, at import of its family file)."""
    if prim.name in REGISTRY:
        raise ValueError(f"primitive {prim.name!r} is declared twice")
    REGISTRY[prim.name] = prim
    return prim


def set_rule(prim: Primitive, kind: str, rule: Callable[..., Any]) -> None:
    """Attach a rule that must refer to its own primitive (built by a family helper).

    Called once, right after the declaration, in the primitive's family file.
    """
    if kind not in ("jvp", "transpose", "batch", "partial_eval"):
        raise ValueError(f"unknown rule kind {kind!r}")
    object.__setattr__(prim, kind, rule)
