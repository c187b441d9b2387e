"""Random orderings and draws: ``permutation`` and ``choice``.

A shuffle sorts the array by random 32-bit keys (stable, so ties keep their
order); ``ceil(3 ln n / ln 2**32)`` rounds make the chance of any tie in all
rounds negligible, as in jax.random. Draws with replacement invert the CDF;
draws without replacement with weights use the Gumbel top-k trick.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import broadcast_in_dim, broadcasted_iota, reshape, slice_in_dim
from tracejit.primitives.sorting import sort_key_val
from tracejit.random.distributions import gumbel, randint, uniform
from tracejit.random.keys import canonical_shape, key_words, random_bits, split_pair
from tracejit.tracing import aval_of, concrete_or_none, is_arraylike


def _shuffle(key: Any, x: Any, axis: int, independent: bool) -> Any:
    """``x`` reordered along ``axis`` (the same order for every slice unless independent)."""
    shape = aval_of(x).shape
    n = shape[axis] if not independent else math.prod(shape)
    rounds = math.ceil(3 * math.log(max(1, n)) / math.log(np.iinfo(np.uint32).max))
    for _ in range(rounds):
        key, subkey = split_pair("permutation", key)
        if independent:
            sort_keys = random_bits("permutation", subkey, 32, shape)
        else:
            # One key per position along `axis`, shared by every slice.
            sort_keys = random_bits("permutation", subkey, 32, (shape[axis],))
            sort_keys = broadcast_in_dim(sort_keys, shape, (axis,))
        _, x = sort_key_val(sort_keys, x, axis)
    return x


def _axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"random.{name}: axis {axis} is out of range for rank {ndim}")
    return axis % ndim


def _arange(n: int) -> Any:
    return broadcasted_iota(dtypes.default_int(), (n,), 0)


def _static_int(name: str, x: Any) -> int | None:
    """``x`` as a Python int when it is an integer scalar, else None."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if not is_arraylike(x) or aval_of(x).shape != ():
        return None
    if not dtypes.is_integer(aval_of(x).dtype):
        raise TypeError(f"random.{name}: a scalar argument must be an integer, got {aval_of(x)}")
    value = concrete_or_none(x)
    if value is None:
        raise TypeError(
            f"random.{name}: the population size must be known at trace time, got a traced "
            f"{aval_of(x)}; pass a Python int (static_argnums under jit)"
        )
    return int(value)


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Any:
    """A random permutation of ``range(x)`` (int ``x``) or of ``x`` along ``axis``.

    Args:
      key: a ``uint32[2]`` key.
      x: an int n, or an array to shuffle.
      axis: the axis to shuffle.
      independent: shuffle each slice along ``axis`` independently.

    Raises:
      TypeError: for a bad key, or ``x`` that is neither an int nor an array of rank >= 1.
    """
    key_words("permutation", key)
    n = _static_int("permutation", x)
    if n is not None:
        if n < 0:
            raise ValueError(f"random.permutation: x must be >= 0, got {n}")
        return _shuffle(key, _arange(n), 0, False)
    if not is_arraylike(x) or not aval_of(x).shape:
        raise TypeError(
            f"random.permutation: x must be an integer or an array of rank >= 1, got {x!r}"
        )
    ndim = aval_of(x).ndim
    return _shuffle(key, x, _axis("permutation", axis, ndim), independent and ndim > 1)


def _take(arr: Any, ind: Any, axis: int) -> Any:
    import tracejit.numpy as tnp

    return tnp.take(arr, ind, axis=axis)


def choice(
    key: Any, a: Any, shape: Any = (), replace: bool = True, p: Any = None, axis: int = 0
) -> Any:
    """Random draws from ``range(a)`` (int ``a``) or from ``a``'s entries along ``axis``.

    Args:
      key: a ``uint32[2]`` key.
      a: an int n, or an array of rank >= 1.
      shape: how many draws (their shape replaces ``a``'s ``axis``).
      replace: draw with replacement.
      p: optional probabilities of the n entries.
      axis: the axis of ``a`` to draw from.

    Raises:
      ValueError: for an empty population, more draws than entries without
        replacement, or ``p`` of the wrong shape.
    """
    key_words("choice", key)
    shape = canonical_shape("choice", shape)
    n_static = _static_int("choice", a)
    if n_static is not None:
        arr, n = None, n_static
    else:
        if not is_arraylike(a) or not aval_of(a).shape:
            raise TypeError(
                f"random.choice: a must be an integer or an array of rank >= 1, got {a!r}"
            )
        arr = a
        axis = _axis("choice", axis, aval_of(a).ndim)
        n = aval_of(a).shape[axis]
    draws = math.prod(shape)
    out_shape = (
        shape
        if arr is None
        else (aval_of(arr).shape[:axis] + shape + aval_of(arr).shape[axis + 1 :])
    )
    if draws == 0:
        dtype = dtypes.default_int() if arr is None else aval_of(arr).dtype
        return broadcast_in_dim(np.zeros((), dtype)[()], out_shape, ())
    if n <= 0:
        raise ValueError("random.choice: a must be greater than 0 unless no samples are taken")
    if not replace and draws > n:
        raise ValueError(
            f"random.choice: cannot take a larger sample (size {draws}) than the population "
            f"(size {n}) when replace=False"
        )
    if p is None:
        if replace:
            ind = randint(key, (draws,), 0, n)
        else:
            ind = slice_in_dim(permutation(key, n), 0, draws)
    else:
        ind = _weighted(key, p, n, draws, replace)
    if arr is None:
        return reshape(ind, out_shape)
    return reshape(_take(arr, ind, axis), out_shape)


def _weighted(key: Any, p: Any, n: int, draws: int, replace: bool) -> Any:
    from tracejit.numpy._promote import promote
    from tracejit.primitives.reductions import reduce_sum

    (p,) = promote("choice", p, to_inexact=True)
    if aval_of(p).shape != (n,):
        raise ValueError(f"random.choice: p must be None or of shape ({n},), got {aval_of(p)}")
    dtype = aval_of(p).dtype
    if replace:
        # Inverse CDF: the index is the number of cumulative weights below r.
        import tracejit.numpy as tnp

        cdf = tnp.cumsum(p)
        total = reshape(slice_in_dim(cdf, n - 1, n), ())
        u = uniform(key, (draws,), dtype)
        r = ew.mul(total, ew.sub(np.asarray(1, dtype)[()], u))
        below = ew.lt(
            broadcast_in_dim(cdf, (draws, n), (1,)), broadcast_in_dim(r, (draws, n), (0,))
        )
        return reduce_sum(ew.convert_element_type(below, dtypes.default_int()), (1,))
    # Gumbel top-k: the k largest of log p + gumbel are a weighted draw without replacement.
    g = ew.add(gumbel(key, (n,), dtype), ew.log(p))
    _, order = sort_key_val(ew.neg(g), _arange(n), 0)
    return slice_in_dim(order, 0, draws)
