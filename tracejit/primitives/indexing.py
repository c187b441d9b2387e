"""Indexing primitives: dynamic_slice, dynamic_update_slice and gather.

Their companions, the scatter family (the transpose of gather and the
functional updates behind ``x.at[...]``), live in ``scatter.py``.

Semantics are jax.lax's: start indices of ``dynamic_slice`` and
``dynamic_update_slice`` are clamped so that the window lies inside the
operand; ``gather`` handles out-of-range indices by its ``mode`` (clip,
fill-or-drop, or promise-in-bounds, which XLA clamps). Under ``vmap`` a
batched start index turns the slice into one ``gather`` (the update into one
``scatter``), never a loop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import (
    batch_size,
    bdim_to_front,
    instantiate,
    is_undefined,
    move_bdim,
    zeros_like_aval,
)
from tracejit.primitives._rules import shape as shape_of
from tracejit.primitives.shape import broadcast_in_dim, concatenate
from tracejit.tracing import aval_of

lax = jax.lax
GatherScatterMode = lax.GatherScatterMode
# jax.lax's dimension-number records, re-exported by tracejit.lax for its users.
GatherDimensionNumbers = lax.GatherDimensionNumbers
ScatterDimensionNumbers = lax.ScatterDimensionNumbers


def parse_mode(mode: Any, default: GatherScatterMode) -> GatherScatterMode:
    """``mode`` ('clip', 'fill', 'drop', 'promise_in_bounds' or the enum) as the enum."""
    if mode is None:
        return default
    try:
        return GatherScatterMode.from_any(mode)
    except ValueError:
        raise ValueError(
            f"unknown out-of-bounds mode {mode!r}; use 'clip', 'fill', 'drop' or "
            "'promise_in_bounds'"
        ) from None


def _dims_str(name: str, fields: dict[str, tuple[int, ...]]) -> str:
    parts = [f"{k}={v}" for k, v in fields.items() if v or not k.endswith("batching_dims")]
    return f"{name}({', '.join(parts)})"


@dataclass(frozen=True)
class GatherDims:
    """Dimension numbers of a gather (jax.lax.GatherDimensionNumbers, printable)."""

    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()

    @staticmethod
    def of(dn: Any) -> GatherDims:
        """Ours from jax's (or ours), every field a tuple of ints."""
        return GatherDims(
            *(tuple(int(d) for d in getattr(dn, f)) for f in GatherDims.__dataclass_fields__)
        )

    def to_jax(self) -> lax.GatherDimensionNumbers:
        return lax.GatherDimensionNumbers(**self.__dict__)

    def __str__(self) -> str:
        return _dims_str("GatherDimensionNumbers", self.__dict__)


@dataclass(frozen=True)
class ScatterDims:
    """Dimension numbers of a scatter (jax.lax.ScatterDimensionNumbers, printable)."""

    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()

    @staticmethod
    def of(dn: Any) -> ScatterDims:
        return ScatterDims(
            *(tuple(int(d) for d in getattr(dn, f)) for f in ScatterDims.__dataclass_fields__)
        )

    def to_jax(self) -> lax.ScatterDimensionNumbers:
        return lax.ScatterDimensionNumbers(**self.__dict__)

    def __str__(self) -> str:
        return _dims_str("ScatterDimensionNumbers", self.__dict__)


def gather_dims_of_scatter(dn: ScatterDims) -> GatherDims:
    """The gather that reads back what a scatter with ``dn`` writes (and vice versa)."""
    return GatherDims(
        offset_dims=dn.update_window_dims,
        collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims,
    )


def scatter_dims_of_gather(dn: GatherDims) -> ScatterDims:
    return ScatterDims(
        update_window_dims=dn.offset_dims,
        inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims,
    )


def _shift(dims: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d + 1 for d in dims)


def _check_index_dtype(name: str, what: str, aval: Aval) -> None:
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"{name}: {what} must have an integer dtype, got {aval}")


