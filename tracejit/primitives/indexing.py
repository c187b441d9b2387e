"""Dynamic slicing primitives: dynamic_slice and dynamic_update_slice.

jax.lax's semantics: the wrappers wrap negative start indices once (counting
from the end), and the primitives clamp the starts so that the window lies
inside the operand. Under ``vmap`` a batched start index turns the slice into
one ``gather`` (the update into one ``scatter``), never a loop; batched
operands alone stay slices.
"""

from __future__ import annotations

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
    zeros_like_aval,
)
from tracejit.primitives._rules import shape as shape_of
from tracejit.primitives.gather import (
    GatherDims,
    GatherScatterMode,
    ScatterDims,
    gather_batch,
)
from tracejit.primitives.scatter import scatter_batch, scatter_p
from tracejit.primitives.shape import broadcast_in_dim, concatenate
from tracejit.tracing import aval_of

lax = jax.lax


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
    return gather_batch(
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
