"""make_ir: the IR of a function, for reading and testing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit.ir import ClosedIR
from tracejit.tracing import aval_of
from tracejit.transforms._util import check_leaves, fun_name, trace_pytree, tree_util


def make_ir(fun: Callable, *, static_argnums: int | Sequence[int] = ()) -> Callable[..., ClosedIR]:
    """A function returning the ``ClosedIR`` of ``fun`` for given arguments.

    Only shapes, dtypes and weak types of the arguments matter (static ones
    are passed through as Python values).

    Example:
      >>> print(tj.make_ir(lambda x, y: tnp.sin(x) * y)(tnp.ones(3), 2.0))
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def make(*args: Any, **kwargs: Any) -> ClosedIR:
        n = len(args)
        static_set = {i % n for i in static if -n <= i < n}
        dyn = [a for i, a in enumerate(args) if i not in static_set]
        for i, a in enumerate(dyn):
            check_leaves(f"make_ir of {fun_name(fun)} (argument {i})", a)
        leaves, tree = tree_util.tree_flatten((dyn, kwargs))

        def call(d_args, d_kwargs):
            it = iter(d_args)
            full = [args[i] if i in static_set else next(it) for i in range(n)]
            return fun(*full, **d_kwargs)

        cir, _ = trace_pytree(call, leaves, tree, kind="make_ir", concrete=False,
                              in_avals=[aval_of(x) for x in leaves])
        return cir

    return make
