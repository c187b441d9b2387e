"""tracejit.numpy ranges, grids and identity/triangular matrices, all built
from ``iota`` (re-exported by ``tracejit.numpy.creation``).

Sizes, offsets and ``k`` must be concrete: they decide the result's shape.
Inside a trace these emit a few equations (iota, compare, convert), never a
constant array.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.numpy import elementwise as tnp_ew
from tracejit.numpy._promote import broadcast_shapes, broadcast_to_shape, convert, result_dtype
from tracejit.numpy.creation import (
    PY_SCALARS,
    asarray,
    concrete_int,
    concrete_value,
    dtype_arg,
    filled,
    zeros,
)
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import (
    broadcast_in_dim,
    broadcasted_iota,
    concatenate,
    reshape,
)
from tracejit.tracing import aval_of

__all__ = ["arange", "linspace", "eye", "identity", "tri", "tril", "triu", "meshgrid"]


# --- ranges -------------------------------------------------------------------------------


def _range_scalar(argname: str, x: Any) -> Any:
    """A concrete scalar argument of arange (Python scalars stay weakly typed)."""
    value = concrete_value("arange", argname, x)
    if isinstance(value, (list, tuple)) or np.ndim(value) != 0:
        raise ValueError(f"arange: arguments must be scalars; got {argname}={x!r}")
    return value if isinstance(value, PY_SCALARS) else np.asarray(value)[()]


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Any:
    """Evenly spaced values ``start, start + step, ...`` below ``stop`` (jnp.arange).

    The arguments must be concrete (they determine the length); under ``jit``
    pass them as Python numbers or mark them static. The dtype is inferred from
    the arguments as in JAX (``arange(5)`` is int32, ``arange(5.)`` float32).

    Raises:
      ConcretizationError: for a traced argument whose value is unknown.
      ZeroDivisionError: for ``step == 0``.
    """
    start_name = "stop" if stop is None and step is None else "start"
    start = _range_scalar(start_name, start)
    stop = None if stop is None else _range_scalar("stop", stop)
    step = None if step is None else _range_scalar("step", step)
    given = [v for v in (start, stop, step) if v is not None]
    if any(isinstance(v, complex) or np.iscomplexobj(v) for v in given):
        raise ValueError("arange: complex start/stop/step are not supported")
    dtype = dtype_arg(dtype) or result_dtype(*given)[0]
    if stop is None:
        start, stop = 0, start
    if step is not None:
        if step == 0:
            raise ZeroDivisionError("arange: step must not be zero")
        # Low-precision floats count in float32, then round once (as JAX).
        work = dtypes.float32 if dtypes.is_float(dtype) and dtype.itemsize < 4 else dtype
        size = max(0, math.ceil((stop - start) / step))
        values = ew.add(
            np.asarray(start, work)[()],
            ew.mul(np.asarray(step, work)[()], broadcasted_iota(work, (size,), 0)),
        )
        return ew.convert_element_type(values, dtype)
    size = max(0, math.ceil(stop - start))
    if start == 0:
        return broadcasted_iota(dtype, (size,), 0)
    return ew.add(np.asarray(start, dtype)[()], broadcasted_iota(dtype, (size,), 0))


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.finfo(dtype).dtype) if dtypes.is_complex(dtype) else dtype


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (jnp.linspace).

    ``start``/``stop`` may be arrays (broadcast together; the samples run
    along ``axis``) and traced values (the result is differentiable in them);
    ``num`` must be concrete.

    Returns:
      The samples, or ``(samples, step)`` when ``retstep``.
    """
    num = concrete_int("linspace", "num", num)
    if num < 0:
        raise ValueError(f"linspace: number of samples num={num} must be non-negative")
    start, stop = asarray(start), asarray(stop)
    if dtype is None:
        dtype = result_dtype(start, stop)[0]
        dtype = dtype if dtypes.is_inexact(dtype) else dtypes.default_float()
    dtype = dtype_arg(dtype)
    comp = dtype if dtypes.is_inexact(dtype) else dtypes.default_float()
    bshape = broadcast_shapes("linspace", aval_of(start).shape, aval_of(stop).shape)
    start = broadcast_to_shape(convert(start, comp), bshape)
    stop = broadcast_to_shape(convert(stop, comp), bshape)
    if not -len(bshape) - 1 <= axis <= len(bshape):
        raise ValueError(
            f"linspace: axis {axis} is out of bounds for a result of rank {len(bshape) + 1}"
        )
    axis = axis % (len(bshape) + 1)
    bounds = bshape[:axis] + (1,) + bshape[axis:]
    div = num - 1 if endpoint else num
    nan = np.asarray(np.nan, comp)[()]
    if num > 1:
        delta = ew.div(ew.sub(stop, start), np.asarray(div, comp)[()])
        # out = start * (1 - t) + stop * t with t = i / div: exact at both ends.
        real = _real_dtype(comp)
        iota_shape = tuple(div if i == axis else 1 for i in range(len(bounds)))
        t = ew.div(broadcasted_iota(real, iota_shape, axis), np.asarray(div, real)[()])
        t = convert(t, comp)
        out = tnp_ew.add(
            tnp_ew.multiply(reshape(start, bounds), tnp_ew.subtract(1, t)),
            tnp_ew.multiply(reshape(stop, bounds), t),
        )
        if endpoint:
            out = concatenate([out, reshape(stop, bounds)], axis)
    elif num == 1:
        delta = filled((), nan) if endpoint else ew.sub(stop, start)
        out = reshape(start, bounds)
    else:
        delta = filled((), nan)
        out = zeros(bshape[:axis] + (0,) + bshape[axis:], comp)
    if dtypes.is_integer(dtype) or dtype == dtypes.bool_:
        out = ew.floor(out)
    out = ew.convert_element_type(out, dtype)
    return (out, delta) if retstep else out


