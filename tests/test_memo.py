"""Memoised linearization (tracejit.transforms.memo): a cached derivative must give
what a fresh one gives, for every value its constants take, and be reused only for
the same program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.transforms import memo


@pytest.fixture
def fresh_cache():
    memo.clear()
    yield
    memo.enabled = True
    memo.clear()


def _count_linearizations(monkeypatch):
    import tracejit.transforms.ad as ad

    calls = []
    original = ad._LinearPlan

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ad, "_LinearPlan", counting)
    return calls


def test_repeated_eager_grad_reuses_the_derivative(fresh_cache, monkeypatch):
    calls = _count_linearizations(monkeypatch)
    g = tj.grad(tj.grad(tnp.sin))
    for x in (0.3, 1.2, -2.0):
        assert_close(g(np.float32(x)), -np.sin(np.float32(x)), 1e-6)
    assert len(calls) == 2  # inner and outer grad, once each


def test_closed_over_values_are_inputs_of_the_cached_derivative(fresh_cache):
    # Same program, different constants: each call must see its own constant.
    x = rand(np.random.default_rng(1), (5,))
    for seed in range(3):
        c = rand(np.random.default_rng(10 + seed), (5,))
        got = tj.grad(lambda a, c=c: tnp.sum(tnp.sin(a) * c) ** 2)(x)
        want = jax.grad(lambda a, c=c: jnp.sum(jnp.sin(a) * c) ** 2)(x)
        assert_close(got, want, 1e-5)


def test_python_branches_give_different_programs(fresh_cache):
    def f(x):
        return tnp.sin(x) if float(x) > 0 else tnp.cos(x) * 3.0

    for x in (0.7, -0.7, 0.5, -0.2):
        want = np.cos(x) if x > 0 else -3.0 * np.sin(x)
        assert_close(tj.grad(f)(np.float32(x)), np.float32(want), 1e-6)


def test_cached_and_uncached_derivatives_agree(fresh_cache):
    w = rand(np.random.default_rng(2), (4, 3))
    x = rand(np.random.default_rng(3), (3,))

    def f(p, x):
        return tnp.sum(tnp.tanh(p["w"] @ x) ** 2) + tnp.sum(p["b"] * x)

    ct = rand(np.random.default_rng(5), (4,))
    params = {"w": w, "b": rand(np.random.default_rng(4), (3,))}
    programs = {
        "grad": lambda: tj.grad(f)(params, x),
        "hessian": lambda: tj.hessian(f, argnums=1)(params, x),
        "vjp": lambda: tj.vjp(lambda x: tnp.tanh(w @ x), x)[1](ct),
        "linearize": lambda: tj.linearize(lambda x: tnp.sin(x) * x, x)[1](x),
        "maml": lambda: tj.grad(lambda p: f(jax.tree_util.tree_map(
            lambda a, g: a - 0.1 * g, p, tj.grad(f)(p, x)), x))(params),
    }
    for name, run in programs.items():
        memo.enabled = False
        expected = run()
        memo.enabled = True
        first, second = run(), run()
        for got in (first, second):
            for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected)):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def test_structure_key_sees_every_difference():
    def key(fn, *args):
        return memo.structure_key(tj.make_ir(fn, static_argnums=(1,))(*args).ir if len(
            args) > 1 else tj.make_ir(fn)(*args).ir)

    x = np.ones(3, np.float32)
    prog = lambda a: tnp.sin(a) * 2.0  # noqa: E731
    base = key(prog, x)
    assert base == key(prog, x)                                    # same program, same key
    assert base == key(prog, x + 1)                                # values do not matter
    assert base != key(lambda a: tnp.sin(a) * 2.0, x)              # a source line
    assert base != key(lambda a: tnp.sin(a) * 3.0, x)              # a literal
    assert base != key(lambda a: tnp.cos(a) * 2.0, x)              # a primitive
    assert base != key(prog, x[:2])                                # a shape
    assert base != key(prog, x.astype(np.float16))                 # a dtype
    total = lambda a, axis: tnp.sum(a, axis=axis)  # noqa: E731
    y = np.ones((2, 2), np.float32)
    assert key(total, y, 0) != key(total, y, 1)                    # a parameter
    # nested IRs (control flow) are not keyed
    assert key(lambda a: tj.lax.cond(a.sum() > 0, tnp.sin, tnp.cos, a), x) is None
