"""tracejit.numpy array creation: array/asarray and filled arrays (ranges,
grids and triangular matrices live in ``tracejit.numpy.ranges`` and are
re-exported here).

Called inside a trace, the constructors emit IR (``broadcast_in_dim`` of
scalar literals, ``iota``) rather than baking large constants into the
program; called eagerly they return ``jax.Array`` s.
"""

from __future__ import annotations

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
    concatenate,
    reshape,
)
from tracejit.tracing import Tracer, aval_of, concrete_or_none, current_builder, is_arraylike

__all__ = [
    "array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
    "full_like", "empty_like", "arange", "linspace", "eye", "identity", "tri", "tril",
    "triu", "meshgrid",
]  # fmt: skip

PY_SCALARS = (bool, int, float, complex)


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


def filled(shape: tuple[int, ...], value: Any) -> Any:
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
    if not isinstance(x, (Tracer, jax.Array, np.ndarray, np.generic, *PY_SCALARS)):
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
        return filled((0,), np.zeros((), dtype)[()])
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
    elif isinstance(object, (np.ndarray, np.generic, *PY_SCALARS)):
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
    return filled(shape_arg("zeros", shape), np.zeros((), dtype)[()])


def ones(shape: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with 1 (default float dtype)."""
    dtype = dtype_arg(dtype) or dtypes.default_float()
    return filled(shape_arg("ones", shape), np.ones((), dtype)[()])


def empty(shape: Any, dtype: Any = None) -> Any:
    """Same as :func:`zeros` (XLA arrays are always initialised)."""
    return zeros(shape, dtype)


def _full(name: str, shape: tuple[int, ...], fill_value: Any, dtype, weak: bool) -> Any:
    if isinstance(fill_value, (list, tuple)):
        fill_value = asarray(fill_value)
    aval = aval_of(fill_value)
    if dtype is not None and (aval.dtype, aval.weak_type) != (dtype, weak):
        if isinstance(fill_value, (*PY_SCALARS, np.generic)):
            fill_value = _scalar(fill_value, dtype, weak)  # a literal of the target type
        else:
            fill_value = convert(fill_value, dtype, weak)
    if aval.shape == ():
        return filled(shape, fill_value)
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
    return filled(out_shape, _scalar(0, dtype, weak))


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Ones with ``a``'s shape and dtype (weak type kept), or the given ones."""
    out_shape, dtype, weak = _like("ones_like", a, dtype, shape)
    return filled(out_shape, _scalar(1, dtype, weak))


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Same as :func:`zeros_like`."""
    return zeros_like(a, dtype, shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """``fill_value`` broadcast to ``a``'s shape, with ``a``'s dtype unless given."""
    out_shape, dtype, weak = _like("full_like", a, dtype, shape)
    return _full("full_like", out_shape, fill_value, dtype, weak)


from tracejit.numpy.ranges import (  # noqa: E402  (ranges builds on the helpers above)
    arange,
    eye,
    identity,
    linspace,
    meshgrid,
    tri,
    tril,
    triu,
)
