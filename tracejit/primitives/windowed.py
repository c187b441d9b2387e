"""Windowed reductions (the pooling primitives) and the select-and-gather /
select-and-scatter pair that carries max/min pooling's derivatives.

Params shared by every primitive here: ``window_dimensions``,
``window_strides``, ``padding`` (one ``(lo, hi)`` pair per dim),
``base_dilation`` and ``window_dilation``, as in jax.lax.reduce_window.

- ``reduce_window_sum`` is linear; its transpose runs a window sum over the
  cotangent dilated by the strides (the same geometry as a convolution's
  lhs transpose).
- ``reduce_window_max``/``min``: the tangent of each output is the tangent of
  the element its window chose, ``select_and_gather_add(t, x)``, linear in
  ``t``; its transpose ``select_and_scatter_add(ct, x)`` adds each cotangent
  to the chosen element, and transposes back to the gather. Ties follow XLA's
  select semantics, as in JAX.
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
from tracejit.primitives._rules import bdim_to_front, is_undefined
from tracejit.primitives.conv import (
    canonical_padding,
    dilate_dim,
    padtype_to_pads,
    stride_dim,
    vjp_lhs_padding,
)
from tracejit.tracing import aval_of, concrete_or_none

lax = jax.lax

_SELECT = {"ge": lax.ge_p, "le": lax.le_p}


def _window_shape(
    name: str, x: Aval, window_dimensions, window_strides, padding, base_dilation, window_dilation
) -> tuple[int, ...]:
    n = x.ndim
    for what, v in (
        ("window_dimensions", window_dimensions),
        ("window_strides", window_strides),
        ("padding", padding),
        ("base_dilation", base_dilation),
        ("window_dilation", window_dilation),
    ):
        if len(v) != n:
            raise TypeError(f"{name}: {what}={tuple(v)} needs one entry per dimension of {x}")
    if any(v < 1 for v in (*window_dimensions, *window_strides, *base_dilation, *window_dilation)):
        raise ValueError(f"{name}: window sizes, strides and dilations must be >= 1 for {x}")
    out = []
    for size, w, s, (lo, hi), bd, wd in zip(
        x.shape,
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
        strict=True,
    ):
        padded = dilate_dim(size, bd) + lo + hi
        if padded < 0:
            raise ValueError(f"{name}: padding {tuple(padding)} crops more than all of {x}")
        out.append(stride_dim(padded, dilate_dim(w, wd), s))
    return tuple(out)


def _reduce_window_abstract_eval(name: str, kind: str):
    def rule(x: Aval, **params) -> Aval:
        if kind == "numeric" and x.dtype == dtypes.bool_:
            raise TypeError(f"{name}: expected a numeric operand, got {x}")
        return Aval(_window_shape(name, x, **params), x.dtype, x.weak_type)

    return rule


def _identity(kind: str, dtype: np.dtype) -> np.generic:
    """The value a window reduction starts from (and pads with)."""
    if kind == "sum":
        return np.zeros((), dtype)[()]
    big = kind == "min"
    if dtype == dtypes.bool_:
        return np.asarray(big, dtype)[()]
    if dtypes.is_integer(dtype):
        info = np.iinfo(dtype)
        return np.asarray(info.max if big else info.min, dtype)[()]
    return np.asarray(np.inf if big else -np.inf, dtype)[()]


_MONOID = {"sum": lax.add, "max": lax.max, "min": lax.min}


def _reduce_window_lower(kind: str):
    def lower(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        init = _identity(kind, np.dtype(x.dtype))
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


def _insert_unit_window(params: dict, d: int) -> dict:
    """Window params with a trivial window over a new axis ``d`` (the batch axis)."""
    out = {}
    for key, value in params.items():
        if key in ("window_dimensions", "window_strides", "base_dilation", "window_dilation"):
            value = (*value[:d], 1, *value[d:])
        elif key == "padding":
            value = (*value[:d], (0, 0), *value[d:])
        out[key] = value
    return out


def _unary_window_batch(prim: Primitive):
    def rule(args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **_insert_unit_window(params, d)), d

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


# --- select_and_gather_add -----------------------------------------------------------------


def _gather_abstract_eval(t: Aval, x: Aval, *, select_prim, **params) -> Aval:
    name = "select_and_gather_add"
    if t.shape != x.shape:
        raise TypeError(f"{name}: tangents {t} and operand {x} must have equal shapes")
    return Aval(_window_shape(name, x, **params), t.dtype, t.weak_type)


def _gather_lower(t, x, *, select_prim, **params):
    return lax.select_and_gather_add_p.bind(t, x, select_prim=_SELECT[select_prim], **params)


def _gather_jvp(primals, tangents, **params):
    # Linear in the tangents; the choice of element is locally constant in x.
    (t, x), (tt, _) = primals, tangents
    out = select_and_gather_add_p.bind(t, x, **params)
    return out, None if tt is None else select_and_gather_add_p.bind(tt, x, **params)


def _gather_transpose(
    ct,
    t,
    x,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    from tracejit.primitives.shape import pad, slice

    if is_undefined(x):
        raise ValueError("select_and_gather_add: the operand cannot be a linear input")
    if ct is None:
        return [None, None]
    if any(d != 1 for d in window_dilation):
        raise ValueError(
            f"reverse-mode differentiation of max/min pooling with window_dilation="
            f"{window_dilation} is not supported (as in JAX); use window_dilation=1 or "
            "forward mode (tj.jvp / tj.jacfwd)"
        )
    dilated = any(d != 1 for d in base_dilation)
    if dilated:
        # Holes of the dilated operand hold the reduction's identity: never chosen.
        fill = _identity("max" if select_prim == "ge" else "min", aval_of(x).dtype)
        x = pad(x, fill, [(0, 0, d - 1) for d in base_dilation])
    out = select_and_scatter_add_p.bind(
        ct,
        x,
        select_prim=select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
    )
    if dilated:
        shape = aval_of(out).shape
        out = slice(out, (0,) * len(shape), shape, base_dilation)
    return [out, None]


def _pair_batch(prim: Primitive, window_params: tuple[str, ...]):
    """Batching of (values, operand) pairs: both to the front, a unit window there."""

    def rule(args, dims, **params):
        (a, x), (ad, xd) = args, dims
        size = aval_of(a).shape[ad] if ad is not None else aval_of(x).shape[xd]
        a, x = bdim_to_front(a, ad, size), bdim_to_front(x, xd, size)
        window = {k: v for k, v in params.items() if k in window_params}
        rest = {k: v for k, v in params.items() if k not in window_params}
        return prim.bind(a, x, **rest, **_insert_unit_window(window, 0)), 0

    return rule


_WINDOW = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")

select_and_gather_add_p = Primitive(
    "select_and_gather_add",
    abstract_eval=_gather_abstract_eval,
    lower=_gather_lower,
    jvp=_gather_jvp,
    transpose=_gather_transpose,
)
set_rule(select_and_gather_add_p, "batch", _pair_batch(select_and_gather_add_p, _WINDOW))
register(select_and_gather_add_p)


# --- select_and_scatter_add ------------------------------------------------------------------


def _scatter_abstract_eval(
    s: Aval, x: Aval, *, select_prim, window_dimensions, window_strides, padding
) -> Aval:
    name = "select_and_scatter_add"
    ones = (1,) * x.ndim
    expected = _window_shape(name, x, window_dimensions, window_strides, padding, ones, ones)
    if s.shape != expected:
        raise TypeError(
            f"{name}: source {s} must have the window reduction's shape {expected} of operand {x}"
        )
    return Aval(x.shape, s.dtype, s.weak_type)


def _scatter_lower(s, x, *, select_prim, **params):
    return lax.select_and_scatter_add_p.bind(s, x, select_prim=_SELECT[select_prim], **params)


def _scatter_jvp(primals, tangents, **params):
    (s, x), (ts, _) = primals, tangents
    out = select_and_scatter_add_p.bind(s, x, **params)
    return out, None if ts is None else select_and_scatter_add_p.bind(ts, x, **params)


def _scatter_transpose(ct, s, x, *, select_prim, window_dimensions, window_strides, padding):
    if is_undefined(x):
        raise ValueError("select_and_scatter_add: the operand cannot be a linear input")
    if ct is None:
        return [None, None]
    ones = (1,) * len(window_dimensions)
    out = select_and_gather_add_p.bind(
        ct,
        x,
        select_prim=select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
        base_dilation=ones,
        window_dilation=ones,
    )
    return [out, None]


select_and_scatter_add_p = Primitive(
    "select_and_scatter_add",
    abstract_eval=_scatter_abstract_eval,
    lower=_scatter_lower,
    jvp=_scatter_jvp,
    transpose=_scatter_transpose,
)
set_rule(
    select_and_scatter_add_p,
    "batch",
    _pair_batch(select_and_scatter_add_p, ("window_dimensions", "window_strides", "padding")),
)
register(select_and_scatter_add_p)


# --- the lax-level functions -------------------------------------------------------------------


def _window_params(
    name: str, x: Any, window_dimensions, window_strides, padding, base_dilation, window_dilation
) -> dict:
    shape = aval_of(x).shape
    n = len(shape)

    def ints(what, v, default):
        v = (default,) * n if v is None else tuple(int(i) for i in v)
        if len(v) != n:
            raise TypeError(f"{name}: {what}={v} needs one entry per dimension of {aval_of(x)}")
        return v

    window = ints("window_dimensions", window_dimensions, 1)
    strides = ints("window_strides", window_strides, 1)
    if isinstance(padding, str):
        padding = padtype_to_pads(name, shape, window, strides, padding)
    else:
        padding = canonical_padding(name, padding, n)
    return dict(
        window_dimensions=window,
        window_strides=strides,
        padding=padding,
        base_dilation=ints("base_dilation", base_dilation, 1),
        window_dilation=ints("window_dilation", window_dilation, 1),
    )


def _reducer(prim: Primitive, name: str):
    def fn(
        operand: Any,
        window_dimensions: Sequence[int],
        window_strides: Sequence[int],
        padding: Any,
        base_dilation: Sequence[int] | None = None,
        window_dilation: Sequence[int] | None = None,
    ) -> Any:
        params = _window_params(
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
    identity = _identity(kind, dtype)
    init = concrete_or_none(init_value)
    if init is None or np.shape(init) != () or np.asarray(init, dtype) != identity:
        raise ValueError(
            f"reduce_window: init_value {init_value!r} must be the identity of {kind} for "
            f"{aval_of(operand)} ({identity!r}); add a different start value to the result"
        )
    fn = {"sum": reduce_window_sum, "max": reduce_window_max, "min": reduce_window_min}[kind]
    return fn(operand, window_dimensions, window_strides, padding, base_dilation, window_dilation)
