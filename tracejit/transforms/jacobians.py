"""Jacobians and Hessians: vmap over jvp / vjp of the standard basis.

``jacfwd`` pushes every basis vector of the inputs forward at once
(``vmap(jvp)``), ``jacrev`` pulls every basis vector of the outputs back
(``vmap(vjp_fn)``). The primals are not mapped, so the primal computation and
every weight it uses stay unbatched: the Jacobian of ``x -> W @ x`` is one
product of ``W`` with the basis. The layout is JAX's: for each output leaf of
shape ``o``, a pytree like the differentiated arguments whose leaves have
shape ``o + i``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitives.elementwise import convert_element_type
from tracejit.primitives.shape import reshape, slice_in_dim
from tracejit.tracing import aval_of
from tracejit.transforms._util import (
    check_leaves,
    flatten_args,
    fun_name,
    normalize_argnums,
    tree_util,
)
from tracejit.transforms.ad import jvp, vjp
from tracejit.transforms.vmap import vmap


def _std_basis(avals: Sequence[Aval]) -> list:
    """One basis block per leaf: leaf i gets ``(N, *shape_i)`` (``N`` = total size),
    row ``r`` the ``r``-th unit vector restricted to that leaf."""
    from tracejit.numpy import eye

    total = sum(a.size for a in avals)
    blocks, offset = [], 0
    for a in avals:
        # Columns offset .. offset + size of the N x N identity: ones where r == offset + c.
        block = eye(total, a.size, k=-offset, dtype=a.dtype)
        blocks.append(reshape(block, (total, *a.shape)))
        offset += a.size
    return blocks


def _split(x: Any, axis: int, avals: Sequence[Aval], like: Aval | None = None) -> list:
    """Cut ``x`` along ``axis`` (of length sum of sizes) into one piece per aval, each
    reshaped so that axis becomes the aval's shape and cast to the dtype and weak type of
    ``like`` (default: of that aval), as JAX's Jacobians are."""
    shape = aval_of(x).shape
    pieces, offset = [], 0
    for a in avals:
        piece = slice_in_dim(x, offset, offset + a.size, axis=axis)
        piece = reshape(piece, (*shape[:axis], *a.shape, *shape[axis + 1 :]))
        target = a if like is None else like
        got = aval_of(piece)
        if (got.dtype, got.weak_type) != (target.dtype, target.weak_type):
            piece = convert_element_type(piece, target.dtype, target.weak_type)
        pieces.append(piece)
        offset += a.size
    return pieces


def _check_inputs(what: str, fun: Callable, args: tuple, nums: tuple[int, ...]) -> None:
    for i in nums:
        check_leaves(f"{what} of {fun_name(fun)} (argument {i})", args[i])
        for leaf in tree_util.tree_leaves(args[i]):
            aval = aval_of(leaf)
            if not dtypes.is_inexact(aval.dtype):
                raise TypeError(
                    f"{what} requires real- or complex-valued inputs, but argument {i} of "
                    f"{fun_name(fun)} has {aval}. Cast it with .astype(tnp.float32), or "
                    "leave it out of argnums."
                )


