"""Reduction primitives over a set of axes: reduce_sum, reduce_max, reduce_min,
reduce_prod, reduce_and, reduce_or, argmax, argmin.

Each takes ``axes`` (distinct, in range) and removes them. They share one
batching rule: a vmapped reduction is one reduction with its axes shifted past
the batch dimension.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import NOT_LINEAR, ZERO_TANGENT, Primitive, register, set_rule
from tracejit.tracing import aval_of

lax = jax.lax

_KINDS = {
    "numeric": (lambda d: d != dtypes.bool_, "a numeric (non-boolean)"),
    "any": (lambda d: True, "any"),
    "int_or_bool": (lambda d: d == dtypes.bool_ or dtypes.is_integer(d), "an integer or boolean"),
}


def _check_axes(name: str, x: Aval, axes: tuple[int, ...]) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(
            f"{name}: invalid axes {axes} for operand {x} of rank {x.ndim}; "
            f"axes must be distinct and in [0, {x.ndim})"
        )


def reduced_aval(name: str, x: Aval, axes: tuple[int, ...], dtype=None) -> Aval:
    """``x``'s aval without ``axes`` (and with ``dtype`` when given: never weak then)."""
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


def _reduction_abstract_eval(name: str, kind: str):
    check, what = _KINDS[kind]

    def rule(x: Aval, *, axes: tuple[int, ...]) -> Aval:
        if not check(x.dtype):
            raise TypeError(f"{name}: expected {what} operand, got {x}")
        return reduced_aval(name, x, axes)

    return rule


def _declare(name, lower, kind, jvp=None, transpose=NOT_LINEAR, abstract_eval=None):
    prim = Primitive(
        name,
        abstract_eval=abstract_eval or _reduction_abstract_eval(name, kind),
        lower=lower,
        jvp=jvp,
        transpose=transpose,
    )
    set_rule(prim, "batch", reduction_batch(prim))
    return register(prim)


