"""Activation functions and the numerically stable log-sum-exp family.

Softmax, log_softmax and logsumexp subtract the (gradient-stopped) maximum
before exponentiating, so they stay finite for logits of any magnitude; the
shift cancels exactly in the value and, being constant, adds nothing to the
derivative.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tracejit.numpy as tnp
from tracejit import dtypes
from tracejit.numpy._promote import promote
from tracejit.primitives import elementwise as ew
from tracejit.primitives.shape import broadcasted_iota, expand_dims
from tracejit.tracing import aval_of
from tracejit.transforms.stop_gradient import stop_gradient


def _float(name: str, x: Any) -> Any:
    (x,) = promote(name, x, to_inexact=True)
    return x


def _c(x: Any, value: float) -> np.generic:
    """``value`` as a scalar of ``x``'s dtype."""
    return np.asarray(value, aval_of(x).dtype)[()]


def relu(x: Any) -> Any:
    """``max(x, 0)``, with derivative 0 at 0 (as jax.nn.relu)."""
    (x,) = promote("relu", x)
    return ew.select_n(ew.gt(x, _c(x, 0)), tnp.zeros_like(x), x)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return ew.logistic(_float("sigmoid", x))


def silu(x: Any) -> Any:
    """``x * sigmoid(x)`` (swish)."""
    x = _float("silu", x)
    return ew.mul(x, ew.logistic(x))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return ew.tanh(_float("tanh", x))


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit.

    Args:
      x: input.
      approximate: the tanh approximation ``x/2 (1 + tanh(√(2/π)(x + 0.044715 x³)))``
        (default); False for the exact ``x/2 (1 + erf(x/√2))``.
    """
    x = _float("gelu", x)
    if approximate:
        inner = ew.mul(
            _c(x, math.sqrt(2 / math.pi)), ew.add(x, ew.mul(_c(x, 0.044715), ew.integer_pow(x, 3)))
        )
        return ew.mul(x, ew.mul(_c(x, 0.5), ew.add(_c(x, 1), ew.tanh(inner))))
    cdf = ew.mul(_c(x, 0.5), ew.add(_c(x, 1), ew.erf(ew.mul(x, _c(x, 1 / math.sqrt(2))))))
    return ew.mul(x, cdf)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(min(x, 0) - max(x, 0)))``.

    No overflow, and no kink at 0: the two halves' tie derivatives (1/2 each)
    give the exact derivative ``sigmoid(0) = 1/2``.
    """
    x = _float("softplus", x)
    zero = _c(x, 0)
    hi, lo = ew.max(x, zero), ew.min(x, zero)
    return ew.add(hi, ew.log1p(ew.exp(ew.sub(lo, hi))))


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return ew.neg(softplus(ew.neg(_float("log_sigmoid", x))))


def _shifted(name: str, x: Any, axis: Any) -> tuple[Any, Any]:
    """``x - max(x)`` over ``axis`` (max kept, gradient-stopped, non-finite maxima as 0)."""
    x = _float(name, x)
    m = tnp.max(x, axis=axis, keepdims=True)
    m = stop_gradient(tnp.where(tnp.isfinite(m), m, tnp.zeros_like(m)))
    return tnp.subtract(x, m), m


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x), axis))`` without overflow.

    Args:
      x: input.
      axis: int, tuple or None (all axes).
      keepdims: keep the reduced axes with size 1.
    """
    shifted, m = _shifted("logsumexp", x, axis)
    out = tnp.add(tnp.log(tnp.sum(tnp.exp(shifted), axis=axis, keepdims=True)), m)
    if keepdims:
        return out
    return tnp.squeeze(out, axis=axis) if axis is not None else tnp.reshape(out, ())


def softmax(x: Any, axis: Any = -1) -> Any:
    """``exp(x) / sum(exp(x), axis)``, computed on ``x - max(x)``."""
    shifted, _ = _shifted("softmax", x, axis)
    e = tnp.exp(shifted)
    return tnp.divide(e, tnp.sum(e, axis=axis, keepdims=True))


def log_softmax(x: Any, axis: Any = -1) -> Any:
    """``x - logsumexp(x, axis)``, finite for finite logits of any size."""
    shifted, _ = _shifted("log_softmax", x, axis)
    return tnp.subtract(shifted, tnp.log(tnp.sum(tnp.exp(shifted), axis=axis, keepdims=True)))


def one_hot(x: Any, num_classes: int, dtype: Any = dtypes.float32, axis: int = -1) -> Any:
    """``x`` encoded as one-hot vectors along a new ``axis`` (out-of-range values: all 0).

    Raises:
      TypeError: for a ``num_classes`` that is not a static int.
    """
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot: num_classes must be a static Python int, got {num_classes!r}")
    (x,) = promote("one_hot", x)
    shape = aval_of(x).shape
    out_ndim = len(shape) + 1
    if not -out_ndim <= axis < out_ndim:
        raise ValueError(f"one_hot: axis {axis} is out of range for a result of rank {out_ndim}")
    axis = axis % out_ndim
    out_shape = (*shape[:axis], int(num_classes), *shape[axis:])
    classes = broadcasted_iota(aval_of(x).dtype, out_shape, axis)
    lhs = tnp.broadcast_to(expand_dims(x, (axis,)), out_shape)
    return ew.convert_element_type(ew.eq(lhs, classes), dtypes.canonicalize(dtype))
