"""Pytrees are JAX's: ``tracejit.tree_util`` is ``jax.tree_util``.

A node type registered with JAX (``register_pytree_node``,
``register_dataclass``, ...) works in every tracejit transform.
"""

from jax.tree_util import *  # noqa: F401,F403
from jax.tree_util import (  # noqa: F401
    register_dataclass,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)
