"""tracejit.numpy indexing: ``x[idx]``, functional updates ``x.at[idx]``, take,
take_along_axis.

``x[idx]`` picks the cheapest form, as JAX does: static integers, slices,
``None`` and ``...`` become ``slice``/``rev``/``reshape``; traced scalar
integers a ``dynamic_slice`` (clamped like JAX); anything with an index array
one ``gather`` (out-of-range indices are clamped). ``x.at[idx].set/add/...``
is the matching ``scatter``, where out-of-range updates are dropped and
repeated indices accumulate for ``add``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tracejit.ir import Aval
from tracejit.numpy._indexer import Parsed, as_operand, parse, to_gather
from tracejit.numpy._promote import (
    asarray_arg,
    broadcast_to_shape,
    convert,
    result_dtype,
)
from tracejit.numpy._take import take, take_along_axis
from tracejit.primitives import scatter as sc
from tracejit.primitives._rules import zeros_like_aval
from tracejit.primitives.elementwise import convert_element_type
from tracejit.primitives.gather import (
    GatherScatterMode,
    ScatterDims,
    gather,
    parse_mode,
)
from tracejit.primitives.indexing import dynamic_slice
from tracejit.primitives.shape import reshape, rev
from tracejit.primitives.shape import slice as lax_slice
from tracejit.tracing import aval_of

__all__ = ["getitem", "IndexUpdateHelper", "IndexUpdateRef", "take", "take_along_axis"]


def getitem(x: Any, idx: Any) -> Any:
    """``x[idx]`` with NumPy's indexing rules (JAX's out-of-range behaviour).

    Supports integers (negative count from the end; static ones out of range
    raise IndexError), slices with any step, ``None``, ``...``, integer arrays
    (advanced indexing with broadcasting), traced integers (clamped to the
    valid range) and boolean masks with concrete values.

    Raises:
      IndexError: too many indices, or a static integer out of range.
      TypeError: a float (or other non-integer) index.
      ConcretizationError: a boolean mask that is a traced value.
    """
    x = as_operand("getitem", x)
    parsed = parse("getitem", idx, aval_of(x).shape, check_bounds=True)
    kinds = {k for k, _ in parsed.entries}
    if "array" not in kinds:
        if "scalar" not in kinds:
            return _static_index(x, parsed)
        return _dynamic_index(x, parsed)
    return _gather_index(x, parsed, GatherScatterMode.PROMISE_IN_BOUNDS, None)


def _static_index(x: Any, parsed: Parsed, dynamic: bool = False) -> Any:
    """Static ints and slices as one ``slice`` (+ ``rev`` for negative steps)."""
    shape = aval_of(x).shape
    starts, limits, strides, reversed_axes, out_shape = [], [], [], [], []
    axis = 0
    for kind, value in parsed.entries:
        if kind == "none":
            out_shape.append(1)
            continue
        n = shape[axis]
        if kind == "int":
            i = value + n if value < 0 else value
            starts.append(i)
            limits.append(i + 1)
            strides.append(1)
        elif kind == "scalar":  # taken whole here; the dynamic slice picks one
            starts.append(0)
            limits.append(n)
            strides.append(1)
        else:
            start, stop, step = value.indices(n)
            size = len(range(start, stop, step))
            out_shape.append(size)
            if size == 0:
                starts.append(0)
                limits.append(0)
                strides.append(1)
            elif step > 0:
                starts.append(start)
                limits.append(start + (size - 1) * step + 1)
                strides.append(step)
            else:
                # Read the same elements ascending, then reverse that axis.
                starts.append(start + (size - 1) * step)
                limits.append(start + 1)
                strides.append(-step)
                reversed_axes.append(axis)
        axis += 1
    y = rev(lax_slice(x, starts, limits, strides), reversed_axes)
    return y if dynamic else reshape(y, out_shape)


def _dynamic_index(x: Any, parsed: Parsed) -> Any:
    """Traced scalar integers: a ``dynamic_slice`` of size 1 on their axes."""
    y = _static_index(x, parsed, dynamic=True)
    shape = aval_of(y).shape
    starts, sizes, out_shape = [], [], []
    axis = 0
    for kind, value in parsed.entries:
        if kind == "none":
            out_shape.append(1)
            continue
        if kind == "scalar":
            starts.append(value)
            sizes.append(1)
        else:
            starts.append(0)
            sizes.append(shape[axis])
            if kind == "slice":
                out_shape.append(shape[axis])
        axis += 1
    return reshape(dynamic_slice(y, starts, sizes), out_shape)


def _gather_index(
    x: Any,
    parsed: Parsed,
    mode: GatherScatterMode,
    fill_value: Any,
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
) -> Any:
    spec = to_gather(parsed)
    aval = aval_of(x)
    if math.prod(spec.slice_shape) == 0:
        return zeros_like_aval(Aval(spec.slice_shape, aval.dtype))
    y = reshape(x, parsed.shape)
    if spec.indices is not None:
        y = gather(
            y,
            spec.indices,
            spec.dims,
            spec.slice_sizes,
            mode=mode,
            fill_value=fill_value,
            indices_are_sorted=indices_are_sorted or spec.unique,
            unique_indices=unique_indices or spec.unique,
        )
    return reshape(y, spec.slice_shape)


def _scatter_index(
    x: Any,
    idx: Any,
    values: Any,
    prim_fn,
    mode: Any,
    indices_are_sorted: bool,
    unique_indices: bool,
) -> Any:
    x = as_operand("at[]", x)
    values = asarray_arg("at[]", values)
    aval = aval_of(x)
    parsed = parse("at[]", idx, aval.shape, check_bounds=False)
    spec = to_gather(parsed)
    if math.prod(spec.slice_shape) == 0:
        return x
    # Update in the promoted dtype, then cast back to x's (as JAX).
    dtype, weak = result_dtype(x, values)
    y = convert(x, dtype, weak) if dtype != aval.dtype else x
    u = convert(values, dtype, weak)
    try:
        u = broadcast_to_shape(u, spec.slice_shape)
    except ValueError:
        raise ValueError(
            f"at[]: cannot broadcast the update values {aval_of(values)} to the shape "
            f"{spec.slice_shape} of the indexed array x[idx] (x is {aval})"
        ) from None
    u = reshape(u, spec.gather_shape)
    y = reshape(y, parsed.shape)
    indices = spec.indices if spec.indices is not None else np.zeros((0,), np.int32)
    dims = ScatterDims(
        spec.dims.offset_dims, spec.dims.collapsed_slice_dims, spec.dims.start_index_map
    )
    out = prim_fn(
        y,
        indices,
        u,
        dims,
        mode=parse_mode(mode, GatherScatterMode.FILL_OR_DROP),
        indices_are_sorted=indices_are_sorted or spec.unique,
        unique_indices=unique_indices or spec.unique,
    )
    out = reshape(out, aval.shape)
    return convert_element_type(out, aval.dtype, aval.weak_type)


class IndexUpdateRef:
    """``x.at[idx]``: functional updates of the elements ``x[idx]`` selects.

    Each method returns a new array; ``x`` is unchanged. Out-of-range indices
    are dropped by the updates (``mode='clip'`` clamps them instead); repeated
    indices accumulate for ``add``/``multiply``/``min``/``max``, and one of the
    updates wins for ``set``.
    """

    __slots__ = ("array", "index")

    def __init__(self, array: Any, index: Any):
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"IndexUpdateRef({aval_of(self.array)}, {self.index!r})"

    def get(
        self,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
        fill_value: Any = None,
    ) -> Any:
        """``x[idx]``; ``mode='fill'`` gives ``fill_value`` (NaN) where out of range."""
        if mode is None and fill_value is None:
            return getitem(self.array, self.index)
        x = as_operand("at[].get", self.array)
        parsed = parse("at[].get", self.index, aval_of(x).shape, check_bounds=False)
        mode = parse_mode(mode, GatherScatterMode.FILL_OR_DROP)
        if fill_value is not None:
            fill_value = np.asarray(fill_value).item()
        return _gather_index(x, parsed, mode, fill_value, indices_are_sorted, unique_indices)

    def _update(self, fn, values, indices_are_sorted, unique_indices, mode):
        return _scatter_index(
            self.array, self.index, values, fn, mode, indices_are_sorted, unique_indices
        )

    def set(
        self,
        values: Any,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        """``x`` with ``x[idx] = values``."""
        return self._update(sc.scatter, values, indices_are_sorted, unique_indices, mode)

    def add(
        self,
        values: Any,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        """``x`` with ``x[idx] += values`` (repeated indices accumulate)."""
        return self._update(sc.scatter_add, values, indices_are_sorted, unique_indices, mode)

    def multiply(
        self,
        values: Any,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        """``x`` with ``x[idx] *= values`` (repeated indices multiply)."""
        return self._update(sc.scatter_mul, values, indices_are_sorted, unique_indices, mode)

    mul = multiply

    def min(
        self,
        values: Any,
        *,
        indices_are_sorted: bool = False,  # noqa: A003
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        """``x`` with ``x[idx] = minimum(x[idx], values)``."""
        return self._update(sc.scatter_min, values, indices_are_sorted, unique_indices, mode)

    def max(
        self,
        values: Any,
        *,
        indices_are_sorted: bool = False,  # noqa: A003
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        """``x`` with ``x[idx] = maximum(x[idx], values)``."""
        return self._update(sc.scatter_max, values, indices_are_sorted, unique_indices, mode)


class IndexUpdateHelper:
    """The ``x.at`` property: ``x.at[idx]`` is an :class:`IndexUpdateRef`."""

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array

    def __getitem__(self, index: Any) -> IndexUpdateRef:
        return IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"IndexUpdateHelper({aval_of(self.array)})"
