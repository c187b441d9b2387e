"""Window geometry shared by convolutions and windowed reductions: dilated and
strided sizes, padding strings, the padding of a window op's transpose,
convolution dimension numbers, and the canonical window params of the
reduce_window family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.tracing import aval_of

# --- sizes and padding ------------------------


def dilate_dim(n: int, dilation: int) -> int:
    """Size of an axis of ``n`` elements with ``dilation - 1`` holes between them."""
    return 0 if n == 0 else 1 + dilation * (n - 1)


def stride_dim(n: int, window: int, stride: int) -> int:
    """Number of windows of ``window`` elements at ``stride`` that fit in ``n``."""
    return max(0, (n - window) // stride + 1)


def padtype_to_pads(
    name: str, in_shape: Sequence[int], window: Sequence[int], strides: Sequence[int], padding: str
) -> tuple[tuple[int, int], ...]:
    """Explicit ``(lo, hi)`` pairs for ``'VALID'``, ``'SAME'`` or ``'SAME_LOWER'``.

    SAME pads so the output has ``ceil(in / stride)`` elements, splitting the
    padding evenly with the odd element at the end (at the start for SAME_LOWER).
    """
    kind = padding.upper()
    if kind == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(
            f"{name}: unknown padding {padding!r}; use 'VALID', 'SAME', 'SAME_LOWER' or a "
            "sequence of (low, high) pairs"
        )
    pads = []
    for n, w, s in zip(in_shape, window, strides, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + w - n, 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if kind == "SAME" else (big, small))
    return tuple(pads)


def canonical_padding(name: str, padding: Any, n: int) -> tuple[tuple[int, int], ...]:
    """Explicit padding pairs as a tuple of int pairs (strings handled by the caller)."""
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: padding must be 'VALID', 'SAME', 'SAME_LOWER' or a sequence of "
            f"(low, high) pairs, got {padding!r}"
        ) from None
    if len(pairs) != n:
        raise ValueError(
            f"{name}: padding {padding!r} needs {n} (low, high) pairs, one per window dim"
        )
    return pairs


def vjp_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the cotangent in the transpose of a strided, padded window op.

    An input element i feeds output windows o with o * stride + k * rhs_dil = i * lhs_dil
    + lo; running the reversed window over the stride-dilated cotangent, padded
    by ``window - 1 - lo`` in front, visits exactly those (o, k) pairs.
    """
    lhs_d = [dilate_dim(n, d) for n, d in zip(in_shape, lhs_dilation, strict=True)]
    rhs_d = [dilate_dim(n, d) for n, d in zip(window, rhs_dilation, strict=True)]
    out_d = [dilate_dim(n, d) for n, d in zip(out_shape, strides, strict=True)]
    before = [r - lo - 1 for r, (lo, _) in zip(rhs_d, padding, strict=True)]
    after = [lh + r - 1 - o - b for lh, r, o, b in zip(lhs_d, rhs_d, out_d, before, strict=True)]
    return tuple(zip(before, after, strict=True))


