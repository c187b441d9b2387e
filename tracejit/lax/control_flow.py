"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``,
``scan`` and ``map`` (jax.lax's signatures and semantics).

Branches and bodies are traced once into nested IRs (closures over values of
enclosing traces become explicit operands), so each call records one
control-flow equation that lowers to one XLA op: nothing is unrolled. A
predicate or index known while tracing picks its branch right away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.interpret import eval_ir
from tracejit.ir import Aval, ClosedIR
from tracejit.primitives import elementwise as ew
from tracejit.primitives.cond import cond_p
from tracejit.primitives.control_flow import close_over
from tracejit.primitives.scan import scan_p
from tracejit.primitives.while_loop import while_p
from tracejit.tracing import Tracer, aval_of, is_arraylike, trace_flat
from tracejit.transforms._util import check_leaves, fun_name, tree_util

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]

_INT32 = np.dtype(np.int32)


# --- helpers ------------------------------------------------------------------------------


def _check_callable(what: str, **funs: Any) -> None:
    for name, f in funs.items():
        if not callable(f):
            raise TypeError(f"{what}: {name} must be callable, got {type(f).__name__}")


def _scalar_aval(what: str, name: str, x: Any) -> Aval:
    if not is_arraylike(x):
        raise TypeError(f"{what}: {name} must be an array scalar, got {type(x).__name__}")
    aval = aval_of(x)
    if aval.shape != ():
        raise TypeError(
            f"{what}: {name} must be a scalar, got {aval}; for an elementwise choice "
            "use tnp.where, and under vmap pass the per-example scalar"
        )
    return aval


def _paths(tree: Any) -> list[str]:
    dummy = tree_util.tree_unflatten(tree, [0] * tree.num_leaves)
    return [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(dummy)[0]]


def _types(avals: Sequence[Aval]) -> str:
    return "(" + ", ".join(str(a) for a in avals) + ")"


def _trace(
    fun: Callable,
    in_tree: Any,
    in_avals: Sequence[Aval],
    what: str,
    name: str,
    post: Callable[[Any], Any] | None = None,
) -> tuple[ClosedIR, Any]:
    """Trace ``fun(*unflatten(in_tree, tracers))``; ``post`` may reshape the output."""
    box: list = []

    def flat_fun(*tracers):
        out = fun(*tree_util.tree_unflatten(in_tree, list(tracers)))
        if post is not None:
            out = post(out)
        check_leaves(f"{what}: output of {name} ({fun_name(fun)})", out)
        leaves, out_tree = tree_util.tree_flatten(out)
        box.append(out_tree)
        return leaves

    cir = trace_flat(flat_fun, list(in_avals), kind=what)
    return cir, box[0]


def _check_carry(
    what: str, name: str, tree: Any, avals: Sequence[Aval], out_tree: Any, out_avals: Sequence[Aval]
) -> list[Aval] | None:
    """Check a loop body keeps the carry's structure and types.

    Returns promoted carry avals when a weakly typed carry (a Python scalar) must
    take the dtype the body gives it (JAX does the same), else ``None``.
    """
    if out_tree != tree:
        raise TypeError(
            f"{what}: {name} must return a carry with the same structure as its input "
            f"carry, but the input carry is {tree} and {name} returns {out_tree}"
        )
    promoted, changed = list(avals), False
    for i, (path, a, b) in enumerate(zip(_paths(tree), avals, out_avals)):
        if a.shape == b.shape and a.dtype == b.dtype:
            continue
        if a.shape == b.shape and a.weak_type:
            dtype, _ = dtypes.result_type((a.dtype, True), (b.dtype, b.weak_type))
            promoted[i] = Aval(a.shape, dtype, False)
            changed = True
            continue
        raise TypeError(
            f"{what}: the loop carry must keep its type, but carry{path} is {a} on input "
            f"and {b} in the output of {name}; give the initial value the right "
            "shape and dtype (e.g. with .astype) or fix the body"
        )
    return promoted if changed else None


