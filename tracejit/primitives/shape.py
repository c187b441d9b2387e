"""Shape primitives: broadcast_in_dim, reshape, transpose, concatenate, pad,
slice, rev and iota (plus the squeeze/expand_dims reshapes).

All but iota are linear, so each has a transpose rule; their batching rules
keep the batch dimension at the front (or where it already is).
"""

from __future__ import annotations

import jax
import numpy as np

from tracejit.ir import Aval
from tracejit.primitive import ZERO_TANGENT, Primitive, register
from tracejit.primitives._rules import (
    batch_size,
    bdim_to_front,
    instantiate,
    is_undefined,
    move_bdim,
)
from tracejit.primitives._rules import shape as shape_of
from tracejit.tracing import aval_of

lax = jax.lax


# --- broadcast_in_dim ------------------------------------------------------------


def _broadcast_in_dim_abstract_eval(x: Aval, *, shape, broadcast_dimensions) -> Aval:
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(
            f"broadcast_in_dim: operand {x} needs {x.ndim} broadcast_dimensions, "
            f"got {broadcast_dimensions}"
        )
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise TypeError(
                f"broadcast_in_dim: cannot broadcast {x} to shape {tuple(shape)} "
                f"with broadcast_dimensions={tuple(broadcast_dimensions)}"
            )
    if list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(
            f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must be increasing"
        )
    return Aval(tuple(shape), x.dtype, x.weak_type)


def _broadcast_in_dim_jvp(primals, tangents, *, shape, broadcast_dimensions):
    (x,), (t,) = primals, tangents
    out = broadcast_in_dim(x, shape, broadcast_dimensions)
    return out, None if t is None else broadcast_in_dim(t, shape, broadcast_dimensions)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    from tracejit.primitives.reductions import reduce_sum

    if ct is None:
        return [None]
    in_shape = x.aval.shape
    new_axes = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    expanded = tuple(
        d for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1
    )
    summed = reduce_sum(ct, tuple(sorted(new_axes + expanded)))
    return [reshape(summed, in_shape)]


def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    x = move_bdim(x, d, 0)
    size = aval_of(x).shape[0]
    new_dims = (0,) + tuple(b + 1 for b in broadcast_dimensions)
    return broadcast_in_dim(x, (size, *shape), new_dims), 0


broadcast_in_dim_p = register(
    Primitive(
        "broadcast_in_dim",
        abstract_eval=_broadcast_in_dim_abstract_eval,
        lower=lambda x, *, shape, broadcast_dimensions: lax.broadcast_in_dim(
            x, shape, broadcast_dimensions
        ),
        jvp=_broadcast_in_dim_jvp,
        transpose=_broadcast_in_dim_transpose,
        batch=_broadcast_in_dim_batch,
    )
)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """``x`` placed into ``shape``; input axis i maps to output axis dims[i]."""
    return broadcast_in_dim_p.bind(
        x,
        shape=tuple(int(s) for s in shape),
        broadcast_dimensions=tuple(int(d) for d in broadcast_dimensions),
    )


# --- reshape ------------------------------------------------------------------------


def _reshape_abstract_eval(x: Aval, *, new_sizes) -> Aval:
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape {x} ({x.size} elements) to {tuple(new_sizes)}")
    return Aval(tuple(new_sizes), x.dtype, x.weak_type)


def _reshape_batch(args, dims, *, new_sizes):
    (x,), (d,) = args, dims
    x = move_bdim(x, d, 0)
    return reshape(x, (aval_of(x).shape[0], *new_sizes)), 0


reshape_p = register(
    Primitive(
        "reshape",
        abstract_eval=_reshape_abstract_eval,
        lower=lambda x, *, new_sizes: lax.reshape(x, new_sizes),
        jvp=lambda p, t, *, new_sizes: (
            reshape(p[0], new_sizes),
            None if t[0] is None else reshape(t[0], new_sizes),
        ),
        transpose=lambda ct, x, *, new_sizes: [None if ct is None else reshape(ct, x.aval.shape)],
        batch=_reshape_batch,
    )
)


