"""tracejit.numpy shape functions: reshaping, axis permutations, broadcasting,
joining and splitting (tiling, flipping, rolling and padding live in
``tracejit.numpy.tiling`` and are re-exported here).

All are built from the linear shape primitives (reshape, transpose,
broadcast_in_dim, concatenate, slice, rev, pad), so they differentiate and
batch through those primitives' rules.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from tracejit.numpy._promote import canonical_axes, canonical_axis, convert, result_dtype
from tracejit.numpy.creation import (
    as_array,
    concrete_int,
    concrete_value,
    dtype_arg,
    shape_arg,
)
from tracejit.numpy.tiling import flip, fliplr, flipud, pad, repeat, roll, tile
from tracejit.primitives import shape as lax_shape
from tracejit.tracing import Tracer, aval_of

__all__ = [
    "shape", "ndim", "size", "reshape", "ravel", "transpose", "swapaxes", "moveaxis",
    "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays", "broadcast_shapes",
    "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "split",
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d",
    "tile", "repeat", "flip", "fliplr", "flipud", "roll", "pad",
]  # fmt: skip


# --- queries ---------------------------------------------------------------------------------


def shape(a: Any) -> tuple[int, ...]:
    """The shape of ``a`` (an array, scalar or nested list)."""
    return tuple(aval_of(as_array("shape", a)).shape)


def ndim(a: Any) -> int:
    """The number of dimensions of ``a``."""
    return len(shape(a))


def size(a: Any, axis: int | None = None) -> int:
    """The number of elements of ``a`` (along ``axis`` when given)."""
    s = shape(a)
    if axis is None:
        return math.prod(s)
    return s[canonical_axis("size", axis, len(s))]


# --- reshaping -------------------------------------------------------------------------------


def _new_shape(aval, new: Any) -> tuple[int, ...]:
    sizes = new if isinstance(new, (Sequence, np.ndarray)) else (new,)
    dims = [concrete_int("reshape", "shape", n) for n in sizes]
    where = f"cannot reshape an array {aval} ({aval.size} elements) into shape {tuple(dims)}"
    if dims.count(-1) > 1:
        raise TypeError(f"reshape: {where}: only one dimension may be -1")
    if any(n < -1 for n in dims):
        raise TypeError(f"reshape: {where}: dimensions must be >= 0 (or -1 for one of them)")
    known = math.prod(n for n in dims if n != -1)
    if -1 in dims:
        if known == 0 or aval.size % known:
            raise TypeError(
                f"reshape: {where}: the product of the given dimensions ({known}) "
                f"does not divide the size {aval.size}"
            )
        dims[dims.index(-1)] = aval.size // known
    elif known != aval.size:
        raise TypeError(f"reshape: {where}; the sizes must be equal")
    return tuple(dims)


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: bool | None = None) -> Any:  # fmt: skip
    """``a`` with a new shape of the same size; one dimension may be -1 (inferred).

    Args:
      a: the array.
      shape: an int or a sequence of ints.
      order: "C" (row-major) or "F" (column-major) element order.
      newshape: NumPy's older name for ``shape``.
      copy: accepted for NumPy compatibility (arrays are immutable).

    Raises:
      TypeError: when the sizes do not match or several dimensions are -1.
    """
    del copy
    if shape is None:
        shape = newshape
    if shape is None:
        raise TypeError("reshape: missing the new shape; call reshape(a, shape)")
    a = as_array("reshape", a)
    aval = aval_of(a)
    dims = _new_shape(aval, shape)
    if order == "C":
        return lax_shape.reshape(a, dims)
    if order == "F":
        # Column-major: reverse the axes, reshape row-major, reverse back.
        flat = lax_shape.reshape(transpose(a), dims[::-1])
        return transpose(flat)
    raise ValueError(f"reshape: order must be 'C' or 'F', got {order!r}")


def ravel(a: Any, order: str = "C") -> Any:
    """``a`` flattened to one dimension."""
    a = as_array("ravel", a)
    return reshape(a, (aval_of(a).size,), order=order)


def expand_dims(a: Any, axis: int | Sequence[int]) -> Any:
    """``a`` with size-1 axes inserted at ``axis`` (positions in the result)."""
    a = as_array("expand_dims", a)
    aval = aval_of(a)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out_rank = aval.ndim + len(axes)
    axes = canonical_axes("expand_dims", axes, out_rank)
    dims = iter(aval.shape)
    return lax_shape.reshape(a, tuple(1 if i in axes else next(dims) for i in range(out_rank)))


def squeeze(a: Any, axis: int | Sequence[int] | None = None) -> Any:
    """``a`` without its size-1 axes (only those in ``axis`` when given)."""
    a = as_array("squeeze", a)
    aval = aval_of(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(aval.shape) if n == 1)
    else:
        axes = canonical_axes("squeeze", axis, aval.ndim)
        for i in axes:
            if aval.shape[i] != 1:
                raise ValueError(
                    f"squeeze: cannot squeeze axis {i} of an array {aval}: its size is "
                    f"{aval.shape[i]}, not 1"
                )
    return lax_shape.reshape(a, tuple(n for i, n in enumerate(aval.shape) if i not in axes))


# --- axis permutations -----------------------------------------------------------------------


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """``a`` with its axes permuted (reversed when ``axes`` is None)."""
    a = as_array("transpose", a)
    aval = aval_of(a)
    if axes is None:
        return lax_shape.transpose(a, tuple(reversed(range(aval.ndim))))
    perm = tuple(int(i) for i in axes)
    if len(perm) != aval.ndim:
        raise ValueError(f"transpose: axes {perm} do not match the axes of an array {aval}")
    return lax_shape.transpose(a, canonical_axes("transpose", perm, aval.ndim))


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """``a`` with axes ``axis1`` and ``axis2`` exchanged."""
    a = as_array("swapaxes", a)
    n = aval_of(a).ndim
    i, j = canonical_axis("swapaxes", axis1, n), canonical_axis("swapaxes", axis2, n)
    perm = list(range(n))
    perm[i], perm[j] = j, i
    return lax_shape.transpose(a, tuple(perm))


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """``a`` with axes ``source`` moved to positions ``destination`` (others keep order)."""
    a = as_array("moveaxis", a)
    n = aval_of(a).ndim
    src = canonical_axes("moveaxis", source, n)
    dst = canonical_axes("moveaxis", destination, n)
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source {source} and destination {destination} must have the same "
            "number of elements"
        )
    perm = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        perm.insert(d, s)
    return lax_shape.transpose(a, tuple(perm))


# --- broadcasting ----------------------------------------------------------------------------


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The NumPy broadcast of ``shapes``; raises ``ValueError`` if incompatible."""
    from tracejit.numpy._promote import broadcast_shapes as _broadcast

    return _broadcast("broadcast_shapes", *[tuple(s) for s in shapes])


