"""stop_gradient: the identity whose derivative is zero."""

from __future__ import annotations

from typing import Any

from tracejit import dtypes
from tracejit.primitives.elementwise import stop_gradient_p
from tracejit.tracing import aval_of
from tracejit.transforms._util import check_leaves, tree_util


def stop_gradient(x: Any) -> Any:
    """``x`` (a pytree), treated as a constant by every differentiation transform."""
    check_leaves("stop_gradient", x)

    def leaf(v: Any) -> Any:
        if not dtypes.is_inexact(aval_of(v).dtype):
            return v
        return stop_gradient_p.bind(v)

    return tree_util.tree_map(leaf, x)
