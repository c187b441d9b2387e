"""tracejit.numpy reductions."""

from __future__ import annotations

from typing import Any

from tracejit import dtypes
from tracejit.numpy._promote import asarray_arg, canonical_axes, convert, promote
from tracejit.primitives.reductions import reduce_sum
from tracejit.primitives.shape import reshape
from tracejit.tracing import aval_of

__all__ = ["sum", "mean"]


def _keep(x: Any, axes: tuple[int, ...], shape: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return x
    return reshape(x, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def sum(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``axis`` (all axes when None); bools and small ints sum as int32."""
    (a,) = promote("sum", asarray_arg("sum", a))
    aval = aval_of(a)
    if dtype is not None:
        a = convert(a, dtypes.canonicalize(dtype))
    elif aval.dtype == dtypes.bool_ or (dtypes.is_integer(aval.dtype) and aval.dtype.itemsize < 4):
        target = dtypes.uint32 if dtypes.is_unsigned(aval.dtype) else dtypes.default_int()
        a = convert(a, dtypes.canonicalize(target))
    axes = canonical_axes("sum", axis, aval.ndim)
    return _keep(reduce_sum(a, axes), axes, aval.shape, keepdims)


def mean(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis``; integer inputs give the default float."""
    (a,) = promote("mean", asarray_arg("mean", a))
    aval = aval_of(a)
    axes = canonical_axes("mean", axis, aval.ndim)
    count = 1
    for i in axes:
        count *= aval.shape[i]
    out_dtype = dtypes.canonicalize(dtype) if dtype is not None else (
        aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float())
    total = sum(convert(a, out_dtype, aval.weak_type), axis=axes, keepdims=keepdims)
    from tracejit.primitives.elementwise import div
    import numpy as np

    return div(total, np.asarray(count, out_dtype)[()])
