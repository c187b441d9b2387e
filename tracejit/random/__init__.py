"""tracejit.random: explicit, splittable keys on the Threefry-2x32 counter-based
generator.

A key is a plain ``uint32[2]`` array; nothing is global. The same key gives
the same numbers eagerly, under ``jit`` and under ``vmap``; under ``vmap`` a
batched key gives every member its own stream and an unbatched key the same
stream. The streams equal jax.random's (partitionable Threefry)::

    key = tj.random.key(0)
    k1, k2 = tj.random.split(key)
    x = tj.random.normal(k1, (3,))
"""

from tracejit.random.combinatorics import choice, permutation
from tracejit.random.distributions import (
    bernoulli,
    categorical,
    gumbel,
    normal,
    randint,
    truncated_normal,
    uniform,
)
from tracejit.random.keys import PRNGKey, bits, fold_in, key, split
from tracejit.random.threefry import threefry2x32

__all__ = [
    "PRNGKey", "bernoulli", "bits", "categorical", "choice", "fold_in", "gumbel", "key",
    "normal", "permutation", "randint", "split", "threefry2x32", "truncated_normal", "uniform",
]  # fmt: skip
