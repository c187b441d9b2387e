"""tracejit.numpy sorting: sort and argsort (NumPy's names, jax.numpy's semantics)."""

from __future__ import annotations

from typing import Any

from tracejit import dtypes
from tracejit.numpy._promote import asarray_arg, canonical_axis
from tracejit.primitives.shape import reshape, rev
from tracejit.primitives.sorting import iota_along, sort_p
from tracejit.tracing import aval_of

__all__ = ["sort", "argsort"]


def _prepare(name: str, a: Any, axis: int | None, kind: Any, order: Any) -> tuple[Any, int]:
    if kind is not None:
        raise TypeError(
            f"{name}: the 'kind' argument is not supported; pass stable=True or stable=False"
        )
    if order is not None:
        raise TypeError(f"{name}: the 'order' argument (structured arrays) is not supported")
    a = asarray_arg(name, a)
    aval = aval_of(a)
    if axis is None:
        return reshape(a, (aval.size,)), 0
    return a, canonical_axis(name, int(axis), aval.ndim)


def sort(
    a: Any,
    axis: int | None = -1,
    *,
    kind: Any = None,
    order: Any = None,
    stable: bool = True,
    descending: bool = False,
) -> Any:
    """A sorted copy of ``a`` along ``axis`` (flattened first when ``axis`` is None).

    NaNs sort to the end (to the front when ``descending``).

    Args:
      a: array to sort.
      axis: the axis to sort along; None sorts the flattened array.
      stable: keep equal elements in their original order.
      descending: sort from largest to smallest.

    Returns:
      The sorted array, of ``a``'s shape (or ``(a.size,)`` when ``axis`` is None).

    Raises:
      ValueError: for an axis out of range.
      TypeError: for ``kind`` or ``order``, which are not supported.
    """
    a, axis = _prepare("sort", a, axis, kind, order)
    (out,) = sort_p.bind(a, dimension=axis, is_stable=bool(stable), num_keys=1)
    return rev(out, (axis,)) if descending else out


def argsort(
    a: Any,
    axis: int | None = -1,
    *,
    kind: Any = None,
    order: Any = None,
    stable: bool = True,
    descending: bool = False,
    dtype: Any = None,
) -> Any:
    """Indices that sort ``a`` along ``axis``: a sort of ``(a, iota)`` keyed by ``a``.

    Args:
      a: array to sort.
      axis: the axis to sort along; None sorts the flattened array.
      stable: equal elements keep their original order (in both directions).
      descending: indices of the largest element first.
      dtype: integer dtype of the result (default: the default int dtype).

    Returns:
      An integer array of ``a``'s shape (or ``(a.size,)`` when ``axis`` is None).

    Raises:
      ValueError: for an axis out of range.
      TypeError: for ``kind`` or ``order``, or a non-integer ``dtype``.
    """
    a, axis = _prepare("argsort", a, axis, kind, order)
    index_dtype = dtypes.default_int() if dtype is None else dtypes.canonicalize(dtype)
    if not dtypes.is_integer(index_dtype):
        raise TypeError(f"argsort: dtype must be an integer dtype, got {index_dtype}")
    shape = aval_of(a).shape
    iota = iota_along(shape, axis, index_dtype)
    if descending and stable:
        # Reverse first so that, once the result is reversed, equal elements keep
        # their original (ascending index) order.
        a, iota = rev(a, (axis,)), rev(iota, (axis,))
    _, indices = sort_p.bind(a, iota, dimension=axis, is_stable=bool(stable), num_keys=1)
    return rev(indices, (axis,)) if descending else indices
