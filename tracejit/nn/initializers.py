"""Weight initializers: variance scaling (as jax.nn.initializers), called
directly as ``init(key, shape, dtype=float32, in_axis=-2, out_axis=-1)``.

The fans count the receptive field: for an OIHW conv kernel (``in_axis=1,
out_axis=0``) ``fan_in = I * H * W`` and ``fan_out = O * H * W``. Truncated
normals are cut at two standard deviations and rescaled by the truncated
distribution's standard deviation (0.8796...), so the variance is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.primitives import elementwise as ew
from tracejit.random import normal, truncated_normal, uniform
from tracejit.random.keys import canonical_shape

Axis = int | Sequence[int]

# Standard deviation of a standard normal truncated to (-2, 2).
_TRUNCATED_STD = 0.87962566103423978


def _fans(name: str, shape: tuple[int, ...], in_axis: Axis, out_axis: Axis) -> tuple[float, float]:
    if len(shape) < 2:
        raise ValueError(
            f"{name}: cannot compute input and output sizes of a {len(shape)}-dimensional "
            f"weight of shape {shape}; it must be at least 2-D"
        )

    def size(axes: Axis) -> int:
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        return math.prod(shape[a] for a in axes)

    in_size, out_size = size(in_axis), size(out_axis)
    receptive = math.prod(shape) / in_size / out_size if in_size and out_size else 0.0
    return in_size * receptive, out_size * receptive


def variance_scaling(scale: float, mode: str, distribution: str) -> Callable[..., Any]:
    """An initializer with variance ``scale / fan`` (``mode``: fan_in, fan_out, fan_avg).

    ``distribution``: "truncated_normal", "normal" or "uniform".
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"variance_scaling: invalid mode {mode!r}; use fan_in, fan_out, fan_avg")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(
            f"variance_scaling: invalid distribution {distribution!r}; use truncated_normal, "
            "normal or uniform"
        )

    def init(
        key: Any,
        shape: Sequence[int],
        dtype: Any = dtypes.float32,
        in_axis: Axis = -2,
        out_axis: Axis = -1,
    ) -> Any:
        shape = canonical_shape(init.__name__, shape)
        dtype = dtypes.canonicalize(dtype)
        fan_in, fan_out = _fans(init.__name__, shape, in_axis, out_axis)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        # A zero-size weight has no fan (and no elements to scale).
        variance = np.asarray(scale / fan if fan else 0.0, dtype)
        if distribution == "truncated_normal":
            stddev = np.sqrt(variance) / np.asarray(_TRUNCATED_STD, dtype)
            return ew.mul(truncated_normal(key, -2, 2, shape, dtype), stddev[()])
        if distribution == "normal":
            return ew.mul(normal(key, shape, dtype), np.sqrt(variance)[()])
        bound = np.sqrt(np.asarray(3, dtype) * variance)
        return ew.mul(uniform(key, shape, dtype, -1, 1), bound[()])

    init.__name__ = f"variance_scaling({scale}, {mode}, {distribution})"
    return init


def _named(name: str, scale: float, mode: str, distribution: str, doc: str):
    init = variance_scaling(scale, mode, distribution)
    init.__name__ = name
    init.__qualname__ = name
    init.__doc__ = f"""{doc}

    Args:
      key: a ``uint32[2]`` key.
      shape: the weight's shape (at least 2-D).
      dtype: a floating-point dtype.
      in_axis, out_axis: the input/output feature axes (``1, 0`` for OIHW kernels).

    Raises:
      ValueError: for a weight of rank < 2.
    """
    return init


glorot_uniform = _named(
    "glorot_uniform",
    1.0,
    "fan_avg",
    "uniform",
    "Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).",
)
glorot_normal = _named(
    "glorot_normal",
    1.0,
    "fan_avg",
    "truncated_normal",
    "Glorot/Xavier normal: variance 2 / (fan_in + fan_out), truncated.",
)
he_normal = _named(
    "he_normal",
    2.0,
    "fan_in",
    "truncated_normal",
    "He/Kaiming normal: variance 2 / fan_in, truncated at two sigma.",
)
he_uniform = _named(
    "he_uniform", 2.0, "fan_in", "uniform", "He/Kaiming uniform: variance 2 / fan_in."
)
lecun_normal = _named(
    "lecun_normal",
    1.0,
    "fan_in",
    "truncated_normal",
    "LeCun normal: variance 1 / fan_in, truncated at two sigma.",
)
lecun_uniform = _named(
    "lecun_uniform", 1.0, "fan_in", "uniform", "LeCun uniform: variance 1 / fan_in."
)
