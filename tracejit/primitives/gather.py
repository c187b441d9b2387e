"""The gather primitive and the dimension numbers shared with the scatter family.

A gather reads one window of the operand at each index vector (the last axis
of the index array): jax.lax's semantics, out-of-range indices handled by the
``mode`` (clip, fill-or-drop, or promise-in-bounds, which XLA clamps). Its
transpose is scatter-add (``scatter.py``); under ``vmap`` a batched operand
becomes one more window axis, batched indices one more batch axis, and both
batched a batching-dimension pair, so the result is always one gather.
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
from tracejit.primitives._rules import move_bdim, zeros_like_aval
from tracejit.primitives._rules import shape as shape_of

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


# --- gather ------------------------------------------------------------------------------


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


def gather_batch(args, dims, *, dimension_numbers, slice_sizes, **params):
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
        batch=gather_batch,
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
