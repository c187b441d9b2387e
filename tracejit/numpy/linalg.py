"""tracejit.numpy linear algebra (also seen by users as ``tnp.linalg``).

Every product is one ``dot_general`` (plus reshapes/transposes around it);
diagonals are iota masks (a select) and a ``reduce_sum`` over one axis, then
a slice, so they need no gather and are linear, differentiable and batchable
through the rules of those primitives.

``precision`` arguments are accepted for compatibility with jax.numpy; XLA's
default precision is used. ``preferred_element_type`` is the result dtype of
the ``dot_general``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.numpy._einsum import einsum, offset_mask, promote_dtypes, where_or_zero
from tracejit.numpy._promote import asarray_arg, canonical_axes, canonical_axis, convert
from tracejit.primitives import elementwise as ew
from tracejit.primitives.linalg import dot_general
from tracejit.primitives.reductions import reduce_sum
from tracejit.primitives.shape import broadcast_in_dim, pad, reshape, slice_in_dim, transpose
from tracejit.tracing import aval_of

__all__ = [
    "dot",
    "matmul",
    "vdot",
    "inner",
    "outer",
    "tensordot",
    "einsum",
    "trace",
    "diag",
    "diagonal",
]


def _dtype_arg(dtype: Any) -> Any:
    return None if dtype is None else dtypes.canonicalize(dtype)


def _contract(name: str, a: Any, b: Any, a_axes, b_axes, preferred: Any) -> Any:
    """One dot_general contracting ``a_axes`` of ``a`` with ``b_axes`` of ``b``."""
    sa, sb = aval_of(a).shape, aval_of(b).shape
    for i, j in zip(a_axes, b_axes):
        if sa[i] != sb[j]:
            raise TypeError(
                f"{name}: cannot contract axis {i} of {aval_of(a)} (size {sa[i]}) with axis "
                f"{j} of {aval_of(b)} (size {sb[j]}); the contracted sizes must be equal"
            )
    return dot_general(a, b, ((tuple(a_axes), tuple(b_axes)), ((), ())), _dtype_arg(preferred))


def _scalar_product(a: Any, b: Any, preferred: Any) -> Any:
    from tracejit.numpy.elementwise import multiply

    out = multiply(a, b)
    return out if preferred is None else convert(out, dtypes.canonicalize(preferred))


def dot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """NumPy's ``dot``: the last axis of ``a`` against the second-to-last of ``b``.

    A 1-d ``b`` contracts its only axis; a 0-d operand multiplies elementwise.
    The result has shape ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``.

    Raises:
      TypeError: when the contracted sizes differ.
    """
    a, b = promote_dtypes("dot", a, b)
    na, nb = aval_of(a).ndim, aval_of(b).ndim
    if na == 0 or nb == 0:
        return _scalar_product(a, b, preferred_element_type)
    return _contract("dot", a, b, (na - 1,), (max(nb - 2, 0),), preferred_element_type)


def _squeeze_batch(x: Any, nb: int, tail: list, squeezed: set[int]) -> tuple[Any, list]:
    """Drop the batch axes in ``squeezed`` (global batch positions) from ``x``.

    Returns ``x`` and its axis labels: ``("b", i)`` for global batch axis i,
    then ``tail`` (``"r"``/``"k"``/``"c"``) for the matrix axes.
    """
    shape = aval_of(x).shape
    lead = nb - (len(shape) - len(tail))
    batch = [j for j in range(len(shape) - len(tail)) if lead + j not in squeezed]
    if len(batch) + len(tail) < len(shape):
        x = reshape(x, tuple(shape[j] for j in batch) + shape[len(shape) - len(tail) :])
    return x, [("b", lead + j) for j in batch] + tail


def matmul(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Matrix product with NumPy's rules: stacks of matrices broadcast over the
    leading (batch) axes; a 1-d operand is a vector (its axis is removed).

    Batch axes present in both operands with equal sizes become batch
    dimensions of one ``dot_general``; an axis of size 1 (or missing) on one
    side is squeezed and kept as a free axis of the other side, so nothing is
    broadcast in memory. Example: ``matmul(W, x)`` with ``W: (m, k)``,
    ``x: (b, k, n)`` is one dot_general and one transpose.

    Raises:
      ValueError: for 0-d operands or batch axes that do not broadcast.
      TypeError: when the contracted sizes differ.
    """
    a, b = promote_dtypes("matmul", a, b)
    A, B = aval_of(a), aval_of(b)
    for i, v in enumerate((A, B)):
        if v.ndim == 0:
            raise ValueError(
                f"matmul: operand {i} must have rank >= 1, got {v}; use tnp.multiply for scalars"
            )
    a_mat, b_mat = A.ndim >= 2, B.ndim >= 2
    k_b = B.shape[-2] if b_mat else B.shape[0]
    if A.shape[-1] != k_b:
        which = "second-to-last" if b_mat else "only"
        raise TypeError(
            f"matmul: the last dimension of {A} ({A.shape[-1]}) must match the {which} "
            f"dimension of {B} ({k_b}); transpose an operand or fix its shape"
        )
    a_batch, b_batch = A.shape[:-2], B.shape[:-2]
    nb = max(len(a_batch), len(b_batch))
    a_pad = (None,) * (nb - len(a_batch)) + tuple(a_batch)
    b_pad = (None,) * (nb - len(b_batch)) + tuple(b_batch)
    a_sq: set[int] = set()
    b_sq: set[int] = set()
    shared = []
    for i, (sa, sb) in enumerate(zip(a_pad, b_pad)):
        if sa is None or sb is None:
            continue
        if sa == sb:
            shared.append(i)
        elif sa == 1:
            a_sq.add(i)
        elif sb == 1:
            b_sq.add(i)
        else:
            raise ValueError(
                f"matmul: batch dimensions of {A} and {B} do not broadcast ({a_batch} vs {b_batch})"
            )
    a, a_labels = _squeeze_batch(a, nb, ["r", "k"] if a_mat else ["k"], a_sq)
    b, b_labels = _squeeze_batch(b, nb, ["k", "c"] if b_mat else ["k"], b_sq)
    batch = [("b", i) for i in shared]
    xb = tuple(a_labels.index(lab) for lab in batch)
    yb = tuple(b_labels.index(lab) for lab in batch)
    dims = ((a_labels.index("k"),), (b_labels.index("k"),)), (xb, yb)
    out = dot_general(a, b, dims, _dtype_arg(preferred_element_type))
    # dot_general's output axes: shared batch, then a's free axes, then b's free axes.
    free_a = [lab for lab in a_labels if lab != "k" and lab not in batch]
    free_b = [lab for lab in b_labels if lab != "k" and lab not in batch]
    got = batch + free_a + free_b
    want = [("b", i) for i in range(nb)] + (["r"] if a_mat else []) + (["c"] if b_mat else [])
    return transpose(out, tuple(got.index(lab) for lab in want))


