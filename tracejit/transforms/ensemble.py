"""Ensembles: many models' parameters as one pytree with a leading member axis.

``stack_params([p0, p1, ...])`` stacks the members' pytrees leaf by leaf;
``vmap`` over the result trains or evaluates every member at once, and
``unstack_params`` splits it back into one pytree per member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracejit.primitives.shape import reshape, slice_in_dim
from tracejit.tracing import aval_of
from tracejit.transforms._util import check_leaves, tree_util


def stack_params(trees: Sequence[Any]) -> Any:
    """One pytree whose leaves are the members' leaves stacked along a new axis 0.

    Args:
      trees: the members' parameter pytrees, all with the same structure,
        shapes and dtypes.

    Raises:
      ValueError: for an empty list, or members whose structures or leaf
        shapes differ.
    """
    from tracejit.numpy import stack

    trees = list(trees)
    if not trees:
        raise ValueError("stack_params: got an empty list; pass at least one parameter pytree")
    first = tree_util.tree_structure(trees[0])
    for i, t in enumerate(trees):
        check_leaves(f"stack_params (member {i})", t)
        if tree_util.tree_structure(t) != first:
            raise ValueError(
                f"stack_params: member {i} has structure {tree_util.tree_structure(t)}, "
                f"but member 0 has {first}; every member must have the same structure"
            )
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(trees[0])[0]]
    columns = zip(*[tree_util.tree_leaves(t) for t in trees])
    stacked = []
    for path, leaves in zip(paths, columns):
        avals = [aval_of(x) for x in leaves]
        for i, a in enumerate(avals):
            if a.shape != avals[0].shape:
                raise ValueError(
                    f"stack_params: leaf {path or '(top level)'} is {a} in member {i} but "
                    f"{avals[0]} in member 0; every member's leaves must have the same shapes"
                )
        stacked.append(stack(list(leaves)))
    return tree_util.tree_unflatten(first, stacked)


def unstack_params(tree: Any) -> list:
    """The members of a stacked pytree: one pytree per index of the leading axis.

    Raises:
      ValueError: when leaves disagree on the leading axis, or one is a scalar.
    """
    check_leaves("unstack_params", tree)
    flat, treedef = tree_util.tree_flatten_with_path(tree)
    sizes = set()
    for path, x in flat:
        shape = aval_of(x).shape
        if not shape:
            raise ValueError(
                f"unstack_params: leaf {tree_util.keystr(path) or '(top level)'} is a scalar "
                f"{aval_of(x)}; every leaf needs a leading member axis"
            )
        sizes.add(shape[0])
    if len(sizes) > 1:
        listing = ", ".join(
            f"{tree_util.keystr(p) or '(top level)'}: {aval_of(x)}" for p, x in flat
        )
        raise ValueError(
            f"unstack_params: the leaves disagree on the number of members ({listing})"
        )
    n = sizes.pop() if sizes else 0
    leaves = [x for _, x in flat]

    def member(i: int) -> Any:
        return [reshape(slice_in_dim(x, i, i + 1, axis=0), aval_of(x).shape[1:]) for x in leaves]

    return [tree_util.tree_unflatten(treedef, member(i)) for i in range(n)]
