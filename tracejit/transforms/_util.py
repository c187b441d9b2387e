"""Helpers shared by the user-facing transforms: argument checks and tracing
of pytree functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from tracejit.ir import ClosedIR
from tracejit.tracing import (
    Tracer,
    aval_of,
    current_builder,
    is_arraylike,
    source_of,
    trace_flat,
)

tree_util = jax.tree_util


def fun_name(fun: Callable) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


def check_leaves(what: str, tree: Any) -> None:
    """Raise ``TypeError`` naming the first leaf of ``tree`` that is not an array."""
    leaves = tree_util.tree_leaves(tree)
    if all(is_arraylike(x) for x in leaves):
        return
    for path, leaf in tree_util.tree_flatten_with_path(tree)[0]:
        if not is_arraylike(leaf):
            where = tree_util.keystr(path) or "(top level)"
            raise TypeError(
                f"{what}: argument {where} has type {type(leaf).__name__}, which is not an "
                "array; pass jax.Array / numpy arrays / Python scalars (or mark it static "
                "with jit(..., static_argnums=...))"
            )


def flatten_args(what: str, args: Sequence[Any]) -> tuple[list, Any]:
    leaves, tree = tree_util.tree_flatten(tuple(args))
    if not all(is_arraylike(x) for x in leaves):
        for i, a in enumerate(args):
            check_leaves(f"{what} (positional argument {i})", a)
    return leaves, tree


def trace_pytree(
    fun: Callable,
    flat_args: Sequence[Any],
    in_tree: Any,
    *,
    kind: str,
    concrete: bool = True,
    in_avals: Sequence[Any] | None = None,
) -> tuple[ClosedIR, Any]:
    """Trace ``fun(*unflatten(in_tree, flat))``; returns the IR and the output tree.

    With ``concrete``, the trace may look at the arguments' values (Python
    control flow on values works outside ``jit``).
    """
    out_tree_box: list = []

    def flat_fun(*tracers):
        args = tree_util.tree_unflatten(in_tree, tracers)
        out = fun(*args)
        leaves, out_tree = tree_util.tree_flatten(out)
        if not all(is_arraylike(x) for x in leaves):
            check_leaves(f"output of {fun_name(fun)}", out)
        out_tree_box.append(out_tree)
        return leaves

    avals = [aval_of(x) for x in flat_args] if in_avals is None else in_avals
    sources = [source_of(x) for x in flat_args] if concrete else None
    cir = trace_flat(flat_fun, avals, kind=kind, sources=sources)
    return cir, out_tree_box[0]


def normalize_argnums(argnums: int | Sequence[int], nargs: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{what}: argnums={argnums} is out of range for a call with {nargs} "
                "positional arguments"
            )
    return tuple(a % nargs for a in nums)


def to_output(tree: Any) -> Any:
    """Eager results are ``jax.Array``s (a transform may pass inputs through)."""
    if current_builder() is not None:
        return tree
    import jax.numpy as jnp

    def leaf(v: Any) -> Any:
        if isinstance(v, (jax.Array, Tracer)) or v is None:
            return v
        if isinstance(v, np.ndarray) and v.dtype == jax.dtypes.float0:
            return v
        return jnp.asarray(v)

    return tree_util.tree_map(leaf, tree)


def is_tracer(x: Any) -> bool:
    return isinstance(x, Tracer)


def zeros_for(aval) -> Any:
    import jax.numpy as jnp

    return jnp.zeros(aval.shape, aval.dtype)


def float0_zeros(aval) -> np.ndarray:
    return np.zeros(aval.shape, dtype=jax.dtypes.float0)