def broadcast_to(array: Any, shape: Any) -> Any:
    """``array`` broadcast to ``shape`` (NumPy rules: size-1 or missing leading axes)."""
    array = as_array("broadcast_to", array)
    aval = aval_of(array)
    target = shape_arg("broadcast_to", shape)
    lead = len(target) - aval.ndim
    if lead < 0 or any(n not in (1, m) for n, m in zip(aval.shape, target[lead:], strict=True)):
        raise ValueError(f"broadcast_to: cannot broadcast an array {aval} to shape {target}")
    if aval.shape == target:
        return array
    return lax_shape.broadcast_in_dim(array, target, tuple(range(lead, len(target))))


def broadcast_arrays(*args: Any) -> list:
    """The arguments broadcast against each other."""
    arrays = [as_array("broadcast_arrays", a) for a in args]
    target = broadcast_shapes(*[aval_of(a).shape for a in arrays])
    return [broadcast_to(a, target) for a in arrays]


# --- joining ---------------------------------------------------------------------------------


def _as_list(name: str, arrays: Any) -> list:
    if isinstance(arrays, (Tracer, jax.Array, np.ndarray)):
        arrays = as_array(name, arrays)
        rows = aval_of(arrays).shape
        return [
            lax_shape.reshape(lax_shape.slice_in_dim(arrays, i, i + 1), rows[1:])
            for i in range(rows[0])
        ]
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name}: expected a sequence of arrays, got {type(arrays).__name__}")
    out = [as_array(name, a) for a in arrays]
    if not out:
        raise ValueError(f"{name}: need at least one array, got an empty sequence")
    return out


def _join(name: str, arrays: list, axis: int, dtype: Any) -> Any:
    """Promote ``arrays`` to one dtype and concatenate them along ``axis``."""
    avals = [aval_of(a) for a in arrays]
    listing = ", ".join(str(a) for a in avals)
    if any(a.ndim == 0 for a in avals):
        raise ValueError(f"{name}: zero-dimensional arrays cannot be concatenated: {listing}")
    if len({a.ndim for a in avals}) > 1:
        raise TypeError(f"{name}: arrays must have the same number of dimensions, got {listing}")
    axis = canonical_axis(name, axis, avals[0].ndim)
    off_axis = {a.shape[:axis] + a.shape[axis + 1 :] for a in avals}
    if len(off_axis) > 1:
        raise TypeError(f"{name}: array shapes must match except along axis {axis}, got {listing}")
    out_dtype, weak = (dtype_arg(dtype), False) if dtype is not None else result_dtype(*arrays)
    arrays = [convert(a, out_dtype, weak) for a in arrays]
    return lax_shape.concatenate(arrays, axis)


def concatenate(arrays: Any, axis: int | None = 0, dtype: Any = None) -> Any:
    """Join ``arrays`` along an existing ``axis`` (flattened first when ``axis`` is None).

    Raises:
      ValueError: for no arrays, 0-d arrays or an axis out of range.
      TypeError: for arrays whose shapes differ off ``axis`` (the shapes are named).
    """
    arrays = _as_list("concatenate", arrays)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    return _join("concatenate", arrays, axis, dtype)