def _partial(fun: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...]) -> Callable:
    """``fun`` as a function of the arguments in ``nums`` only."""

    def f(*diff_args: Any) -> Any:
        full = list(args)
        for i, a in zip(nums, diff_args):
            full[i] = a
        return fun(*full, **kwargs)

    return f


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``fun`` by forward mode (one jvp per input element, vmapped).

    Args:
      fun: function of pytrees of arrays.
      argnums: the argument (int) or arguments (tuple) to differentiate.
      has_aux: ``fun`` returns ``(output, aux)``; the result is then ``(jac, aux)``.

    Returns:
      A function giving the Jacobian: for each output leaf of shape ``o``, the
      argument's pytree (a tuple of them for tuple ``argnums``) with leaves of
      shape ``o + i``.

    Raises:
      TypeError: when a differentiated input is not a floating-point array.
    """

    def jacfun(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacfwd")
        _check_inputs("jacfwd", fun, args, nums)
        dyn = tuple(args[i] for i in nums)
        flat, in_tree = flatten_args("jacfwd", dyn)
        in_avals = [aval_of(x) for x in flat]
        f = _partial(fun, args, kwargs, nums)

        def pushfwd(*basis: Any) -> Any:
            return jvp(f, dyn, tuple(tree_util.tree_unflatten(in_tree, basis)), has_aux=has_aux)

        out_axes = (None, -1, None) if has_aux else (None, -1)
        result = vmap(pushfwd, out_axes=out_axes)(*_std_basis(in_avals))
        y, jac = result[0], result[1]

        def unravel(y_leaf: Any, j: Any) -> Any:
            pieces = _split(j, len(aval_of(j).shape) - 1, in_avals, aval_of(y_leaf))
            tree = tree_util.tree_unflatten(in_tree, pieces)
            return tree[0] if isinstance(argnums, int) else tree

        jac_tree = tree_util.tree_map(unravel, y, jac)
        return (jac_tree, result[2]) if has_aux else jac_tree

    jacfun.__name__ = f"jacfwd({fun_name(fun)})"
    return jacfun


def jacrev(
    fun: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    chunk_size: int | None = None,
) -> Callable:
    """The Jacobian of ``fun`` by reverse mode (one vjp per output element, vmapped).

    Args:
      fun: function of pytrees of arrays.
      argnums: the argument (int) or arguments (tuple) to differentiate.
      has_aux: ``fun`` returns ``(output, aux)``; the result is then ``(jac, aux)``.
      chunk_size: pull back at most this many basis vectors at a time (bounds
        memory; same result).

    Returns:
      A function giving the Jacobian in ``jacfwd``'s layout.

    Raises:
      TypeError: when a differentiated input is not a floating-point array, or
        an output is not a real floating-point array.
    """

    def jacfun(*args: Any, **kwargs: Any) -> Any:
        nums = normalize_argnums(argnums, len(args), "jacrev")
        _check_inputs("jacrev", fun, args, nums)
        dyn = tuple(args[i] for i in nums)
        in_avals = [aval_of(x) for x in tree_util.tree_leaves(dyn)]
        result = vjp(_partial(fun, args, kwargs, nums), *dyn, has_aux=has_aux)
        y, pullback = result[0], result[1]
        flat_y, y_tree = tree_util.tree_flatten(y)
        y_avals = [aval_of(o) for o in flat_y]
        for a in y_avals:
            if not dtypes.is_float(a.dtype):
                raise TypeError(
                    f"jacrev requires real floating-point outputs, but {fun_name(fun)} "
                    f"returns {a}; use jacfwd, or cast the output"
                )

        def pullback_flat(*cts: Any) -> Any:
            return pullback(tree_util.tree_unflatten(y_tree, cts))

        jac = vmap(pullback_flat, chunk_size=chunk_size)(*_std_basis(y_avals))
        flat_jac, jac_in_tree = tree_util.tree_flatten(jac)
        # Per input leaf: (N_out, *in_shape) cut into output leaves, (*out_shape, *in_shape).
        per_input = [_split(j, 0, y_avals, a) for j, a in zip(flat_jac, in_avals)]
        per_output = []
        for k in range(len(y_avals)):
            tree = tree_util.tree_unflatten(jac_in_tree, [p[k] for p in per_input])
            per_output.append(tree[0] if isinstance(argnums, int) else tree)
        jac_tree = tree_util.tree_unflatten(y_tree, per_output)
        return (jac_tree, result[2]) if has_aux else jac_tree

    jacfun.__name__ = f"jacrev({fun_name(fun)})"
    return jacfun


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Hessian of a scalar ``fun``: ``jacfwd(jacrev(fun))`` (forward over reverse).

    Args:
      fun: function returning a real scalar (or ``(scalar, aux)`` with ``has_aux``).
      argnums: the argument (int) or arguments (tuple) to differentiate.
      has_aux: ``fun`` returns ``(output, aux)``; the result is ``(hessian, aux)``.
    """
    h = jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)
    h.__name__ = f"hessian({fun_name(fun)})"
    return h


__all__ = ["jacfwd", "jacrev", "hessian"]
