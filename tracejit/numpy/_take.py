"""tracejit.numpy take and take_along_axis (jax.numpy's modes), re-exported by
tracejit.numpy.indexing. Both are one gather along an axis."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.numpy._indexer import as_operand, normalize
from tracejit.numpy._promote import asarray_arg, broadcast_shapes, canonical_axis
from tracejit.primitives._rules import zeros_like_aval
from tracejit.primitives.gather import GatherDims, GatherScatterMode, gather, parse_mode
from tracejit.primitives.shape import reshape
from tracejit.tracing import Tracer, aval_of


def _take_mode(name: str, mode: Any, indices: Any, n: int) -> tuple[Any, GatherScatterMode]:
    if mode is None or mode == "fill":
        return normalize(indices, n), GatherScatterMode.FILL_OR_DROP
    if mode == "clip":
        return indices, GatherScatterMode.CLIP
    if mode == "wrap":
        from tracejit.numpy.elementwise import remainder

        return remainder(indices, np.asarray(n, aval_of(indices).dtype)[()]), (
            GatherScatterMode.PROMISE_IN_BOUNDS
        )
    raise ValueError(
        f"{name}: invalid mode {mode!r}; use 'fill' (the default), 'clip' or 'wrap' "
        "('raise' is not supported: compiled code cannot raise on out-of-range indices)"
    )


def _index_arg(name: str, indices: Any) -> Any:
    indices = asarray_arg(name, indices)
    if isinstance(indices, (np.ndarray, jax.Array, np.generic)) and not isinstance(indices, Tracer):
        indices = np.asarray(indices)
    if not dtypes.is_integer(aval_of(indices).dtype):
        raise TypeError(f"{name}: indices must be integers, got {aval_of(indices)}")
    return indices


def take(
    a: Any,
    indices: Any,
    axis: int | None = None,
    mode: Any = None,
    unique_indices: bool = False,
    indices_are_sorted: bool = False,
    fill_value: Any = None,
) -> Any:
    """Elements of ``a`` at ``indices`` along ``axis`` (flattened when None), as jnp.take.

    Args:
      mode: 'fill' (default: out-of-range indices give ``fill_value``, NaN for
        floats), 'clip' (clamp) or 'wrap' (modulo the axis size).

    Raises:
      ValueError: an unknown ``mode`` or an axis out of range.
      IndexError: a non-empty take from an empty axis.
    """
    a = as_operand("take", a)
    indices = _index_arg("take", indices)
    if axis is None:
        a = reshape(a, (aval_of(a).size,))
        axis = 0
    shape = aval_of(a).shape
    axis = canonical_axis("take", axis, len(shape))
    indices, gmode = _take_mode("take", mode, indices, shape[axis])
    idx_shape = aval_of(indices).shape
    if shape[axis] == 0:
        if math.prod(idx_shape):
            raise IndexError("take: cannot do a non-empty take from an empty axis")
        return a
    out_shape = shape[:axis] + idx_shape + shape[axis + 1 :]
    if math.prod(idx_shape) == 0:
        return zeros_like_aval(Aval(out_shape, aval_of(a).dtype))
    k = len(idx_shape)
    dims = GatherDims(
        offset_dims=tuple(range(axis)) + tuple(range(axis + k, len(shape) + k - 1)),
        collapsed_slice_dims=(axis,),
        start_index_map=(axis,),
    )
    sizes = shape[:axis] + (1,) + shape[axis + 1 :]
    return gather(
        a,
        reshape(indices, idx_shape + (1,)),
        dims,
        sizes,
        mode=gmode,
        fill_value=fill_value,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
    )


def take_along_axis(
    arr: Any, indices: Any, axis: int | None, mode: Any = None, fill_value: Any = None
) -> Any:
    """``arr``'s elements at ``indices`` along ``axis`` (np.take_along_axis, jnp's modes).

    ``indices`` has ``arr``'s rank; its other axes broadcast against ``arr``'s.

    Raises:
      ValueError: ``indices`` and ``arr`` of different ranks, or a bad mode.
    """
    arr = as_operand("take_along_axis", arr)
    indices = _index_arg("take_along_axis", indices)
    if axis is None:
        arr = reshape(arr, (aval_of(arr).size,))
        indices = reshape(indices, (aval_of(indices).size,))
        axis = 0
    shape, idx_shape = aval_of(arr).shape, aval_of(indices).shape
    if len(shape) != len(idx_shape):
        raise ValueError(
            f"take_along_axis: indices {aval_of(indices)} and arr {aval_of(arr)} must have "
            "the same number of dimensions"
        )
    axis = canonical_axis("take_along_axis", axis, len(shape))
    arr_shape = shape[:axis] + (1,) + shape[axis + 1 :]
    out_shape = broadcast_shapes("take_along_axis", idx_shape, arr_shape)
    if shape[axis] == 0:
        return zeros_like_aval(Aval(out_shape, aval_of(arr).dtype))
    if mode not in (None, "fill", "clip", "promise_in_bounds"):
        raise ValueError(
            f"take_along_axis: invalid mode {mode!r}; use 'fill' (the default), 'clip' or "
            "'promise_in_bounds'"
        )
    gmode = parse_mode(mode, GatherScatterMode.FILL_OR_DROP)
    if gmode != GatherScatterMode.PROMISE_IN_BOUNDS:
        indices = normalize(indices, shape[axis])
    # Axes where the indices have size 1 are taken whole (window axes); axes
    # where arr has size 1 are squeezed away; the others pair up as batching
    # dimensions of the gather (element b of the indices reads row b of arr).
    index_axes = [i for i, n in enumerate(idx_shape) if i == axis or n != 1]
    squeeze, sizes, offset, batching_op, batching_idx = [], [], [], [], []
    start_map = collapsed = ()
    new_i = j = 0
    for i in range(len(shape)):
        if i == axis:
            sizes.append(1)
            start_map = collapsed = (new_i,)
            new_i, j = new_i + 1, j + 1
        elif idx_shape[i] == 1:
            offset.append(i)
            sizes.append(shape[i])
            new_i += 1
        elif shape[i] == 1:
            squeeze.append(i)
            j += 1
        else:
            sizes.append(1 if shape[i] else 0)
            batching_op.append(new_i)
            batching_idx.append(j)
            new_i, j = new_i + 1, j + 1
    indices = reshape(indices, tuple(out_shape[i] for i in index_axes) + (1,))
    arr = reshape(arr, tuple(n for i, n in enumerate(shape) if i not in squeeze))
    dims = GatherDims(tuple(offset), collapsed, start_map, tuple(batching_op), tuple(batching_idx))
    return gather(arr, indices, dims, tuple(sizes), mode=gmode, fill_value=fill_value)
