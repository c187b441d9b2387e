"""NumPy indexing expressions parsed into slices, dynamic slices or one gather.

``x[idx]`` and ``x.at[idx]`` share this parser. An index tuple becomes a list
of entries, one per item after the ellipsis is expanded:

- ``("none", None)``: ``None``/``newaxis`` (a new axis of size 1);
- ``("int", i)``: a static Python/NumPy integer;
- ``("scalar", s)``: a 0-d integer array or traced scalar (a dynamic index);
- ``("array", a)``: an integer array of rank >= 1 (advanced indexing; concrete
  boolean masks arrive here as their ``nonzero()`` arrays);
- ``("slice", slice)``: a slice with static bounds.

``to_gather`` is JAX's ``_index_to_gather``: it turns the entries into the
index array and dimension numbers of one XLA gather, which ``x.at[idx]``
transposes into a scatter. Following NumPy, when advanced indices (and the
integers among them) are separated by a slice, ``None`` or ``...``, their
broadcast axes go first in the result; otherwise they replace the indexed
axes in place.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import jax
import numpy as np

from tracejit import dtypes
from tracejit.errors import ConcretizationError
from tracejit.numpy._promote import broadcast_shapes
from tracejit.primitives.elementwise import add, convert_element_type, lt, select_n
from tracejit.primitives.gather import GatherDims
from tracejit.primitives.shape import broadcast_in_dim, concatenate
from tracejit.tracing import Tracer, aval_of, concrete_or_none

INDEX_DTYPE = np.dtype(np.int32)
_CONCRETE = (np.ndarray, jax.Array)


def as_operand(name: str, x: Any) -> Any:
    """The array being indexed: traced and jax arrays as they are, others converted."""
    if isinstance(x, (Tracer, jax.Array)):
        return x
    from tracejit.numpy._promote import asarray_arg
    from tracejit.numpy.creation import asarray

    return asarray(asarray_arg(name, x))


class Parsed(NamedTuple):
    entries: list  # (kind, value) pairs, one per item, the ellipsis expanded
    contiguous: bool  # the advanced indices are adjacent (NumPy's placement rule)
    shape: tuple[int, ...]  # the operand's shape with scalar-boolean axes inserted
    bool_axes: tuple[int, ...]  # those inserted axes


def _classify(name: str, item: Any) -> tuple[str, Any]:
    if item is None:
        return ("none", None)
    if item is Ellipsis:
        return ("ellipsis", None)
    if isinstance(item, slice):
        return ("slice", _static_slice(name, item))
    if isinstance(item, (bool, np.bool_)):
        return ("mask", np.asarray(item))
    if isinstance(item, (int, np.integer)):
        return ("int", operator.index(item))
    if isinstance(item, (list, tuple)):
        item = _sequence_index(name, item)
    if isinstance(item, (Tracer, *_CONCRETE)):
        aval = aval_of(item)
        if aval.dtype == np.bool_:
            return ("mask", item)
        if not dtypes.is_integer(aval.dtype):
            raise TypeError(
                f"{name}: indexer must have integer or boolean type, got indexer {aval}; "
                "convert it with .astype(int)"
            )
        if isinstance(item, _CONCRETE):
            item = np.asarray(item)
        return ("scalar" if aval.ndim == 0 else "array", item)
    if isinstance(item, (float, complex, np.generic, str)):
        raise TypeError(
            f"{name}: indexer must have integer or boolean type, got {type(item).__name__} {item!r}"
        )
    raise IndexError(
        f"{name}: only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) and integer "
        f"or boolean arrays are valid indices, got {type(item).__name__}"
    )


def _sequence_index(name: str, seq: Any) -> Any:
    """A (nested) list used as an index: an array, as in JAX."""
    from tracejit.numpy.creation import array

    flat: list = []
    stack = [seq]
    while stack:
        s = stack.pop()
        if isinstance(s, (list, tuple)):
            stack.extend(s)
        else:
            flat.append(s)
    if any(s is None or s is Ellipsis or isinstance(s, slice) for s in flat):
        raise TypeError(
            f"{name}: a list index may hold only integers or booleans; to index several "
            "axes use a tuple, x[tuple(seq)]"
        )
    if not flat:
        return np.zeros((0,), INDEX_DTYPE)
    if any(isinstance(s, Tracer) for s in flat):
        return array(seq)
    return np.asarray(seq)


def _static_slice(name: str, s: slice) -> slice:
    def bound(v: Any) -> int | None:
        if v is None:
            return None
        if isinstance(v, Tracer):
            known = concrete_or_none(v)
            if known is None:
                raise IndexError(
                    f"{name}: slice bounds must be static integers, got a traced value "
                    f"{aval_of(v)}; use tj.lax.dynamic_slice(x, start_indices, slice_sizes) "
                    "for a window at a traced position"
                )
            v = known
        try:
            return operator.index(np.asarray(v).item() if isinstance(v, _CONCRETE) else v)
        except TypeError:
            raise TypeError(
                f"{name}: slice bounds must be integers or None, got {type(v).__name__} {v!r}"
            ) from None

    step = bound(s.step)
    if step == 0:
        raise ValueError(f"{name}: slice step cannot be zero")
    return slice(bound(s.start), bound(s.stop), step)


def _concrete_mask(name: str, mask: Any) -> np.ndarray:
    if isinstance(mask, Tracer):
        value = concrete_or_none(mask)
        if value is None:
            raise ConcretizationError(
                f"{name}: a boolean mask index needs a concrete value, but got a traced "
                f"value {aval_of(mask)}: the result's shape would depend on how many entries "
                "are True. Use tnp.where(mask, x, fill) to keep the shape, or pass the mask "
                "as a concrete (non-traced) array"
            )
        mask = value
    return np.asarray(mask)


def parse(name: str, idx: Any, shape: tuple[int, ...], check_bounds: bool) -> Parsed:
    """The entries of ``idx`` for an operand of ``shape`` (see the module docstring).

    Raises:
      IndexError: too many indices, two ellipses, a static integer out of
        range (when ``check_bounds``) or a mask of the wrong shape.
      ConcretizationError: a boolean mask that is a traced value.
    """
    if isinstance(idx, list):
        raise TypeError(
            f"{name}: using a non-tuple sequence for multidimensional indexing is not "
            "allowed (as in JAX); use x[tnp.array(seq)] for an index array or "
            "x[tuple(seq)] for one index per axis"
        )
    items = idx if isinstance(idx, tuple) else (idx,)
    raw = [_classify(name, item) for item in items]
    consumed = sum(
        0 if k in ("none", "ellipsis") else np.ndim(v) if k == "mask" else 1 for k, v in raw
    )
    if sum(k == "ellipsis" for k, _ in raw) > 1:
        raise IndexError(f"{name}: an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(
            f"{name}: too many indices for array: array is {len(shape)}-dimensional, but "
            f"{consumed} were indexed"
        )
    # Boolean masks become the integer arrays of their True positions.
    expanded: list = []
    axis = 0
    for kind, value in raw:
        if kind == "ellipsis":
            axis += len(shape) - consumed
        if kind != "mask" or np.ndim(value) == 0:
            expanded.append((kind, value))
            axis += kind in ("int", "scalar", "array", "slice")
            continue
        mask = _concrete_mask(name, value)
        for i, (m, n) in enumerate(zip(mask.shape, shape[axis : axis + mask.ndim], strict=True)):
            if m != n:
                raise IndexError(
                    f"{name}: boolean index did not match indexed array along axis "
                    f"{axis + i}; size of axis is {n} but size of corresponding boolean "
                    f"axis is {m}"
                )
        expanded.extend(("array", a.astype(INDEX_DTYPE)) for a in np.nonzero(mask))
        axis += mask.ndim
    positions = [i for i, (k, _) in enumerate(expanded) if k in ("int", "scalar", "array")]
    contiguous = all(b - a == 1 for a, b in zip(positions, positions[1:], strict=False))

    entries: list = []
    new_shape, bool_axes = list(shape), []
    axis = 0
    for kind, value in expanded:
        if kind == "ellipsis":
            n_full = len(shape) - consumed
            entries.extend(("slice", slice(None)) for _ in range(n_full))
            axis += n_full
        elif kind == "mask":
            # A scalar boolean: a new axis of size 1 indexed by arange(0 or 1), as JAX.
            new_shape.insert(axis, 1)
            bool_axes.append(axis)
            entries.append(("array", np.arange(int(_concrete_mask(name, value)), dtype=np.int32)))
            axis += 1
        else:
            if kind == "int" and check_bounds:
                n = new_shape[axis]
                if not -n <= value < n:
                    raise IndexError(
                        f"{name}: index {value} is out of bounds for axis {axis} with size {n}"
                    )
            entries.append((kind, value))
            axis += kind != "none"
    entries.extend(("slice", slice(None)) for _ in range(len(new_shape) - axis))
    return Parsed(entries, contiguous, tuple(new_shape), tuple(bool_axes))


def normalize(value: Any, n: int) -> Any:
    """An index with negative values wrapped once (``i + n``), as an int32 value."""
    if isinstance(value, int):
        return np.int32(value + n if value < 0 else value)
    if isinstance(value, np.ndarray):
        if dtypes.is_unsigned(value.dtype):
            return value.astype(INDEX_DTYPE)
        return np.where(value < 0, value + n, value).astype(INDEX_DTYPE)
    dtype = aval_of(value).dtype
    if not dtypes.is_unsigned(dtype):
        n_ = np.asarray(n, dtype)[()]
        value = select_n(lt(value, np.zeros((), dtype)[()]), value, add(value, n_))
    return convert_element_type(value, INDEX_DTYPE)


class GatherSpec(NamedTuple):
    indices: Any  # int32 [*batch, k]; None when no axis is indexed (k == 0)
    dims: GatherDims
    slice_sizes: tuple[int, ...]
    slice_shape: tuple[int, ...]  # the indexed result's shape, newaxis dims included
    gather_shape: tuple[int, ...]  # the same without the newaxis dims (the gather's output)
    unique: bool  # no advanced indices, so no location is read twice


def to_gather(parsed: Parsed) -> GatherSpec:
    """One gather computing ``x[idx]`` (``x`` reshaped to ``parsed.shape``)."""
    entries, shape = parsed.entries, parsed.shape
    adv = [(i, v) for i, (k, v) in enumerate(entries) if k in ("int", "scalar", "array")]
    if not any(entries[i][0] == "array" for i, _ in adv):
        adv = []
    adv_pos = [i for i, _ in adv]
    first = (adv_pos[0] if parsed.contiguous else 0) if adv else -1

    comps: list = []  # (int32 index value, its first axis among the gather's batch axes)
    batch_shape: list[int] = []
    offset_dims, collapsed, start_index_map = [], [], []
    slice_sizes, slice_shape = [], []
    out_axis = 0  # position in the gather's output
    axis = 0  # operand axis
    # entry -> the operand axis it indexes (None entries index none)
    x_axis_of = {i: sum(k != "none" for k, _ in entries[:i]) for i in range(len(entries))}
    for i, (kind, value) in enumerate(entries):
        if i == first:
            # The advanced block: the index arrays broadcast together.
            values = [normalize(v, shape[x_axis_of[j]]) for j, v in adv]
            try:
                block = broadcast_shapes("index", *[tuple(np.shape(v)) for v in values])
            except ValueError:
                listing = " ".join(str(tuple(np.shape(v))) for v in values)
                raise IndexError(
                    f"shape mismatch: indexing arrays could not be broadcast together with "
                    f"shapes {listing}"
                ) from None
            start = len(batch_shape)
            comps.extend((v, start + len(block) - np.ndim(v)) for v in values)
            batch_shape.extend(block)
            start_index_map.extend(x_axis_of[j] for j in adv_pos)
            collapsed.extend(x_axis_of[j] for j in adv_pos)
            slice_shape.extend(block)
            out_axis += len(block)
        if i in adv_pos:
            slice_sizes.append(1)
            axis += 1
            continue
        if kind in ("int", "scalar"):
            comps.append((normalize(value, shape[axis]), len(batch_shape)))
            collapsed.append(axis)
            start_index_map.append(axis)
            slice_sizes.append(1)
            axis += 1
        elif kind == "none":
            slice_shape.append(None)
        else:
            start, stop, step = value.indices(shape[axis])
            size = len(range(start, stop, step))
            slice_shape.append(size)
            if step == 1:
                if size != shape[axis]:
                    comps.append((np.int32(start), len(batch_shape)))
                    start_index_map.append(axis)
                slice_sizes.append(size)
                offset_dims.append(out_axis)
            else:
                # A strided slice reads the positions start + step * k (descending
                # for a negative step): one more batch axis of the index array.
                positions = start + step * np.arange(size, dtype=INDEX_DTYPE)
                comps.append((positions, len(batch_shape)))
                batch_shape.append(size)
                start_index_map.append(axis)
                collapsed.append(axis)
                slice_sizes.append(1)
            out_axis += 1
            axis += 1
    dims = GatherDims(tuple(offset_dims), tuple(sorted(collapsed)), tuple(start_index_map))
    full = tuple(1 if s is None else s for s in slice_shape)
    gather_shape = tuple(s for s in slice_shape if s is not None)
    indices = _stack(comps, tuple(batch_shape)) if comps else None
    return GatherSpec(indices, dims, tuple(slice_sizes), full, gather_shape, not adv)


def _stack(comps: list, batch_shape: tuple[int, ...]) -> Any:
    """The components broadcast to ``batch_shape`` and stacked along a last axis."""
    rank = len(batch_shape)
    if all(isinstance(v, (np.ndarray, np.generic)) for v, _ in comps):
        out = np.empty(batch_shape + (len(comps),), INDEX_DTYPE)
        for j, (v, start) in enumerate(comps):
            v = np.asarray(v)
            v = v.reshape((1,) * start + v.shape + (1,) * (rank - start - v.ndim))
            out[..., j] = np.broadcast_to(v, batch_shape)
        return out
    cols = [
        broadcast_in_dim(v, batch_shape + (1,), tuple(range(start, start + np.ndim(v))))
        for v, start in comps
    ]
    return concatenate(cols, rank)
