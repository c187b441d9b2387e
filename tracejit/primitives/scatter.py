"""The scatter family: scatter (set), scatter-add, scatter-mul, scatter-min,
scatter-max, with jax.lax's semantics (out-of-range updates are dropped by
default; repeated indices combine with the op, or one of them wins for set).

scatter-add is the transpose of gather (and gather the transpose of
scatter-add's update argument). The jvp of scatter (set) follows JAX: each
update gets an id, the ids are scattered to learn which update won at each
location, and primal and tangent are then formed with scatter-add of the
winners only, so the tangent of an overwritten operand element is masked
and the winning update's tangent lands in its place.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import numpy as np

from tracejit.ir import Aval
from tracejit.primitive import NOT_LINEAR, Primitive, register, set_rule
from tracejit.primitives._rules import (
    batch_size,
    bdim_to_front,
    instantiate,
    is_undefined,
    zeros_like_aval,
)
from tracejit.primitives._rules import shape as shape_of
from tracejit.primitives.elementwise import (
    add,
    div,
    eq,
    mul,
    ne,
    select_n,
    sub,
)
from tracejit.primitives.gather import (
    GatherScatterMode,
    ScatterDims,
    _check_index_dtype,
    _shift,
    gather_dims_of_scatter,
    gather_p,
    parse_mode,
)
from tracejit.primitives.shape import broadcast_in_dim
from tracejit.tracing import aval_of

lax = jax.lax

_LOWER = {
    "scatter": lax.scatter,
    "scatter-add": lax.scatter_add,
    "scatter-mul": lax.scatter_mul,
    "scatter-min": lax.scatter_min,
    "scatter-max": lax.scatter_max,
}


@functools.lru_cache(maxsize=4096)
def _check_scatter_shapes(operand: Aval, indices: Aval, updates: Aval, dn: ScatterDims):
    def fn(o, i, u):
        return lax.scatter(o, i, u, dn.to_jax())

    spec = jax.ShapeDtypeStruct
    jax.eval_shape(fn, *(spec(a.shape, a.dtype) for a in (operand, indices, updates)))


def _abstract_eval(name: str):
    def rule(
        operand: Aval,
        indices: Aval,
        updates: Aval,
        *,
        dimension_numbers,
        mode,
        indices_are_sorted,
        unique_indices,
    ) -> Aval:
        _check_index_dtype(name, "indices", indices)
        if operand.dtype != updates.dtype:
            raise TypeError(
                f"{name}: operand {operand} and updates {updates} must have equal dtypes"
            )
        try:
            _check_scatter_shapes(
                operand.strong(), indices.strong(), updates.strong(), dimension_numbers
            )
        except (TypeError, ValueError) as e:
            raise type(e)(
                f"{name}: operand {operand}, indices {indices}, updates {updates}, "
                f"{dimension_numbers}: {e}"
            ) from None
        return Aval(operand.shape, operand.dtype, operand.weak_type)

    return rule


def _lower(name: str):
    op = _LOWER[name]

    def lower(
        operand, indices, updates, *, dimension_numbers, mode, indices_are_sorted, unique_indices
    ):
        return op(
            operand,
            indices,
            updates,
            dimension_numbers.to_jax(),
            mode=mode,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
        )

    return lower


def _declare(name: str, jvp, transpose=NOT_LINEAR) -> Primitive:
    prim = Primitive(
        name, abstract_eval=_abstract_eval(name), lower=_lower(name), jvp=jvp, transpose=transpose
    )
    set_rule(prim, "batch", scatter_batch(prim))
    return register(prim)


def scatter_batch(prim: Primitive):
    """Batching rule of every scatter: one scatter over a batched operand."""

    def rule(args, dims, *, dimension_numbers, **params):
        (x, idx, u), (xd, idd, ud) = args, dims
        dn = dimension_numbers
        size = batch_size(args, dims)
        # The output is batched whatever is batched, so the operand gets the batch axis.
        x, u = bdim_to_front(x, xd, size), bdim_to_front(u, ud, size)
        if idd is None:
            # Shared indices: the batch axis is one more window axis of every update.
            new = ScatterDims(
                update_window_dims=(0, *_shift(dn.update_window_dims)),
                inserted_window_dims=_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims,
            )
        else:
            # Member b's indices write into member b: a batching dimension pair.
            idx = bdim_to_front(idx, idd, size)
            new = ScatterDims(
                update_window_dims=_shift(dn.update_window_dims),
                inserted_window_dims=_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0, *_shift(dn.operand_batching_dims)),
                scatter_indices_batching_dims=(0, *_shift(dn.scatter_indices_batching_dims)),
            )
        return prim.bind(x, idx, u, dimension_numbers=new, **params), 0

    return rule


def _inverse_gather(x, indices, dn: ScatterDims, updates_shape, mode, fill_value=None):
    """Read ``x`` back at the locations a scatter with ``dn`` writes: updates' shape."""
    sizes, pos = [], 0
    for i in range(len(shape_of(x))):
        if i in dn.inserted_window_dims or i in dn.operand_batching_dims:
            sizes.append(1)
        else:
            sizes.append(updates_shape[dn.update_window_dims[pos]])
            pos += 1
    if mode != GatherScatterMode.FILL_OR_DROP:
        fill_value = None
    return gather_p.bind(
        x,
        indices,
        dimension_numbers=gather_dims_of_scatter(dn),
        slice_sizes=tuple(sizes),
        mode=mode,
        fill_value=fill_value,
        indices_are_sorted=False,
        unique_indices=False,
    )