def _check_starts(name: str, operand: Aval, starts: tuple[Aval, ...]) -> None:
    if len(starts) != operand.ndim:
        raise TypeError(
            f"{name}: needs one start index per dimension of the operand {operand}, "
            f"got {len(starts)}"
        )
    for s in starts:
        if s.shape != () or not dtypes.is_integer(s.dtype):
            listing = ", ".join(str(a) for a in starts)
            raise TypeError(f"{name}: start indices must be integer scalars, got {listing}")
    if len({s.dtype for s in starts}) > 1:
        listing = ", ".join(str(a) for a in starts)
        raise TypeError(f"{name}: start indices must share one dtype, got {listing}")


def stack_starts(starts, dims, size: int) -> Any:
    """Scalar start indices (some batched along axis 0) as one ``[size, n]`` index array."""
    cols = [
        broadcast_in_dim(s, (size, 1), (0,) if d is not None else ())
        for s, d in zip(starts, dims, strict=True)
    ]
    return concatenate(cols, 1)


# --- dynamic_slice ------------------------------------------------------------------------


def _dynamic_slice_abstract_eval(operand: Aval, *starts: Aval, slice_sizes) -> Aval:
    _check_starts("dynamic_slice", operand, starts)
    if len(slice_sizes) != operand.ndim or any(
        not 0 <= s <= n for s, n in zip(slice_sizes, operand.shape, strict=True)
    ):
        raise TypeError(
            f"dynamic_slice: slice_sizes {tuple(slice_sizes)} must have one entry per "
            f"dimension of the operand {operand}, each between 0 and that dimension's size"
        )
    return Aval(tuple(slice_sizes), operand.dtype, operand.weak_type)


def _dynamic_slice_lower(operand, *starts, slice_sizes):
    # The wrapper already wrapped negative starts; here they are only clamped.
    starts = [jax.numpy.asarray(s) for s in starts]  # arrays, so that JAX only clamps
    return lax.dynamic_slice(operand, starts, slice_sizes, allow_negative_indices=False)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    (x, *starts), (t, *_) = primals, tangents
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if t is None:
        return out, None
    return out, dynamic_slice_p.bind(t, *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, operand, *starts, slice_sizes):
    # The adjoint of reading a window is writing it into zeros (same clamping).
    if ct is None:
        return [None] * (1 + len(starts))
    zeros = zeros_like_aval(operand.aval)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _dynamic_slice_batch(args, dims, *, slice_sizes):
    (x, *starts), (xd, *sds) = args, dims
    if all(d is None for d in sds):
        # Only the operand is batched: take its whole batch axis.
        starts = list(starts)
        starts.insert(xd, np.zeros((), aval_of(starts[0]).dtype)[()] if starts else np.int32(0))
        sizes = list(slice_sizes)
        sizes.insert(xd, shape_of(x)[xd])
        return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes)), xd
    # Batched starts: a gather of one clamped window per member.
    size = batch_size(args, dims)
    index = stack_starts(starts, sds, size)
    n = len(starts)
    dn = GatherDims(
        offset_dims=tuple(range(n)), collapsed_slice_dims=(), start_index_map=tuple(range(n))
    )
    return _gather_batch(
        [x, index],
        [xd, 0],
        dimension_numbers=dn,
        slice_sizes=tuple(slice_sizes),
        mode=GatherScatterMode.CLIP,
        fill_value=None,
        indices_are_sorted=True,
        unique_indices=True,
    )


dynamic_slice_p = register(
    Primitive(
        "dynamic_slice",
        abstract_eval=_dynamic_slice_abstract_eval,
        lower=_dynamic_slice_lower,
        jvp=_dynamic_slice_jvp,
        transpose=_dynamic_slice_transpose,
        batch=_dynamic_slice_batch,
    )
)