def _promote(leaves: list, avals: list[Aval], promoted: list[Aval]) -> list:
    return [
        ew.convert_element_type(x, p.dtype) if a != p else x
        for x, a, p in zip(leaves, avals, promoted)
    ]


# --- cond / switch --------------------------------------------------------------------------


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``.

    Both branches are traced (they must return the same structure, shapes and
    dtypes) and one ``cond`` equation chooses at run time. Under ``vmap`` with a
    batched ``pred``, both branches run and the results are selected per member.

    Args:
      pred: boolean (or numeric, compared with 0) scalar.
      true_fun, false_fun: functions of ``*operands`` (may close over traced values).
      operands: pytrees of arrays passed to the chosen branch.

    Raises:
      TypeError: non-scalar predicate, non-callable branch, or branches whose
        outputs differ in structure, shape or dtype.

    Example:
      >>> tj.lax.cond(x > 0, lambda x: x, lambda x: -x, x)
    """
    _check_callable("cond", true_fun=true_fun, false_fun=false_fun)
    aval = _scalar_aval("cond", "pred", pred)
    if isinstance(pred, Tracer):
        if aval.dtype != dtypes.bool_:
            pred = ew.ne(pred, np.zeros((), aval.dtype)[()])
        index = ew.convert_element_type(pred, _INT32)
    else:
        index = int(bool(np.asarray(pred)))
    return _branch(
        "cond",
        index,
        [false_fun, true_fun],
        ["false_fun", "true_fun"],
        operands,
        check_order=(1, 0),
    )


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, the index clamped into range (as in JAX).

    Raises:
      TypeError: non-integer or non-scalar index, an empty or non-callable
        branch list, or branches whose outputs differ in structure or type.
    """
    if not isinstance(branches, Sequence) or not branches:
        raise TypeError(
            f"switch: branches must be a non-empty sequence of callables, got {branches!r}"
        )
    _check_callable("switch", **{f"branch {i}": b for i, b in enumerate(branches)})
    aval = _scalar_aval("switch", "index", index)
    if not dtypes.is_integer(aval.dtype):
        raise TypeError(f"switch: the index must be an integer scalar, got {aval}")
    n = len(branches)
    if isinstance(index, Tracer):
        index = ew.convert_element_type(index, _INT32)
        index = ew.max(ew.min(index, np.int32(n - 1)), np.int32(0))
    else:
        index = min(max(int(np.asarray(index)), 0), n - 1)
    names = [f"branch {i}" for i in range(n)]
    return _branch("switch", index, list(branches), names, operands)


def _branch(
    what: str,
    index: Any,
    funs: list,
    names: list[str],
    operands: tuple,
    check_order: Sequence[int] | None = None,
) -> Any:
    leaves, in_tree = tree_util.tree_flatten(operands)
    for i, op in enumerate(operands):
        check_leaves(f"{what} operand {i}", op)
    avals = [aval_of(x) for x in leaves]
    traced = [_trace(f, in_tree, avals, what, name) for f, name in zip(funs, names)]
    order = range(len(funs)) if check_order is None else check_order
    _check_branches(what, [traced[i] for i in order], [names[i] for i in order])
    if not isinstance(index, Tracer):  # known while tracing: inline the chosen branch
        cir, out_tree = traced[index]
        return tree_util.tree_unflatten(out_tree, eval_ir(cir, leaves))
    branches, consts = close_over([cir for cir, _ in traced])
    outs = cond_p.bind(index, *consts, *leaves, branches=tuple(branches))
    return tree_util.tree_unflatten(traced[0][1], outs)


def _check_branches(what: str, traced: list, names: list[str]) -> None:
    (cir0, tree0), name0 = traced[0], names[0]
    for (cir, tree), name in zip(traced[1:], names[1:]):
        if tree != tree0:
            raise TypeError(
                f"{what}: {name0} and {name} must return the same pytree structure, but "
                f"{name0} returns {tree0} and {name} returns {tree}"
            )
        for path, a, b in zip(_paths(tree0), cir0.out_avals, cir.out_avals):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise TypeError(
                    f"{what}: {name0} and {name} must return the same shapes and dtypes, "
                    f"but output{path} is {a} from {name0} and {b} from {name}; cast or "
                    "reshape one branch's result (e.g. with .astype) so they agree"
                )


