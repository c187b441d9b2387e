"""The Threefry-2x32 block function (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3", SC 2011) as one primitive.

``threefry2x32_p(k1, k2, x1, x2) -> (y1, y2)`` encrypts the counter words
``(x1, x2)`` under the key ``(k1, k2)`` with 20 rounds: every four rounds of
add / rotate / xor, a key-schedule word and the injection count are added.
It is elementwise over its four uint32 operands (scalars broadcast), so it
batches like any elementwise primitive: a batched key gives every member its
own stream. Integer outputs carry no derivative.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import ZERO_TANGENT, Primitive, register, set_rule
from tracejit.primitives._rules import elementwise_batch
from tracejit.primitives.elementwise import broadcast_shapes
from tracejit.primitives.shape import concatenate, reshape, slice_in_dim
from tracejit.tracing import aval_of

lax = jax.lax

# Rotation constants R_{i mod 8} for Threefry-2x32, and the key-schedule parity word.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _threefry_abstract_eval(*avals: Aval) -> list[Aval]:
    for a in avals:
        if a.dtype != dtypes.uint32:
            listing = ", ".join(str(v) for v in avals)
            raise TypeError(f"threefry2x32: all operands must be uint32, got {listing}")
    shape = broadcast_shapes("threefry2x32", avals)
    return [Aval(shape, dtypes.uint32), Aval(shape, dtypes.uint32)]


@jax.jit
def _threefry_lower(k1, k2, x1, x2):
    k1, k2, x1, x2 = jax.numpy.broadcast_arrays(k1, k2, x1, x2)
    u32 = np.uint32
    ks = (k1, k2, k1 ^ k2 ^ u32(_PARITY))

    def rounds(x, rotations):
        for r in rotations:
            # x0 += x1; x1 = rotl(x1, r) ^ x0
            x0 = x[0] + x[1]
            x1 = lax.shift_left(x[1], u32(r)) | lax.shift_right_logical(x[1], u32(32 - r))
            x = (x0, x0 ^ x1)
        return x

    x = (x1 + ks[0], x2 + ks[1])
    for i in range(5):
        x = rounds(x, _ROTATIONS[i % 2])
        # Key injection i + 1: words (i+1) mod 3 and (i+2) mod 3, plus the count.
        x = (x[0] + ks[(i + 1) % 3], x[1] + ks[(i + 2) % 3] + u32(i + 1))
    return x


def _threefry_batch(args, dims):
    outs, d = elementwise_batch(threefry2x32_p)(args, dims)
    return outs, [d, d]


threefry2x32_p = Primitive(
    "threefry2x32",
    abstract_eval=_threefry_abstract_eval,
    lower=lambda k1, k2, x1, x2: list(_threefry_lower(k1, k2, x1, x2)),
    jvp=ZERO_TANGENT,
    multiple_results=True,
)
set_rule(threefry2x32_p, "batch", _threefry_batch)
register(threefry2x32_p)


def threefry_words(k1: Any, k2: Any, x1: Any, x2: Any) -> tuple[Any, Any]:
    """The block function on separate uint32 words (scalars broadcast)."""
    y1, y2 = threefry2x32_p.bind(k1, k2, x1, x2)
    return y1, y2


def key_words(name: str, key: Any) -> tuple[Any, Any]:
    """The two uint32 words of a ``uint32[2]`` key (TypeError for anything else)."""
    aval = aval_of(key)
    if aval.shape != (2,) or aval.dtype != dtypes.uint32:
        raise TypeError(
            f"random.{name}: key must be a uint32[2] array from tj.random.key(seed), got "
            f"{aval}; for an array of keys map over them with tj.vmap"
        )
    return (reshape(slice_in_dim(key, 0, 1), ()), reshape(slice_in_dim(key, 1, 2), ()))


def stack_words(y1: Any, y2: Any, axis: int) -> Any:
    """``y1`` and ``y2`` stacked along a new ``axis`` (0 or -1)."""
    shape = aval_of(y1).shape
    new = (1, *shape) if axis == 0 else (*shape, 1)
    return concatenate([reshape(y1, new), reshape(y2, new)], 0 if axis == 0 else len(shape))


def threefry2x32(key: Any, counter: Any) -> Any:
    """The Threefry-2x32 block function (20 rounds).

    Args:
      key: ``uint32[2]``, the key words.
      counter: ``uint32[2, ...]``, the two counter words of each block.

    Returns:
      ``uint32[2, ...]``: the encrypted blocks, of the counter's shape.

    Raises:
      TypeError: for a key or counter of another shape or dtype.

    Example: the published known-answer vector::

        threefry2x32(np.array([0x13198A2E, 0x03707344], np.uint32),
                     np.array([0x243F6A88, 0x85A308D3], np.uint32))
        # -> [0xC4923A9C, 0x483DF7A0]
    """
    k1, k2 = key_words("threefry2x32", key)
    aval = aval_of(counter)
    if not aval.shape or aval.shape[0] != 2 or aval.dtype != dtypes.uint32:
        raise TypeError(
            f"random.threefry2x32: counter must be a uint32[2, ...] array (two words per "
            f"block), got {aval}"
        )
    rest = aval.shape[1:]
    x1 = reshape(slice_in_dim(counter, 0, 1), rest)
    x2 = reshape(slice_in_dim(counter, 1, 2), rest)
    y1, y2 = threefry_words(k1, k2, x1, x2)
    return stack_words(y1, y2, 0)
