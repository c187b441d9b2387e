"""Samplers built on the random bits: uniform, normal, truncated_normal,
bernoulli, randint, gumbel, categorical.

Each follows the construction jax.random uses, so with the same key the
numbers equal JAX's (exactly for bits and integers; floats to rounding):
uniform fills a float's mantissa with random bits, giving ``m * 2**-nmant``
in [0, 1); normal inverts the error function of a uniform on (-1, 1).
"""

from __future__ import annotations

import math
from typing import Any

import ml_dtypes
import numpy as np

from tracejit import dtypes
from tracejit.numpy._promote import broadcast_shapes, broadcast_to_shape, convert
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import broadcast_in_dim, expand_dims
from tracejit.random.keys import canonical_shape, random_bits, split_pair
from tracejit.tracing import aval_of, is_arraylike
from tracejit.transforms.stop_gradient import stop_gradient

_FINFO_DTYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)


def _float_dtype(name: str, dtype: Any) -> np.dtype:
    dtype = dtypes.canonicalize(dtype)
    if dtype not in _FINFO_DTYPES:
        raise TypeError(
            f"random.{name}: dtype must be a floating-point dtype (float16, bfloat16, float32, "
            f"float64), got {dtype}"
        )
    return dtype


def _scalar(value: float, dtype: np.dtype) -> np.generic:
    return np.asarray(value, dtype)[()]


