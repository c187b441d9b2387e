"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze.

All are linear, so each has a transpose rule; their batching rules keep the
batch dimension at the front (or where it already is).
"""

from __future__ import annotations

import jax
import numpy as np

from tracejit.ir import Aval
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import is_undefined, move_bdim
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
        x, shape=tuple(int(s) for s in shape),
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