# --- while_loop / fori_loop -------------------------------------------------------------------


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """Repeat ``val = body_fun(val)`` while ``cond_fun(val)``; returns ``val``.

    Works eagerly, under ``jit``, ``jvp`` and ``vmap`` (a batched predicate
    loops until every member is done, leaving finished members unchanged).
    Reverse mode (``grad``) is not supported: use ``fori_loop`` with Python-int
    bounds or ``scan``.

    Raises:
      TypeError: ``cond_fun`` not returning a boolean scalar, or ``body_fun``
        changing the carry's structure, shape or dtype.
    """
    _check_callable("while_loop", cond_fun=cond_fun, body_fun=body_fun)
    check_leaves("while_loop init_val", init_val)
    leaves, tree = tree_util.tree_flatten(init_val)
    avals = [aval_of(x) for x in leaves]
    args_tree = tree_util.tree_structure((init_val,))
    while True:
        body, out_tree = _trace(
            body_fun, args_tree, avals, "while_loop", "body_fun", post=lambda out: (out,)
        )
        out_tree = tree_util.treedef_children(out_tree)[0]
        promoted = _check_carry("while_loop", "body_fun", tree, avals, out_tree, body.out_avals)
        if promoted is None:
            break
        leaves, avals = _promote(leaves, avals, promoted), promoted
    cond_ir, _ = _trace(cond_fun, args_tree, avals, "while_loop", "cond_fun")
    pred = cond_ir.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != dtypes.bool_:
        raise TypeError(
            f"while_loop: cond_fun must return a boolean scalar, got {_types(pred)}; "
            "compare with a reduction (e.g. (x > 0).all()) to get one"
        )
    (cond_ir,), cond_consts = close_over([cond_ir])
    (body,), body_consts = close_over([body])
    outs = while_p.bind(
        *cond_consts,
        *body_consts,
        *leaves,
        cond=cond_ir,
        body=body,
        cond_nconsts=len(cond_consts),
        body_nconsts=len(body_consts),
    )
    return tree_util.tree_unflatten(tree, outs)


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns ``val``.

    With bounds known while tracing (Python ints, concrete arrays) the loop is
    a ``scan`` of ``upper - lower`` steps, differentiable in reverse mode; with
    traced bounds it is a ``while_loop`` (forward mode only).
    """
    _check_callable("fori_loop", body_fun=body_fun)
    lo_aval = _scalar_aval("fori_loop", "lower", lower)
    hi_aval = _scalar_aval("fori_loop", "upper", upper)
    if not (dtypes.is_integer(lo_aval.dtype) and dtypes.is_integer(hi_aval.dtype)):
        raise TypeError(f"fori_loop: lower and upper must be integers, got {lo_aval} and {hi_aval}")
    dtype, _ = dtypes.result_type(
        (lo_aval.dtype, lo_aval.weak_type), (hi_aval.dtype, hi_aval.weak_type)
    )
    check_leaves("fori_loop init_val", init_val)
    x_tree = tree_util.tree_structure(init_val)
    x_avals = [aval_of(x) for x in tree_util.tree_leaves(init_val)]

    def step(i, x):
        out = body_fun(i, x)
        check_leaves(f"fori_loop: output of body_fun ({fun_name(body_fun)})", out)
        out_tree = tree_util.tree_structure(out)
        out_avals = [aval_of(o) for o in tree_util.tree_leaves(out)]
        _check_carry("fori_loop", "body_fun", x_tree, x_avals, out_tree, out_avals)
        return i + np.ones((), dtype)[()], out

    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lo, hi = int(np.asarray(lower)), int(np.asarray(upper))
        i0 = np.asarray(lo, dtype)[()]
        (_, x), _ = scan(
            lambda c, _: (step(*c), None), (i0, init_val), None, length=max(hi - lo, 0)
        )
        return x
    i0 = ew.convert_element_type(lower, dtype)
    hi = ew.convert_element_type(upper, dtype)
    _, x = while_loop(lambda c: c[0] < hi, lambda c: step(*c), (i0, init_val))
    return x


# --- scan / map -----------------------------------------------------------------------------


def scan(
    f: Callable,
    init: Any,
    xs: Any,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``.

    Returns ``(final carry, ys)`` with the ``y``s stacked along a new leading
    axis. ``reverse`` scans from the end; ``unroll`` unrolls that many
    iterations per loop step in XLA (``True``: all). Differentiable in both
    modes, batched under ``vmap``.

    Raises:
      ValueError: xs leaves of different lengths, or no xs and no ``length``.
      TypeError: ``f`` not returning a ``(carry, y)`` pair, or changing the
        carry's structure, shape or dtype.
    """
    _check_callable("scan", f=f)
    check_leaves("scan init", init)
    check_leaves("scan xs", xs)
    x_leaves, x_tree = tree_util.tree_flatten(xs)
    length = _scan_length(xs, x_leaves, length)
    if isinstance(unroll, bool):
        unroll = max(length, 1) if unroll else 1
    if not isinstance(unroll, (int, np.integer)) or unroll < 1:
        raise ValueError(f"scan: unroll must be a bool or a positive int, got {unroll!r}")
    leaves, tree = tree_util.tree_flatten(init)
    avals = [aval_of(x) for x in leaves]
    x_avals = [Aval(a.shape[1:], a.dtype, a.weak_type) for a in [aval_of(x) for x in x_leaves]]
    while True:
        in_tree = tree_util.tree_structure((init, xs))
        body, out_tree = _trace(f, in_tree, [*avals, *x_avals], "scan", "f", post=_pair)
        carry_tree, y_tree = tree_util.treedef_children(out_tree)
        promoted = _check_carry("scan", "f", tree, avals, carry_tree, body.out_avals[: len(avals)])
        if promoted is None:
            break
        leaves, avals = _promote(leaves, avals, promoted), promoted
    (body,), consts = close_over([body])
    outs = scan_p.bind(
        *consts,
        *leaves,
        *x_leaves,
        body=body,
        num_consts=len(consts),
        num_carry=len(leaves),
        length=length,
        reverse=bool(reverse),
        unroll=int(unroll),
    )
    carry = tree_util.tree_unflatten(tree, outs[: len(leaves)])
    return carry, tree_util.tree_unflatten(y_tree, outs[len(leaves) :])