def _zeros(x):
    return zeros_like_aval(aval_of(x).strong())


def _full(x, value):
    a = aval_of(x)
    return broadcast_in_dim(np.asarray(value, a.dtype)[()], a.shape, ())


def _const(x, value):
    return np.asarray(value, aval_of(x).dtype)[()]


# --- scatter-add ------------------------------------------------------------------------


def _scatter_add_jvp(primals, tangents, **params):
    # Linear in (operand, updates) jointly.
    (x, idx, u), (tx, _, tu) = primals, tangents
    out = scatter_add_p.bind(x, idx, u, **params)
    if tx is None and tu is None:
        return out, None
    tx, tu = instantiate(tx, aval_of(x)), instantiate(tu, aval_of(u))
    return out, scatter_add_p.bind(tx, idx, tu, **params)


def _scatter_add_transpose(
    ct, operand, indices, updates, *, dimension_numbers, mode, indices_are_sorted, unique_indices
):
    if ct is None:
        return [None, None, None]
    ct_x = ct if is_undefined(operand) else None
    ct_u = None
    if is_undefined(updates):
        ct_u = _inverse_gather(ct, indices, dimension_numbers, updates.aval.shape, mode, 0)
    return [ct_x, None, ct_u]


scatter_add_p = _declare("scatter-add", _scatter_add_jvp, _scatter_add_transpose)


# --- scatter (set) -------------------------------------------------------------------------


