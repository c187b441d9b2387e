"""tracejit.numpy array creation: array/asarray, filled arrays, ranges and
triangular/identity matrices.

Called inside a trace, the constructors emit IR (``iota`` and
``broadcast_in_dim`` of scalar literals) rather than baking large constants
into the program; called eagerly they return ``jax.Array`` s.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.errors import ConcretizationError
from tracejit.numpy._promote import broadcast_shapes, broadcast_to_shape, convert, result_dtype
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import (
    broadcast_in_dim,
    broadcasted_iota,
    concatenate,
    reshape,
)
from tracejit.tracing import Tracer, aval_of, concrete_or_none, current_builder, is_arraylike

__all__ = [
    "array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
    "full_like", "empty_like", "arange", "linspace", "eye", "identity", "tri", "tril",
    "triu", "meshgrid",
]  # fmt: skip

_PY = (bool, int, float, complex)


# --- argument helpers (shared with tracejit.numpy.shapes) ------------------------------


def concrete_int(name: str, argname: str, x: Any) -> int:
    """``x`` as a Python int; a traced value must have a value known at trace time."""
    x = concrete_value(name, argname, x)
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(
            f"{name}: argument {argname!r} must be an integer, got {type(x).__name__} {x!r}"
        ) from None


def concrete_value(name: str, argname: str, x: Any) -> Any:
    """The concrete value of ``x`` (a traced value whose value is unknown raises)."""
    if not isinstance(x, Tracer):
        return x
    value = concrete_or_none(x)
    if value is None:
        raise ConcretizationError(
            f"{name}: argument {argname!r} must be concrete (it determines the shape of the "
            f"result), but got a traced value {x.aval}. Pass a Python number, or mark the "
            "argument static with jit(..., static_argnums=...) / static_argnames."
        )
    return value


def shape_arg(name: str, shape: Any) -> tuple[int, ...]:
    """A shape argument (an int or a sequence of ints) as a tuple of ints."""
    if isinstance(shape, (list, tuple)):
        dims = tuple(concrete_int(name, "shape", n) for n in shape)
    else:
        dims = (concrete_int(name, "shape", shape),)
    if any(n < 0 for n in dims):
        raise ValueError(f"{name}: negative dimensions are not allowed, got shape {dims}")
    return dims


def dtype_arg(dtype: Any) -> np.dtype | None:
    return None if dtype is None else dtypes.canonicalize(dtype)


def _scalar(value: Any, dtype: np.dtype, weak: bool) -> Any:
    """``value`` as a scalar of ``dtype``; a Python scalar when it must stay weakly typed."""
    if weak and dtype != dtypes.bool_:
        for py in (int, float, complex):
            if dtypes.python_scalar_dtype(py(0)) == dtype:
                return py(value)
    return np.asarray(value, dtype)[()]


def _filled(shape: tuple[int, ...], value: Any) -> Any:
    """``shape`` filled with the scalar ``value`` (one broadcast_in_dim)."""
    return broadcast_in_dim(value, shape, ())


# --- array / asarray --------------------------------------------------------------------


def _leaves(obj: Any, out: list) -> list:
    if isinstance(obj, (list, tuple)):
        for o in obj:
            _leaves(o, out)
    else:
        out.append(obj)
    return out


def _check_leaf(x: Any) -> None:
    if not isinstance(x, (Tracer, jax.Array, np.ndarray, np.generic, *_PY)):
        raise TypeError(
            f"array: an element of type {type(x).__name__} is not an array or a scalar; "
            "pass nested lists of numbers or arrays"
        )


def _from_host(x: Any, dtype: np.dtype | None) -> Any:
    """A numpy array or scalar as a jax.Array (eagerly) or a value of the current trace."""
    weak = False
    if dtype is None:
        aval = aval_of(x)
        dtype, weak = aval.dtype, aval.weak_type
    builder = current_builder()
    if builder is None:
        if weak:
            return jax.device_put(x)  # a Python scalar: JAX keeps it weakly typed
        return jax.device_put(np.asarray(x, dtype))
    value = np.asarray(x, dtype)
    if value.ndim == 0:
        # A scalar becomes a typed equation on a literal, not a constant.
        return ew.convert_element_type_p.bind(
            _scalar(value, dtype, weak), new_dtype=dtype, weak_type=weak
        )
    return Tracer(builder, builder.to_atom(value))


def _stack_nested(obj: Any, dtype: np.dtype) -> Any:
    """Nested lists holding traced values: convert the leaves and stack them."""
    if not isinstance(obj, (list, tuple)):
        return convert(obj, dtype)
    parts = [_stack_nested(o, dtype) for o in obj]
    if not parts:
        return _filled((0,), np.zeros((), dtype)[()])
    shapes = {tuple(aval_of(p).shape) for p in parts}
    if len(shapes) > 1:
        raise ValueError(
            f"array: nested sequence has an inhomogeneous shape: elements of shapes "
            f"{sorted(shapes)}; every element of a level must have the same shape"
        )
    return concatenate([reshape(p, (1, *aval_of(p).shape)) for p in parts], 0)


def _from_sequence(seq: Any, dtype: np.dtype | None) -> Any:
    leaves = _leaves(seq, [])
    for leaf in leaves:
        _check_leaf(leaf)
    if dtype is None:
        # Lists take the promoted dtype of their elements, strongly typed (as jnp).
        dtype = result_dtype(*leaves)[0] if leaves else dtypes.default_float()
    if any(isinstance(leaf, Tracer) for leaf in leaves):
        return _stack_nested(seq, dtype)
    try:
        value = np.array(seq, dtype=dtype)
    except ValueError as e:
        raise ValueError(f"array: cannot build an array from this nested sequence: {e}") from None
    return _from_host(value, dtype)


def array(
    object: Any,  # noqa: A002
    dtype: Any = None,
    copy: bool = True,
    order: str | None = "K",
    ndmin: int = 0,
) -> Any:
    """An array from an array, a scalar, or nested lists/tuples of them.

    Python scalars stay weakly typed (as in JAX); numpy values take their
    canonical dtype (64-bit types narrow unless x64 mode is on); lists take the
    promoted dtype of their elements and may hold traced values (they are
    stacked). Arrays are immutable, so ``copy`` has no observable effect.

    Args:
      object: the value.
      dtype: the result's dtype (canonicalized), or None to infer it.
      copy: accepted for NumPy compatibility.
      order: memory order; only row-major ("K", "A", "C") is supported.
      ndmin: minimum rank of the result (size-1 axes are prepended).

    Raises:
      TypeError: for values that are not arrays, scalars or sequences of them.
      ValueError: for ragged nested sequences or an unsupported ``order``.
    """
    del copy  # immutable arrays: a copy is indistinguishable from the original
    if order not in (None, "K", "A", "C"):
        raise ValueError(f"array: order={order!r} is not supported; use 'C' (row-major)")
    dtype = dtype_arg(dtype)
    if isinstance(object, (list, tuple)):
        out = _from_sequence(object, dtype)
    elif isinstance(object, (Tracer, jax.Array)):
        out = object if dtype is None else ew.convert_element_type(object, dtype)
    elif isinstance(object, (np.ndarray, np.generic, *_PY)):
        if isinstance(object, np.ndarray) and object.dtype == np.dtype("O"):
            raise TypeError("array: numpy arrays of dtype object are not supported")
        out = _from_host(object, dtype)
    else:
        raise TypeError(
            f"array: argument of type {type(object).__name__} is not an array; pass a "
            "jax/numpy/tracejit array, a Python scalar or a (nested) list of them"
        )
    rank = len(aval_of(out).shape)
    if ndmin > rank:
        out = reshape(out, (1,) * (ndmin - rank) + aval_of(out).shape)
    return out


def as_array(name: str, x: Any) -> Any:
    """``x`` as an array for the function ``name`` (lists are converted; other types raise)."""
    if not is_arraylike(x) and not isinstance(x, (list, tuple)):
        raise TypeError(
            f"{name}: expected an array, got {type(x).__name__}; pass a tracejit/jax/numpy "
            "array, a Python scalar or a list of them"
        )
    return asarray(x)


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, copy: bool | None = None):
    """``a`` as an array (no copy semantics to speak of); see :func:`array`."""
    return array(a, dtype=dtype, copy=bool(copy), order=order)


# --- filled arrays ------------------------------------------------------------------------


def zeros(shape: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with 0 (default float dtype)."""
    dtype = dtype_arg(dtype) or dtypes.default_float()
    return _filled(shape_arg("zeros", shape), np.zeros((), dtype)[()])


