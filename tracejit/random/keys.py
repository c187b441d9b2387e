"""Keys and raw bits: ``key``, ``split``, ``fold_in``, ``bits``.

A key is a ``uint32[2]`` array. Every derived key or block of bits is the
block function applied to the key and a counter: element ``i`` of an array of
shape ``s`` is ``threefry(key, (hi(i), lo(i)))`` with ``i`` its row-major index
(as JAX's partitionable Threefry does, so the streams equal jax.random's):
``split(key, n)[i]`` encrypts ``i``, ``fold_in(key, d)`` encrypts ``d`` and
32-bit ``bits`` xor the two output words.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import broadcasted_iota, reshape, slice_in_dim
from tracejit.random.threefry import key_words, stack_words, threefry_words
from tracejit.tracing import Tracer, aval_of

_MASK = 0xFFFFFFFF
_UINTS = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


def canonical_shape(name: str, shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints (an int is a 1-d shape)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(
            f"random.{name}: shape must be a tuple of ints, got {shape!r}; shapes are static "
            "(pass them as Python ints, or mark them static under jit)"
        ) from None
    if any(n < 0 for n in out):
        raise ValueError(f"random.{name}: shape {out} has a negative dimension")
    return out


def counters(name: str, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The (high, low) uint32 words of each element's row-major index."""
    size = math.prod(shape)
    if size > 2**32:
        raise ValueError(
            f"random.{name}: {size} values in one call exceed the 2**32 counters of a key; "
            "split the key and draw in parts"
        )
    hi = np.uint32(0)
    if not shape:
        return hi, np.uint32(0)
    return hi, reshape(broadcasted_iota(dtypes.uint32, (size,), 0), shape)


def _seed_words(seed: Any) -> tuple[Any, Any]:
    x64 = jax.config.jax_enable_x64
    if isinstance(seed, (bool, np.bool_)) or not isinstance(
        seed, (int, np.integer, Tracer, jax.Array, np.ndarray)
    ):
        raise TypeError(f"random.key: seed must be an integer scalar, got {type(seed).__name__}")
    if isinstance(seed, (int, np.integer)):
        seed = int(seed)
        hi = (seed >> 32) & _MASK if x64 else 0
        return np.uint32(hi), np.uint32(seed & _MASK)
    aval = aval_of(seed)
    if aval.shape != () or not dtypes.is_integer(aval.dtype):
        raise TypeError(f"random.key: seed must be an integer scalar, got {aval}")
    lo = ew.convert_element_type(seed, dtypes.uint32)
    if aval.dtype.itemsize < 8:
        return np.uint32(0), lo
    hi = ew.shift_right_logical(seed, np.asarray(32, aval.dtype)[()])
    return ew.convert_element_type(hi, dtypes.uint32), lo


def key(seed: Any) -> Any:
    """A PRNG key (``uint32[2]``) from an integer seed, as jax.random.PRNGKey.

    The key holds the seed's high and low 32-bit words (the high word is 0
    unless JAX's x64 mode is on and the seed is 64-bit).

    Args:
      seed: a Python int or an integer scalar array (traced seeds work under vmap).

    Returns:
      ``uint32[2]``.

    Raises:
      TypeError: for a seed that is not an integer scalar.
    """
    hi, lo = _seed_words(seed)
    hi, lo = (reshape(ew.convert_element_type(w, dtypes.uint32), ()) for w in (hi, lo))
    return stack_words(hi, lo, 0)


PRNGKey = key


def split(key: Any, num: int | tuple[int, ...] = 2) -> Any:
    """``num`` new keys (``uint32[num, 2]``; a tuple ``num`` gives that shape of keys).

    Raises:
      TypeError: for a key that is not ``uint32[2]``.
    """
    k1, k2 = key_words("split", key)
    shape = canonical_shape("split", num)
    hi, lo = counters("split", shape)
    y1, y2 = threefry_words(k1, k2, hi, lo)
    return stack_words(y1, y2, -1)


def split_list(name: str, key: Any, num: int) -> list[Any]:
    """``split(key, num)`` as a list of keys (errors name the caller)."""
    key_words(name, key)
    keys = split(key, num)
    return [reshape(slice_in_dim(keys, i, i + 1), (2,)) for i in range(num)]


def split_pair(name: str, key: Any) -> tuple[Any, Any]:
    """``split(key)`` as two separate keys (errors name the caller)."""
    a, b = split_list(name, key, 2)
    return a, b


def fold_in(key: Any, data: Any) -> Any:
    """A new key from ``key`` and an integer ``data`` (e.g. a step number).

    ``fold_in(key, i)`` equals ``split(key, n)[i]`` for any ``n > i``.

    Raises:
      TypeError: for a bad key, or ``data`` that is not an integer scalar.
    """
    k1, k2 = key_words("fold_in", key)
    if isinstance(data, (int, np.integer)) and not isinstance(data, (bool, np.bool_)):
        word = np.uint32(int(data) & _MASK)
    else:
        aval = aval_of(data) if not isinstance(data, (list, tuple)) else None
        if aval is None or aval.shape != () or not dtypes.is_integer(aval.dtype):
            raise TypeError(f"random.fold_in: data must be an integer scalar, got {data!r}")
        word = ew.convert_element_type(data, dtypes.uint32)
    y1, y2 = threefry_words(k1, k2, np.uint32(0), word)
    return stack_words(y1, y2, 0)


def random_bits(name: str, key: Any, width: int, shape: tuple[int, ...]) -> Any:
    """``width``-bit unsigned random integers of ``shape`` (the bits behind every sampler)."""
    k1, k2 = key_words(name, key)
    hi, lo = counters(name, shape)
    y1, y2 = threefry_words(k1, k2, hi, lo)
    if width == 64:
        u64 = _UINTS[64]
        high = ew.convert_element_type(y1, u64)
        return ew.bitwise_or(ew.shift_left(high, np.uint64(32)), ew.convert_element_type(y2, u64))
    out = ew.bitwise_xor(y1, y2)
    return out if width == 32 else ew.convert_element_type(out, _UINTS[width])


def bits(key: Any, shape: Any = (), dtype: Any = None) -> Any:
    """Uniformly random unsigned integers (every bit pattern equally likely).

    Args:
      key: a ``uint32[2]`` key.
      shape: the result's shape.
      dtype: uint8, uint16, uint32 (default) or uint64 (x64 mode).

    Raises:
      TypeError: for a bad key or a dtype that is not an unsigned integer.
    """
    dtype = dtypes.canonicalize(dtypes.uint32 if dtype is None else dtype)
    if not dtypes.is_unsigned(dtype):
        raise TypeError(f"random.bits: dtype must be an unsigned integer dtype, got {dtype}")
    return random_bits("bits", key, dtype.itemsize * 8, canonical_shape("bits", shape))