def _scatter_jvp(primals, tangents, *, dimension_numbers, mode, indices_are_sorted, unique_indices):
    (x, idx, u), (tx, _, tu) = primals, tangents
    dn = dimension_numbers
    params = dict(
        dimension_numbers=dn,
        mode=mode,
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
    )
    if tx is None and tu is None:
        return scatter_p.bind(x, idx, u, **params), None
    tx, tu = instantiate(tx, aval_of(x)), instantiate(tu, aval_of(u))
    if unique_indices:
        # No two updates meet: the tangent is the same scatter of the tangents.
        return scatter_p.bind(x, idx, u, **params), scatter_p.bind(tx, idx, tu, **params)
    # a) give every update (not every window element) a positive id and scatter the ids;
    u_shape = shape_of(u)
    ids_shape = tuple(1 if i in dn.update_window_dims else n for i, n in enumerate(u_shape))
    id_dtype = np.uint32 if math.prod(ids_shape) < 2**32 - 1 else np.uint64
    ids = np.arange(1, math.prod(ids_shape) + 1, dtype=id_dtype).reshape(ids_shape)
    ids = broadcast_in_dim(ids, u_shape, tuple(range(len(u_shape))))
    zero_ids = zeros_like_aval(Aval(shape_of(x), np.dtype(id_dtype)))
    scattered_ids = scatter_p.bind(zero_ids, idx, ids, **params)
    # b) read the winning id back at every update's location;
    won = eq(ids, _inverse_gather(scattered_ids, idx, dn, u_shape, mode))
    kept = eq(scattered_ids, np.zeros((), id_dtype)[()])
    # c) keep untouched operand elements and winning updates, and d) scatter-add them.
    out = scatter_add_p.bind(
        select_n(kept, _zeros(x), x), idx, select_n(won, _zeros(u), u), **params
    )
    t_out = scatter_add_p.bind(
        select_n(kept, _zeros(tx), tx), idx, select_n(won, _zeros(tu), tu), **params
    )
    return out, t_out


def _scatter_transpose(
    ct, operand, indices, updates, *, dimension_numbers, mode, indices_are_sorted, unique_indices
):
    # Only scatters with unique indices are transposed: that is all the jvp emits.
    if not unique_indices:
        raise TypeError(
            "scatter: only a scatter with unique_indices=True is linear in a transposable "
            "way; differentiate through the scatter (its jvp uses scatter-add) instead"
        )
    if ct is None:
        return [None, None, None]
    u_aval = updates.aval if is_undefined(updates) else aval_of(updates)
    params = dict(
        dimension_numbers=dimension_numbers,
        mode=mode,
        indices_are_sorted=indices_are_sorted,
        unique_indices=True,
    )
    ct_x = ct_u = None
    if is_undefined(operand):
        # Overwritten elements do not reach the output.
        ct_x = scatter_p.bind(ct, indices, zeros_like_aval(u_aval.strong()), **params)
    if is_undefined(updates):
        ct_u = _inverse_gather(ct, indices, dimension_numbers, u_aval.shape, mode, 0)
    return [ct_x, None, ct_u]


scatter_p = _declare("scatter", _scatter_jvp, _scatter_transpose)


# --- scatter-mul --------------------------------------------------------------------------


def _scatter_mul_jvp(primals, tangents, **params):
    (x, idx, u), (tx, _, tu) = primals, tangents
    out = scatter_mul_p.bind(x, idx, u, **params)
    t_out = None
    if tx is not None:
        # out = x * P with P the product of the updates landing on each element.
        t_out = scatter_mul_p.bind(tx, idx, u, **params)
    if tu is not None:
        # d out = x * sum_k tu_k * (product of the *other* updates at k's target).
        dn, mode = params["dimension_numbers"], params["mode"]
        others = _product_of_others(x, idx, u, dn, mode, params["unique_indices"])
        t_u = mul(x, scatter_add_p.bind(_zeros(x), idx, mul(tu, others), **params))
        t_out = t_u if t_out is None else add(t_out, t_u)
    return out, t_out


def _product_of_others(x, idx, u, dn, mode, unique):
    """Per update element, the product of the other updates that hit its target.

    Division-free where updates are zero: with Z zeros at a target and Q the
    product of its nonzero updates, a nonzero update sees Q / u_k if Z == 0
    (else 0), and a zero update sees Q if Z == 1 (else 0).
    """
    if unique:
        return _full(u, 1)
    u_shape = shape_of(u)
    nonzero = ne(u, _const(u, 0))
    u1 = select_n(nonzero, _full(u, 1), u)
    params = dict(dimension_numbers=dn, mode=mode, indices_are_sorted=False, unique_indices=False)
    q = _inverse_gather(
        scatter_mul_p.bind(_full(x, 1), idx, u1, **params), idx, dn, u_shape, mode, 1
    )
    is_zero = select_n(nonzero, _full(u, 1), _full(u, 0))
    z = _inverse_gather(
        scatter_add_p.bind(_zeros(x), idx, is_zero, **params), idx, dn, u_shape, mode, 0
    )
    zero = _full(u, 0)
    if_nonzero = select_n(eq(z, _const(z, 0)), zero, div(q, u1))
    if_zero = select_n(eq(z, _const(z, 1)), zero, q)
    return select_n(nonzero, if_zero, if_nonzero)