def ones(shape: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with 1 (default float dtype)."""
    dtype = dtype_arg(dtype) or dtypes.default_float()
    return _filled(shape_arg("ones", shape), np.ones((), dtype)[()])


def empty(shape: Any, dtype: Any = None) -> Any:
    """Same as :func:`zeros` (XLA arrays are always initialised)."""
    return zeros(shape, dtype)


def _full(name: str, shape: tuple[int, ...], fill_value: Any, dtype, weak: bool) -> Any:
    if isinstance(fill_value, (list, tuple)):
        fill_value = asarray(fill_value)
    aval = aval_of(fill_value)
    if dtype is not None and (aval.dtype, aval.weak_type) != (dtype, weak):
        if isinstance(fill_value, (*_PY, np.generic)):
            fill_value = _scalar(fill_value, dtype, weak)  # a literal of the target type
        else:
            fill_value = convert(fill_value, dtype, weak)
    if aval.shape == ():
        return _filled(shape, fill_value)
    broadcast_shapes(name, aval.shape, shape)
    if len(aval.shape) > len(shape):
        raise ValueError(f"{name}: cannot broadcast fill_value {aval} to shape {shape}")
    return broadcast_to_shape(fill_value, shape)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value`` (a scalar or a broadcastable array).

    Without ``dtype`` the result has ``fill_value``'s dtype (weakly typed for a
    Python scalar, as in JAX).
    """
    dtype = dtype_arg(dtype)
    return _full("full", shape_arg("full", shape), fill_value, dtype, False)


def _like(name: str, a: Any, dtype: Any, shape: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
    if isinstance(a, (list, tuple)):
        a = asarray(a)
    try:
        aval = aval_of(a)
    except TypeError:
        raise TypeError(f"{name}: argument of type {type(a).__name__} is not an array") from None
    out_shape = aval.shape if shape is None else shape_arg(name, shape)
    if dtype is None:
        return out_shape, aval.dtype, aval.weak_type
    return out_shape, dtype_arg(dtype), False


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Zeros with ``a``'s shape and dtype (weak type kept), or the given ones."""
    out_shape, dtype, weak = _like("zeros_like", a, dtype, shape)
    return _filled(out_shape, _scalar(0, dtype, weak))


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Ones with ``a``'s shape and dtype (weak type kept), or the given ones."""
    out_shape, dtype, weak = _like("ones_like", a, dtype, shape)
    return _filled(out_shape, _scalar(1, dtype, weak))


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Same as :func:`zeros_like`."""
    return zeros_like(a, dtype, shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """``fill_value`` broadcast to ``a``'s shape, with ``a``'s dtype unless given."""
    out_shape, dtype, weak = _like("full_like", a, dtype, shape)
    return _full("full_like", out_shape, fill_value, dtype, weak)


# --- ranges -------------------------------------------------------------------------------


def _range_scalar(argname: str, x: Any) -> Any:
    if isinstance(x, (list, tuple)) or np.ndim(concrete_value("arange", argname, x)) != 0:
        raise ValueError(f"arange: arguments must be scalars; got {argname}={x!r}")
    value = concrete_value("arange", argname, x)
    return value if isinstance(value, _PY) else np.asarray(value)[()]


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
    from tracejit.numpy import elementwise as tnp_ew
    from tracejit.numpy.shapes import expand_dims

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
            out = concatenate([out, expand_dims(stop, axis)], axis)
    elif num == 1:
        delta = _filled((), nan) if endpoint else ew.sub(stop, start)
        out = reshape(start, bounds)
    else:
        delta = _filled((), nan)
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
    zero = _filled(aval.shape, np.zeros((), aval.dtype)[()])
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
