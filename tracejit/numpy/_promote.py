"""Argument handling shared by tracejit.numpy: array conversion, JAX's type
promotion (weak Python scalars included) and NumPy broadcasting."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitives.elementwise import convert_element_type, scalar_literal
from tracejit.primitives.shape import broadcast_in_dim, reshape
from tracejit.tracing import Tracer, aval_of, is_arraylike

_PY = (bool, int, float, complex)


def check_arraylike(name: str, *args: Any) -> None:
    for i, a in enumerate(args):
        if not is_arraylike(a):
            if isinstance(a, (list, tuple)):
                continue
            raise TypeError(
                f"{name}: argument {i} has type {type(a).__name__}, which is not an array; "
                "pass a tracejit/jax/numpy array or a Python scalar"
            )


def asarray_arg(name: str, x: Any) -> Any:
    """``x`` as something primitives accept (lists/tuples become arrays)."""
    if isinstance(x, (list, tuple)):
        from tracejit.numpy.creation import array

        return array(x)
    if not is_arraylike(x):
        raise TypeError(
            f"{name}: expected an array, got {type(x).__name__}; pass a tracejit/jax/numpy "
            "array or a Python scalar"
        )
    return x


def result_dtype(*args: Any) -> tuple[np.dtype, bool]:
    avals = [aval_of(a) for a in args]
    return dtypes.result_type(*[(a.dtype, a.weak_type) for a in avals])


def convert(x: Any, dtype: np.dtype, weak: bool = False) -> Any:
    """``x`` as ``dtype`` (a Python scalar becomes a literal of that dtype)."""
    if isinstance(x, _PY):
        if weak:  # the result is weak: the scalar stays a weak Python scalar, as in JAX
            return scalar_literal(int(x) if isinstance(x, bool) else x, dtype)
        return np.asarray(x, dtype)[()]
    if isinstance(x, (np.ndarray, np.generic)) and not isinstance(x, Tracer):
        if x.dtype != dtype:
            x = np.asarray(x, dtype)
        return x[()] if x.ndim == 0 else x
    return convert_element_type(x, dtype, weak)


def broadcast_shapes(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            listing = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"{name}: incompatible shapes for broadcasting: {listing}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def promote(name: str, *args: Any, to_inexact: bool = False) -> list:
    """Promote ``args`` to one dtype and equal rank (size-1 dims broadcast in the op)."""
    args = [asarray_arg(name, a) for a in args]
    dtype, weak = result_dtype(*args)
    if to_inexact and not dtypes.is_inexact(dtype):
        dtype, weak = dtypes.default_float(), weak
    avals = [aval_of(a) for a in args]
    shape = broadcast_shapes(name, *[a.shape for a in avals])
    rank = len(shape)
    out = []
    for a, aval in zip(args, avals):
        a = convert(a, dtype, weak) if (aval.dtype != dtype or isinstance(a, _PY)) else a
        if 0 < aval.ndim < rank:
            a = reshape(a, (1,) * (rank - aval.ndim) + aval.shape)
        out.append(a)
    return out


def broadcast_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    aval: Aval = aval_of(x)
    if aval.shape == tuple(shape):
        return x
    broadcast_shapes("broadcast_to", aval.shape, shape)
    lead = len(shape) - aval.ndim
    if lead < 0:
        raise ValueError(f"broadcast_to: cannot broadcast {aval} to the lower rank {shape}")
    return broadcast_in_dim(x, tuple(shape), tuple(range(lead, len(shape))))


def canonical_axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % max(ndim, 1)


def canonical_axes(name: str, axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(canonical_axis(name, int(a), ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: repeated axis in {axis}")
        return axes
    return (canonical_axis(name, int(axis), ndim),)
