"""dot_general: the one contraction primitive (matmul, dot, einsum, tensordot)."""

from __future__ import annotations

import itertools

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import add_tangents, is_undefined
from tracejit.tracing import aval_of

lax = jax.lax


def _dot_general_abstract_eval(x: Aval, y: Aval, *, dimension_numbers, preferred_element_type):
    (xc, yc), (xb, yb) = dimension_numbers
    if x.dtype != y.dtype:
        raise TypeError(f"dot_general: operands must have equal dtypes, got {x} and {y}")
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise TypeError(
            f"dot_general: dimension_numbers {dimension_numbers} do not pair up for {x} and {y}"
        )
    for dims, a in ((xc, x), (xb, x), (yc, y), (yb, y)):
        if any(not 0 <= d < a.ndim for d in dims):
            raise TypeError(f"dot_general: dimension out of range in {dims} for operand {a}")
    if any(x.shape[i] != y.shape[j] for i, j in zip(xc, yc)):
        raise TypeError(f"dot_general: contracting dimensions differ: {x} and {y}")
    if any(x.shape[i] != y.shape[j] for i, j in zip(xb, yb)):
        raise TypeError(f"dot_general: batch dimensions differ: {x} and {y}")
    batch = tuple(x.shape[i] for i in xb)
    x_free = tuple(n for i, n in enumerate(x.shape) if i not in xc and i not in xb)
    y_free = tuple(n for i, n in enumerate(y.shape) if i not in yc and i not in yb)
    dtype = x.dtype if preferred_element_type is None else preferred_element_type
    return Aval(batch + x_free + y_free, dtype, x.weak_type and y.weak_type)


def _dot_general_lower(x, y, *, dimension_numbers, preferred_element_type):
    return lax.dot_general(
        x, y, dimension_numbers, preferred_element_type=preferred_element_type
    )


def _dot_general_jvp(primals, tangents, *, dimension_numbers, preferred_element_type):
    (x, y), (tx, ty) = primals, tangents
    out = dot_general(x, y, dimension_numbers, preferred_element_type)
    t_out = None
    if tx is not None:
        t_out = dot_general(tx, y, dimension_numbers, preferred_element_type)
    if ty is not None:
        t_out = add_tangents(t_out, dot_general(x, ty, dimension_numbers, preferred_element_type))
    return out, t_out


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _remaining(original, *removed_lists):
    removed = set(itertools.chain(*removed_lists))
    return [i for i in original if i not in removed]


def _transpose_lhs(ct, x_aval, y, dimension_numbers, preferred_element_type, swap_ans=False):
    from tracejit.primitives.elementwise import convert_element_type
    from tracejit.primitives.shape import transpose

    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    x_kept = _remaining(range(x_aval.ndim), x_contract, x_batch)
    y_kept = _remaining(range(len(aval_of(y).shape)), y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(y_batch)))
    x_contract_sorted_by_y = list(np.take(x_contract, np.argsort(y_contract)))
    out_axes = np.argsort(list(x_batch) + x_kept + x_contract_sorted_by_y)
    y = convert_element_type(y, aval_of(ct).dtype) if aval_of(y).dtype != aval_of(ct).dtype else y
    x_bar = transpose(dot_general(ct, y, dims, None), tuple(int(a) for a in out_axes))
    return convert_element_type(x_bar, x_aval.dtype)


def _dot_general_transpose(ct, x, y, *, dimension_numbers, preferred_element_type):
    if ct is None:
        return [None, None]
    (xc, yc), (xb, yb) = dimension_numbers
    if is_undefined(x) and is_undefined(y):
        raise ValueError("dot_general: transpose of a product of two linear values")
    if is_undefined(x):
        return [_transpose_lhs(ct, x.aval, y, dimension_numbers, preferred_element_type), None]
    swapped = ((yc, xc), (yb, xb))
    return [None, _transpose_lhs(ct, y.aval, x, swapped, preferred_element_type, swap_ans=True)]


def _bump(dims, b):
    return tuple(int(d) + (int(d) >= b) for d in dims)


def _dot_general_batch(args, dims, *, dimension_numbers, preferred_element_type):
    (x, y), (xd, yd) = args, dims
    (xc, yc), (xb, yb) = dimension_numbers
    x_ndim = len(aval_of(x).shape)
    if xd is not None and yd is not None:
        xb, yb = (xd,) + _bump(xb, xd), (yd,) + _bump(yb, yd)
        xc, yc = _bump(xc, xd), _bump(yc, yd)
        out_d = 0
    elif xd is not None:
        x_free = [d for d in range(x_ndim) if d not in xb and d not in xc]
        out_d = len(xb) + int(sum(np.less(x_free, xd)))
        xb, xc = _bump(xb, xd), _bump(xc, xd)
    else:
        y_ndim = len(aval_of(y).shape)
        y_free = [d for d in range(y_ndim) if d not in yb and d not in yc]
        out_d = x_ndim - len(xc) + int(sum(np.less(y_free, yd)))
        yb, yc = _bump(yb, yd), _bump(yc, yd)
    out = dot_general(x, y, ((xc, yc), (xb, yb)), preferred_element_type)
    return out, out_d


dot_general_p = register(
    Primitive(
        "dot_general",
        abstract_eval=_dot_general_abstract_eval,
        lower=_dot_general_lower,
        jvp=_dot_general_jvp,
        transpose=_dot_general_transpose,
        batch=_dot_general_batch,
    )
)


def dot_general(x, y, dimension_numbers, preferred_element_type=None):
    """jax.lax.dot_general: contract ``x`` and ``y`` per ``dimension_numbers``."""
    (xc, yc), (xb, yb) = dimension_numbers
    dn = ((tuple(map(int, xc)), tuple(map(int, yc))), (tuple(map(int, xb)), tuple(map(int, yb))))
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize(preferred_element_type)
    return dot_general_p.bind(
        x, y, dimension_numbers=dn, preferred_element_type=preferred_element_type
    )