def _start_indices(name: str, operand: Any, start_indices: Any) -> list:
    """Start indices as scalars of one integer dtype, negative ones wrapped once (as JAX)."""
    from tracejit.primitives.elementwise import add, convert_element_type, lt, select_n

    shape = shape_of(operand)
    starts = list(start_indices)
    if len(starts) != len(shape):
        raise TypeError(
            f"{name}: needs one start index per dimension of the operand {aval_of(operand)}, "
            f"got {len(starts)}"
        )
    avals = [aval_of(s) for s in starts]
    for a in avals:
        if a.shape != () or not dtypes.is_integer(a.dtype):
            listing = ", ".join(str(b) for b in avals)
            raise TypeError(f"{name}: start indices must be integer scalars, got {listing}")
    strong = [a.dtype for s, a in zip(starts, avals, strict=True) if not isinstance(s, int)]
    dtype = np.result_type(*strong) if strong else np.dtype(np.int32)
    out = []
    for s, n in zip(starts, shape, strict=True):
        if isinstance(s, (int, np.integer)):
            s = int(s)
            out.append(np.asarray(s + n if s < 0 else s, dtype)[()])
            continue
        s = convert_element_type(s, dtype)
        if not dtypes.is_unsigned(dtype):
            s = select_n(lt(s, np.zeros((), dtype)[()]), s, add(s, np.asarray(n, dtype)[()]))
        out.append(s)
    return out


def dynamic_slice(operand: Any, start_indices: Any, slice_sizes: Any) -> Any:
    """The window of ``operand`` of shape ``slice_sizes`` at ``start_indices`` (jax.lax).

    Negative starts count from the end; starts are then clamped so that the
    window lies inside the operand, as in JAX.

    Raises:
      TypeError: for a wrong number of start indices, non-integer starts or
        slice sizes larger than the operand.
    """
    starts = _start_indices("dynamic_slice", operand, start_indices)
    return dynamic_slice_p.bind(operand, *starts, slice_sizes=tuple(int(s) for s in slice_sizes))


# --- dynamic_update_slice ---------------------------------------------------------------


def _dus_abstract_eval(operand: Aval, update: Aval, *starts: Aval) -> Aval:
    _check_starts("dynamic_update_slice", operand, starts)
    if (
        update.dtype != operand.dtype
        or update.ndim != operand.ndim
        or any(u > n for u, n in zip(update.shape, operand.shape, strict=True))
    ):
        raise TypeError(
            f"dynamic_update_slice: update {update} must have the dtype and rank of the "
            f"operand {operand} and fit inside it"
        )
    return Aval(operand.shape, operand.dtype, operand.weak_type)


def _dus_lower(operand, update, *starts):
    starts = [jax.numpy.asarray(s) for s in starts]  # arrays, so that JAX only clamps
    return lax.dynamic_update_slice(operand, update, starts, allow_negative_indices=False)


def _dus_jvp(primals, tangents):
    # Linear in (operand, update) jointly: the tangent is the same update of tangents.
    (x, u, *starts), (tx, tu, *_) = primals, tangents
    out = dynamic_update_slice_p.bind(x, u, *starts)
    if tx is None and tu is None:
        return out, None
    tx, tu = instantiate(tx, aval_of(x)), instantiate(tu, aval_of(u))
    return out, dynamic_update_slice_p.bind(tx, tu, *starts)


def _dus_transpose(ct, operand, update, *starts):
    nones = [None] * len(starts)
    if ct is None:
        return [None, None, *nones]
    u_aval = update.aval if is_undefined(update) else aval_of(update)
    ct_x = ct_u = None
    if is_undefined(operand):
        # The overwritten window does not reach the output.
        ct_x = dynamic_update_slice_p.bind(ct, zeros_like_aval(u_aval), *starts)
    if is_undefined(update):
        ct_u = dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape)
    return [ct_x, ct_u, *nones]