def reshape(x, new_sizes):
    """``x`` with a new shape of the same size (row-major); no-op if unchanged."""
    new_sizes = tuple(int(s) for s in new_sizes)
    if tuple(getattr(x, "shape", ())) == new_sizes and not isinstance(x, (int, float, bool)):
        return x
    return reshape_p.bind(x, new_sizes=new_sizes)


# --- transpose ------------------------------------------------------------------------


def _transpose_abstract_eval(x: Aval, *, permutation) -> Aval:
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of {x}'s axes")
    return Aval(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_transpose(ct, x, *, permutation):
    if ct is None:
        return [None]
    return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    perm = tuple(p + (p >= d) for p in permutation)
    perm = (d,) + perm
    return transpose(x, perm), 0


transpose_p = register(
    Primitive(
        "transpose",
        abstract_eval=_transpose_abstract_eval,
        lower=lambda x, *, permutation: lax.transpose(x, permutation),
        jvp=lambda p, t, *, permutation: (
            transpose(p[0], permutation),
            None if t[0] is None else transpose(t[0], permutation),
        ),
        transpose=_transpose_transpose,
        batch=_transpose_batch,
    )
)


def transpose(x, permutation):
    """Permute ``x``'s axes; no equation for the identity permutation."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


def squeeze(x, dimensions):
    """Drop the size-1 axes ``dimensions`` (a reshape)."""
    s = tuple(getattr(x, "shape", ()))
    dimensions = {d % len(s) for d in dimensions}
    for d in dimensions:
        if s[d] != 1:
            raise ValueError(f"squeeze: axis {d} of {aval_of(x)} has size {s[d]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(s) if i not in dimensions))


def expand_dims(x, dimensions):
    """Insert size-1 axes at ``dimensions`` (positions in the result)."""
    s = list(getattr(x, "shape", ()))
    n = len(s) + len(dimensions)
    for d in sorted(d % n for d in dimensions):
        s.insert(d, 1)
    return reshape(x, tuple(s))


# --- concatenate --------------------------------------------------------------------


def _concatenate_abstract_eval(*xs: Aval, dimension) -> Aval:
    listing = ", ".join(str(x) for x in xs)
    if not xs:
        raise ValueError("concatenate: needs at least one operand")
    first = xs[0]
    if any(x.dtype != first.dtype for x in xs):
        raise TypeError(
            f"concatenate: operands must have equal dtypes, got {listing}; "
            "convert them first (tnp.concatenate promotes automatically)"
        )
    if any(x.ndim != first.ndim for x in xs):
        raise TypeError(f"concatenate: operands must have equal ranks, got {listing}")
    if not 0 <= dimension < first.ndim:
        raise ValueError(f"concatenate: dimension {dimension} is out of range for {listing}")
    for x in xs:
        if any(
            n != m
            for i, (n, m) in enumerate(zip(x.shape, first.shape, strict=True))
            if i != dimension
        ):
            raise TypeError(
                "concatenate: operand shapes must be equal except along dimension "
                f"{dimension}, got {listing}"
            )
    size = sum(x.shape[dimension] for x in xs)
    shape_ = first.shape[:dimension] + (size,) + first.shape[dimension + 1 :]
    return Aval(shape_, first.dtype, all(x.weak_type for x in xs))


def _concatenate_jvp(primals, tangents, *, dimension):
    out = concatenate(primals, dimension)
    if all(t is None for t in tangents):
        return out, None
    # Linear in each operand: the tangent is the concatenation of the tangents.
    ts = [instantiate(t, aval_of(x)) for x, t in zip(primals, tangents, strict=True)]
    return out, concatenate(ts, dimension)


def _concatenate_transpose(ct, *xs, dimension):
    # Each linear operand's cotangent is its window of the output cotangent.
    cts, start = [], 0
    for x in xs:
        n = (x.aval if is_undefined(x) else aval_of(x)).shape[dimension]
        if is_undefined(x) and ct is not None:
            cts.append(slice_in_dim(ct, start, start + n, axis=dimension))
        else:
            cts.append(None)
        start += n
    return cts


def _concatenate_batch(args, dims, *, dimension):
    # Keep the first batched operand's batch dim; unbatched operands are
    # broadcast along it (concatenation needs equal shapes off `dimension`).
    size = batch_size(args, dims)
    d = next(d for d in dims if d is not None)
    operands = []
    for x, xd in zip(args, dims, strict=True):
        if xd is None:
            s = shape_of(x)
            out_shape = s[:d] + (size,) + s[d:]
            kept = tuple(i for i in range(len(out_shape)) if i != d)
            operands.append(broadcast_in_dim(x, out_shape, kept))
        else:
            operands.append(move_bdim(x, xd, d))
    return concatenate(operands, dimension + (dimension >= d)), d


concatenate_p = register(
    Primitive(
        "concatenate",
        abstract_eval=_concatenate_abstract_eval,
        lower=lambda *xs, dimension: lax.concatenate(xs, dimension),
        jvp=_concatenate_jvp,
        transpose=_concatenate_transpose,
        batch=_concatenate_batch,
    )
)


def concatenate(operands, dimension: int):
    """Join ``operands`` (equal dtypes and ranks) along ``dimension``."""
    operands = tuple(operands)
    if len(operands) == 1:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


# --- pad ------------------------------------------------------------------------------


def _pad_abstract_eval(x: Aval, padding_value: Aval, *, padding_config) -> Aval:
    if padding_value.shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got {padding_value}")
    if padding_value.dtype != x.dtype:
        raise TypeError(
            f"pad: operand {x} and padding_value {padding_value} must have equal dtypes"
        )
    if len(padding_config) != x.ndim:
        raise TypeError(
            f"pad: padding_config {padding_config} needs one (lo, hi, interior) triple "
            f"per dimension of {x}"
        )
    out = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        size = lo + hi + n + max(n - 1, 0) * interior
        if interior < 0 or size < 0:
            raise ValueError(
                f"pad: padding_config {padding_config} is invalid for operand {x} "
                "(interior padding must be >= 0 and every padded size >= 0)"
            )
        out.append(size)
    return Aval(tuple(out), x.dtype, x.weak_type)


def _zero(x):
    return np.zeros((), aval_of(x).dtype)[()]


def _pad_jvp(primals, tangents, *, padding_config):
    (x, pv), (tx, tpv) = primals, tangents
    out = pad(x, pv, padding_config)
    if tx is None and tpv is None:
        return out, None
    # pad is linear in (operand, padding_value) jointly.
    tx = instantiate(tx, aval_of(x))
    return out, pad(tx, _zero(tx) if tpv is None else tpv, padding_config)


def _pad_transpose(ct, x, pv, *, padding_config):
    if ct is None:
        return [None, None]
    # Undo the edge padding (cropping what was added, zero-filling what was
    # cropped), then keep every (interior + 1)-th element: the operand's part.
    unpadded = pad(ct, _zero(ct), tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    n = len(padding_config)
    strides = tuple(interior + 1 for _, _, interior in padding_config)
    ct_x = slice(unpadded, (0,) * n, shape_of(unpadded), strides)
    ct_pv = None
    if is_undefined(pv):
        from tracejit.primitives.elementwise import sub
        from tracejit.primitives.reductions import reduce_sum

        # Every output element not taken from the operand is the padding value.
        axes = tuple(range(n))
        ct_pv = sub(reduce_sum(ct, axes), reduce_sum(ct_x, axes))
    return [ct_x if is_undefined(x) else None, ct_pv]


def _pad_batch(args, dims, *, padding_config):
    (x, pv), (xd, pvd) = args, dims
    if pvd is None:
        config = list(padding_config)
        config.insert(xd, (0, 0, 0))
        return pad(x, pv, tuple(config)), xd
    # A batched padding value: pad with zeros, then select each member's value
    # where a padded mask of the operand's positions is False.
    from tracejit.primitives.elementwise import select_n

    size = shape_of(pv)[pvd]
    x = bdim_to_front(x, xd, size)
    out = pad(x, _zero(x), ((0, 0, 0), *padding_config))
    out_shape = shape_of(out)
    ones = broadcast_in_dim(np.True_, shape_of(x)[1:], ())
    mask = pad(ones, np.False_, padding_config)
    mask = broadcast_in_dim(mask, out_shape, tuple(range(1, len(out_shape))))
    return select_n(mask, broadcast_in_dim(pv, out_shape, (0,)), out), 0


pad_p = register(
    Primitive(
        "pad",
        abstract_eval=_pad_abstract_eval,
        lower=lambda x, pv, *, padding_config: lax.pad(x, pv, padding_config),
        jvp=_pad_jvp,
        transpose=_pad_transpose,
        batch=_pad_batch,
    )
)


def pad(operand, padding_value, padding_config):
    """Pad ``operand`` with ``padding_value``: per dim ``(lo, hi, interior)``.

    Negative ``lo``/``hi`` crop; ``interior`` inserts that many values between
    neighbouring elements. No equation when nothing is padded.
    """
    config = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    no_op = all(c == (0, 0, 0) for c in config) and len(config) == len(shape_of(operand))
    if no_op and shape_of(padding_value) == ():
        return operand
    if isinstance(padding_value, (bool, int, float, complex)):
        padding_value = np.asarray(padding_value, aval_of(operand).dtype)[()]
    return pad_p.bind(operand, padding_value, padding_config=config)


# --- slice ------------------------------------------------------------------------------


def _slice_abstract_eval(x: Aval, *, start_indices, limit_indices, strides) -> Aval:
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(
            f"slice: start_indices {start_indices}, limit_indices {limit_indices} and "
            f"strides {strides} need one entry per dimension of {x}"
        )
    out = []
    for n, lo, hi, st in zip(x.shape, start_indices, limit_indices, strides, strict=True):
        if not 0 <= lo <= hi <= n or st < 1:
            raise TypeError(
                f"slice: start_indices {start_indices}, limit_indices {limit_indices}, "
                f"strides {strides} are out of range for {x} "
                "(need 0 <= start <= limit <= size and stride >= 1)"
            )
        out.append(-(-(hi - lo) // st))
    return Aval(tuple(out), x.dtype, x.weak_type)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    if ct is None:
        return [None]
    # Scatter the cotangent back into zeros: pad before the start, after the
    # last element taken, and (stride - 1) zeros between taken elements.
    in_shape = x.aval.shape
    strides = strides or (1,) * len(in_shape)
    config = []
    for n, lo, c, st in zip(in_shape, start_indices, shape_of(ct), strides, strict=True):
        last = lo + (0 if c == 0 else 1 + (c - 1) * st)
        config.append((lo, n - last, st - 1))
    return [pad(ct, _zero(ct), config)]


def _slice_batch(args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims
    size = shape_of(x)[d]
    start, limit = list(start_indices), list(limit_indices)
    start.insert(d, 0)
    limit.insert(d, size)
    if strides is not None:
        strides = list(strides)
        strides.insert(d, 1)
    return slice(x, start, limit, strides), d


slice_p = register(
    Primitive(
        "slice",
        abstract_eval=_slice_abstract_eval,
        lower=lambda x, *, start_indices, limit_indices, strides: lax.slice(
            x, start_indices, limit_indices, strides
        ),
        jvp=lambda p, t, **params: (
            slice_p.bind(p[0], **params),
            None if t[0] is None else slice_p.bind(t[0], **params),
        ),
        transpose=_slice_transpose,
        batch=_slice_batch,
    )
)


def slice(x, start_indices, limit_indices, strides=None):  # noqa: A001
    """``x[start:limit:stride]`` per dimension (static bounds, jax.lax.slice).

    No equation when the slice is the whole array.
    """
    start = tuple(int(s) for s in start_indices)
    limit = tuple(int(s) for s in limit_indices)
    strides = None if strides is None else tuple(int(s) for s in strides)
    if strides is not None and all(s == 1 for s in strides):
        strides = None
    if strides is None and all(s == 0 for s in start) and limit == shape_of(x):
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(x, start_index, limit_index, stride: int = 1, axis: int = 0):
    """``slice`` along one axis (the others whole); ``None`` and negative bounds as jax.lax."""
    s = shape_of(x)
    axis = axis % len(s)
    n = s[axis]
    start = 0 if start_index is None else int(start_index)
    limit = n if limit_index is None else int(limit_index)
    start, limit = start + n if start < 0 else start, limit + n if limit < 0 else limit
    starts, limits, strides = [0] * len(s), list(s), [1] * len(s)
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return slice(x, starts, limits, strides)


# --- rev -----------------------------------------------------------------------------------


def _rev_abstract_eval(x: Aval, *, dimensions) -> Aval:
    if any(not 0 <= d < x.ndim for d in dimensions) or len(set(dimensions)) != len(dimensions):
        raise TypeError(f"rev: dimensions {dimensions} are invalid for operand {x}")
    return x


rev_p = register(
    Primitive(
        "rev",
        abstract_eval=_rev_abstract_eval,
        lower=lambda x, *, dimensions: lax.rev(x, dimensions),
        jvp=lambda p, t, *, dimensions: (
            rev(p[0], dimensions),
            None if t[0] is None else rev(t[0], dimensions),
        ),
        # Reversal is a permutation that is its own inverse.
        transpose=lambda ct, x, *, dimensions: [None if ct is None else rev(ct, dimensions)],
        batch=lambda args, dims, *, dimensions: (
            rev(args[0], tuple(a + (a >= dims[0]) for a in dimensions)),
            dims[0],
        ),
    )
)


def rev(x, dimensions):
    """``x`` reversed along ``dimensions``; no equation when there are none."""
    dimensions = tuple(sorted(int(d) for d in dimensions))
    if not dimensions:
        return x
    return rev_p.bind(x, dimensions=dimensions)


# --- iota -------------------------------------------------------------------------------------


def _iota_abstract_eval(*, dtype, shape, dimension) -> Aval:
    if dtype == np.dtype(np.bool_) or not 0 <= dimension < len(shape):
        raise TypeError(
            f"iota: needs a numeric dtype and 0 <= dimension < rank, got dtype={dtype}, "
            f"shape={shape}, dimension={dimension}"
        )
    if any(n < 0 for n in shape):
        raise ValueError(f"iota: negative dimensions are not allowed, got shape {shape}")
    return Aval(tuple(shape), dtype, False)


iota_p = register(
    Primitive(
        "iota",
        abstract_eval=_iota_abstract_eval,
        lower=lambda *, dtype, shape, dimension: lax.broadcasted_iota(dtype, shape, dimension),
        jvp=ZERO_TANGENT,
        # No inputs, so never batched: the interpreter binds it unchanged.
        batch=lambda args, dims, **params: (iota_p.bind(**params), None),
    )
)


def broadcasted_iota(dtype, shape, dimension: int):
    """An array of ``shape`` counting 0, 1, ... along ``dimension``."""
    from tracejit import dtypes

    shape = tuple(int(n) for n in shape)
    dimension = int(dimension) % max(len(shape), 1)
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=shape, dimension=dimension)


def iota(dtype, size: int):
    """``[0, 1, ..., size - 1]`` as ``dtype`` (jax.lax.iota)."""
    return broadcasted_iota(dtype, (size,), 0)
