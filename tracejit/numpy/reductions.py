"""tracejit.numpy reductions: NumPy's signatures, JAX's dtype rules.

Results are strongly typed, as in JAX. Sums and products promote bool and
small integers to the default integer (bool -> int32) and compute float16 /
bfloat16 in float32; means and variances of integers are floats.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.numpy._promote import asarray_arg, broadcast_to_shape, convert
from tracejit.primitives import cumulative as cum
from tracejit.primitives import elementwise as ew
from tracejit.primitives import reductions as red
from tracejit.primitives.shape import broadcast_in_dim, reshape
from tracejit.tracing import Tracer, aval_of

__all__ = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
    "all", "any", "cumsum", "cumprod",
]  # fmt: skip


# --- argument handling -------------------------------------------------------------------


def _operand(name: str, a: Any) -> tuple[Any, Any]:
    a = asarray_arg(name, a)
    return a, aval_of(a)


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(
            f"{name}: the out= argument is not supported (arrays are immutable); "
            "use the returned array instead"
        )


def _axis_index(name: str, axis: Any, ndim: int) -> int:
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"{name}: axis must be None, an int or a tuple of ints, got {axis!r}"
        ) from None
    if not -ndim <= a < ndim:
        hint = "it has no axes; use axis=None" if ndim == 0 else f"use an axis in [{-ndim}, {ndim})"
        raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank {ndim}; {hint}")
    return a % ndim


def _axes(name: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple of ints) as distinct nonnegative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(_axis_index(name, a, ndim) for a in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: duplicate value in axis={axis!r}")
    return axes


def _keep(x: Any, axes: tuple[int, ...], shape: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return x
    return reshape(x, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _result(x: Any, dtype: np.dtype) -> Any:
    """``x`` as a strongly typed array of ``dtype`` (a jax.Array when eager)."""
    aval = aval_of(x)
    if aval.dtype == dtype and not aval.weak_type and isinstance(x, (Tracer, jax.Array)):
        return x
    return ew.convert_element_type_p.bind(x, new_dtype=dtype, weak_type=False)


def _full(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return broadcast_in_dim(np.asarray(value, dtype)[()], shape, ())


def _masked(name: str, x: Any, where: Any, fill: Any) -> Any:
    """``x`` where ``where`` (broadcast to x's shape) holds, else ``fill``."""
    if where is None:
        return x
    aval = aval_of(x)
    mask = broadcast_to_shape(convert(asarray_arg(name, where), dtypes.bool_), aval.shape)
    return ew.select_n(mask, _full(fill, aval.shape, aval.dtype), x)


def _initial(name: str, initial: Any, dtype: np.dtype) -> Any:
    if np.ndim(initial) != 0:
        raise ValueError(
            f"{name}: initial value must be a scalar, got an array of shape {np.shape(initial)}"
        )
    return convert(asarray_arg(name, initial), dtype)


def _promote_integer(dtype: np.dtype) -> np.dtype:
    # JAX sums and multiplies bool and narrow integers in the default (u)int.
    if dtype == dtypes.bool_:
        return dtypes.default_int()
    if dtypes.is_integer(dtype):
        wide = dtypes.canonicalize(dtypes.uint64 if dtypes.is_unsigned(dtype) else dtypes.int64)
        return wide if dtype.itemsize < wide.itemsize else dtype
    return dtype


def _upcast_f16(dtype: np.dtype) -> np.dtype:
    return dtypes.float32 if dtype in (dtypes.float16, dtypes.bfloat16) else dtype


def _to_inexact(dtype: np.dtype) -> np.dtype:
    return dtype if dtypes.is_inexact(dtype) else dtypes.default_float()


def _lowest(dtype: np.dtype, sign: int) -> Any:
    """The identity of max (``sign=-1``) or min (``sign=1``) in ``dtype``."""
    if dtype == dtypes.bool_:
        return sign > 0
    if dtypes.is_integer(dtype):
        info = np.iinfo(dtype)
        return info.max if sign > 0 else info.min
    return sign * np.inf


# --- sum / prod -------------------------------------------------------------------------------


def _accumulate(
    name, reducer, bool_reducer, combine, identity, a, axis, dtype, out, keepdims, initial, where
):
    _no_out(name, out)
    a, aval = _operand(name, a)
    axes = _axes(name, axis, aval.ndim)
    if dtype is None:
        out_dtype = _promote_integer(aval.dtype)
        comp = _upcast_f16(out_dtype)
    else:
        out_dtype = comp = dtypes.canonicalize(dtype)
    a = convert(a, comp)
    if comp == dtypes.bool_:
        # A bool sum is an "or", a bool product an "and" (JAX's rule).
        reducer, identity = bool_reducer, bool(identity)
        combine = ew.bitwise_and if identity else ew.bitwise_or
    a = _masked(name, a, where, identity)
    res = reducer(a, axes)
    if initial is not None:
        res = combine(_initial(name, initial, comp), res)
    return _result(_keep(res, axes, aval.shape, keepdims), out_dtype)


def sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Sum over ``axis`` (all axes when None).

    Bool and small integers sum in the default int (bool -> int32); float16 and
    bfloat16 are accumulated in float32. ``initial`` is added to the result;
    ``where`` masks elements out.

    Raises:
      ValueError: an axis out of bounds or repeated.
    """
    return _accumulate(
        "sum",
        red.reduce_sum,
        red.reduce_or,
        ew.add,
        0,
        a,
        axis,
        dtype,
        out,
        keepdims,
        initial,
        where,
    )


def prod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Product over ``axis``, with the dtype rules of :func:`sum`."""
    return _accumulate(
        "prod",
        red.reduce_prod,
        red.reduce_and,
        ew.mul,
        1,
        a,
        axis,
        dtype,
        out,
        keepdims,
        initial,
        where,
    )


def _count(
    name: str, aval: Any, axes: tuple[int, ...], keepdims: bool, where: Any, dtype: np.dtype
) -> Any:
    """How many elements each reduction sees (a literal unless ``where`` is given)."""
    if where is None:
        return np.asarray(math.prod(aval.shape[i] for i in axes), dtype)[()]
    mask = broadcast_to_shape(convert(asarray_arg(name, where), dtypes.bool_), aval.shape)
    return sum(mask, axis=axes, dtype=dtype, keepdims=keepdims)


def mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """Arithmetic mean over ``axis``; bool and integer inputs give the default float.

    The mean of an empty selection is nan (0/0), as in JAX.
    """
    _no_out("mean", out)
    a, aval = _operand("mean", a)
    axes = _axes("mean", axis, aval.ndim)
    out_dtype = _to_inexact(aval.dtype) if dtype is None else dtypes.canonicalize(dtype)
    comp = _upcast_f16(out_dtype) if dtypes.is_inexact(out_dtype) else out_dtype
    total = sum(a, axis=axes, dtype=comp, keepdims=keepdims, where=where)
    count = _count("mean", aval, axes, keepdims, where, comp)
    return _result(ew.div(total, count), out_dtype)


def _variance(name: str, a, axis, dtype, out, ddof, keepdims, where) -> Any:
    _no_out(name, out)
    a, aval = _operand(name, a)
    if dtypes.is_complex(aval.dtype):
        raise TypeError(
            f"{name}: complex operands are not supported, got {aval}; "
            "take the variance of the real and imaginary parts separately"
        )
    axes = _axes(name, axis, aval.ndim)
    if dtype is None:
        out_dtype = _to_inexact(aval.dtype)
    else:
        out_dtype = dtypes.canonicalize(dtype)
    comp = _upcast_f16(out_dtype)
    a = convert(a, comp)
    # var = sum(|x - mean|^2) / (N - ddof); nan where N - ddof <= 0 (as JAX does).
    centered = ew.sub(a, mean(a, axis=axes, dtype=comp, keepdims=True, where=where))
    total = sum(ew.mul(centered, centered), axis=axes, dtype=comp, keepdims=keepdims, where=where)
    ddof_ = np.asarray(ddof, comp)[()]
    if where is None:
        # A static count: N <= ddof gives nan with no dependence on ``a`` (zero gradient).
        n = math.prod(aval.shape[i] for i in axes)
        if n - ddof <= 0:
            return _result(_full(np.nan, aval_of(total).shape, out_dtype), out_dtype)
        return _result(ew.div(total, np.asarray(n - ddof, comp)[()]), out_dtype)
    count = _count(name, aval, axes, keepdims, where, comp)
    res = _result(ew.div(total, ew.sub(count, ddof_)), out_dtype)
    return ew.select_n(ew.gt(count, ddof_), _full(np.nan, aval_of(res).shape, out_dtype), res)


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """Variance over ``axis``: ``sum(|x - mean|**2) / (N - ddof)`` (nan if N <= ddof)."""
    return _variance("var", a, axis, dtype, out, ddof, keepdims, where)


def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """Standard deviation over ``axis``: the square root of :func:`var`."""
    return ew.sqrt(_variance("std", a, axis, dtype, out, ddof, keepdims, where))


# --- max / min --------------------------------------------------------------------------------


def _extremum(name, reducer, combine, sign, a, axis, out, keepdims, initial, where) -> Any:
    _no_out(name, out)
    a, aval = _operand(name, a)
    axes = _axes(name, axis, aval.ndim)
    if where is not None and initial is None:
        raise ValueError(
            f"{name}: reduction operation {name} does not have an identity, so to use a "
            "where mask one has to specify 'initial'"
        )
    if initial is None and builtins.any(aval.shape[i] == 0 for i in axes):
        raise ValueError(
            f"{name}: zero-size array to reduction operation {name} which has no identity "
            f"(operand {aval}, axis={axis!r}); pass initial=... or reduce over nonempty axes"
        )
    a = _masked(name, a, where, _lowest(aval.dtype, sign))
    res = reducer(a, axes)
    if initial is not None:
        res = combine(_initial(name, initial, aval.dtype), res)
    return _result(_keep(res, axes, aval.shape, keepdims), aval.dtype)


def max(
    a: Any,
    axis: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Maximum over ``axis``; ``initial`` is a lower bound for the result.

    Raises:
      ValueError: reducing a zero-size axis without ``initial``, or ``where``
        without ``initial``; an axis out of bounds or repeated.
    """
    return _extremum("max", red.reduce_max, ew.max, -1, a, axis, out, keepdims, initial, where)


def min(
    a: Any,
    axis: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Minimum over ``axis``; ``initial`` is an upper bound for the result (see :func:`max`)."""
    return _extremum("min", red.reduce_min, ew.min, 1, a, axis, out, keepdims, initial, where)


amax = max
amin = min


# --- argmax / argmin ----------------------------------------------------------------------------


def _arg(name: str, lax_fn, a: Any, axis: Any, out: Any, keepdims: bool) -> Any:
    _no_out(name, out)
    a, aval = _operand(name, a)
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"{name}: axis must be None or an int, got {axis!r}")
    if axis is None:
        dims = tuple(range(aval.ndim))
        a, ax = reshape(a, (aval.size,)), 0
        n = aval.size
    else:
        ax = _axis_index(name, axis, aval.ndim)
        dims, n = (ax,), aval.shape[ax]
    if n == 0:
        raise ValueError(
            f"{name}: attempt to get {name} of an empty sequence (operand {aval}, axis={axis!r})"
        )
    res = lax_fn(a, ax, dtypes.default_int())
    return _keep(res, dims, aval.shape, keepdims)


def argmax(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False) -> Any:
    """Index of the first maximum along ``axis`` (of the flattened array when None)."""
    return _arg("argmax", red.argmax, a, axis, out, keepdims)


def argmin(a: Any, axis: int | None = None, out: None = None, keepdims: bool = False) -> Any:
    """Index of the first minimum along ``axis`` (of the flattened array when None)."""
    return _arg("argmin", red.argmin, a, axis, out, keepdims)


# --- all / any ------------------------------------------------------------------------------------


def _logical(name, reducer, identity, a, axis, out, keepdims, where) -> Any:
    _no_out(name, out)
    a, aval = _operand(name, a)
    axes = _axes(name, axis, aval.ndim)
    a = _masked(name, convert(a, dtypes.bool_), where, identity)
    return _result(_keep(reducer(a, axes), axes, aval.shape, keepdims), dtypes.bool_)


def all(
    a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *, where: Any = None
) -> Any:
    """Whether every element along ``axis`` is nonzero (True for an empty selection)."""
    return _logical("all", red.reduce_and, True, a, axis, out, keepdims, where)


def any(
    a: Any, axis: Any = None, out: None = None, keepdims: bool = False, *, where: Any = None
) -> Any:
    """Whether some element along ``axis`` is nonzero (False for an empty selection)."""
    return _logical("any", red.reduce_or, False, a, axis, out, keepdims, where)


# --- cumulative -----------------------------------------------------------------------------------


def _cumulative(name: str, scan, a: Any, axis: Any, dtype: Any, out: Any) -> Any:
    _no_out(name, out)
    a, aval = _operand(name, a)
    if axis is None:
        a, ax = reshape(a, (aval.size,)), 0
    else:
        ax = _axis_index(name, axis, aval.ndim)
    if dtype is None:
        res_dtype = comp = dtypes.default_int() if aval.dtype == dtypes.bool_ else aval.dtype
    elif dtypes.canonicalize(dtype) == dtypes.bool_:
        # A bool result counts nonzeros: scan them as integers, then test for nonzero.
        res_dtype, comp = dtypes.bool_, dtypes.default_int()
        a = convert(a, dtypes.bool_)
    else:
        res_dtype = comp = dtypes.canonicalize(dtype)
    return _result(scan(convert(a, comp), ax), res_dtype)


def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative sum along ``axis`` (of the flattened array when None); bool -> int32."""
    return _cumulative("cumsum", cum.cumsum, a, axis, dtype, out)


def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative product along ``axis`` (of the flattened array when None); bool -> int32."""
    return _cumulative("cumprod", cum.cumprod, a, axis, dtype, out)