def _dus_batch(args, dims):
    from tracejit.primitives.scatter import scatter_batch, scatter_p

    (x, u, *starts), (xd, ud, *sds) = args, dims
    size = batch_size(args, dims)
    if all(d is None for d in sds):
        x, u = bdim_to_front(x, xd, size), bdim_to_front(u, ud, size)
        zero = np.zeros((), aval_of(starts[0]).dtype)[()] if starts else np.int32(0)
        return dynamic_update_slice_p.bind(x, u, zero, *starts), 0
    # Batched starts: one scatter of one clamped window per member.
    index = stack_starts(starts, sds, size)
    n = len(starts)
    dn = ScatterDims(
        update_window_dims=tuple(range(n)),
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=tuple(range(n)),
    )
    return scatter_batch(scatter_p)(
        [x, index, u],
        [xd, 0, ud],
        dimension_numbers=dn,
        mode=GatherScatterMode.CLIP,
        indices_are_sorted=True,
        unique_indices=True,
    )


dynamic_update_slice_p = register(
    Primitive(
        "dynamic_update_slice",
        abstract_eval=_dus_abstract_eval,
        lower=_dus_lower,
        jvp=_dus_jvp,
        transpose=_dus_transpose,
        batch=_dus_batch,
    )
)


def dynamic_update_slice(operand: Any, update: Any, start_indices: Any) -> Any:
    """``operand`` with the window at ``start_indices`` replaced by ``update`` (jax.lax).

    Negative starts count from the end; starts are clamped so that the window
    lies inside the operand, as in JAX.
    """
    starts = _start_indices("dynamic_update_slice", operand, start_indices)
    return dynamic_update_slice_p.bind(operand, update, *starts)


# --- gather ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _gather_shape(operand: Aval, indices: Aval, dn: GatherDims, slice_sizes, mode, fill_value):
    def fn(o, i):
        return lax.gather(o, i, dn.to_jax(), slice_sizes, mode=mode, fill_value=fill_value)

    spec = jax.ShapeDtypeStruct
    return tuple(
        jax.eval_shape(
            fn, spec(operand.shape, operand.dtype), spec(indices.shape, indices.dtype)
        ).shape
    )


def _gather_abstract_eval(
    operand: Aval,
    indices: Aval,
    *,
    dimension_numbers,
    slice_sizes,
    mode,
    fill_value,
    indices_are_sorted,
    unique_indices,
) -> Aval:
    _check_index_dtype("gather", "indices", indices)
    try:
        shape = _gather_shape(
            operand.strong(), indices.strong(), dimension_numbers, slice_sizes, mode, fill_value
        )
    except (TypeError, ValueError) as e:
        raise type(e)(
            f"gather: operand {operand}, indices {indices}, {dimension_numbers}, "
            f"slice_sizes={slice_sizes}: {e}"
        ) from None
    return Aval(shape, operand.dtype, operand.weak_type)


def _gather_lower(
    operand,
    indices,
    *,
    dimension_numbers,
    slice_sizes,
    mode,
    fill_value,
    indices_are_sorted,
    unique_indices,
):
    return lax.gather(
        operand,
        indices,
        dimension_numbers.to_jax(),
        slice_sizes,
        mode=mode,
        fill_value=fill_value,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
    )


def _gather_jvp(primals, tangents, **params):
    (x, idx), (t, _) = primals, tangents
    out = gather_p.bind(x, idx, **params)
    if t is None:
        return out, None
    # Linear in the operand; filled (dropped) slices have a zero tangent.
    fill = 0 if params["mode"] == GatherScatterMode.FILL_OR_DROP else None
    return out, gather_p.bind(t, idx, **{**params, "fill_value": fill})


def _gather_transpose(
    ct,
    operand,
    indices,
    *,
    dimension_numbers,
    slice_sizes,
    mode,
    fill_value,
    indices_are_sorted,
    unique_indices,
):
    # The adjoint of reading slices is adding the cotangents back where they
    # were read from: repeated indices accumulate.
    from tracejit.primitives.scatter import scatter_add_p

    if ct is None:
        return [None, None]
    zeros = zeros_like_aval(operand.aval.strong())
    out = scatter_add_p.bind(
        zeros,
        indices,
        ct,
        dimension_numbers=scatter_dims_of_gather(dimension_numbers),
        mode=mode,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
    )
    return [out, None]