def _kept(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def _unreduce(y, shape: tuple[int, ...], axes: tuple[int, ...]):
    """``y`` (reduced over ``axes``) broadcast back to ``shape``."""
    from tracejit.primitives.shape import broadcast_in_dim

    return broadcast_in_dim(y, shape, _kept(len(shape), axes))


# --- reduce_sum ----------------------------------------------------------------------


def _reduce_sum_transpose(ct, x, *, axes):
    if ct is None:
        return [None]
    return [_unreduce(ct, x.aval.shape, axes)]


reduce_sum_p = _declare(
    "reduce_sum",
    lambda x, *, axes: lax.reduce_sum(x, axes),
    "numeric",
    jvp=lambda p, t, *, axes: (
        reduce_sum(p[0], axes),
        None if t[0] is None else reduce_sum(t[0], axes),
    ),
    transpose=_reduce_sum_transpose,
)


# --- reduce_max / reduce_min ------------------------------------------------------------


def _chooser_jvp(prim: Primitive):
    def rule(primals, tangents, *, axes):
        from tracejit.primitives.elementwise import convert_element_type, div, eq, mul

        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        if t is None:
            return out, None
        # d max = sum_i t_i [x_i == max] / #{i : x_i == max}: tied elements share the
        # derivative equally (JAX's convention), so the rule is linear in t.
        where = eq(x, _unreduce(out, aval_of(x).shape, axes))
        where = convert_element_type(where, aval_of(t).dtype)
        return out, div(reduce_sum(mul(t, where), axes), reduce_sum(where, axes))

    return rule


reduce_max_p = _declare("reduce_max", lambda x, *, axes: lax.reduce_max(x, axes), "any")
set_rule(reduce_max_p, "jvp", _chooser_jvp(reduce_max_p))
reduce_min_p = _declare("reduce_min", lambda x, *, axes: lax.reduce_min(x, axes), "any")
set_rule(reduce_min_p, "jvp", _chooser_jvp(reduce_min_p))


# --- reduce_prod ----------------------------------------------------------------------------


def products_of_others(x, axes: tuple[int, ...]):
    """``prod_{j != i} x_j`` over ``axes`` at every i, computed without division.

    The reduced axes are moved last and flattened; the product of the others is
    the exclusive prefix product times the exclusive suffix product, so zeros
    (one or several) give exact results.
    """
    from tracejit.primitives.cumulative import exclusive_cumprod
    from tracejit.primitives.elementwise import mul
    from tracejit.primitives.shape import reshape, transpose

    shape = aval_of(x).shape
    kept = _kept(len(shape), axes)
    perm = kept + tuple(axes)
    n = math.prod(shape[a] for a in axes)
    flat = reshape(transpose(x, perm), tuple(shape[i] for i in kept) + (n,))
    last = len(kept)
    others = mul(exclusive_cumprod(flat, last), exclusive_cumprod(flat, last, reverse=True))
    others = reshape(others, tuple(shape[i] for i in perm))
    return transpose(others, tuple(int(i) for i in np.argsort(perm)))


def _reduce_prod_jvp(primals, tangents, *, axes):
    from tracejit.primitives.elementwise import mul

    (x,), (t,) = primals, tangents
    out = reduce_prod(x, axes)
    if t is None:
        return out, None
    # d prod = sum_i t_i prod_{j != i} x_j (no division by x, so exact at zeros).
    return out, reduce_sum(mul(t, products_of_others(x, axes)), axes)


reduce_prod_p = _declare(
    "reduce_prod",
    lambda x, *, axes: lax.reduce_prod(x, axes),
    "numeric",
    jvp=_reduce_prod_jvp,
)


# --- reduce_and / reduce_or ----------------------------------------------------------------

reduce_and_p = _declare(
    "reduce_and", lambda x, *, axes: lax.reduce_and(x, axes), "int_or_bool", ZERO_TANGENT
)
reduce_or_p = _declare(
    "reduce_or", lambda x, *, axes: lax.reduce_or(x, axes), "int_or_bool", ZERO_TANGENT
)


# --- argmax / argmin ---------------------------------------------------------------------


def _arg_abstract_eval(name: str):
    def rule(x: Aval, *, axes: tuple[int, ...], index_dtype: np.dtype) -> Aval:
        if len(axes) != 1:
            raise ValueError(f"{name}: expects exactly one axis, got axes={axes} for {x}")
        if not dtypes.is_integer(index_dtype):
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        out = reduced_aval(name, x, axes, index_dtype)
        if x.shape[axes[0]] == 0:
            raise ValueError(
                f"{name}: attempt to get {name} of an empty sequence (axis {axes[0]} of {x} "
                "has size 0)"
            )
        return out

    return rule


def _declare_arg(name: str, lower) -> Primitive:
    return _declare(
        name,
        lambda x, *, axes, index_dtype: lower(x, axes[0], index_dtype),
        "any",
        ZERO_TANGENT,
        abstract_eval=_arg_abstract_eval(name),
    )


argmax_p = _declare_arg("argmax", lax.argmax)
argmin_p = _declare_arg("argmin", lax.argmin)


# --- the lax-level functions ------------------------------------------------------------------


def _canonical_axes(x, axes) -> tuple[int, ...]:
    rank = len(aval_of(x).shape)
    return tuple(sorted(int(a) % rank if rank and -rank <= a < rank else int(a) for a in axes))


def _reducer(prim: Primitive, doc: str):
    def fn(operand, axes):
        axes = _canonical_axes(operand, axes)
        if not axes:
            return operand
        return prim.bind(operand, axes=axes)

    fn.__name__ = prim.name
    fn.__doc__ = f"{doc} over ``axes`` (jax.lax.{prim.name}); no equation when ``axes`` is empty."
    return fn


reduce_sum = _reducer(reduce_sum_p, "Sum")
reduce_max = _reducer(reduce_max_p, "Maximum")
reduce_min = _reducer(reduce_min_p, "Minimum")
reduce_prod = _reducer(reduce_prod_p, "Product")
reduce_and = _reducer(reduce_and_p, "Logical/bitwise AND")
reduce_or = _reducer(reduce_or_p, "Logical/bitwise OR")


def argmax(operand, axis: int, index_dtype):
    """Index of the (first) maximum along ``axis`` (jax.lax.argmax)."""
    (axis,) = _canonical_axes(operand, (axis,))
    return argmax_p.bind(operand, axes=(axis,), index_dtype=dtypes.canonicalize(index_dtype))


def argmin(operand, axis: int, index_dtype):
    """Index of the (first) minimum along ``axis`` (jax.lax.argmin)."""
    (axis,) = _canonical_axes(operand, (axis,))
    return argmin_p.bind(operand, axes=(axis,), index_dtype=dtypes.canonicalize(index_dtype))