def _param(name: str, what: str, value: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    """A distribution parameter as ``dtype``, broadcast to the sample ``shape``."""
    if not is_arraylike(value):
        raise TypeError(
            f"random.{name}: {what} must be an array or a scalar, got {type(value).__name__}"
        )
    value = convert(value, dtype)
    pshape = aval_of(value).shape
    fits = all(p in (1, n) for p, n in zip(reversed(pshape), reversed(shape), strict=False))
    if len(pshape) > len(shape) or not fits:
        raise ValueError(
            f"random.{name}: {what} of shape {pshape} does not broadcast to the sample "
            f"shape {shape}"
        )
    if pshape == shape:
        return value
    if pshape == ():
        return broadcast_in_dim(value, shape, ())
    return broadcast_to_shape(value, shape)


def uniform(
    key: Any, shape: Any = (), dtype: Any = dtypes.float32, minval: Any = 0.0, maxval: Any = 1.0
) -> Any:
    """Uniform samples in ``[minval, maxval)``.

    Args:
      key: a ``uint32[2]`` key.
      shape: the sample shape (``minval``/``maxval`` broadcast to it).
      dtype: a floating-point dtype.
      minval, maxval: bounds (scalars or arrays).

    Raises:
      TypeError: for a bad key or a non-float dtype.
      ValueError: for bounds that do not broadcast to ``shape``.
    """
    dtype = _float_dtype("uniform", dtype)
    shape = canonical_shape("uniform", shape)
    lo = _param("uniform", "minval", minval, dtype, shape)
    hi = _param("uniform", "maxval", maxval, dtype, shape)
    nbits, nmant = dtype.itemsize * 8, int(ml_dtypes.finfo(dtype).nmant)
    # bfloat16's 7 mantissa bits come from a byte; wider floats use their width.
    rng_bits = nbits if nmant >= 8 else 8
    b = random_bits("uniform", key, rng_bits, shape)
    unsigned = np.dtype(f"uint{nbits}")
    b = ew.convert_element_type(b, unsigned)
    # The top nmant bits as a mantissa: 1.m - 1 = m * 2**-nmant, exactly.
    mant = ew.shift_right_logical(b, np.asarray(rng_bits - nmant, unsigned)[()])
    floats = ew.mul(ew.convert_element_type(mant, dtype), _scalar(2.0**-nmant, dtype))
    return ew.max(lo, ew.add(ew.mul(floats, ew.sub(hi, lo)), lo))


def normal(key: Any, shape: Any = (), dtype: Any = dtypes.float32) -> Any:
    """Standard normal samples: ``sqrt(2) * erfinv(u)`` for ``u`` uniform on (-1, 1).

    Raises:
      TypeError: for a bad key or a non-float dtype.
    """
    dtype = _float_dtype("normal", dtype)
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = uniform(key, shape, dtype, lo, _scalar(1.0, dtype))
    return ew.mul(_scalar(math.sqrt(2), dtype), ew.erf_inv(u))


def truncated_normal(
    key: Any, lower: Any, upper: Any, shape: Any = None, dtype: Any = dtypes.float32
) -> Any:
    """Standard normal samples conditioned on ``lower < x < upper``.

    Inverse-CDF sampling: ``u`` uniform on ``(erf(lower/√2), erf(upper/√2))``,
    then ``√2 erfinv(u)``, clipped into the open interval.

    Args:
      key: a ``uint32[2]`` key.
      lower, upper: the bounds (broadcast to ``shape``).
      shape: the sample shape; None for the bounds' broadcast shape.
      dtype: a floating-point dtype.
    """
    dtype = _float_dtype("truncated_normal", dtype)
    for what, v in (("lower", lower), ("upper", upper)):
        if not is_arraylike(v):
            raise TypeError(
                f"random.truncated_normal: {what} must be an array or a scalar, "
                f"got {type(v).__name__}"
            )
    if shape is None:
        shape = broadcast_shapes("truncated_normal", aval_of(lower).shape, aval_of(upper).shape)
    shape = canonical_shape("truncated_normal", shape)
    lower = _param("truncated_normal", "lower", lower, dtype, shape)
    upper = _param("truncated_normal", "upper", upper, dtype, shape)
    sqrt2 = _scalar(math.sqrt(2), dtype)
    a, b = ew.erf(ew.div(lower, sqrt2)), ew.erf(ew.div(upper, sqrt2))
    u = uniform(key, shape, dtype, a, b)
    out = ew.mul(sqrt2, ew.erf_inv(u))
    lo = ew.nextafter(stop_gradient(lower), _scalar(np.inf, dtype))
    hi = ew.nextafter(stop_gradient(upper), _scalar(-np.inf, dtype))
    return ew.min(ew.max(out, lo), hi)


def bernoulli(key: Any, p: Any = 0.5, shape: Any = None) -> Any:
    """Boolean samples, True with probability ``p``.

    Raises:
      TypeError: for a bad key or a ``p`` that is not floating-point.
    """
    if not is_arraylike(p):
        raise TypeError(f"random.bernoulli: p must be a float array or scalar, got {p!r}")
    dtype = aval_of(p).dtype
    if not dtypes.is_float(dtype):
        raise TypeError(
            f"random.bernoulli: probability p must have a floating dtype, got {aval_of(p)}"
        )
    shape = aval_of(p).shape if shape is None else canonical_shape("bernoulli", shape)
    p = _param("bernoulli", "p", p, dtype, shape)
    return ew.lt(uniform(key, shape, dtype), p)


def _int_bound(name: str, what: str, value: Any, dtype: np.dtype, shape) -> tuple[Any, Any]:
    """``value`` clipped into ``dtype``'s range, and whether it exceeded the maximum."""
    info = np.iinfo(dtype)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = int(value)
        clipped = np.asarray(min(max(v, info.min), info.max), dtype)[()]
        return _param(name, what, clipped, dtype, shape), v > info.max
    if not is_arraylike(value):
        raise TypeError(
            f"random.{name}: {what} must be an integer array or scalar, got {type(value).__name__}"
        )
    src = aval_of(value).dtype
    if not dtypes.is_integer(src):
        value = ew.convert_element_type(value, dtypes.default_int())
        src = dtypes.default_int()
    sinfo = np.iinfo(src)
    lo, hi = max(info.min, sinfo.min), min(info.max, sinfo.max)
    clipped = ew.min(ew.max(value, np.asarray(lo, src)[()]), np.asarray(hi, src)[()])
    too_big = ew.gt(value, np.asarray(hi, src)[()])
    return (
        _param(name, what, ew.convert_element_type(clipped, dtype), dtype, shape),
        _param(name, what, too_big, dtypes.bool_, shape),
    )


def _narrow_bound(name: str, what: str, value: Any, lo: int, hi: int) -> Any:
    """A bound as int32 clipped to ``[lo, hi]`` (the narrow dtypes sample in 32 bits)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return np.int32(min(max(int(value), lo), hi))
    if not is_arraylike(value):
        raise TypeError(
            f"random.{name}: {what} must be an integer array or scalar, got {type(value).__name__}"
        )
    value = ew.convert_element_type(value, dtypes.int32)
    return ew.min(ew.max(value, np.int32(lo)), np.int32(hi))


def randint(key: Any, shape: Any, minval: Any, maxval: Any, dtype: Any = dtypes.int32) -> Any:
    """Uniform integers in ``[minval, maxval)`` (``minval`` where ``maxval <= minval``).

    Two words of random bits per value reduce the modulo bias: the offset is
    ``(hi * (2**nbits mod span) + lo) mod span``. 8- and 16-bit dtypes sample
    in 32 bits and convert.

    Raises:
      TypeError: for a bad key or a non-integer dtype.
      ValueError: for bounds that do not broadcast to ``shape``.
    """
    dtype = dtypes.canonicalize(dtype)
    if not dtypes.is_integer(dtype):
        raise TypeError(f"random.randint: dtype must be an integer dtype, got {dtype}")
    shape = canonical_shape("randint", shape)
    info = np.iinfo(dtype)
    if info.bits < 32:
        minval = _narrow_bound("randint", "minval", minval, int(info.min), int(info.max))
        maxval = _narrow_bound("randint", "maxval", maxval, int(info.min), int(info.max) + 1)
        out = _randint(key, shape, minval, maxval, dtypes.int32)
        return ew.convert_element_type(out, dtype)
    return _randint(key, shape, minval, maxval, dtype)


def _randint(key: Any, shape: tuple[int, ...], minval: Any, maxval: Any, dtype: np.dtype) -> Any:
    lo, _ = _int_bound("randint", "minval", minval, dtype, shape)
    hi, hi_out_of_range = _int_bound("randint", "maxval", maxval, dtype, shape)
    nbits = dtype.itemsize * 8
    unsigned = np.dtype(f"uint{nbits}")
    k1, k2 = split_pair("randint", key)
    higher = random_bits("randint", k1, nbits, shape)
    lower = random_bits("randint", k2, nbits, shape)
    one = np.asarray(1, unsigned)[()]
    span = ew.convert_element_type(ew.sub(hi, lo), unsigned)
    span = ew.select_n(ew.le(hi, lo), span, broadcast_in_dim(one, shape, ()))
    if isinstance(hi_out_of_range, bool):
        grow = ew.gt(hi, lo) if hi_out_of_range else None
    else:
        grow = ew.bitwise_and(hi_out_of_range, ew.gt(hi, lo))
    if grow is not None:
        # maxval beyond the dtype: draw from [minval, max] with one more slot
        # (a span that wraps to 0 leaves the bits unreduced: the full range).
        span = ew.select_n(grow, span, ew.add(span, one))
    mult = ew.rem(np.asarray(2 ** (nbits // 2), unsigned)[()], span)
    mult = ew.rem(ew.mul(mult, mult), span)
    offset = ew.add(ew.mul(ew.rem(higher, span), mult), ew.rem(lower, span))
    offset = ew.rem(offset, span)
    return ew.add(lo, ew.convert_element_type(offset, dtype))


def gumbel(key: Any, shape: Any = (), dtype: Any = dtypes.float32) -> Any:
    """Standard Gumbel samples ``-log(-log(u))``."""
    dtype = _float_dtype("gumbel", dtype)
    u = uniform(key, shape, dtype, _scalar(ml_dtypes.finfo(dtype).tiny, dtype), _scalar(1.0, dtype))
    return ew.neg(ew.log(ew.neg(ew.log(u))))


def categorical(key: Any, logits: Any, axis: int = -1, shape: Any = None) -> Any:
    """Samples of category indices with log-probabilities ``logits`` along ``axis``.

    The Gumbel-max trick: ``argmax(logits + gumbel)``. ``shape`` (default: the
    logits' shape without ``axis``) may add leading sample dimensions.

    Raises:
      TypeError: for a bad key or non-float logits.
      ValueError: for a ``shape`` that does not end with the batch shape.
    """
    from tracejit.primitives.reductions import argmax

    if not is_arraylike(logits) or not dtypes.is_float(aval_of(logits).dtype):
        raise TypeError(f"random.categorical: logits must be a float array, got {logits!r}")
    laval = aval_of(logits)
    ndim = laval.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"random.categorical: axis {axis} is out of range for {laval}")
    axis = axis % ndim
    batch = laval.shape[:axis] + laval.shape[axis + 1 :]
    shape = batch if shape is None else canonical_shape("categorical", shape)
    if len(shape) < len(batch) or shape[len(shape) - len(batch) :] != batch:
        raise ValueError(
            f"random.categorical: shape {shape} must end with the logits' batch shape {batch}"
        )
    prefix = shape[: len(shape) - len(batch)]
    sample_shape = (*prefix, *laval.shape)
    logits = expand_dims(logits, tuple(range(len(prefix))))
    logits = broadcast_in_dim(logits, sample_shape, tuple(range(len(sample_shape))))
    noisy = ew.add(gumbel(key, sample_shape, laval.dtype), logits)
    return argmax(noisy, len(prefix) + axis, dtypes.default_int())
