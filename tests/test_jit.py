"""jit: caching per signature, static arguments, lowering, compile, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tracejit as tj
import tracejit.numpy as tnp

f32 = np.float32


def test_compiles_once_per_signature():
    f = tj.jit(lambda x, y: tnp.sin(x) * y)
    x = jnp.ones(3)
    for _ in range(3):
        f(x, 2.0)
    assert f.trace_count == 1
    f(x, jnp.float32(2.0))  # strong f32 scalar: a different weak type
    assert f.trace_count == 2
    f(jnp.ones(4), 2.0)  # new shape
    assert f.trace_count == 3
    f(jnp.ones(4, jnp.int32), 2.0)  # new dtype
    assert f.trace_count == 4
    f(jnp.ones(4), 3.0)  # same signature, new value
    assert f.trace_count == 4


def test_pytree_arguments_and_outputs():
    f = tj.jit(lambda p, x: {"out": p["w"] * x + p["b"], "n": (x,)})
    params = {"w": jnp.ones(3), "b": jnp.zeros(3)}
    out = f(params, jnp.arange(3.0))
    np.testing.assert_allclose(out["out"], np.arange(3.0))
    assert isinstance(out["n"], tuple)
    f({"w": jnp.ones(3), "b": jnp.ones(3)}, jnp.arange(3.0))
    assert f.trace_count == 1


def test_static_argnums_and_argnames():
    calls = []

    def f(x, n, *, mode="sin"):
        calls.append(n)
        y = x
        for _ in range(n):
            y = tnp.sin(y) if mode == "sin" else tnp.cos(y)
        return y

    g = tj.jit(f, static_argnums=1, static_argnames="mode")
    x = jnp.float32(0.3)
    np.testing.assert_allclose(g(x, 2), np.sin(np.sin(0.3)), rtol=1e-6)
    np.testing.assert_allclose(g(x, 2, mode="cos"), np.cos(np.cos(0.3)), rtol=1e-6)
    g(x, 2)
    assert g.trace_count == 2


def test_unhashable_static_argument_is_a_type_error():
    g = tj.jit(lambda x, opts: x, static_argnums=1)
    with pytest.raises(TypeError, match="static argument 1 has unhashable type list"):
        g(1.0, [1, 2])


def test_lower_as_text_compile_cost_analysis():
    f = tj.jit(lambda x: tnp.sin(x) * 2.0)
    lowered = f.lower(jnp.ones(4))
    text = lowered.as_text()
    assert "stablehlo.sine" in text and "func.func public @main" in text
    compiled = lowered.compile()
    np.testing.assert_allclose(compiled(jnp.ones(4)), 2 * np.sin(np.ones(4)), rtol=1e-6)
    cost = compiled.cost_analysis()
    assert isinstance(cost, dict) and cost.get("flops", 0) > 0


def test_trace_returns_the_optimized_ir():
    def f(x):
        a = tnp.sin(x)
        b = tnp.sin(x)  # cse merges it
        _ = tnp.cos(x)  # dce drops it
        return a + b

    ir = tj.jit(f).trace(jnp.ones(3))
    assert [e.prim.name for e in ir.eqns] == ["sin", "add"]


def test_weak_types_follow_jax():
    f = tj.jit(lambda x, y: x * y)
    for args in [(2.0, jnp.ones(2, jnp.bfloat16)), (2, jnp.ones(2, jnp.int8)),
                 (jnp.float32(2), 3.0)]:
        out = f(*args)
        expected = jax.jit(lambda x, y: x * y)(*args)
        assert out.dtype == expected.dtype
        assert out.weak_type == expected.weak_type


def test_jit_inside_transforms_is_inlined_and_cached():
    f = tj.jit(lambda x: tnp.sin(x) * x)
    g = tj.grad(lambda x: f(x) * 2.0)
    np.testing.assert_allclose(g(0.5), 2 * (np.cos(0.5) * 0.5 + np.sin(0.5)), rtol=1e-6)
    g(0.7)
    assert f.trace_count == 1
    v = tj.vmap(f)(jnp.arange(3.0))
    np.testing.assert_allclose(v, np.sin(np.arange(3.0)) * np.arange(3.0), rtol=1e-6)


def test_jit_of_grad_and_vmap_compose():
    f = lambda w, x: tnp.sum(tnp.tanh(w * x))
    g = tj.jit(tj.vmap(tj.grad(f), in_axes=(None, 0)))
    xs = jnp.linspace(-1, 1, 5)
    expected = jax.vmap(jax.grad(lambda w, x: jnp.sum(jnp.tanh(w * x))), (None, 0))(0.3, xs)
    np.testing.assert_allclose(g(0.3, xs), expected, rtol=1e-6)


def test_donate_argnums_accepted():
    f = tj.jit(lambda x: x + 1, donate_argnums=0)
    np.testing.assert_allclose(f(jnp.ones(3)), 2 * np.ones(3))


def test_phase_timings_after_first_call():
    f = tj.jit(tj.grad(lambda x: tnp.sum(tnp.sin(x) * x)))
    assert f.phases is None
    f(jnp.ones(7))
    phases = f.phases.as_dict()
    assert set(phases) == {"trace", "transform", "optimize", "lower", "compile"}
    assert phases["transform"] > 0 and phases["compile"] > 0 and phases["lower"] > 0
    assert all(v >= 0 for v in phases.values())
