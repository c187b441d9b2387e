"""sort: XLA's multi-operand sort (jax.lax.sort), declared once with all its rules.

``sort`` reorders every operand along ``dimension`` by the lexicographic order
of the first ``num_keys`` operands (floats in the order -inf < ... < -0. < 0.
< ... < inf < NaN: NaNs of either sign go last, as in NumPy). It returns all
operands, reordered alike.

Differentiation: for fixed keys, sorting is a permutation ``P`` of each
operand along ``dimension``, so the tangent of a sorted operand is the
tangent sorted alike, ``P t``: the jvp rule carries the tangents as extra
operands of a second sort on the same keys (linear in the tangents). Both
sorts are stable, so ties are broken identically (by position). The
transpose of ``t -> P t`` is ``ct -> P^T ct = P^-1 ct``: with ``perm = P iota``
(the source position of each sorted element), sorting ``(perm, ct)`` by
``perm`` sends ``ct[j]`` back to position ``perm[j]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from tracejit.ir import Aval
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import batch_size, bdim_to_front, is_undefined
from tracejit.tracing import aval_of

lax = jax.lax


def _sort_abstract_eval(*operands: Aval, dimension: int, is_stable: bool, num_keys: int):
    if not operands:
        raise TypeError("sort: needs at least one operand")
    first = operands[0]
    if any(o.shape != first.shape for o in operands):
        listing = ", ".join(str(o) for o in operands)
        raise TypeError(
            f"sort: operands must have equal shapes, got {listing}; broadcast them first"
        )
    if not 0 <= dimension < first.ndim:
        raise ValueError(
            f"sort: dimension {dimension} is out of range for operands of rank {first.ndim} "
            f"({first}); pass a dimension in [-{first.ndim}, {first.ndim})"
        )
    if not 1 <= num_keys <= len(operands):
        raise ValueError(
            f"sort: num_keys={num_keys} must be between 1 and the number of operands "
            f"({len(operands)})"
        )
    return list(operands)


def _sort_lower(*operands, dimension, is_stable, num_keys):
    outs = lax.sort(operands, dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    return list(outs)


def iota_along(shape: Sequence[int], dimension: int, dtype: Any = np.int32) -> Any:
    """Positions ``0..n-1`` along ``dimension``, broadcast to ``shape``."""
    from tracejit.primitives.shape import broadcasted_iota

    return broadcasted_iota(dtype, tuple(shape), dimension)


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    outs = sort_p.bind(*primals, dimension=dimension, is_stable=True, num_keys=num_keys)
    nonzero = [i for i, t in enumerate(tangents) if t is not None]
    t_outs: list = [None] * len(primals)
    if not nonzero:
        return outs, t_outs
    # The same stable sort of the keys applied to the tangents: P t, linear in t.
    keys = primals[:num_keys]
    carried = [tangents[i] for i in nonzero]
    sorted_ts = sort_p.bind(
        *keys, *carried, dimension=dimension, is_stable=True, num_keys=num_keys
    )[num_keys:]
    for i, t in zip(nonzero, sorted_ts):
        t_outs[i] = t
    return outs, t_outs


def _sort_transpose(cts, *operands, dimension, is_stable, num_keys):
    keys = operands[:num_keys]
    if any(is_undefined(k) for k in keys):
        raise ValueError(
            "sort: transpose with respect to a sort key (the order depends on it, so the "
            "sort is not linear in it)"
        )
    linear = [
        i
        for i in range(num_keys, len(operands))
        if is_undefined(operands[i]) and cts[i] is not None
    ]
    out: list = [None] * len(operands)
    if not linear:
        return out
    shape = aval_of(keys[0]).shape
    # perm[j]: position (along dimension) of the operand element sorted to position j.
    perm = sort_p.bind(
        *keys, iota_along(shape, dimension), dimension=dimension, is_stable=True, num_keys=num_keys
    )[-1]
    # P^T ct: sorting by perm puts ct[j] at position perm[j] (perm has distinct values).
    unsorted = sort_p.bind(
        perm, *[cts[i] for i in linear], dimension=dimension, is_stable=False, num_keys=1
    )[1:]
    for i, ct in zip(linear, unsorted):
        out[i] = ct
    return out


def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    if all(d == dims[0] for d in dims):
        # Every operand batched at the same axis: shift the sort dimension past it.
        d = dims[0]
        outs = sort_p.bind(
            *args, dimension=dimension + (d <= dimension), is_stable=is_stable, num_keys=num_keys
        )
        return outs, [d] * len(args)
    # Operands must have equal shapes: batch at the front, unbatched ones broadcast.
    size = batch_size(args, dims)
    args = [bdim_to_front(x, d, size) for x, d in zip(args, dims)]
    outs = sort_p.bind(*args, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(args)


sort_p = register(
    Primitive(
        "sort",
        abstract_eval=_sort_abstract_eval,
        lower=_sort_lower,
        jvp=_sort_jvp,
        transpose=_sort_transpose,
        batch=_sort_batch,
        multiple_results=True,
    )
)


def _operand_list(name: str, operand: Any) -> tuple[list, bool]:
    if isinstance(operand, (tuple, list)):
        if not operand:
            raise TypeError(f"{name}: needs at least one operand, got an empty sequence")
        return list(operand), False
    return [operand], True


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort ``operand`` (an array or a sequence of equal-shaped arrays) along ``dimension``.

    Like ``jax.lax.sort``: with a sequence, every operand is reordered by the
    lexicographic order of the first ``num_keys`` operands, and a tuple is
    returned. NaNs sort to the end.

    Args:
      operand: an array, or a sequence of arrays of one shape.
      dimension: the axis to sort along (negative counts from the end).
      is_stable: keep equal keys in their original order.
      num_keys: how many leading operands are sort keys.

    Returns:
      The sorted array, or a tuple of sorted arrays for a sequence.

    Raises:
      TypeError: for operands of different shapes.
      ValueError: for a dimension out of range or a bad ``num_keys``.
    """
    operands, single = _operand_list("sort", operand)
    ndim = len(aval_of(operands[0]).shape)
    if -ndim <= dimension < 0:
        dimension += ndim
    outs = sort_p.bind(
        *operands, dimension=int(dimension), is_stable=bool(is_stable), num_keys=int(num_keys)
    )
    return outs[0] if single else tuple(outs)


def sort_key_val(
    keys: Any, values: Any, dimension: int = -1, is_stable: bool = True
) -> tuple[Any, Any]:
    """Sort ``keys`` along ``dimension`` and reorder ``values`` alike (jax.lax.sort_key_val).

    Returns:
      ``(sorted_keys, values_in_key_order)``.
    """
    k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
    return k, v
