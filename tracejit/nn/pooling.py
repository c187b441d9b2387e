"""Pooling over the trailing (spatial) axes of NCHW-like inputs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tracejit.numpy._promote import asarray_arg, promote
from tracejit.primitives import elementwise as ew
from tracejit.primitives._windows import padtype_to_pads
from tracejit.primitives.windowed import reduce_window_max, reduce_window_sum
from tracejit.tracing import aval_of

Window = int | Sequence[int]


def _window_args(name: str, x: Any, window: Window, strides: Window | None, padding: Any):
    """Full-rank window params: size-1 windows over the leading (batch, channel) axes."""
    shape = aval_of(x).shape
    window = (
        (int(window),) * 2
        if isinstance(window, (int, np.integer))
        else tuple(int(w) for w in window)
    )
    k = len(window)
    if not 1 <= k <= len(shape):
        raise ValueError(
            f"{name}: a window of {k} spatial dims {window} does not fit an input {aval_of(x)}"
        )
    if strides is None:
        strides = window
    elif isinstance(strides, (int, np.integer)):
        strides = (int(strides),) * k
    strides = tuple(int(s) for s in strides)
    if len(strides) != k:
        raise ValueError(f"{name}: strides {strides} need one entry per window dim {window}")
    lead = len(shape) - k
    if isinstance(padding, str):
        pads = padtype_to_pads(name, shape[lead:], window, strides, padding)
    else:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        if len(pads) != k:
            raise ValueError(
                f"{name}: padding {padding!r} needs one (low, high) pair per window dim {window}"
            )
    return (1,) * lead + window, (1,) * lead + strides, ((0, 0),) * lead + pads


def max_pool(
    x: Any,
    window: Window,
    strides: Window | None = None,
    padding: str | Sequence[tuple[int, int]] = "VALID",
) -> Any:
    """Maximum over windows of the trailing axes (NCHW: an int window covers H and W).

    Args:
      x: input, e.g. ``(N, C, H, W)`` (leading axes are not pooled).
      window: window size: an int for 2-D pooling, or one size per trailing axis.
      strides: the steps between windows; default the window (non-overlapping).
      padding: 'VALID', 'SAME' or one ``(low, high)`` pair per window dim; padding
        never wins the maximum.

    Raises:
      ValueError: for windows, strides or padding that do not fit ``x``.
    """
    x = asarray_arg("max_pool", x)
    return reduce_window_max(x, *_window_args("max_pool", x, window, strides, padding))


def avg_pool(
    x: Any,
    window: Window,
    strides: Window | None = None,
    padding: str | Sequence[tuple[int, int]] = "VALID",
) -> Any:
    """Mean over windows of the trailing axes; padded positions count as zeros.

    Arguments as in :func:`max_pool`.
    """
    (x,) = promote("avg_pool", x, to_inexact=True)
    wd, ws, pads = _window_args("avg_pool", x, window, strides, padding)
    total = reduce_window_sum(x, wd, ws, pads)
    return ew.div(total, np.asarray(math.prod(wd), aval_of(total).dtype)[()])
