"""Cumulative (scan) primitives along one axis: cumsum, cumprod, cummax, cummin.

Each takes ``axis`` and ``reverse`` (scan from the end) and keeps the operand's
shape. A vmapped scan is one scan along the shifted axis. ``cumsum`` is
linear (its transpose is the cumsum running the other way); the others have
exact jvp rules, linear in the tangent, that stay correct at zeros (cumprod)
and at ties (cummax/cummin follow the element holding the running extreme).
Those rules scan (value, tangent) pairs with ``associative_scan``, built from
the slice/pad/concatenate/rev shape primitives, as JAX does.
"""

from __future__ import annotations

import jax

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import NOT_LINEAR, Primitive, register, set_rule
from tracejit.primitives.elementwise import add, bitwise_or, ge, le, mul, select_n
from tracejit.tracing import aval_of

lax = jax.lax


def _cumulative_abstract_eval(name: str):
    def rule(x: Aval, *, axis: int, reverse: bool) -> Aval:
        if x.dtype == dtypes.bool_:
            raise TypeError(
                f"{name}: expected a numeric (non-boolean) operand, got {x}; "
                "convert it first, e.g. with .astype(int32)"
            )
        if not 0 <= axis < x.ndim:
            raise ValueError(
                f"{name}: axis {axis} is out of range for operand {x} of rank {x.ndim}"
            )
        return x

    return rule