def vjp_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the lhs in the kernel transpose of a convolution."""
    if not in_shape:
        return ()
    lhs_d = [dilate_dim(n, d) for n, d in zip(in_shape, lhs_dilation, strict=True)]
    rhs_d = [dilate_dim(n, d) for n, d in zip(window, rhs_dilation, strict=True)]
    out_d = [dilate_dim(n, d) for n, d in zip(out_shape, strides, strict=True)]
    pads_lo = [lo for lo, _ in padding]
    pads_hi = [
        o - lh + r - lo - 1 for o, lh, r, lo in zip(out_d, lhs_d, rhs_d, pads_lo, strict=True)
    ]
    return tuple(zip(pads_lo, pads_hi, strict=True))


# --- dimension numbers ------------------------------------------------------------------


def _spec_permutations(name: str, specs: tuple[str, str, str]) -> tuple[tuple[int, ...], ...]:
    """Axis permutations from string specs such as ('NHWC', 'HWIO', 'NHWC')."""
    lhs_s, rhs_s, out_s = specs
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for spec, (a, b) in zip(specs, pairs, strict=True):
        if spec.count(a) != 1 or spec.count(b) != 1 or len(set(spec)) != len(spec):
            raise TypeError(
                f"{name}: dimension spec {spec!r} must contain {a!r} and {b!r} exactly once "
                "and no repeated characters"
            )
    if not set(lhs_s) - {"N", "C"} == set(rhs_s) - {"O", "I"} == set(out_s) - {"N", "C"}:
        raise TypeError(f"{name}: the spatial characters of {specs} do not match")

    def perm(spec, pair):
        spatial = [i for i, c in enumerate(spec) if c not in pair]
        if spec is not rhs_s:
            spatial.sort(key=lambda i: rhs_s.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1]), *spatial)

    return tuple(perm(s, p) for s, p in zip(specs, pairs, strict=True))


def conv_dimension_numbers(name: str, ndim: int, dimension_numbers: Any):
    """Canonical ``(lhs_spec, rhs_spec, out_spec)`` tuples for operands of rank ``ndim``."""
    if dimension_numbers is None:
        ident = tuple(range(ndim))
        return (ident, ident, ident)
    if len(dimension_numbers) != 3:
        raise TypeError(
            f"{name}: dimension_numbers must be None, three spec strings or three axis tuples, "
            f"got {dimension_numbers!r}"
        )
    if all(isinstance(s, str) for s in dimension_numbers):
        if any(len(s) != ndim for s in dimension_numbers):
            raise TypeError(
                f"{name}: dimension_numbers {dimension_numbers!r} do not match operands of "
                f"rank {ndim}"
            )
        return _spec_permutations(name, tuple(dimension_numbers))
    specs = tuple(tuple(int(i) for i in s) for s in dimension_numbers)
    if any(sorted(s) != list(range(ndim)) for s in specs):
        raise TypeError(
            f"{name}: dimension_numbers {dimension_numbers!r} must be permutations of the "
            f"{ndim} axes"
        )
    return specs


# --- window params --------------------------------------------------------------------


def window_shape(
    name: str, x: Aval, window_dimensions, window_strides, padding, base_dilation, window_dilation
) -> tuple[int, ...]:
    n = x.ndim
    for what, v in (
        ("window_dimensions", window_dimensions),
        ("window_strides", window_strides),
        ("padding", padding),
        ("base_dilation", base_dilation),
        ("window_dilation", window_dilation),
    ):
        if len(v) != n:
            raise TypeError(f"{name}: {what}={tuple(v)} needs one entry per dimension of {x}")
    if any(v < 1 for v in (*window_dimensions, *window_strides, *base_dilation, *window_dilation)):
        raise ValueError(f"{name}: window sizes, strides and dilations must be >= 1 for {x}")
    out = []
    for size, w, s, (lo, hi), bd, wd in zip(
        x.shape,
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
        strict=True,
    ):
        padded = dilate_dim(size, bd) + lo + hi
        if padded < 0:
            raise ValueError(f"{name}: padding {tuple(padding)} crops more than all of {x}")
        out.append(stride_dim(padded, dilate_dim(w, wd), s))
    return tuple(out)


def identity(kind: str, dtype: np.dtype) -> np.generic:
    """The value a window reduction starts from (and pads with)."""
    if kind == "sum":
        return np.zeros((), dtype)[()]
    big = kind == "min"
    if dtype == dtypes.bool_:
        return np.asarray(big, dtype)[()]
    if dtypes.is_integer(dtype):
        info = np.iinfo(dtype)
        return np.asarray(info.max if big else info.min, dtype)[()]
    return np.asarray(np.inf if big else -np.inf, dtype)[()]


def insert_unit_window(params: dict, d: int) -> dict:
    """Window params with a trivial window over a new axis ``d`` (the batch axis)."""
    out = {}
    for key, value in params.items():
        if key in ("window_dimensions", "window_strides", "base_dilation", "window_dilation"):
            value = (*value[:d], 1, *value[d:])
        elif key == "padding":
            value = (*value[:d], (0, 0), *value[d:])
        out[key] = value
    return out


def window_params(
    name: str, x: Any, window_dimensions, window_strides, padding, base_dilation, window_dilation
) -> dict:
    shape = aval_of(x).shape
    n = len(shape)

    def ints(what, v, default):
        v = (default,) * n if v is None else tuple(int(i) for i in v)
        if len(v) != n:
            raise TypeError(f"{name}: {what}={v} needs one entry per dimension of {aval_of(x)}")
        return v

    window = ints("window_dimensions", window_dimensions, 1)
    strides = ints("window_strides", window_strides, 1)
    if isinstance(padding, str):
        padding = padtype_to_pads(name, shape, window, strides, padding)
    else:
        padding = canonical_padding(name, padding, n)
    return dict(
        window_dimensions=window,
        window_strides=strides,
        padding=padding,
        base_dilation=ints("base_dilation", base_dilation, 1),
        window_dilation=ints("window_dilation", window_dilation, 1),
    )
