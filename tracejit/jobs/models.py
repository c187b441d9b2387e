"""The models the jobs train: an MLP classifier and a small CNN for 8x8 digits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tracejit.numpy as tnp
from tracejit import nn, random

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh, "gelu": nn.gelu, "silu": nn.silu}


def mlp(features: int, hidden: Sequence[int], classes: int, activation: str = "relu") -> nn.MLP:
    """An MLP ``features -> hidden... -> classes`` (logits) with the named activation."""
    return nn.MLP([features, *hidden, classes], activation=ACTIVATIONS[activation])


@dataclass(frozen=True)
class DigitsCNN:
    """Two 3x3 convolutions (each followed by relu and 2x2 max pooling) and a dense layer.

    Input ``(N, 1, 8, 8)`` or one image ``(1, 8, 8)``; output logits ``(N, classes)``
    or ``(classes,)``: 8x8 -> conv -> pool -> 4x4 -> conv -> pool -> 2x2 -> dense.
    """

    channels: tuple[int, int] = (16, 32)
    classes: int = 10

    @property
    def _layers(self) -> tuple[nn.Conv2d, nn.Conv2d, nn.Dense]:
        c1, c2 = self.channels
        return nn.Conv2d(1, c1, 3), nn.Conv2d(c1, c2, 3), nn.Dense(c2 * 2 * 2, self.classes)

    def init(self, key: Any) -> dict:
        """Fresh params ``{"conv1", "conv2", "dense"}`` from a key."""
        keys = random.split(key, 3)
        conv1, conv2, dense = self._layers
        return {
            "conv1": conv1.init(keys[0]),
            "conv2": conv2.init(keys[1]),
            "dense": dense.init(keys[2]),
        }

    def __call__(self, params: dict, x: Any) -> Any:
        conv1, conv2, dense = self._layers
        h = nn.max_pool(nn.relu(conv1(params["conv1"], x)), 2)
        h = nn.max_pool(nn.relu(conv2(params["conv2"], h)), 2)
        h = tnp.reshape(h, h.shape[:-3] + (-1,))  # (N, C, 2, 2) -> (N, 4C)
        return dense(params["dense"], h)