def _pair(out: Any) -> tuple:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(
            f"scan: f must return a pair (carry, y), got a {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        )
    return tuple(out)


def _scan_length(xs: Any, x_leaves: list, length: int | None) -> int:
    paths = _paths(tree_util.tree_structure(xs))
    sizes = []
    for path, x in zip(paths, x_leaves):
        aval = aval_of(x)
        if not aval.shape:
            raise ValueError(
                f"scan: xs{path} is a scalar {aval}; every xs leaf needs a leading axis to "
                "scan over"
            )
        sizes.append((path, aval.shape[0]))
    if length is not None:
        if not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"scan: length must be a non-negative int, got {length!r}")
        sizes.append(("length=", int(length)))
    if not sizes:
        raise ValueError("scan: there are no xs to scan over, so pass length=...")
    if len({n for _, n in sizes}) > 1:
        listing = "; ".join(f"length={n}" if p == "length=" else f"xs{p} has {n}" for p, n in sizes)
        raise ValueError(f"scan: the xs disagree on the scanned length: {listing}")
    return int(sizes[0][1])


def map(f: Callable, xs: Any) -> Any:  # noqa: A001
    """``f`` applied to each slice of ``xs`` along the leading axis, results stacked
    (a ``scan`` with no carry: one loop, not a vectorized op)."""
    _check_callable("map", f=f)
    _, ys = scan(lambda _, x: ((), f(x)), (), xs)
    return ys