def stack(arrays: Any, axis: int = 0, dtype: Any = None) -> Any:
    """Join equally shaped ``arrays`` along a new ``axis``."""
    arrays = _as_list("stack", arrays)
    avals = [aval_of(a) for a in arrays]
    if len({a.shape for a in avals}) > 1:
        listing = ", ".join(str(a) for a in avals)
        raise ValueError(f"stack: all input arrays must have the same shape, got {listing}")
    axis = canonical_axis("stack", axis, avals[0].ndim + 1)
    return _join("stack", [expand_dims(a, axis) for a in arrays], axis, dtype)


def hstack(tup: Any, dtype: Any = None) -> Any:
    """Join along the second axis (the first for 1-D arrays)."""
    arrays = atleast_1d(*_as_list("hstack", tup))
    arrays = arrays if isinstance(arrays, list) else [arrays]
    return _join("hstack", arrays, 0 if aval_of(arrays[0]).ndim == 1 else 1, dtype)


def vstack(tup: Any, dtype: Any = None) -> Any:
    """Join along the first axis, 1-D arrays becoming rows."""
    arrays = atleast_2d(*_as_list("vstack", tup))
    return _join("vstack", arrays if isinstance(arrays, list) else [arrays], 0, dtype)


def dstack(tup: Any, dtype: Any = None) -> Any:
    """Join along the third axis (depth), after :func:`atleast_3d`."""
    arrays = atleast_3d(*_as_list("dstack", tup))
    return _join("dstack", arrays if isinstance(arrays, list) else [arrays], 2, dtype)


def column_stack(tup: Any) -> Any:
    """Join 1-D arrays as columns of a 2-D array (2-D arrays as they are)."""
    arrays = []
    for a in _as_list("column_stack", tup):
        aval = aval_of(a)
        arrays.append(lax_shape.reshape(a, (aval.size, 1)) if aval.ndim < 2 else a)
    return _join("column_stack", arrays, 1, None)


# --- splitting -------------------------------------------------------------------------------


def _split(name: str, ary: Any, indices_or_sections: Any, axis: int, even: bool) -> list:
    ary = as_array(name, ary)
    aval = aval_of(ary)
    axis = canonical_axis(name, axis, aval.ndim)
    n = aval.shape[axis]
    spec = concrete_value(name, "indices_or_sections", indices_or_sections)
    if np.ndim(spec) == 0:
        sections = concrete_int(name, "indices_or_sections", spec)
        if sections <= 0:
            raise ValueError(f"{name}: the number of sections must be > 0, got {sections}")
        if even and n % sections:
            raise ValueError(
                f"{name}: array split does not result in an equal division: axis {axis} of "
                f"an array {aval} has size {n}, not a multiple of {sections}; use array_split"
            )
        # array_split: the first n % sections pieces get one extra element.
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.cumsum([0, *sizes]).tolist()
        pairs = list(zip(bounds[:-1], bounds[1:], strict=True))
    else:
        # Split points follow Python slicing: negatives count from the end, clamped.
        points = [int(i) for i in np.asarray(spec).ravel()]
        edges = [0, *points, n]
        pairs = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            start, stop, _ = builtins.slice(lo, hi).indices(n)
            pairs.append((start, max(start, stop)))
    return [lax_shape.slice_in_dim(ary, lo, hi, axis=axis) for lo, hi in pairs]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split ``ary`` into equal sections (an int) or at the given indices along ``axis``.

    Raises:
      ValueError: when an int number of sections does not divide the axis.
    """
    return _split("split", ary, indices_or_sections, axis, even=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Like :func:`split`, but a number of sections need not divide the axis."""
    return _split("array_split", ary, indices_or_sections, axis, even=False)


# --- minimum rank ----------------------------------------------------------------------------


def _atleast(name: str, arys: tuple, make) -> Any:
    out = [make(as_array(name, a)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    """Each argument with at least one dimension (a list when several are given)."""
    return _atleast("atleast_1d", arys, lambda a: lax_shape.reshape(a, _at_least(a, 1)))


def atleast_2d(*arys: Any) -> Any:
    """Each argument with at least two dimensions (``(n,)`` becomes ``(1, n)``)."""
    return _atleast("atleast_2d", arys, lambda a: lax_shape.reshape(a, _at_least(a, 2)))


def atleast_3d(*arys: Any) -> Any:
    """Each argument with at least three dimensions (``(n,)`` -> ``(1, n, 1)``,
    ``(m, n)`` -> ``(m, n, 1)``)."""

    def make(a):
        s = aval_of(a).shape
        if len(s) >= 3:
            return a
        new = {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}[len(s)]
        return lax_shape.reshape(a, new)

    return _atleast("atleast_3d", arys, make)


def _at_least(a: Any, rank: int) -> tuple[int, ...]:
    s = aval_of(a).shape
    return (1,) * (rank - len(s)) + tuple(s)