def _gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
    (x, idx), (xd, idd) = args, dims
    dn = dimension_numbers
    if idd is None:
        # Batched operand only: the batch axis becomes one more (whole) window axis.
        x = move_bdim(x, xd, 0)
        new = GatherDims(
            offset_dims=(0, *_shift(dn.offset_dims)),
            collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
            start_index_map=_shift(dn.start_index_map),
            operand_batching_dims=_shift(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims,
        )
        sizes = (shape_of(x)[0], *slice_sizes)
        return gather_p.bind(x, idx, dimension_numbers=new, slice_sizes=sizes, **params), 0
    idx = move_bdim(idx, idd, 0)
    if xd is None:
        # Batched indices only: one more batch axis of the index array; the
        # operand stays unbatched.
        new = GatherDims(
            offset_dims=_shift(dn.offset_dims),
            collapsed_slice_dims=dn.collapsed_slice_dims,
            start_index_map=dn.start_index_map,
            operand_batching_dims=dn.operand_batching_dims,
            start_indices_batching_dims=_shift(dn.start_indices_batching_dims),
        )
        params = {**params, "indices_are_sorted": False, "unique_indices": False}
        return gather_p.bind(x, idx, dimension_numbers=new, slice_sizes=slice_sizes, **params), 0
    # Both batched: member b of the indices reads member b of the operand
    # (a batching dimension pair of the gather).
    x = move_bdim(x, xd, 0)
    new = GatherDims(
        offset_dims=_shift(dn.offset_dims),
        collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
        start_index_map=_shift(dn.start_index_map),
        operand_batching_dims=(0, *_shift(dn.operand_batching_dims)),
        start_indices_batching_dims=(0, *_shift(dn.start_indices_batching_dims)),
    )
    sizes = (1 if shape_of(x)[0] else 0, *slice_sizes)
    return gather_p.bind(x, idx, dimension_numbers=new, slice_sizes=sizes, **params), 0


gather_p = register(
    Primitive(
        "gather",
        abstract_eval=_gather_abstract_eval,
        lower=_gather_lower,
        jvp=_gather_jvp,
        transpose=_gather_transpose,
        batch=_gather_batch,
    )
)


def gather(
    operand: Any,
    start_indices: Any,
    dimension_numbers: Any,
    slice_sizes: Any,
    *,
    unique_indices: bool = False,
    indices_are_sorted: bool = False,
    mode: Any = None,
    fill_value: Any = None,
) -> Any:
    """XLA's gather with jax.lax's signature and semantics.

    Args:
      operand: the array to read from.
      start_indices: integer array; its last axis holds the index vectors.
      dimension_numbers: ``jax.lax.GatherDimensionNumbers`` (or ``GatherDims``).
      slice_sizes: the size of the window read at each index, per operand axis.
      unique_indices, indices_are_sorted: promises passed on to XLA.
      mode: out-of-range handling: 'clip', 'fill' (``fill_value``, default NaN
        for floats) or 'promise_in_bounds' (the default; XLA clamps).
      fill_value: the value of out-of-range slices when ``mode='fill'``.
    """
    mode = parse_mode(mode, GatherScatterMode.PROMISE_IN_BOUNDS)
    if fill_value is not None:
        fill_value = np.asarray(fill_value).item()
    return gather_p.bind(
        operand,
        start_indices,
        dimension_numbers=GatherDims.of(dimension_numbers),
        slice_sizes=tuple(int(s) for s in slice_sizes),
        mode=mode,
        fill_value=fill_value,
        indices_are_sorted=bool(indices_are_sorted),
        unique_indices=bool(unique_indices),
    )
