"""Layers: small immutable objects with ``init(key) -> params`` and
``__call__(params, x)``; params are plain dicts (and lists) of arrays, so
they are pytrees that ``grad``, ``vmap``, ``jit`` and the optimizers take as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tracejit.numpy as tnp
from tracejit import dtypes
from tracejit.nn.activations import relu
from tracejit.nn.initializers import lecun_normal
from tracejit.numpy._promote import asarray_arg
from tracejit.primitives.conv import conv_general_dilated
from tracejit.random.keys import split_list
from tracejit.tracing import aval_of


def _features(layer: str, x: Any, axis: int, expected: int) -> Any:
    x = asarray_arg(layer, x)
    shape = aval_of(x).shape
    if len(shape) < -axis or shape[axis] != expected:
        raise ValueError(
            f"{layer}: input {aval_of(x)} must have {expected} features on axis {axis}"
        )
    return x


@dataclass(frozen=True)
class Dense:
    """``x @ w + b`` over the last axis: params ``{"w": (in, out), "b": (out,)}``.

    ``w`` starts LeCun-normal (variance 1/in), ``b`` at zero.
    """

    in_features: int
    out_features: int

    def init(self, key: Any, dtype: Any = dtypes.float32) -> dict:
        """Fresh params from a ``uint32[2]`` key."""
        w = lecun_normal(key, (self.in_features, self.out_features), dtype)
        return {"w": w, "b": tnp.zeros((self.out_features,), dtype)}

    def __call__(self, params: dict, x: Any) -> Any:
        x = _features(f"Dense({self.in_features}, {self.out_features})", x, -1, self.in_features)
        return tnp.add(tnp.matmul(x, params["w"]), params["b"])


@dataclass(frozen=True)
class MLP:
    """Dense layers of ``sizes`` with ``activation`` between them (none after the last).

    Params: a list of Dense params, one per layer.
    """

    sizes: Sequence[int]
    activation: Callable[[Any], Any] = relu
    layers: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = tuple(int(s) for s in self.sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes {sizes} need at least an input and an output size")
        object.__setattr__(self, "sizes", sizes)
        layers = tuple(Dense(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        object.__setattr__(self, "layers", layers)

    def init(self, key: Any, dtype: Any = dtypes.float32) -> list:
        """Fresh params: one split key per layer."""
        keys = split_list("MLP.init", key, len(self.layers))
        return [layer.init(k, dtype) for k, layer in zip(keys, self.layers, strict=True)]

    def __call__(self, params: Sequence[dict], x: Any) -> Any:
        if len(params) != len(self.layers):
            raise ValueError(
                f"MLP{self.sizes}: expected {len(self.layers)} layer params, got {len(params)}"
            )
        for i, (layer, p) in enumerate(zip(self.layers, params, strict=True)):
            x = layer(p, x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x


def _pair(name: str, v: Any) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"Conv2d: {name} must be an int or a pair, got {v}")
    return v


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution of NCHW (or CHW) inputs: params ``{"w": OIHW, "b": (out_channels,)}``.

    ``padding``: 'SAME', 'VALID', an int (both sides of H and W) or two (low, high)
    pairs. ``w`` starts LeCun-normal over ``fan_in = in_channels * kh * kw``.
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: Any = "SAME"

    def init(self, key: Any, dtype: Any = dtypes.float32) -> dict:
        """Fresh params from a ``uint32[2]`` key."""
        kh, kw = _pair("kernel_size", self.kernel_size)
        shape = (self.out_channels, self.in_channels, kh, kw)
        w = lecun_normal(key, shape, dtype, in_axis=1, out_axis=0)
        return {"w": w, "b": tnp.zeros((self.out_channels,), dtype)}

    def _padding(self) -> Any:
        if isinstance(self.padding, str):
            return self.padding
        if isinstance(self.padding, (int, np.integer)):
            return ((int(self.padding),) * 2,) * 2
        return tuple((int(lo), int(hi)) for lo, hi in self.padding)

    def __call__(self, params: dict, x: Any) -> Any:
        name = f"Conv2d({self.in_channels}, {self.out_channels})"
        x = asarray_arg(name, x)
        ndim = aval_of(x).ndim
        if ndim not in (3, 4):
            raise ValueError(f"{name}: input must be NCHW or CHW, got {aval_of(x)}")
        x = _features(name, x, -3, self.in_channels)
        single = ndim == 3
        if single:
            x = tnp.expand_dims(x, 0)
        y = conv_general_dilated(x, params["w"], _pair("stride", self.stride), self._padding())
        y = tnp.add(y, tnp.reshape(params["b"], (-1, 1, 1)))
        return tnp.squeeze(y, 0) if single else y


@dataclass(frozen=True)
class LayerNorm:
    """Normalize over the last axis: ``(x - mean) / sqrt(var + eps) * scale + bias``.

    Params ``{"scale": ones, "bias": zeros}`` of shape ``(features,)``.
    """

    features: int
    eps: float = 1e-5

    def init(self, key: Any = None, dtype: Any = dtypes.float32) -> dict:
        """Fresh params (the key is accepted for a uniform interface and not used)."""
        return {
            "scale": tnp.ones((self.features,), dtype),
            "bias": tnp.zeros((self.features,), dtype),
        }

    def __call__(self, params: dict, x: Any) -> Any:
        x = _features(f"LayerNorm({self.features})", x, -1, self.features)
        mean = tnp.mean(x, axis=-1, keepdims=True)
        centered = tnp.subtract(x, mean)
        var = tnp.mean(tnp.square(centered), axis=-1, keepdims=True)
        inv = tnp.reciprocal(tnp.sqrt(tnp.add(var, self.eps)))
        return tnp.add(tnp.multiply(tnp.multiply(centered, inv), params["scale"]), params["bias"])
