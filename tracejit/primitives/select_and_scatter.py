"""The derivative carriers of max/min pooling: ``select_and_gather_add`` and
``select_and_scatter_add``.

``select_and_gather_add(t, x)`` picks, for each window of ``x``, the tangent
at the element the window selects (its max for ``ge``, its min for ``le``):
the tangent of ``reduce_window_max``/``min``, linear in ``t``. Its transpose
``select_and_scatter_add(ct, x)`` adds each window's cotangent to that
element, and transposes back to the gather. The choice among equal elements
follows XLA's select semantics, as in JAX. Both lower to the XLA ops of the
same name (bound through jax.lax's public primitives); batching adds a unit
window over the batch axis.
"""

from __future__ import annotations

import jax

from tracejit.ir import Aval
from tracejit.primitive import Primitive, register, set_rule
from tracejit.primitives._rules import bdim_to_front, is_undefined
from tracejit.primitives._windows import identity, insert_unit_window, window_shape
from tracejit.tracing import aval_of

lax = jax.lax

_SELECT = {"ge": lax.ge_p, "le": lax.le_p}


# --- select_and_gather_add -----------------------------------------------------------------


def _gather_abstract_eval(t: Aval, x: Aval, *, select_prim, **params) -> Aval:
    name = "select_and_gather_add"
    if t.shape != x.shape:
        raise TypeError(f"{name}: tangents {t} and operand {x} must have equal shapes")
    return Aval(window_shape(name, x, **params), t.dtype, t.weak_type)


def _gather_lower(t, x, *, select_prim, **params):
    return lax.select_and_gather_add_p.bind(t, x, select_prim=_SELECT[select_prim], **params)


def _gather_jvp(primals, tangents, **params):
    # Linear in the tangents; the choice of element is locally constant in x.
    (t, x), (tt, _) = primals, tangents
    out = select_and_gather_add_p.bind(t, x, **params)
    return out, None if tt is None else select_and_gather_add_p.bind(tt, x, **params)


def _gather_transpose(
    ct,
    t,
    x,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    from tracejit.primitives.shape import pad, slice

    if is_undefined(x):
        raise ValueError("select_and_gather_add: the operand cannot be a linear input")
    if ct is None:
        return [None, None]
    if any(d != 1 for d in window_dilation):
        raise ValueError(
            f"reverse-mode differentiation of max/min pooling with window_dilation="
            f"{window_dilation} is not supported (as in JAX); use window_dilation=1 or "
            "forward mode (tj.jvp / tj.jacfwd)"
        )
    dilated = any(d != 1 for d in base_dilation)
    if dilated:
        # Holes of the dilated operand hold the reduction's identity: never chosen.
        fill = identity("max" if select_prim == "ge" else "min", aval_of(x).dtype)
        x = pad(x, fill, [(0, 0, d - 1) for d in base_dilation])
    out = select_and_scatter_add_p.bind(
        ct,
        x,
        select_prim=select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
    )
    if dilated:
        shape = aval_of(out).shape
        out = slice(out, (0,) * len(shape), shape, base_dilation)
    return [out, None]


def _pair_batch(prim: Primitive, window_params: tuple[str, ...]):
    """Batching of (values, operand) pairs: both to the front, a unit window there."""

    def rule(args, dims, **params):
        (a, x), (ad, xd) = args, dims
        size = aval_of(a).shape[ad] if ad is not None else aval_of(x).shape[xd]
        a, x = bdim_to_front(a, ad, size), bdim_to_front(x, xd, size)
        window = {k: v for k, v in params.items() if k in window_params}
        rest = {k: v for k, v in params.items() if k not in window_params}
        return prim.bind(a, x, **rest, **insert_unit_window(window, 0)), 0

    return rule


_WINDOW = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")

select_and_gather_add_p = Primitive(
    "select_and_gather_add",
    abstract_eval=_gather_abstract_eval,
    lower=_gather_lower,
    jvp=_gather_jvp,
    transpose=_gather_transpose,
)
set_rule(select_and_gather_add_p, "batch", _pair_batch(select_and_gather_add_p, _WINDOW))
register(select_and_gather_add_p)


# --- select_and_scatter_add ------------------------------------------------------------------


def _scatter_abstract_eval(
    s: Aval, x: Aval, *, select_prim, window_dimensions, window_strides, padding
) -> Aval:
    name = "select_and_scatter_add"
    ones = (1,) * x.ndim
    expected = window_shape(name, x, window_dimensions, window_strides, padding, ones, ones)
    if s.shape != expected:
        raise TypeError(
            f"{name}: source {s} must have the window reduction's shape {expected} of operand {x}"
        )
    return Aval(x.shape, s.dtype, s.weak_type)


def _scatter_lower(s, x, *, select_prim, **params):
    return lax.select_and_scatter_add_p.bind(s, x, select_prim=_SELECT[select_prim], **params)


def _scatter_jvp(primals, tangents, **params):
    (s, x), (ts, _) = primals, tangents
    out = select_and_scatter_add_p.bind(s, x, **params)
    return out, None if ts is None else select_and_scatter_add_p.bind(ts, x, **params)


def _scatter_transpose(ct, s, x, *, select_prim, window_dimensions, window_strides, padding):
    if is_undefined(x):
        raise ValueError("select_and_scatter_add: the operand cannot be a linear input")
    if ct is None:
        return [None, None]
    ones = (1,) * len(window_dimensions)
    out = select_and_gather_add_p.bind(
        ct,
        x,
        select_prim=select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
        base_dilation=ones,
        window_dilation=ones,
    )
    return [out, None]


select_and_scatter_add_p = Primitive(
    "select_and_scatter_add",
    abstract_eval=_scatter_abstract_eval,
    lower=_scatter_lower,
    jvp=_scatter_jvp,
    transpose=_scatter_transpose,
)
set_rule(
    select_and_scatter_add_p,
    "batch",
    _pair_batch(select_and_scatter_add_p, ("window_dimensions", "window_strides", "padding")),
)
register(select_and_scatter_add_p)
