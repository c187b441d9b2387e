"""Shared numerical checks: tracejit against JAX (the oracle) and against
finite differences. Every family's tests use these, so a primitive is checked
the same way forward, under jit, jvp, vjp and vmap, with the IR validator run
on each transformed program."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import tracejit as tj
from tracejit.ir import Aval

TOL = {
    np.dtype(np.float16): 1e-2,
    np.dtype(jnp.bfloat16): 5e-2,
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-10,
}


def tol_for(dtype: Any, scale: float = 1.0) -> float:
    return TOL.get(np.dtype(dtype), 0.0) * scale


def rand(
    rng: np.random.Generator,
    shape: Sequence[int],
    dtype: Any = np.float32,
    low: float = -2.0,
    high: float = 2.0,
) -> np.ndarray:
    """Random values, never exactly zero (ints in [low, high] without 0)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        lo = (
            max(int(low), np.iinfo(dtype).min)
            if not np.issubdtype(dtype, np.unsignedinteger)
            else 1
        )
        x = rng.integers(lo, int(high) + 1, size=shape)
        x[x == 0] = 1
        return x.astype(dtype)
    x = rng.uniform(low, high, size=shape)
    x[np.abs(x) < 1e-3] = 0.5
    return x.astype(dtype)


def assert_close(actual: Any, expected: Any, tol: float | None = None, what: str = "") -> None:
    """Same tree of leaves, shapes and dtypes; values within ``tol`` (exact for ints).

    Messages name the leaf's path in ``expected`` when it has more than one leaf.
    """
    a_leaves = jax.tree_util.tree_leaves(actual)
    e_paths = jax.tree_util.tree_flatten_with_path(expected)[0]
    assert len(a_leaves) == len(e_paths), f"{what}: {len(a_leaves)} vs {len(e_paths)} leaves"
    for a, (path, e) in zip(a_leaves, e_paths):
        where = f"{what} {jax.tree_util.keystr(path)}" if len(e_paths) > 1 else what
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{where}: shape {a.shape} != {e.shape}"
        if e.dtype != jax.dtypes.float0:
            assert a.dtype == e.dtype, f"{where}: dtype {a.dtype} != {e.dtype}"
        t = tol if tol is not None else tol_for(e.dtype, 10)
        if t == 0.0:
            np.testing.assert_array_equal(a, e, err_msg=where)
        else:
            np.testing.assert_allclose(
                a.astype(np.float64), e.astype(np.float64), rtol=t, atol=t, err_msg=where
            )


def validate(fun: Callable, *args: Any) -> tj.ClosedIR:
    """Trace ``fun`` and run the IR validator on the result."""
    cir = tj.make_ir(fun)(*args)
    cir.check()
    return cir


# Compile counts dominate the suite's run time: every eager op on a new shape and
# every jit compiles an XLA program. The options below let a test trade op-by-op
# runs for one compiled program per side (``compiled=True``), check jit on one
# representative call only (``jit=False`` elsewhere), or put several cases in one
# program (``check_forward_cases``). The eager path of a transform evaluates the same
# transformed IR that jit lowers, so one of the two per rule is enough there; the
# primitives' own eager path is what ``check_forward`` checks.


def check_forward(
    tj_fun: Callable,
    jax_fun: Callable,
    args: Sequence[Any],
    tol: float | None = None,
    *,
    jit: bool = True,
) -> None:
    """Eager and jit results equal JAX's (values, shapes, dtypes).

    ``jit=False`` skips the jit comparison, for calls whose jit path another check
    of the same test covers (it is one XLA compile per call).
    """
    expected = jax_fun(*args)
    assert_close(tj_fun(*args), expected, tol, "eager")
    if jit:
        assert_close(tj.jit(tj_fun)(*args), expected, tol, "jit")
    validate(tj_fun, *args)


def _describe(args: Any) -> str:
    leaves = jax.tree_util.tree_leaves(args)
    return ", ".join(Aval(tuple(np.shape(a)), np.asarray(a).dtype).str_short() for a in leaves)


def check_forward_cases(
    tj_fun: Callable,
    jax_fun: Callable,
    cases: Sequence[Sequence[Any]],
    tol: float | None = None,
    *,
    eager: Any = True,
    labels: Sequence[str] | None = None,
) -> None:
    """``check_forward`` of one function on several argument lists, one compile per side.

    The JAX oracle and ``tj.jit`` each run every case in a single compiled program
    (so the jit path sees every shape and dtype); eagerly, tracejit runs the cases
    selected by ``eager``: ``True`` (all), ``False`` (none) or a predicate on the case
    index. Failures name the case by ``labels[i]`` (default: its index and shapes).
    """
    cases = [list(c) for c in cases]
    if labels is None:
        labels = [f"case {i} ({_describe(c)})" for i, c in enumerate(cases)]

    def tj_all(cs):
        return [tj_fun(*c) for c in cs]

    expected = jax.jit(lambda cs: [jax_fun(*c) for c in cs])(cases)
    for label, got, e in zip(labels, tj.jit(tj_all)(cases), expected):
        assert_close(got, e, tol, f"jit {label}")
    for i, (label, c, e) in enumerate(zip(labels, cases, expected)):
        if eager is True or (eager is not False and eager(i)):
            assert_close(tj_fun(*c), e, tol, f"eager {label}")
    validate(tj_all, cases)