def _cumulative_batch(prim: Primitive):
    """One scan along the per-example axis, shifted past the batch dimension ``d``."""

    def rule(args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return prim.bind(x, axis=axis + (axis >= d), reverse=reverse), d

    return rule


def _declare(name: str, lower, jvp=None, transpose=NOT_LINEAR) -> Primitive:
    prim = Primitive(
        name,
        abstract_eval=_cumulative_abstract_eval(name),
        lower=lambda x, *, axis, reverse: lower(x, axis, reverse),
        jvp=jvp,
        transpose=transpose,
    )
    set_rule(prim, "batch", _cumulative_batch(prim))
    return register(prim)


def associative_scan(combine, elems: tuple, axis: int, reverse: bool = False) -> tuple:
    """Inclusive scan of ``elems`` (equal-shape arrays) along ``axis`` with ``combine``.

    ``combine(a, b)`` takes and returns tuples like ``elems``, with ``a`` before ``b``
    in scan order; it must be associative. The odd-even recursion of
    jax.lax.associative_scan: O(n) work in O(log n) levels of slices and pads.
    """
    from tracejit.primitives.shape import rev

    if reverse:
        elems = tuple(rev(e, (axis,)) for e in elems)
    out = _scan(combine, tuple(elems), axis)
    return tuple(rev(e, (axis,)) for e in out) if reverse else out


def _scan(combine, elems: tuple, axis: int) -> tuple:
    from tracejit.primitives.shape import concatenate, slice_in_dim

    n = aval_of(elems[0]).shape[axis]
    if n < 2:
        return elems

    def take(e, start, stop=None, stride=1):
        return slice_in_dim(e, start, stop, stride, axis)

    # Scan the pairwise combinations (x0 x1, x2 x3, ...): that is the scan at the odd
    # positions; each even position 2i > 0 is the odd scan at 2i - 1 combined with x_2i.
    odd = _scan(
        combine,
        combine(
            tuple(take(e, 0, n - 1, 2) for e in elems), tuple(take(e, 1, None, 2) for e in elems)
        ),
        axis,
    )
    even = tuple(take(e, 0, 1) for e in elems)
    if n > 2:
        prev = odd if n % 2 else tuple(take(e, 0, -1) for e in odd)
        rest = combine(prev, tuple(take(e, 2, None, 2) for e in elems))
        even = tuple(concatenate((first, r), axis) for first, r in zip(even, rest, strict=True))
    return tuple(_interleave(a, b, axis) for a, b in zip(even, odd, strict=True))


def _interleave(a, b, axis: int):
    """``[a0, b0, a1, b1, ...]`` along ``axis`` (``a`` has as many elements as ``b`` or one more).

    Each is spread out by interior padding with zeros and the two are added, which
    is exact (x + 0 == x) and linear.
    """
    from tracejit.primitives.shape import pad

    na, nb = aval_of(a).shape[axis], aval_of(b).shape[axis]
    rank = len(aval_of(a).shape)

    def config(lo, hi):
        return tuple((lo, hi, 1) if i == axis else (0, 0, 0) for i in range(rank))

    a = pad(a, 0, config(0, 1 if na == nb else 0))
    b = pad(b, 0, config(1, 1 if na != nb else 0))
    joined = bitwise_or if aval_of(a).dtype == dtypes.bool_ else add
    return joined(a, b)


# --- cumsum ------------------------------------------------------------------------


def _cumsum_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    return cumsum(x, axis, reverse), None if t is None else cumsum(t, axis, reverse)


def _cumsum_transpose(ct, x, *, axis, reverse):
    # y_k = sum_{i<=k} x_i, so x_i's cotangent is sum_{k>=i} ct_k: the reversed scan.
    return [None if ct is None else cumsum(ct, axis, not reverse)]


cumsum_p = _declare("cumsum", lax.cumsum, _cumsum_jvp, _cumsum_transpose)


# --- cumprod ------------------------------------------------------------------------


def exclusive_cumprod(x, axis: int, reverse: bool = False):
    """``prod_{j<i} x_j`` at each i (``prod_{j>i} x_j`` when ``reverse``), with no division.

    The inclusive scan shifted by one place, a one filling the vacated end: exact
    with zeros.
    """
    from tracejit.primitives.shape import pad

    rank = len(aval_of(x).shape)
    shift = (-1, 1) if reverse else (1, -1)
    config = tuple((*shift, 0) if i == axis else (0, 0, 0) for i in range(rank))
    return pad(cumprod(x, axis, reverse), 1, config)


def _cumprod_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    y = cumprod(x, axis, reverse)
    if t is None:
        return y, None

    # Scan (x, t) pairs with the product rule (xa, ta)(xb, tb) = (xa xb, ta xb + xa tb):
    # the second component is the running product's tangent. No division, so zeros
    # are exact; the rule is polynomial in x, so it differentiates again.
    def combine(a, b):
        (xa, ta), (xb, tb) = a, b
        return mul(xa, xb), add(mul(ta, xb), mul(xa, tb))

    return y, associative_scan(combine, (x, t), axis, reverse)[1]


cumprod_p = _declare("cumprod", lax.cumprod, _cumprod_jvp)


# --- cummax / cummin ------------------------------------------------------------------


def _cumchooser_jvp(prim: Primitive, wins):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        y = prim.bind(x, axis=axis, reverse=reverse)
        if t is None:
            return y, None

        # y_k = x_p for the element p holding the running extreme, so dy_k = t_p: scan
        # (x, t) pairs keeping the winner; on ties the later element in scan order wins
        # (as torch.cummax's indices). Linear in t: only selects of tangents.
        def combine(a, b):
            (xa, ta), (xb, tb) = a, b
            take_b = wins(xb, xa)
            return select_n(take_b, xa, xb), select_n(take_b, ta, tb)

        return y, associative_scan(combine, (x, t), axis, reverse)[1]

    return rule


cummax_p = _declare("cummax", lax.cummax)
set_rule(cummax_p, "jvp", _cumchooser_jvp(cummax_p, ge))
cummin_p = _declare("cummin", lax.cummin)
set_rule(cummin_p, "jvp", _cumchooser_jvp(cummin_p, le))


# --- the lax-level functions ---------------------------------------------------------------


def _axis(x, axis: int) -> int:
    rank = len(aval_of(x).shape)
    return int(axis) % rank if rank and -rank <= int(axis) < rank else int(axis)


def cumsum(operand, axis: int = 0, reverse: bool = False):
    """Cumulative sum along ``axis`` (jax.lax.cumsum); ``reverse`` scans from the end."""
    return cumsum_p.bind(operand, axis=_axis(operand, axis), reverse=bool(reverse))


def cumprod(operand, axis: int = 0, reverse: bool = False):
    """Cumulative product along ``axis`` (jax.lax.cumprod)."""
    return cumprod_p.bind(operand, axis=_axis(operand, axis), reverse=bool(reverse))


def cummax(operand, axis: int = 0, reverse: bool = False):
    """Running maximum along ``axis`` (jax.lax.cummax)."""
    return cummax_p.bind(operand, axis=_axis(operand, axis), reverse=bool(reverse))


def cummin(operand, axis: int = 0, reverse: bool = False):
    """Running minimum along ``axis`` (jax.lax.cummin)."""
    return cummin_p.bind(operand, axis=_axis(operand, axis), reverse=bool(reverse))
