"""vmap: the batching interpreter, the ``batch_ir`` pass and the user API.

The function is traced once on per-example abstract values; the batching
interpreter then re-emits each equation through its primitive's batching
rule, which produces batched primitives (a vmapped matrix-vector product is
one ``dot_general``), never loops. Values not mapped (``in_axes=None``,
closed-over weights) stay unbatched through every rule that allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit.ir import Aval, ClosedIR, Literal
from tracejit.phases import timed_transform
from tracejit.primitives._rules import move_bdim
from tracejit.tracing import aval_of, bind, current_builder, source_of, trace_flat
from tracejit.transforms._util import check_leaves, fun_name, to_output, tree_util


@timed_transform
def batch_eval(cir: ClosedIR, args: Sequence[Any], dims: Sequence[int | None]):
    """Run ``cir`` on batched ``args`` (batch axis ``dims[i]`` or ``None``)."""
    ir = cir.ir
    env: dict = dict(zip(ir.constvars, cir.consts))
    env.update(zip(ir.invars, args))
    denv: dict = {v: d for v, d in zip(ir.invars, dims) if d is not None}
    builder = current_builder()
    for eqn in ir.eqns:
        ins = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        ds = [None if type(a) is Literal else denv.get(a) for a in eqn.invars]
        prim = eqn.prim
        if builder is not None:
            builder.source_hint = eqn.source
        try:
            if all(d is None for d in ds):
                outs, out_ds = bind(prim, ins, eqn.params), None
            else:
                outs, out_ds = prim.batch(ins, ds, **eqn.params)
        finally:
            if builder is not None:
                builder.source_hint = None
        if prim.multiple_results:
            env.update(zip(eqn.outvars, outs))
            if out_ds is not None:
                denv.update((v, d) for v, d in zip(eqn.outvars, out_ds) if d is not None)
        else:
            env[eqn.outvars[0]] = outs
            if out_ds is not None:
                denv[eqn.outvars[0]] = out_ds
    outs = [a.val if type(a) is Literal else env[a] for a in ir.outvars]
    out_ds = [None if type(a) is Literal else denv.get(a) for a in ir.outvars]
    return outs, out_ds


def batch_ir(
    cir: ClosedIR, size: int, dims: Sequence[int | None], out_dims: Sequence[int | None]
) -> ClosedIR:
    """The batched IR of ``cir``: inputs batched at ``dims``, outputs at ``out_dims``."""
    in_avals = [
        a if d is None else Aval(a.shape[:d] + (size,) + a.shape[d:], a.dtype, a.weak_type)
        for a, d in zip(cir.in_avals, dims)
    ]

    def fun(*args):
        outs, ods = batch_eval(cir, args, dims)
        return [_move_to(o, d, od, size) for o, d, od in zip(outs, ods, out_dims)]

    return trace_flat(fun, in_avals, kind="vmap")


def _move_to(x: Any, d: int | None, out_axis: int | None, size: int) -> Any:
    from tracejit.primitives.shape import broadcast_in_dim

    if out_axis is None:
        if d is not None:
            raise ValueError("vmap: out_axes=None, but the output is batched")
        return x
    if d is None:
        shape = aval_of(x).shape
        out_axis = out_axis % (len(shape) + 1)
        new_shape = shape[:out_axis] + (size,) + shape[out_axis:]
        dims_ = tuple(i for i in range(len(new_shape)) if i != out_axis)
        return broadcast_in_dim(x, new_shape, dims_)
    return move_bdim(x, d, out_axis)


# --- in_axes / out_axes ---------------------------------------------------------------


def _flatten_axes(what: str, tree: Any, axes: Any) -> list:
    """Broadcast a pytree prefix ``axes`` to the leaves of ``tree``."""
    proxy = object()
    dummy = tree_util.tree_unflatten(tree, [proxy] * tree.num_leaves)
    flat: list = []

    def add_leaves(axis, sub):
        flat.extend([axis] * len(tree_util.tree_leaves(sub, is_leaf=lambda x: x is proxy)))

    try:
        tree_util.tree_map(add_leaves, axes, dummy, is_leaf=lambda x: x is None)
    except ValueError as e:
        raise ValueError(
            f"vmap {what} specification must be a tree prefix of the corresponding value, "
            f"got {what}={axes!r} for a value with structure {tree}: {e}"
        ) from None
    for a in flat:
        if a is not None and not isinstance(a, int):
            raise ValueError(f"vmap {what} entries must be ints or None, got {a!r}")
    return flat


def vmap(
    fun: Callable,
    in_axes: Any = 0,
    out_axes: Any = 0,
    *,
    axis_size: int | None = None,
    chunk_size: int | None = None,
) -> Callable:
    """Vectorize ``fun`` over a new leading (or ``in_axes``) axis of its inputs.

    Args:
      fun: function of pytrees of arrays.
      in_axes: int, None, or a pytree prefix of the positional arguments
        giving each input's mapped axis (negative allowed; None = not mapped).
      out_axes: the same for the outputs.
      axis_size: the mapped size, required when no input is mapped.
      chunk_size: map at most this many at a time (bounds memory; same result).

    Raises:
      ValueError: for in_axes/out_axes that do not fit the arguments, an axis
        out of range, or inputs whose mapped sizes differ.
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be a positive int, got {chunk_size!r}")

    def vmapped(*args: Any) -> Any:
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"vmap in_axes must be an int, None, or a tuple with one entry per positional "
                f"argument, but got len(in_axes)={len(in_axes)} for {len(args)} arguments "
                f"of {fun_name(fun)}"
            )
        for i, a in enumerate(args):
            check_leaves(f"vmap of {fun_name(fun)} (argument {i})", a)
        leaves, in_tree = tree_util.tree_flatten(args)
        axes = _flatten_axes("in_axes", in_tree, in_axes if isinstance(in_axes, tuple)
                             else (in_axes,) * len(args))
        size, dims = _mapped_size(args, leaves, axes, axis_size, fun)
        if chunk_size is not None and chunk_size < size:
            from tracejit.transforms.chunking import chunked_vmap

            return chunked_vmap(vmapped_on, leaves, in_tree, dims, size, chunk_size, out_axes)
        return vmapped_on(leaves, in_tree, dims, size)

    def vmapped_on(leaves, in_tree, dims, size):
        in_avals = [_unbatched_aval(x, d) for x, d in zip(leaves, dims)]
        sources = [source_of(x) if d is None else None for x, d in zip(leaves, dims)]
        out_tree_box = []

        def flat_fun(*tracers):
            out = fun(*tree_util.tree_unflatten(in_tree, tracers))
            flat_out, out_tree = tree_util.tree_flatten(out)
            check_leaves(f"output of {fun_name(fun)}", out)
            out_tree_box.append(out_tree)
            return flat_out

        cir = trace_flat(flat_fun, in_avals, kind="vmap", sources=sources)
        out_tree = out_tree_box[0]
        outs, ods = batch_eval(cir, leaves, dims)
        flat_out_axes = _flatten_axes("out_axes", out_tree, out_axes)
        results = []
        for i, (o, d, oa) in enumerate(zip(outs, ods, flat_out_axes)):
            if oa is None and d is not None:
                raise ValueError(
                    f"vmap has out_axes=None for output {i} of {fun_name(fun)}, but that "
                    f"output ({aval_of(o)} per example) depends on the mapped inputs; "
                    "use out_axes=0 or return it from outside the mapped computation"
                )
            if oa is not None:
                ndim = len(aval_of(o).shape) + (d is None)
                if not -ndim <= oa < ndim:
                    raise ValueError(f"vmap out_axes={oa} is out of range for output {i} "
                                     f"with {ndim} dimensions")
            results.append(_move_to(o, d, oa, size))
        return to_output(tree_util.tree_unflatten(out_tree, results))

    vmapped.__name__ = f"vmap({fun_name(fun)})"
    vmapped.__wrapped__ = fun
    return vmapped