def vdot(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Dot product of the flattened operands (which must have equal sizes)."""
    a, b = promote_dtypes("vdot", a, b)
    if dtypes.is_complex(aval_of(a).dtype):
        raise TypeError(f"vdot: complex operands are not supported, got {aval_of(a)}")
    a, b = reshape(a, (aval_of(a).size,)), reshape(b, (aval_of(b).size,))
    return _contract("vdot", a, b, (0,), (0,), preferred_element_type)


def inner(a: Any, b: Any, *, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Sum over the last axes of ``a`` and ``b``: shape ``a.shape[:-1] + b.shape[:-1]``."""
    a, b = promote_dtypes("inner", a, b)
    na, nb = aval_of(a).ndim, aval_of(b).ndim
    if na == 0 or nb == 0:
        return _scalar_product(a, b, preferred_element_type)
    return _contract("inner", a, b, (na - 1,), (nb - 1,), preferred_element_type)


def outer(a: Any, b: Any, out: Any = None) -> Any:
    """``outer(a, b)[i, j] = ravel(a)[i] * ravel(b)[j]``."""
    from tracejit.numpy.elementwise import multiply

    if out is not None:
        raise TypeError("outer: the 'out' argument is not supported (arrays are immutable)")
    a, b = promote_dtypes("outer", a, b)
    return multiply(reshape(a, (aval_of(a).size, 1)), reshape(b, (1, aval_of(b).size)))


def _tensordot_axes(axes: Any, na: int, nb: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(na, nb):
            raise TypeError(
                f"tensordot: axes={n} must be between 0 and the smaller rank ({min(na, nb)})"
            )
        return tuple(range(na - n, na)), tuple(range(n))
    if isinstance(axes, (tuple, list)) and len(axes) == 2:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise TypeError(
                f"tensordot: the axes lists must have equal lengths, got {ax_a} and {ax_b}"
            )
        return (
            canonical_axes("tensordot", ax_a, na) if ax_a else (),
            canonical_axes("tensordot", ax_b, nb) if ax_b else (),
        )
    raise TypeError(
        f"tensordot: axes must be an int or a pair (axes_a, axes_b) of ints or sequences of "
        f"ints, got {axes!r}"
    )


def tensordot(
    a: Any, b: Any, axes: Any = 2, *, precision: Any = None, preferred_element_type: Any = None
) -> Any:
    """Contract ``axes`` of ``a`` with ``axes`` of ``b``.

    Args:
      a, b: arrays.
      axes: an int ``n`` (the last ``n`` axes of ``a`` with the first ``n`` of
        ``b``) or a pair ``(axes_a, axes_b)`` of ints or equal-length sequences.

    Returns:
      The free axes of ``a`` followed by the free axes of ``b``.

    Raises:
      TypeError: for malformed ``axes`` or contracted sizes that differ.
    """
    a, b = promote_dtypes("tensordot", a, b)
    ax_a, ax_b = _tensordot_axes(axes, aval_of(a).ndim, aval_of(b).ndim)
    return _contract("tensordot", a, b, ax_a, ax_b, preferred_element_type)


# --- diagonals ----------------------------------------------------------------------------


def _resize_last(v: Any, size: int) -> Any:
    """``v``'s last axis cut or zero-padded to ``size``: out[.., i] = v[.., i] (or 0)."""
    shape = aval_of(v).shape
    n, r = shape[-1], len(shape)
    if size < n:
        return slice_in_dim(v, 0, size, axis=r - 1)
    if size > n:
        config = [(0, 0, 0)] * (r - 1) + [(0, size - n, 0)]
        return pad(v, np.zeros((), aval_of(v).dtype)[()], config)
    return v


def _summable(x: Any) -> tuple[Any, bool]:
    # reduce_sum takes no booleans: masked sums of booleans run in uint8.
    if aval_of(x).dtype == dtypes.bool_:
        return convert(x, dtypes.uint8), True
    return x, False


def _pair_axes(name: str, a: Any, axis1: int, axis2: int) -> tuple[int, int]:
    aval = aval_of(a)
    if aval.ndim < 2:
        raise ValueError(f"{name}: needs an array of rank >= 2, got {aval}")
    ax1, ax2 = canonical_axis(name, axis1, aval.ndim), canonical_axis(name, axis2, aval.ndim)
    if ax1 == ax2:
        raise ValueError(f"{name}: axis1 and axis2 must differ, both are {ax1} for {aval}")
    return ax1, ax2


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The ``offset`` diagonal of the ``(axis1, axis2)`` planes of ``a``.

    Returns:
      ``a`` without ``axis1``/``axis2``, with the diagonal as a new last axis.

    Raises:
      ValueError: for a rank < 2 array or equal axes.
    """
    a = asarray_arg("diagonal", a)
    ax1, ax2 = _pair_axes("diagonal", a, axis1, axis2)
    nd = aval_of(a).ndim
    x = transpose(a, tuple(i for i in range(nd) if i not in (ax1, ax2)) + (ax1, ax2))
    x, was_bool = _summable(x)
    shape = aval_of(x).shape
    n, m, k = shape[-2], shape[-1], int(offset)
    # Keep x[.., i, j] with j == i + k, then sum out the axis that is not the
    # diagonal's position: columns for k >= 0 (v[i] = x[i, i+k]), rows for k < 0
    # (v[j] = x[j-k, j]). The diagonal is the first `length` entries of v.
    y = where_or_zero(offset_mask(shape, nd - 2, nd - 1, k), x)
    if k >= 0:
        v, length = reduce_sum(y, (nd - 1,)), max(0, min(n, m - k))
    else:
        v, length = reduce_sum(y, (nd - 2,)), max(0, min(n + k, m))
    v = _resize_last(v, length)
    return convert(v, dtypes.bool_) if was_bool else v


def trace(
    a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None
) -> Any:
    """Sum of the ``offset`` diagonal of the ``(axis1, axis2)`` planes (as ``tnp.sum``).

    Raises:
      ValueError: for a rank < 2 array or equal axes.
    """
    from tracejit.numpy.reductions import sum as tnp_sum

    if out is not None:
        raise TypeError("trace: the 'out' argument is not supported (arrays are immutable)")
    a = asarray_arg("trace", a)
    ax1, ax2 = _pair_axes("trace", a, axis1, axis2)
    shape = aval_of(a).shape
    masked = where_or_zero(offset_mask(shape, ax1, ax2, int(offset)), a)
    return tnp_sum(masked, axis=(ax1, ax2), dtype=dtype)


def diag(v: Any, k: int = 0) -> Any:
    """A 1-d ``v`` placed on the ``k``-th diagonal of a square matrix, or the
    ``k``-th diagonal of a 2-d ``v``.

    Raises:
      ValueError: for inputs that are not 1-d or 2-d.
    """
    v = asarray_arg("diag", v)
    aval = aval_of(v)
    if aval.ndim == 2:
        return diagonal(v, k)
    if aval.ndim != 1:
        raise ValueError(f"diag: the input must be 1-d or 2-d, got {aval}")
    k = int(k)
    size = aval.shape[0] + abs(k)
    # w = v zero-extended; out[i, i+k] = w[i] (k >= 0), out[j-k, j] = w[j] (k < 0).
    w = _resize_last(v, size)
    rows = broadcast_in_dim(w, (size, size), (0,) if k >= 0 else (1,))
    return where_or_zero(offset_mask((size, size), 0, 1, k), rows)


# --- norms ---------------------------------------------------------------------------------


def _sqrt_sum_squares(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    from tracejit.numpy.reductions import sum as tnp_sum

    # sqrt(sum x^2), as JAX writes it: its gradient at x = 0 is NaN in both.
    return ew.sqrt(tnp_sum(ew.mul(x, x), axis=axes, keepdims=keepdims))


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Any:
    from tracejit.numpy import reductions as red

    dtype = aval_of(x).dtype
    if ord is None or (not isinstance(ord, str) and ord == 2):
        return _sqrt_sum_squares(x, (axis,), keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid order {ord!r} for a vector norm; use a number or inf")
    abs_x = ew.abs(x)
    if ord == np.inf:
        # initial=0 as JAX: an empty axis gives 0, and a zero vector's gradient is halved.
        return red.max(abs_x, axis=axis, keepdims=keepdims, initial=0)
    if ord == -np.inf:
        return red.min(abs_x, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = convert(ew.ne(x, np.zeros((), dtype)[()]), dtype)
        return red.sum(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return red.sum(abs_x, axis=axis, keepdims=keepdims)
    p = np.asarray(ord, dtype)[()]
    # (sum |x|^p)^(1/p)
    total = red.sum(ew.pow(abs_x, p), axis=axis, keepdims=keepdims)
    return ew.pow(total, np.asarray(1 / p, dtype)[()])


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    from tracejit.numpy import reductions as red

    row, col = axes
    if ord is None or ord == "fro":
        return _sqrt_sum_squares(x, axes, keepdims)
    if isinstance(ord, str) or ord not in (1, -1, np.inf, -np.inf):
        raise ValueError(
            f"norm: invalid order {ord!r} for a matrix norm; tracejit supports None, 'fro', "
            "1, -1, inf and -inf (the 2-norm and nuclear norm need an SVD)"
        )
    # 1-norms: extreme column sum (sum over rows); inf-norms: extreme row sum.
    summed, other = (row, col) if ord in (1, -1) else (col, row)
    if not keepdims and other > summed:
        other -= 1
    sums = red.sum(ew.abs(x), axis=summed, keepdims=keepdims)
    if ord > 0:
        return red.max(sums, axis=other, keepdims=keepdims, initial=0)
    return red.min(sums, axis=other, keepdims=keepdims)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm (``tnp.linalg.norm``), as ``numpy.linalg.norm``.

    Args:
      x: array; integer inputs are promoted to float.
      ord: for vectors None/2, 1, inf, -inf, 0 or any number p
        (``sum(|x|^p)^(1/p)``); for matrices None/'fro', 1, -1, inf, -inf.
      axis: None (the whole array: 2-norm of the flattened array when ``ord`` is
        None, else a vector or matrix norm by rank), an int (vector norm) or a
        pair of ints (matrix norm).
      keepdims: keep the reduced axes with size 1.

    Raises:
      ValueError: for an order that does not fit the norm kind, or a bad axis.
    """
    x = asarray_arg("norm", x)
    if not dtypes.is_inexact(aval_of(x).dtype):
        x = convert(x, dtypes.default_float())
    nd = aval_of(x).ndim
    if axis is None:
        if ord is None:
            return _sqrt_sum_squares(x, tuple(range(nd)), keepdims)
        axis = tuple(range(nd))
    axes = canonical_axes("norm", axis, nd)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(
        f"norm: {len(axes)} axes {axis} for {aval_of(x)}; pass one axis for a vector norm "
        "or two for a matrix norm"
    )
