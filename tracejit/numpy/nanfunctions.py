"""tracejit.numpy's NaN-ignoring reductions: nansum, nanprod, nanmean, nanmax, nanmin.

Each replaces NaNs by the reduction's identity and reduces with the function of
tracejit.numpy.reductions (NumPy's nanfunctions, with JAX's dtype rules);
integer and bool inputs, which hold no NaNs, reduce as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.numpy.reductions import (
    _full,
    _lowest,
    _no_out,
    _operand,
    all,
    max,
    mean,
    min,
    prod,
    sum,
)
from tracejit.primitives import elementwise as ew
from tracejit.tracing import aval_of

__all__ = ["nansum", "nanmean", "nanprod", "nanmax", "nanmin"]


def _isnan(x: Any) -> Any:
    return ew.ne(x, x)


def _nan_to(a: Any, value: Any) -> tuple[Any, bool]:
    """``a`` with NaNs replaced by ``value`` (and whether ``a`` can hold NaNs)."""
    aval = aval_of(a)
    if not dtypes.is_inexact(aval.dtype):
        return a, False
    return ew.select_n(_isnan(a), a, _full(value, aval.shape, aval.dtype)), True


def nansum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """:func:`sum` treating NaNs as zero."""
    a, _ = _nan_to(_operand("nansum", a)[0], 0)
    return sum(a, axis, dtype, out, keepdims, initial, where)


def nanprod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """:func:`prod` treating NaNs as one."""
    a, _ = _nan_to(_operand("nanprod", a)[0], 1)
    return prod(a, axis, dtype, out, keepdims, initial, where)


def _nan_extremum(name, fn, sign, a, axis, out, keepdims, initial, where) -> Any:
    a, aval = _operand(name, a)
    filled, inexact = _nan_to(a, _lowest(aval.dtype, sign))
    res = fn(filled, axis, out, keepdims, initial, where)
    if not inexact:
        return res
    all_nan = all(_isnan(a), axis=axis, keepdims=keepdims)
    return ew.select_n(all_nan, res, _full(np.nan, aval_of(res).shape, aval.dtype))


def nanmax(
    a: Any,
    axis: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """:func:`max` ignoring NaNs (NaN where every element is NaN)."""
    return _nan_extremum("nanmax", max, -1, a, axis, out, keepdims, initial, where)


def nanmin(
    a: Any,
    axis: Any = None,
    out: None = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """:func:`min` ignoring NaNs (NaN where every element is NaN)."""
    return _nan_extremum("nanmin", min, 1, a, axis, out, keepdims, initial, where)


def nanmean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: Any = None,
) -> Any:
    """:func:`mean` of the non-NaN elements."""
    a, aval = _operand("nanmean", a)
    if not dtypes.is_inexact(aval.dtype):
        return mean(a, axis, dtype, out, keepdims, where=where)
    _no_out("nanmean", out)
    dtype = aval.dtype if dtype is None else dtypes.canonicalize(dtype)
    count = sum(ew.bitwise_not(_isnan(a)), axis, dtype, None, keepdims, where=where)
    return ew.div(nansum(a, axis, dtype, None, keepdims, where=where), count)
