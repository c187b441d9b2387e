"""Reduction primitives over a set of axes."""

from __future__ import annotations

import jax

from tracejit.ir import Aval
from tracejit.primitive import Primitive, register, set_rule
from tracejit.tracing import aval_of

lax = jax.lax


def _check_axes(name: str, x: Aval, axes: tuple[int, ...]) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"{name}: invalid axes {axes} for operand {x}")


def reduced_aval(name: str, x: Aval, axes: tuple[int, ...], dtype=None) -> Aval:
    _check_axes(name, x, axes)
    shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return Aval(shape, x.dtype if dtype is None else dtype, x.weak_type and dtype is None)


def reduction_batch(prim: Primitive):
    """Batching rule shared by reductions: shift the axes past the batch dimension."""

    def rule(args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        new_axes = tuple(a + (a >= d) for a in axes)
        out_d = d - sum(a < d for a in axes)
        return prim.bind(x, axes=new_axes, **params), out_d

    return rule


# --- reduce_sum ----------------------------------------------------------------------


def _reduce_sum_transpose(ct, x, *, axes):
    from tracejit.primitives.shape import broadcast_in_dim

    if ct is None:
        return [None]
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, kept)]


reduce_sum_p = register(
    Primitive(
        "reduce_sum",
        abstract_eval=lambda x, *, axes: reduced_aval("reduce_sum", x, axes),
        lower=lambda x, *, axes: lax.reduce_sum(x, axes),
        jvp=lambda p, t, *, axes: (
            reduce_sum(p[0], axes),
            None if t[0] is None else reduce_sum(t[0], axes),
        ),
        transpose=_reduce_sum_transpose,
    )
)
set_rule(reduce_sum_p, "batch", reduction_batch(reduce_sum_p))


def reduce_sum(x, axes):
    """Sum over ``axes``; no equation when ``axes`` is empty."""
    axes = tuple(sorted(int(a) % max(len(aval_of(x).shape), 1) for a in axes))
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)