def check_forward_all(
    cases: dict[str, tuple[Callable, Callable, Sequence[Any]]],
    tol: float | None = None,
    *,
    eager: Any = True,
) -> None:
    """``check_forward`` of several functions (``name -> (tj_fun, jax_fun, args)``).

    Every case runs in one compiled program per side (tj.jit and the JAX oracle);
    eagerly, tracejit runs the cases selected by ``eager`` (``True``, ``False`` or a
    predicate on the name). Failures name the case.
    """
    names = list(cases)
    args = {k: list(cases[k][2]) for k in names}

    def tj_all(a):
        return {k: cases[k][0](*a[k]) for k in names}

    expected = jax.jit(lambda a: {k: cases[k][1](*a[k]) for k in names})(args)
    got = tj.jit(tj_all)(args)
    for k in names:
        assert_close(got[k], expected[k], tol, f"jit {k}")
        if eager is True or (eager is not False and eager(k)):
            assert_close(cases[k][0](*args[k]), expected[k], tol, f"eager {k}")
    validate(tj_all, args)


def _tangents(rng: np.random.Generator, args: Sequence[Any]) -> list:
    return jax.tree_util.tree_map(lambda a: rand(rng, np.shape(a), np.asarray(a).dtype), list(args))


def check_jvp(
    tj_fun: Callable,
    jax_fun: Callable,
    args: Sequence[Any],
    seed: int = 0,
    tol: float | None = None,
    *,
    compiled: bool = False,
) -> None:
    """tj.jvp equals jax.jvp on random tangents; ``compiled``: both sides under jit."""
    rng = np.random.default_rng(seed)
    ts = _tangents(rng, args)
    n = len(args)
    tj_jvp = lambda *a: tj.jvp(tj_fun, tuple(a[:n]), tuple(a[n:]))  # noqa: E731
    jax_jvp = lambda *a: jax.jvp(jax_fun, tuple(a[:n]), tuple(a[n:]))  # noqa: E731
    if compiled:
        tj_jvp, jax_jvp = tj.jit(tj_jvp), jax.jit(jax_jvp)
    assert_close(tj_jvp(*args, *ts), jax_jvp(*args, *ts), tol, "jvp")
    validate(lambda *a: tj.jvp(tj_fun, tuple(a[:n]), tuple(a[n:])), *args, *ts)


def _cotangents(rng: np.random.Generator, out: Any) -> Any:
    return jax.tree_util.tree_map(lambda o: rand(rng, np.shape(o), np.dtype(o.dtype)), out)


def check_vjp(
    tj_fun: Callable,
    jax_fun: Callable,
    args: Sequence[Any],
    seed: int = 0,
    tol: float | None = None,
    *,
    compiled: bool = False,
) -> None:
    """tj.vjp (primal and cotangents) equals jax.vjp; ``compiled``: both sides under jit."""
    rng = np.random.default_rng(seed)
    if compiled:
        cts = _cotangents(rng, jax.eval_shape(jax_fun, *args))

        def jax_both(a, c):
            out, f_vjp = jax.vjp(jax_fun, *a)
            return out, f_vjp(c)

        def tj_both(a, c):
            out, f_vjp = tj.vjp(tj_fun, *a)
            return out, f_vjp(c)

        out, expected = jax.jit(jax_both)(tuple(args), cts)
        tj_out, got = tj.jit(tj_both)(tuple(args), cts)
    else:
        out, jax_vjp_fn = jax.vjp(jax_fun, *args)
        cts = _cotangents(rng, out)
        expected = jax_vjp_fn(cts)
        tj_out, tj_vjp_fn = tj.vjp(tj_fun, *args)
        got = tj_vjp_fn(cts)
    assert_close(tj_out, out, tol, "vjp primal")
    assert_close(got, expected, tol, "vjp")
    validate(lambda a, c: tj.vjp(tj_fun, *a)[1](c), tuple(args), cts)


def check_derivatives(
    tj_fun: Callable,
    jax_fun: Callable,
    args: Sequence[Any],
    seed: int = 0,
    tol: float | None = None,
) -> None:
    """check_jvp and check_vjp in one compiled program per side (two compiles in all)."""
    rng = np.random.default_rng(seed)
    n = len(args)
    ts = tuple(_tangents(rng, args))
    cts = _cotangents(rng, jax.eval_shape(jax_fun, *args))

    def both(jvp, vjp, fun):
        def run(a, t, c):
            out, f_vjp = vjp(fun, *a)
            return jvp(fun, a, t), out, f_vjp(c)

        return run

    args = tuple(args)
    expected = jax.jit(both(jax.jvp, jax.vjp, jax_fun))(args, ts, cts)
    got = tj.jit(both(tj.jvp, tj.vjp, tj_fun))(args, ts, cts)
    assert_close(got[0], expected[0], tol, "jvp")
    assert_close(got[1], expected[1], tol, "vjp primal")
    assert_close(got[2], expected[2], tol, "vjp")
    assert len(got[2]) == n
    validate(both(tj.jvp, tj.vjp, tj_fun), args, ts, cts)