def _unbatched_aval(x: Any, d: int | None) -> Aval:
    a = aval_of(x)
    if d is None:
        return a
    return Aval(a.shape[:d] + a.shape[d + 1:], a.dtype, a.weak_type)


def _mapped_size(args, leaves, axes, axis_size, fun) -> tuple[int, list]:
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(args)[0]]
    dims: list = []
    sizes: list = []
    for x, a, path in zip(leaves, axes, paths):
        if a is None:
            dims.append(None)
            continue
        shape = aval_of(x).shape
        if not -len(shape) <= a < len(shape):
            raise ValueError(
                f"vmap of {fun_name(fun)}: in_axes={a} is out of range for argument "
                f"{path} of shape {aval_of(x)} ({len(shape)} dimensions)"
            )
        d = a % len(shape)
        dims.append(d)
        sizes.append((path, shape[d], d))
    if not sizes:
        if axis_size is None:
            raise ValueError(
                f"vmap of {fun_name(fun)}: no input is mapped (all in_axes are None), so "
                "the mapped size is unknown; pass axis_size=..."
            )
        return axis_size, dims
    distinct = {s for _, s, _ in sizes}
    if len(distinct) > 1 or (axis_size is not None and axis_size not in distinct):
        listing = "; ".join(f"argument {p} has size {s} along axis {d}" for p, s, d in sizes)
        extra = f"; axis_size={axis_size}" if axis_size is not None else ""
        raise ValueError(
            f"vmap of {fun_name(fun)} got inconsistent sizes for the mapped axis: "
            f"{listing}{extra}"
        )
    return sizes[0][1], dims
