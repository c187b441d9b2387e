"""vmap with ``chunk_size``: map at most ``chunk_size`` members at a time.

The ``size // chunk_size`` full chunks run as one ``lax.scan`` (so memory is
bounded under ``jit`` too: XLA sees a loop over chunks, not every chunk at
once), the remainder, if any, as one more vmapped call. Each output is put
back together along its ``out_axes`` axis, so the result is exactly the
unchunked vmap's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit.primitives._rules import move_bdim
from tracejit.primitives.shape import concatenate, reshape, slice_in_dim
from tracejit.tracing import aval_of
from tracejit.transforms._util import tree_util
from tracejit.transforms.vmap import _flatten_axes


def _split_axis(x: Any, d: int, n: int, chunk: int) -> Any:
    """``x``'s first ``n * chunk`` members along ``d``, as ``(n, ...chunk at d...)``."""
    x = slice_in_dim(x, 0, n * chunk, axis=d)
    shape = aval_of(x).shape
    x = reshape(x, (*shape[:d], n, chunk, *shape[d + 1 :]))
    return move_bdim(x, d, 0)


def _merge_axis(y: Any, axis: int) -> Any:
    """``(n, ...chunk at axis...)`` -> ``(...n * chunk at axis...)``, chunk-major."""
    y = move_bdim(y, 0, axis)
    shape = aval_of(y).shape
    return reshape(y, (*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2 :]))


def chunked_vmap(
    vmapped_on: Callable,
    leaves: Sequence[Any],
    in_tree: Any,
    dims: Sequence[int | None],
    size: int,
    chunk_size: int,
    out_axes: Any = 0,
) -> Any:
    """``vmapped_on(leaves, in_tree, dims, size)`` computed ``chunk_size`` members at a time.

    ``vmapped_on`` is vmap's own mapped call (it returns the output pytree
    with each output's mapped axis at its ``out_axes`` entry); ``out_axes`` is
    vmap's argument. ``chunk_size`` need not divide ``size``.
    """
    from tracejit.lax import scan  # control flow imports the transforms

    n_full, rem = divmod(size, chunk_size)
    parts: list[tuple[list, bool]] = []  # (flat outputs, stacked by a scan)
    out_tree_box: list = []

    def run(chunk_leaves: Sequence[Any], n: int) -> list:
        out = vmapped_on(list(chunk_leaves), in_tree, dims, n)
        flat, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return flat

    def members(start: int, stop: int) -> list:
        return [
            x if d is None else slice_in_dim(x, start, stop, axis=d) for x, d in zip(leaves, dims)
        ]

    if n_full == 1:
        parts.append((run(members(0, chunk_size), chunk_size), False))
    elif n_full > 1:
        mapped = [i for i, d in enumerate(dims) if d is not None]
        xs = [_split_axis(leaves[i], dims[i], n_full, chunk_size) for i in mapped]

        def body(carry: Any, x_chunk: list) -> tuple[Any, list]:
            chunk_leaves = list(leaves)
            for i, x in zip(mapped, x_chunk):
                chunk_leaves[i] = x
            return carry, run(chunk_leaves, chunk_size)

        _, ys = scan(body, (), xs)
        parts.append((ys, True))
    if rem:
        parts.append((run(members(n_full * chunk_size, size), rem), False))

    out_tree = out_tree_box[0]
    axes = _flatten_axes("out_axes", out_tree, out_axes)
    results = []
    for j, oa in enumerate(axes):
        pieces = []
        for flat, stacked in parts:
            y = flat[j]
            if oa is None:  # not mapped: every chunk computed the same value
                if stacked:
                    y = reshape(slice_in_dim(y, 0, 1), aval_of(y).shape[1:])
                pieces = [y]
                break
            axis = oa % (len(aval_of(y).shape) - stacked)
            pieces.append(_merge_axis(y, axis) if stacked else y)
        results.append(pieces[0] if oa is None else concatenate(pieces, axis))
    return tree_util.tree_unflatten(out_tree, results)
