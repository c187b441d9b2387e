"""Windowed reductions: the pooling primitives ``reduce_window_sum``,
``reduce_window_max`` and ``reduce_window_min``, and ``reduce_window``.

Params shared by every primitive here: ``window_dimensions``,
``window_strides``, ``padding`` (one ``(lo, hi)`` pair per dim),
``base_dilation`` and ``window_dilation``, as in jax.lax.reduce_window.

- ``reduce_window_sum`` is linear; its transpose runs a window sum over the
  cotangent dilated by the strides (the same geometry as a convolution's
  lhs transpose).
- ``reduce_window_max``/``min``: the tangent of each output is the tangent of
  the element its window chose, ``select_and_gather_add(t, x)`` (linear in
  ``t``; see tracejit.primitives.select_and_scatter). Ties follow XLA's select
  semantics, as in JAX.
- Batching adds a window dimension of size 1 over the batch axis.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import NOT_LINEAR, Primitive, register, set_rule
from tracejit.primitives._windows import (
    identity,
    insert_unit_window,
    vjp_lhs_padding,
    window_params,
    window_shape,
)
from tracejit.primitives.select_and_scatter import select_and_gather_add_p
from tracejit.tracing import aval_of, concrete_or_none

lax = jax.lax


def _reduce_window_abstract_eval(name: str, kind: str):
    def rule(x: Aval, **params) -> Aval:
        if kind == "numeric" and x.dtype == dtypes.bool_:
            raise TypeError(f"{name}: expected a numeric operand, got {x}")
        return Aval(window_shape(name, x, **params), x.dtype, x.weak_type)

    return rule


_MONOID = {"sum": lax.add, "max": lax.max, "min": lax.min}


def _reduce_window_lower(kind: str):
    def lower(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        init = identity(kind, np.dtype(x.dtype))
        return lax.reduce_window(
            x,
            init,
            _MONOID[kind],
            window_dimensions,
            window_strides,
            padding,
            base_dilation,
            window_dilation,
        )

    return lower


def _unary_window_batch(prim: Primitive):
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **insert_unit_window(params, d)), d

    return rule


def _declare_reduce(kind: str, jvp, transpose) -> Primitive:
    name = f"reduce_window_{kind}"
    prim = Primitive(
        name,
        abstract_eval=_reduce_window_abstract_eval(name, "numeric" if kind == "sum" else "any"),
        lower=_reduce_window_lower(kind),
        jvp=jvp,
        transpose=transpose,
    )
    set_rule(prim, "batch", _unary_window_batch(prim))
    return register(prim)


# --- reduce_window_sum --------------------------------------------------------------------


def _sum_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    return reduce_window_sum_p.bind(x, **params), reduce_window_sum_p.bind(t, **params)


def _sum_transpose(
    ct, x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation
):
    from tracejit.primitives.shape import pad

    if ct is None:
        return [None]
    in_shape = x.aval.shape
    pads = vjp_lhs_padding(
        in_shape,
        window_dimensions,
        window_strides,
        aval_of(ct).shape,
        padding,
        base_dilation,
        window_dilation,
    )
    # Spread the cotangent back over the stride grid, then sum each input
    # element's windows (the window is symmetric in what it sums, so no flip).
    config = [(lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides, strict=True)]
    spread = pad(ct, np.zeros((), aval_of(ct).dtype)[()], config)
    ones = (1,) * len(in_shape)
    out = reduce_window_sum_p.bind(
        spread,
        window_dimensions=window_dimensions,
        window_strides=base_dilation,
        padding=tuple((0, 0) for _ in in_shape),
        base_dilation=ones,
        window_dilation=window_dilation,
    )
    return [out]


reduce_window_sum_p = _declare_reduce("sum", _sum_jvp, _sum_transpose)


# --- reduce_window_max / reduce_window_min ---------------------------------------------------


def _chooser_jvp(kind: str, select: str):
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        prim = reduce_window_max_p if kind == "max" else reduce_window_min_p
        return prim.bind(x, **params), select_and_gather_add_p.bind(
            t, x, select_prim=select, **params
        )

    return jvp


reduce_window_max_p = _declare_reduce("max", _chooser_jvp("max", "ge"), NOT_LINEAR)
reduce_window_min_p = _declare_reduce("min", _chooser_jvp("min", "le"), NOT_LINEAR)


# --- the lax-level functions -------------------------------------------------------------------


def _reducer(prim: Primitive, name: str):
    def fn(
        operand: Any,
        window_dimensions: Sequence[int],
        window_strides: Sequence[int],
        padding: Any,
        base_dilation: Sequence[int] | None = None,
        window_dilation: Sequence[int] | None = None,
    ) -> Any:
        params = window_params(
            name,
            operand,
            window_dimensions,
            window_strides,
            padding,
            base_dilation,
            window_dilation,
        )
        return prim.bind(operand, **params)

    fn.__name__ = name
    fn.__doc__ = (
        f"``{name}`` over windows of ``operand`` (padding: 'VALID', 'SAME' or pairs); "
        "padded positions hold the reduction's identity."
    )
    return fn


reduce_window_sum = _reducer(reduce_window_sum_p, "reduce_window_sum")
reduce_window_max = _reducer(reduce_window_max_p, "reduce_window_max")
reduce_window_min = _reducer(reduce_window_min_p, "reduce_window_min")


def _monoid_kind(computation: Callable) -> str | None:
    from tracejit.primitives import elementwise as ew

    table = {
        "sum": (ew.add, lax.add, operator.add, np.add),
        "max": (ew.max, lax.max, np.maximum),
        "min": (ew.min, lax.min, np.minimum),
    }
    for kind, fns in table.items():
        if any(computation is f for f in fns):
            return kind
    return None


def reduce_window(
    operand: Any,
    init_value: Any,
    computation: Callable,
    window_dimensions: Sequence[int],
    window_strides: Sequence[int],
    padding: Any,
    base_dilation: Sequence[int] | None = None,
    window_dilation: Sequence[int] | None = None,
) -> Any:
    """jax.lax.reduce_window for the monoids add, max and min.

    Args:
      operand: the array to reduce.
      init_value: the monoid's identity (0 for add, -inf / the dtype's minimum for
        max, +inf / the maximum for min); padding holds it.
      computation: ``tj.lax.add``/``max``/``min`` (jax.lax's and numpy's are accepted).
      window_dimensions, window_strides, padding, base_dilation, window_dilation:
        as in jax.lax.reduce_window.

    Raises:
      TypeError: for another computation.
      ValueError: for an init_value that is not the computation's identity.
    """
    kind = _monoid_kind(computation)
    if kind is None:
        raise TypeError(
            f"reduce_window: computation {getattr(computation, '__name__', computation)!r} is "
            "not supported; use tj.lax.add, tj.lax.max or tj.lax.min (or reduce_window_sum / "
            "reduce_window_max / reduce_window_min)"
        )
    dtype = aval_of(operand).dtype
    unit = identity(kind, dtype)
    init = concrete_or_none(init_value)
    if init is None or np.shape(init) != () or np.asarray(init, dtype) != unit:
        raise ValueError(
            f"reduce_window: init_value {init_value!r} must be the identity of {kind} for "
            f"{aval_of(operand)} ({unit!r}); add a different start value to the result"
        )
    fn = {"sum": reduce_window_sum, "max": reduce_window_max, "min": reduce_window_min}[kind]
    return fn(operand, window_dimensions, window_strides, padding, base_dilation, window_dilation)
