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

TOL = {
    np.dtype(np.float16): 1e-2,
    np.dtype(jnp.bfloat16): 5e-2,
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-10,
}


def tol_for(dtype: Any, scale: float = 1.0) -> float:
    return TOL.get(np.dtype(dtype), 0.0) * scale


def rand(rng: np.random.Generator, shape: Sequence[int], dtype: Any = np.float32,
         low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """Random values, never exactly zero (ints in [low, high] without 0)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        lo = max(int(low), np.iinfo(dtype).min) if not np.issubdtype(dtype, np.unsignedinteger) else 1
        x = rng.integers(lo, int(high) + 1, size=shape)
        x[x == 0] = 1
        return x.astype(dtype)
    x = rng.uniform(low, high, size=shape)
    x[np.abs(x) < 1e-3] = 0.5
    return x.astype(dtype)


def assert_close(actual: Any, expected: Any, tol: float | None = None, what: str = "") -> None:
    a_leaves = jax.tree_util.tree_leaves(actual)
    e_leaves = jax.tree_util.tree_leaves(expected)
    assert len(a_leaves) == len(e_leaves), f"{what}: {len(a_leaves)} vs {len(e_leaves)} leaves"
    for a, e in zip(a_leaves, e_leaves):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        if e.dtype != jax.dtypes.float0:
            assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != {e.dtype}"
        t = tol if tol is not None else tol_for(e.dtype, 10)
        if t == 0.0:
            np.testing.assert_array_equal(a, e, err_msg=what)
        else:
            np.testing.assert_allclose(
                a.astype(np.float64), e.astype(np.float64), rtol=t, atol=t, err_msg=what
            )


def validate(fun: Callable, *args: Any) -> tj.ClosedIR:
    """Trace ``fun`` and run the IR validator on the result."""
    cir = tj.make_ir(fun)(*args)
    cir.check()
    return cir


def check_forward(tj_fun: Callable, jax_fun: Callable, args: Sequence[Any],
                  tol: float | None = None) -> None:
    """Eager and jit results equal JAX's (values, shapes, dtypes)."""
    expected = jax_fun(*args)
    assert_close(tj_fun(*args), expected, tol, "eager")
    assert_close(tj.jit(tj_fun)(*args), expected, tol, "jit")
    validate(tj_fun, *args)


def _tangents(rng: np.random.Generator, args: Sequence[Any]) -> list:
    return [rand(rng, np.shape(a), np.asarray(a).dtype) for a in args]


def check_jvp(tj_fun: Callable, jax_fun: Callable, args: Sequence[Any], seed: int = 0,
              tol: float | None = None) -> None:
    rng = np.random.default_rng(seed)
    ts = _tangents(rng, args)
    expected = jax.jvp(jax_fun, tuple(args), tuple(ts))
    assert_close(tj.jvp(tj_fun, tuple(args), tuple(ts)), expected, tol, "jvp")
    validate(lambda *a: tj.jvp(tj_fun, tuple(a[: len(args)]), tuple(a[len(args):])),
             *args, *ts)


def check_vjp(tj_fun: Callable, jax_fun: Callable, args: Sequence[Any], seed: int = 0,
              tol: float | None = None) -> None:
    rng = np.random.default_rng(seed)
    out, jax_vjp_fn = jax.vjp(jax_fun, *args)
    cts = jax.tree_util.tree_map(
        lambda o: rand(rng, np.shape(o), np.asarray(o).dtype), out
    )
    expected = jax_vjp_fn(cts)
    tj_out, tj_vjp_fn = tj.vjp(tj_fun, *args)
    assert_close(tj_out, out, tol, "vjp primal")
    assert_close(tj_vjp_fn(cts), expected, tol, "vjp")
    validate(lambda a, c: tj.vjp(tj_fun, *a)[1](c), tuple(args), cts)


def check_vmap(tj_fun: Callable, jax_fun: Callable, args: Sequence[Any],
               in_axes: Any = 0, tol: float | None = None) -> None:
    expected = jax.vmap(jax_fun, in_axes=in_axes)(*args)
    assert_close(tj.vmap(tj_fun, in_axes=in_axes)(*args), expected, tol, "vmap")
    assert_close(tj.jit(tj.vmap(tj_fun, in_axes=in_axes))(*args), expected, tol, "jit(vmap)")
    validate(tj.vmap(tj_fun, in_axes=in_axes), *args)


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


def check_grad_fd(tj_fun: Callable, x: np.ndarray, tol: float = 1e-5) -> None:
    """tj.grad of a scalar function matches central differences in float64."""
    with jax.enable_x64(True):
        x = np.asarray(x, np.float64)
        g = np.asarray(tj.grad(tj_fun)(x))
        fd = numerical_grad(lambda v: tj_fun(v), x)
        np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)
