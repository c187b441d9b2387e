"""Optimization passes: each a function ``ClosedIR -> ClosedIR``."""

from __future__ import annotations

from tracejit.ir import ClosedIR
from tracejit.passes.cse import cse
from tracejit.passes.dce import dce
from tracejit.passes.simplify import simplify

DEFAULT_PASSES = (simplify, cse, dce)


def optimize(cir: ClosedIR, passes=DEFAULT_PASSES) -> ClosedIR:
    """Run the default passes (those run before lowering) in order."""
    for p in passes:
        cir = p(cir)
    return cir


__all__ = ["cse", "dce", "simplify", "optimize", "DEFAULT_PASSES"]
