"""Losses: softmax cross-entropy and mean squared error."""

from __future__ import annotations

from typing import Any

import tracejit.numpy as tnp
from tracejit import dtypes
from tracejit.nn.activations import log_softmax, one_hot
from tracejit.numpy._promote import asarray_arg
from tracejit.tracing import aval_of


def cross_entropy(logits: Any, labels: Any) -> Any:
    """Mean softmax cross-entropy over all leading axes.

    Args:
      logits: ``(..., classes)`` unnormalized log-probabilities.
      labels: integer class indices of shape ``(...)``, or one-hot / probability
        vectors of the logits' shape.

    Returns:
      A scalar: ``mean(-sum(labels * log_softmax(logits), -1))``. It stays
      finite for finite logits of any magnitude (1e4 and beyond).

    Raises:
      ValueError: for labels whose shape fits neither form.
    """
    logits, labels = asarray_arg("cross_entropy", logits), asarray_arg("cross_entropy", labels)
    la, ya = aval_of(logits), aval_of(labels)
    if la.ndim < 1:
        raise ValueError(f"cross_entropy: logits need a class axis, got {la}")
    logp = log_softmax(logits, axis=-1)
    if dtypes.is_integer(ya.dtype):
        if ya.shape != la.shape[:-1]:
            raise ValueError(
                f"cross_entropy: integer labels {ya} must have the logits' shape without the "
                f"class axis, {la.shape[:-1]} (logits {la})"
            )
        # Pick the labelled log-probability (a select, so -inf logits elsewhere stay harmless).
        mask = one_hot(labels, la.shape[-1], dtype=dtypes.bool_)
        picked = tnp.where(mask, logp, tnp.zeros_like(logp))
        return tnp.negative(tnp.mean(tnp.sum(picked, axis=-1)))
    if ya.shape != la.shape:
        raise ValueError(
            f"cross_entropy: one-hot/probability labels {ya} must have the logits' shape {la}; "
            "integer labels drop the class axis"
        )
    return tnp.negative(tnp.mean(tnp.sum(tnp.multiply(labels, logp), axis=-1)))


def mse(pred: Any, target: Any) -> Any:
    """Mean squared error ``mean((pred - target) ** 2)`` (shapes broadcast)."""
    return tnp.mean(tnp.square(tnp.subtract(pred, target)))
