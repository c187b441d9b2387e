"""Settings tables shared by several jobs, and the optimizer they name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracejit import optim
from tracejit.jobs.config import FilePath, setting


@dataclass(frozen=True)
class DigitsData:
    """``[data]``: the digits set, or an .npz of ``x`` (n, features) and ``y`` (n,) labels."""

    test_fraction: float = setting(0.2, lo=0.0, hi=0.9, exclusive_lo=True)
    file: FilePath | None = None


@dataclass(frozen=True)
class ImageData:
    """``[data]``: the digits set as 8x8 images."""

    test_fraction: float = setting(0.2, lo=0.0, hi=0.9, exclusive_lo=True)


@dataclass(frozen=True)
class MLPModel:
    """``[model]``: hidden layer sizes and the activation between layers."""

    hidden: tuple[int, ...] = setting((128, 128))
    activation: Literal["relu", "tanh", "gelu", "silu"] = "relu"


@dataclass(frozen=True)
class CNNModel:
    """``[model]``: output channels of the two convolutions."""

    channels: tuple[int, ...] = setting((16, 32), lo=2, hi=2)


@dataclass(frozen=True)
class Train:
    """``[train]``: steps, minibatch size and the optimizer."""

    steps: int = setting(1000, lo=1)
    batch_size: int = setting(64, lo=1)
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = setting(1e-3, lo=0.0, exclusive_lo=True)
    momentum: float = setting(0.0, lo=0.0, hi=1.0)


def make_optimizer(train: Train) -> optim.sgd | optim.adam:
    """The optimizer ``[train]`` names (``momentum`` applies to sgd only)."""
    if train.optimizer == "sgd":
        return optim.sgd(train.lr, momentum=train.momentum)
    return optim.adam(train.lr)
