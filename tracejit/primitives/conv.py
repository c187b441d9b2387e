"""Convolution: ``conv_general_dilated`` with every rule.

Dimension numbers are three tuples ``(lhs_spec, rhs_spec, out_spec)``: each
lists the (batch, feature, spatial...) axes of the lhs and output and the
(out-feature, in-feature, spatial...) axes of the kernel. The default is
NCHW / OIHW / NCHW for any number of spatial dims.

The jvp is bilinear; both transposes are convolutions (the lhs one runs the
reversed kernel over the cotangent with strides turned into lhs dilation, the
rhs one correlates the lhs with the cotangent); a vmapped convolution is one
convolution with the vmapped axis folded into the batch, feature or kernel
out-feature dimension (feature groups keep the members apart).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import add_tangents, is_undefined, zeros_like_aval
from tracejit.primitives._windows import (
    canonical_padding,
    conv_dimension_numbers,
    dilate_dim,
    padtype_to_pads,
    stride_dim,
    vjp_lhs_padding,
    vjp_rhs_padding,
)
from tracejit.tracing import aval_of

lax = jax.lax


# --- conv_general_dilated ----------------------------------------------------------------


def _conv_abstract_eval(
    lhs: Aval,
    rhs: Aval,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision,
    preferred_element_type,
) -> Aval:
    name = "conv_general_dilated"
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{name}: lhs and rhs must have equal dtypes, got {lhs} and {rhs}")
    if lhs.dtype == dtypes.bool_:
        raise TypeError(f"{name}: boolean operands are not supported, got {lhs} and {rhs}")
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(
            f"{name}: lhs and rhs must have equal ranks of at least 2, got {lhs} and {rhs}"
        )
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = lhs.ndim - 2
    for what, v in (
        ("window_strides", window_strides),
        ("padding", padding),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if len(v) != nsp:
            raise ValueError(
                f"{name}: {what}={v} needs one entry per spatial dimension ({nsp}) of {lhs}"
            )
    if feature_group_count < 1 or batch_group_count < 1:
        raise ValueError(f"{name}: feature_group_count and batch_group_count must be >= 1")
    if feature_group_count > 1 and batch_group_count > 1:
        raise ValueError(
            f"{name}: at most one of feature_group_count and batch_group_count may be > 1"
        )
    n, c = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    o, i = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    if c % feature_group_count or c // feature_group_count != i:
        raise TypeError(
            f"{name}: lhs features ({c}) / feature_group_count ({feature_group_count}) must "
            f"equal the kernel's input features ({i}); got lhs {lhs} and rhs {rhs}"
        )
    if o % feature_group_count or o % batch_group_count or n % batch_group_count:
        raise TypeError(
            f"{name}: kernel output features ({o}) must be a multiple of feature_group_count "
            f"({feature_group_count}) and batch_group_count ({batch_group_count}), which must "
            f"divide the lhs batch ({n}); got lhs {lhs} and rhs {rhs}"
        )
    if any(s < 1 for s in (*window_strides, *lhs_dilation, *rhs_dilation)):
        raise ValueError(f"{name}: strides and dilations must be >= 1")
    spatial = []
    for k in range(nsp):
        size = dilate_dim(lhs.shape[lhs_spec[k + 2]], lhs_dilation[k]) + sum(padding[k])
        if size < 0:
            raise ValueError(f"{name}: padding {padding} crops more than dimension {k} of {lhs}")
        window = dilate_dim(rhs.shape[rhs_spec[k + 2]], rhs_dilation[k])
        spatial.append(stride_dim(size, window, window_strides[k]))
    canonical = (n // batch_group_count, o, *spatial)
    shape = [0] * lhs.ndim
    for axis, size in zip(out_spec, canonical, strict=True):
        shape[axis] = size
    dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    return Aval(tuple(shape), dtype, lhs.weak_type and rhs.weak_type)


def _conv_lower(lhs, rhs, *, dimension_numbers, **params):
    return lax.conv_general_dilated(
        lhs, rhs, dimension_numbers=lax.ConvDimensionNumbers(*dimension_numbers), **params
    )


def _bind(lhs, rhs, params: dict, **updates):
    return conv_general_dilated_p.bind(lhs, rhs, **{**params, **updates})


def _conv_jvp(primals, tangents, **params):
    # Bilinear: d(lhs * rhs) = dlhs * rhs + lhs * drhs.
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = _bind(lhs, rhs, params)
    t_out = None if t_lhs is None else _bind(t_lhs, rhs, params)
    if t_rhs is not None:
        t_out = add_tangents(t_out, _bind(lhs, t_rhs, params))
    return out, t_out


def _spec_transpose(spec):
    return (spec[1], spec[0], *spec[2:])


def reshape_axis_into(src: int, dst: int, x: Any) -> Any:
    """Merge axis ``src`` into axis ``dst`` (numbered after removing ``src``), ``src`` major."""
    from tracejit.primitives._rules import move_bdim
    from tracejit.primitives.shape import reshape

    shape = list(aval_of(x).shape)
    size = shape.pop(src)
    shape[dst] *= size
    return reshape(move_bdim(x, src, dst), shape)


def reshape_axis_out_of(src: int, size1: int, x: Any) -> Any:
    """Split axis ``src`` into ``(size1, rest)``."""
    from tracejit.primitives.shape import reshape

    shape = list(aval_of(x).shape)
    shape[src : src + 1] = [size1, shape[src] // size1]
    return reshape(x, shape)


def _cast(x, dtype):
    from tracejit.primitives.elementwise import convert_element_type

    return x if aval_of(x).dtype == dtype else convert_element_type(x, dtype)


def _transpose_lhs(ct, lhs_aval: Aval, rhs, params: dict):
    from tracejit.primitives.shape import rev

    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    rhs_shape = aval_of(rhs).shape
    if fgc > 1 or bgc > 1:
        # The transposed kernel swaps O and I: move the group factor of O into I.
        rhs = reshape_axis_out_of(rhs_spec[0], max(fgc, bgc), rhs)
        rhs = reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    padding = vjp_lhs_padding(
        [lhs_aval.shape[d] for d in lhs_spec[2:]],
        [rhs_shape[d] for d in rhs_spec[2:]],
        params["window_strides"],
        [aval_of(ct).shape[d] for d in out_spec[2:]],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    )
    kernel = _cast(rev(rhs, rhs_spec[2:]), aval_of(ct).dtype)
    out = _bind(
        ct,
        kernel,
        params,
        window_strides=params["lhs_dilation"],
        padding=padding,
        lhs_dilation=params["window_strides"],
        dimension_numbers=(out_spec, _spec_transpose(rhs_spec), lhs_spec),
        feature_group_count=max(fgc, bgc),
        batch_group_count=1,
    )
    if bgc > 1:
        out = reshape_axis_out_of(lhs_spec[1], bgc, out)
        out = reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
    return _cast(out, lhs_aval.dtype)


def _transpose_rhs(ct, lhs, rhs_aval: Aval, params: dict):
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    # Feature groups of the forward conv become batch groups of this one and back.
    fgc, bgc = (bgc, 1) if bgc > 1 else (1, fgc)
    padding = vjp_rhs_padding(
        [aval_of(lhs).shape[d] for d in lhs_spec[2:]],
        [rhs_aval.shape[d] for d in rhs_spec[2:]],
        params["window_strides"],
        [aval_of(ct).shape[d] for d in out_spec[2:]],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    )
    out = _bind(
        _cast(lhs, aval_of(ct).dtype),
        ct,
        params,
        window_strides=params["rhs_dilation"],
        padding=padding,
        rhs_dilation=params["window_strides"],
        dimension_numbers=tuple(_spec_transpose(s) for s in (lhs_spec, out_spec, rhs_spec)),
        feature_group_count=fgc,
        batch_group_count=bgc,
    )
    return _cast(out, rhs_aval.dtype)


def _conv_transpose(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise ValueError("conv_general_dilated: transpose of a product of two linear values")
    if ct is None or aval_of(ct).size == 0:
        return [None, None]
    pe = params["preferred_element_type"]
    params = {**params, "preferred_element_type": None if pe is None else aval_of(ct).dtype}
    if is_undefined(lhs):
        return [_transpose_lhs(ct, lhs.aval, rhs, params), None]
    return [None, _transpose_rhs(ct, lhs, rhs.aval, params)]


def _conv_batch(args, dims, **params):
    (lhs, rhs), (ld, rd) = args, dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    size = aval_of(lhs).shape[ld] if ld is not None else aval_of(rhs).shape[rd]
    if size == 0:
        # Folding a zero-size axis into another loses the other's extent.
        lhs_a, rhs_a = aval_of(lhs), aval_of(rhs)
        lhs_a = lhs_a if ld is None else lhs_a.update(shape=np.delete(lhs_a.shape, ld))
        rhs_a = rhs_a if rd is None else rhs_a.update(shape=np.delete(rhs_a.shape, rd))
        out = _conv_abstract_eval(lhs_a, rhs_a, **params)
        return zeros_like_aval(out.update(shape=(0, *out.shape))), 0
    if ld is not None and rd is not None:
        # Each member convolves its own lhs with its own kernel: members become
        # feature groups (or batch groups), kept apart by the grouped conv.
        if bgc > 1:
            new_lhs = reshape_axis_into(ld, lhs_spec[0], lhs)
            bgc *= size
        else:
            new_lhs = reshape_axis_into(ld, lhs_spec[1], lhs)
            fgc *= size
        new_rhs = reshape_axis_into(rd, rhs_spec[0], rhs)
        out = _bind(new_lhs, new_rhs, params, feature_group_count=fgc, batch_group_count=bgc)
        return reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if ld is not None:
        # A shared kernel: the members are more images of the batch.
        if bgc == 1:
            out = _bind(reshape_axis_into(ld, lhs_spec[0], lhs), rhs, params)
            return reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
        new_lhs = reshape_axis_out_of(lhs_spec[0] + int(ld <= lhs_spec[0]), bgc, lhs)
        new_lhs = reshape_axis_into(ld + int(lhs_spec[0] < ld), lhs_spec[0] + 1, new_lhs)
        new_lhs = reshape_axis_into(lhs_spec[0], lhs_spec[0], new_lhs)
        out = _bind(new_lhs, rhs, params)
        return reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    # A shared lhs: the members' kernels are more output features.
    if fgc == 1 and bgc == 1:
        out = _bind(lhs, reshape_axis_into(rd, rhs_spec[0], rhs), params)
        return reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    # Groups must stay outermost in O: factor them out, fold the members in, put them back.
    groups = max(fgc, bgc)
    new_rhs = reshape_axis_out_of(rhs_spec[0] + int(rd <= rhs_spec[0]), groups, rhs)
    new_rhs = reshape_axis_into(rd + int(rhs_spec[0] < rd), rhs_spec[0] + 1, new_rhs)
    new_rhs = reshape_axis_into(rhs_spec[0], rhs_spec[0], new_rhs)
    out = _bind(lhs, new_rhs, params)
    out = reshape_axis_out_of(out_spec[1], groups, out)
    out = reshape_axis_out_of(out_spec[1] + 1, size, out)
    out = reshape_axis_into(out_spec[1], out_spec[1] + 1, out)
    return out, out_spec[1]


conv_general_dilated_p = register(
    Primitive(
        "conv_general_dilated",
        abstract_eval=_conv_abstract_eval,
        lower=_conv_lower,
        jvp=_conv_jvp,
        transpose=_conv_transpose,
        batch=_conv_batch,
    )
)


def _ints(name: str, what: str, v: Any, n: int) -> tuple[int, ...]:
    if v is None:
        return (1,) * n
    if isinstance(v, int):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError(f"{name}: {what}={v} needs {n} entries, one per spatial dimension")
    return v


def conv_general_dilated(
    lhs: Any,
    rhs: Any,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """General n-d convolution (jax.lax.conv_general_dilated).

    Args:
      lhs: input, NCHW-like by default (batch, features, spatial...).
      rhs: kernel, OIHW-like by default (out features, in features, spatial...).
      window_strides: one stride per spatial dimension.
      padding: 'VALID', 'SAME', 'SAME_LOWER' or one ``(low, high)`` pair per spatial dim.
      lhs_dilation: input dilation (a transposed convolution), default 1s.
      rhs_dilation: kernel dilation (atrous convolution), default 1s.
      dimension_numbers: None, spec strings such as ``('NHWC', 'HWIO', 'NHWC')``, or
        axis tuples ``(lhs_spec, rhs_spec, out_spec)``.
      feature_group_count: grouped (e.g. depthwise) convolution.
      batch_group_count: groups of the batch (used by kernel gradients).
      precision: passed to XLA.
      preferred_element_type: accumulation/result dtype.

    Returns:
      The convolution, laid out per ``out_spec``.

    Raises:
      TypeError: for mismatched dtypes, ranks, feature counts or dimension numbers.
      ValueError: for malformed strides, dilations or padding.
    """
    name = "conv_general_dilated"
    lhs_a, rhs_a = aval_of(lhs), aval_of(rhs)
    if lhs_a.ndim != rhs_a.ndim or lhs_a.ndim < 2:
        raise TypeError(
            f"{name}: lhs and rhs must have equal ranks of at least 2, got {lhs_a} and {rhs_a}"
        )
    dn = conv_dimension_numbers(name, lhs_a.ndim, dimension_numbers)
    n = lhs_a.ndim - 2
    window_strides = _ints(name, "window_strides", window_strides, n)
    lhs_dilation = _ints(name, "lhs_dilation", lhs_dilation, n)
    rhs_dilation = _ints(name, "rhs_dilation", rhs_dilation, n)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise ValueError(
                f"{name}: string padding {padding!r} is not defined with lhs_dilation="
                f"{lhs_dilation}; pass explicit (low, high) pairs"
            )
        window = [
            dilate_dim(rhs_a.shape[d], r) for d, r in zip(dn[1][2:], rhs_dilation, strict=True)
        ]
        in_shape = [lhs_a.shape[d] for d in dn[0][2:]]
        padding = padtype_to_pads(name, in_shape, window, window_strides, padding)
    else:
        padding = canonical_padding(name, padding, n)
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs,
        rhs,
        window_strides=window_strides,
        padding=padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        dimension_numbers=dn,
        feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def conv(
    lhs: Any,
    rhs: Any,
    window_strides: Sequence[int],
    padding: Any,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """NCHW / OIHW convolution without dilation (jax.lax.conv)."""
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