def check_vmap(
    tj_fun: Callable,
    jax_fun: Callable,
    args: Sequence[Any],
    in_axes: Any = 0,
    tol: float | None = None,
    *,
    eager: bool = True,
    jit: bool = True,
) -> None:
    """tj.vmap equals jax.vmap, eagerly and/or under jit (at least one)."""
    assert eager or jit, "check_vmap: nothing to check with eager=False and jit=False"
    jax_v = jax.vmap(jax_fun, in_axes=in_axes)
    expected = jax_v(*args) if eager else jax.jit(jax_v)(*args)
    if eager:
        assert_close(tj.vmap(tj_fun, in_axes=in_axes)(*args), expected, tol, "vmap")
    if jit:
        assert_close(tj.jit(tj.vmap(tj_fun, in_axes=in_axes))(*args), expected, tol, "jit(vmap)")
    validate(tj.vmap(tj_fun, in_axes=in_axes), *args)


def check_vmap_cases(
    tj_fun: Callable,
    jax_fun: Callable,
    cases: Sequence[tuple[Sequence[Any], Any]],
    tol: float | None = None,
) -> None:
    """``check_vmap`` under jit for several ``(args, in_axes)`` cases, one compile per side."""
    cases = [(list(args), in_axes) for args, in_axes in cases]

    def run(vmap, fun):
        def all_cases(arg_lists):
            return [vmap(fun, in_axes=ax)(*a) for a, (_, ax) in zip(arg_lists, cases)]

        return all_cases

    arg_lists = [a for a, _ in cases]
    expected = jax.jit(run(jax.vmap, jax_fun))(arg_lists)
    got = tj.jit(run(tj.vmap, tj_fun))(arg_lists)
    for (a, ax), g, e in zip(cases, got, expected):
        assert_close(g, e, tol, f"jit(vmap) in_axes={ax} ({_describe(a)})")
    validate(run(tj.vmap, tj_fun), arg_lists)


def check_vmap_all(
    cases: dict[str, tuple[Callable, Callable, Sequence[Any], Any]],
    tol: float | None = None,
) -> None:
    """``check_vmap`` under jit of several functions, one compile per side.

    ``cases``: ``name -> (tj_fun, jax_fun, args, in_axes)``. Failures name the case.
    """
    names = list(cases)
    args = {k: list(cases[k][2]) for k in names}

    def run(vmap, which):
        return lambda a: {k: vmap(cases[k][which], in_axes=cases[k][3])(*a[k]) for k in names}

    expected = jax.jit(run(jax.vmap, 1))(args)
    got = tj.jit(run(tj.vmap, 0))(args)
    for k in names:
        assert_close(got[k], expected[k], tol, f"jit(vmap) {k}")
    validate(run(tj.vmap, 0), args)


def numerical_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6):
    """Central differences of a scalar function of one float64 array."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (float(f(xp)) - float(f(xm))) / (2 * eps)
    return g


def check_grad_fd(
    tj_fun: Callable, x: np.ndarray, tol: float = 1e-5, *, compiled: bool = False
) -> None:
    """tj.grad of a scalar function matches central differences in float64.

    ``compiled``: the gradient and the function run under tj.jit (two compiles)
    instead of op by op.
    """
    check_grad_fd_args(tj_fun, [x], tol, compiled=compiled)


def check_grad_fd_args(
    tj_fun: Callable, xs: Sequence[np.ndarray], tol: float = 1e-5, *, compiled: bool = True
) -> None:
    """``check_grad_fd`` for a scalar function of several arrays (grad in every argument).

    ``compiled``: one tj.jit program (value and gradient) serves the gradient and
    every finite-difference evaluation: a single compile.
    """
    with jax.enable_x64(True):
        xs = [np.asarray(x, np.float64) for x in xs]
        argnums = tuple(range(len(xs)))
        if compiled:
            value_and_grad = tj.jit(tj.value_and_grad(tj_fun, argnums=argnums))
            grads = value_and_grad(*xs)[1]
            f = lambda *a: value_and_grad(*a)[0]  # noqa: E731
        else:
            grads = tj.grad(tj_fun, argnums=argnums)(*xs)
            f = tj_fun
        for i, (x, g) in enumerate(zip(xs, grads)):
            fd = numerical_grad(lambda v, i=i: f(*xs[:i], v, *xs[i + 1 :]), x)
            np.testing.assert_allclose(
                np.asarray(g), fd, rtol=tol, atol=tol, err_msg=f"argument {i}"
            )