# --- identity and triangular matrices ---------------------------------------------------


def _row_col(name: str, n: Any, m: Any) -> tuple[Any, Any]:
    """Row and column indices ``(i, j)`` of an ``n x m`` array (two iotas)."""
    n = concrete_int(name, "N", n)
    m = n if m is None else concrete_int(name, "M", m)
    if n < 0 or m < 0:
        raise ValueError(f"{name}: negative dimensions are not allowed, got N={n}, M={m}")
    return broadcasted_iota(dtypes.int32, (n, m), 0), broadcasted_iota(dtypes.int32, (n, m), 1)


def _shift(i: Any, k: int) -> Any:
    return i if k == 0 else ew.add(i, np.int32(k))


def _on_or_below(name: str, n: Any, m: Any, k: Any) -> Any:
    """Boolean ``n x m`` mask of ``j <= i + k`` (on or below the k-th diagonal)."""
    i, j = _row_col(name, n, m)
    return ew.ge(_shift(i, concrete_int(name, "k", k)), j)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """A 2-D array with ones on the ``k``-th diagonal and zeros elsewhere."""
    i, j = _row_col("eye", N, M)
    mask = ew.eq(_shift(i, concrete_int("eye", "k", k)), j)
    return ew.convert_element_type(mask, dtype_arg(dtype) or dtypes.default_float())


def identity(n: int, dtype: Any = None) -> Any:
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """Ones on and below the ``k``-th diagonal of an ``N x M`` array, zeros above."""
    mask = _on_or_below("tri", N, M, k)
    return ew.convert_element_type(mask, dtype_arg(dtype) or dtypes.default_float())


def _triangle(name: str, m: Any, k: Any, lower: bool) -> Any:
    m = asarray(m)
    aval = aval_of(m)
    if aval.ndim < 2:
        raise ValueError(f"{name}: argument must be at least 2-D, got {aval}")
    k = concrete_int(name, "k", k)
    # tril keeps j <= i + k; triu keeps j >= i + k, i.e. drops j <= i + k - 1.
    mask = _on_or_below(name, aval.shape[-2], aval.shape[-1], k if lower else k - 1)
    mask = broadcast_in_dim(mask, aval.shape, (aval.ndim - 2, aval.ndim - 1))
    zero = filled(aval.shape, np.zeros((), aval.dtype)[()])
    return ew.select_n(mask, zero, m) if lower else ew.select_n(mask, m, zero)


def tril(m: Any, k: int = 0) -> Any:
    """``m`` with the entries above the ``k``-th diagonal zeroed (last two axes)."""
    return _triangle("tril", m, k, lower=True)


def triu(m: Any, k: int = 0) -> Any:
    """``m`` with the entries below the ``k``-th diagonal zeroed (last two axes)."""
    return _triangle("triu", m, k, lower=False)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    """Coordinate arrays from 1-D coordinate vectors (``indexing`` "xy" or "ij")."""
    del copy
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    args = [asarray(x) for x in xi]
    for i, a in enumerate(args):
        if aval_of(a).ndim != 1:
            raise ValueError(f"meshgrid: argument {i} must be 1-D, got {aval_of(a)}")
    # "xy" (Cartesian) indexing swaps the roles of the first two axes.
    axes = list(range(len(args)))
    if indexing == "xy" and len(args) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(args)
    for a, d in zip(args, axes, strict=True):
        shape[d] = aval_of(a).shape[0]
    out = []
    for a, d in zip(args, axes, strict=True):
        if sparse:
            out.append(reshape(a, tuple(n if i == d else 1 for i, n in enumerate(shape))))
        else:
            out.append(broadcast_in_dim(a, tuple(shape), (d,)))
    return out
