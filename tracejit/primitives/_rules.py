"""Rule helpers shared by the primitive families: written once, used by many.

- batching: ``move_bdim``, ``bdim_to_front``, ``elementwise_batch``
- differentiation: ``add_tangents``, ``unbroadcast``, ``UndefinedPrimal``
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit.ir import Aval
from tracejit.tracing import aval_of


class UndefinedPrimal:
    """A linear input of an equation being transposed (its value is not known)."""

    __slots__ = ("aval",)

    def __init__(self, aval: Aval):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval})"


def is_undefined(x: Any) -> bool:
    return type(x) is UndefinedPrimal


def ndim(x: Any) -> int:
    return len(getattr(x, "shape", ()))


def shape(x: Any) -> tuple[int, ...]:
    return tuple(getattr(x, "shape", ()))


# --- batching ----------------------------------------------------------------


def move_bdim(x: Any, src: int, dst: int) -> Any:
    """Move axis ``src`` of ``x`` to position ``dst`` (one transpose, or nothing)."""
    from tracejit.primitives.shape import transpose

    n = ndim(x)
    src, dst = src % n, dst % n
    if src == dst:
        return x
    perm = [i for i in range(n) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def bdim_to_front(x: Any, d: int | None, size: int) -> Any:
    """``x`` with its batch dimension at axis 0, broadcasting an unbatched ``x``."""
    from tracejit.primitives.shape import broadcast_in_dim

    if d is None:
        s = shape(x)
        return broadcast_in_dim(x, (size, *s), tuple(range(1, len(s) + 1)))
    return move_bdim(x, d, 0)


def batch_size(args: Any, dims: Any) -> int:
    for x, d in zip(args, dims):
        if d is not None:
            return shape(x)[d]
    raise ValueError("no batched argument")


def elementwise_batch(prim: Any):
    """Batching rule of an n-ary elementwise primitive with size-1 broadcasting.

    Batched operands get their batch dimension moved to the front; unbatched
    ones get a size-1 leading axis (a reshape, never a copy of the batch), so
    weights shared by the batch stay shared.
    """

    def rule(args, dims, **params):
        per_example = [ndim(x) - (d is not None) for x, d in zip(args, dims)]
        out_rank = max(per_example)
        batched = {(d, r) for d, r in zip(dims, per_example) if d is not None}
        scalars_unbatched = all(d is not None or r == 0 for d, r in zip(dims, per_example))
        if len(batched) == 1 and scalars_unbatched:
            (d, r), = batched
            if r == out_rank:
                return prim.bind(*args, **params), d
        from tracejit.primitives.shape import reshape

        new = []
        for x, d, r in zip(args, dims, per_example):
            if d is None:
                new.append(x if r == 0 else reshape(x, (1, *shape(x))))
            else:
                x = move_bdim(x, d, 0)
                if r < out_rank:
                    x = reshape(x, (shape(x)[0],) + (1,) * out_rank)
                new.append(x)
        return prim.bind(*new, **params), 0

    return rule


def vectorized_batch(prim: Any):
    """Batching rule of a unary primitive that acts on each element alone."""

    def rule(args, dims, **params):
        return prim.bind(*args, **params), dims[0]

    return rule


# --- differentiation -----------------------------------------------------------


def add_tangents(a: Any, b: Any) -> Any:
    """Sum of two tangents where ``None`` is a symbolic zero."""
    if a is None:
        return b
    if b is None:
        return a
    from tracejit.primitives.elementwise import add

    return add(a, b)


def sum_tangents(ts: Any) -> Any:
    total = None
    for t in ts:
        total = add_tangents(total, t)
    return total


def unbroadcast(ct: Any, aval: Aval) -> Any:
    """Sum ``ct`` down to ``aval``'s shape (transpose of elementwise broadcasting)."""
    from tracejit.primitives.elementwise import convert_element_type
    from tracejit.primitives.reductions import reduce_sum
    from tracejit.primitives.shape import reshape

    if ct is None:
        return None
    ct_shape = shape(ct)
    if ct_shape != aval.shape:
        if aval.shape == ():
            ct = reduce_sum(ct, tuple(range(len(ct_shape))))
        else:
            axes = tuple(
                i for i, (a, c) in enumerate(zip(aval.shape, ct_shape)) if a == 1 and c != 1
            )
            ct = reshape(reduce_sum(ct, axes), aval.shape)
    if np.dtype(aval_of(ct).dtype) != aval.dtype:
        ct = convert_element_type(ct, aval.dtype)
    return ct


def broadcast_tangent(t: Any, out_shape: tuple[int, ...]) -> Any:
    """``t`` broadcast to the output shape of an elementwise primitive."""
    from tracejit.primitives.shape import broadcast_in_dim

    if t is None or shape(t) == tuple(out_shape):
        return t
    s = shape(t)
    if not s:
        return broadcast_in_dim(t, out_shape, ())
    dims = tuple(range(len(s)))
    from tracejit.primitives.shape import reshape

    squeezed = tuple(i for i, n in enumerate(s) if n == 1 and out_shape[i] != 1)
    if squeezed:
        keep = tuple(i for i in dims if i not in squeezed)
        t = reshape(t, tuple(s[i] for i in keep))
        dims = keep
    return broadcast_in_dim(t, out_shape, dims)


def zeros_like_aval(aval: Aval) -> Any:
    """A materialised zero (only where a rule truly needs one)."""
    from tracejit.primitives.shape import broadcast_in_dim

    zero = np.zeros((), aval.dtype)[()]
    if not aval.shape:
        return broadcast_in_dim(zero, (), ())
    return broadcast_in_dim(zero, aval.shape, ())


def instantiate(t: Any, aval: Aval) -> Any:
    return zeros_like_aval(aval) if t is None else t
