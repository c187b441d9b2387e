"""The exceptions users see (SPEC.md, "Errors")."""

from __future__ import annotations


class ConcretizationError(TypeError):
    """A traced value was used where a concrete Python value is needed.

    Raised by ``bool()``, ``int()``, ``float()``, ``.item()``,
    ``numpy.asarray`` and Python ``if``/``while`` on a value whose content is
    unknown while tracing (under ``jit``, or batched under ``vmap``).
    """


class TracerLeakError(RuntimeError):
    """A traced value escaped the transform that created it and was used later."""


class IRTypeError(TypeError):
    """The IR validator found an equation whose types do not re-infer."""