def _scatter_mul_transpose(ct, operand, indices, updates, **params):
    # Linear in the operand only (a diagonal scaling, hence self-adjoint).
    if is_undefined(updates):
        raise TypeError("scatter-mul is not linear in its updates; this is a bug in a jvp rule")
    if ct is None:
        return [None, None, None]
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


scatter_mul_p = _declare("scatter-mul", _scatter_mul_jvp, _scatter_mul_transpose)


# --- scatter-min / scatter-max -------------------------------------------------------------


def _extremal_jvp(name: str):
    def jvp(primals, tangents, **params):
        # As JAX: where several values tie for the extremum (the operand's and
        # the updates'), the tangent is the average of their tangents.
        (x, idx, u), (tx, _, tu) = primals, tangents
        prim = scatter_min_p if name == "scatter-min" else scatter_max_p
        out = prim.bind(x, idx, u, **params)
        if tx is None and tu is None:
            return out, None
        tx, tu = instantiate(tx, aval_of(x)), instantiate(tu, aval_of(u))
        dn = params["dimension_numbers"]
        u_shape = shape_of(u)
        plain = dict(params, indices_are_sorted=False, unique_indices=False)
        back = functools.partial(
            _inverse_gather,
            indices=idx,
            dn=dn,
            updates_shape=u_shape,
            mode=GatherScatterMode.PROMISE_IN_BOUNDS,
        )
        target = back(out)
        won = eq(u, target)
        retained = eq(back(x), target)
        one, zero = _full(u, 1), _full(u, 0)
        n_won = back(scatter_add_p.bind(_zeros(x), idx, select_n(won, zero, one), **plain))
        n_refs = back(scatter_add_p.bind(_zeros(x), idx, one, **plain))
        share_retained = div(one, add(n_won, one))
        u_coef = select_n(won, zero, select_n(retained, div(one, n_won), share_retained))
        x_coef = div(sub(select_n(retained, zero, share_retained), one), n_refs)
        t_upd = add(mul(back(tx), x_coef), mul(tu, u_coef))
        return out, scatter_add_p.bind(tx, idx, t_upd, **params)

    return jvp


scatter_min_p = _declare("scatter-min", _extremal_jvp("scatter-min"))
scatter_max_p = _declare("scatter-max", _extremal_jvp("scatter-max"))


# --- the lax-level functions ------------------------------------------------------------------


def _scatter_fn(prim: Primitive, lax_name: str):
    def fn(
        operand: Any,
        scatter_indices: Any,
        updates: Any,
        dimension_numbers: Any,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        return prim.bind(
            operand,
            scatter_indices,
            updates,
            dimension_numbers=ScatterDims.of(dimension_numbers),
            mode=parse_mode(mode, GatherScatterMode.FILL_OR_DROP),
            indices_are_sorted=bool(indices_are_sorted),
            unique_indices=bool(unique_indices),
        )

    fn.__name__ = lax_name
    fn.__doc__ = (
        f"XLA's scatter combining with ``{prim.name}`` (jax.lax.{lax_name}'s signature).\n\n"
        "Out-of-range updates are dropped by default (``mode='fill'``/``'drop'``);\n"
        "``mode='clip'`` clamps the indices instead."
    )
    return fn


scatter = _scatter_fn(scatter_p, "scatter")
scatter_add = _scatter_fn(scatter_add_p, "scatter_add")
scatter_mul = _scatter_fn(scatter_mul_p, "scatter_mul")
scatter_min = _scatter_fn(scatter_min_p, "scatter_min")
scatter_max = _scatter_fn(scatter_max_p, "scatter_max")
