"""Data for the jobs: scikit-learn's bundled digits set (nothing is downloaded)
and minibatch sampling. Everything here is NumPy on the host; the jobs move
each batch to the device when they call a compiled step.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracejit.jobs.config import ConfigError


class JobError(RuntimeError):
    """A job cannot run in this environment (e.g. an optional package is missing)."""


@dataclass(frozen=True)
class Split:
    """A classification data set split into train and test parts.

    ``x_*`` are float32 (features scaled to [0, 1]), ``y_*`` int32 class labels
    in ``[0, classes)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def features(self) -> int:
        """The number of input features of one example (after flattening)."""
        return int(np.prod(self.x_train.shape[1:]))


@functools.lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits set: features scaled to [0, 1], labels int32 (read-only, cached).

    Reads the CSV that scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``,
    what ``load_digits`` reads) without importing scikit-learn, which takes seconds.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise JobError(
            "this job needs scikit-learn for the digits data set: "
            "pip install 'tracejit[examples]' (or set data.file to an .npz of x and y)"
        )
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if path.is_file():
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        x, y = table[:, :-1], table[:, -1]
    else:  # a scikit-learn that keeps the file elsewhere
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, y = digits.data, digits.target
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int32)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def _load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x`` (n, features) and ``y`` (n,) of integer labels from an .npz file."""
    try:
        with np.load(path) as f:
            if "x" not in f or "y" not in f:
                raise ConfigError(
                    path, "data.file", f"needs arrays 'x' and 'y', has {sorted(f.files)}"
                )
            x, y = f["x"], f["y"]
    except (OSError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(path, "data.file", f"cannot read as .npz: {e}") from None
    if x.ndim != 2 or y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(
            path,
            "data.file",
            f"x must be (n, features) and y (n,) integer "
            f"labels; got x {x.shape}, y {y.shape} {y.dtype}",
        )
    if y.min() < 0 or x.shape[0] < 2:
        raise ConfigError(
            path, "data.file", "labels must be >= 0 and there must be at least two examples"
        )
    return x.astype(np.float32), y.astype(np.int32)


def digits(
    test_fraction: float = 0.2, seed: int = 0, images: bool = False, file: str | None = None
) -> Split:
    """The digits set (1797 8x8 images of handwritten digits), shuffled and split.

    Args:
      test_fraction: the share of examples held out for testing.
      seed: the shuffle's seed.
      images: shape ``x`` as NCHW images ``(n, 1, 8, 8)`` instead of ``(n, 64)``.
      file: an .npz with arrays ``x`` (n, features) and ``y`` (n,) used instead
        of the digits (only with ``images=False``).

    Raises:
      JobError: when scikit-learn is not installed (and no file is given).
      ConfigError: for a file without usable ``x`` and ``y`` arrays.
    """
    x, y = _load_npz(file) if file else _load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(len(x) - 1, max(1, round(len(x) * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    if images:
        x = x.reshape(-1, 1, 8, 8)
    return Split(x[train], y[train], x[test], y[test], int(y.max()) + 1)


def sampler(n: int, batch_size: int, seed: int) -> Callable[[int], np.ndarray]:
    """``indices(step)``: a batch of distinct example indices for each step.

    Draws are without replacement within a batch and independent across steps,
    reproducible from ``seed``; call it with steps 0, 1, 2, ... in order.
    """
    rng = np.random.default_rng(seed)
    size = min(batch_size, n)

    def indices(step: int) -> np.ndarray:
        del step  # the stream is sequential; the step number is for the caller's benefit
        return rng.choice(n, size, replace=False)

    return indices


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of ``predicted`` class indices equal to ``labels``."""
    return float(np.mean(np.asarray(predicted) == np.asarray(labels)))
