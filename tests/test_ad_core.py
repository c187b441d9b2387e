"""Differentiation API: jvp, linearize, vjp, grad, value_and_grad — semantics,
symbolic zeros, higher order, closures and the errors of SPEC.md."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, check_grad_fd, rand

import tracejit as tj
import tracejit.numpy as tnp

rng = np.random.default_rng(1)
X = rand(rng, (3,))
Y = rand(rng, (3,))


def f(x, y):
    return tnp.sum(tnp.sin(x) * tnp.exp(y) / (1.0 + x * x))


def jf(x, y):
    return jnp.sum(jnp.sin(x) * jnp.exp(y) / (1.0 + x * x))


def test_seed_grad_of_grad_of_sin():
    x = np.float32(0.37)
    assert_close(tj.grad(tnp.sin)(x), jnp.cos(x))
    assert_close(tj.grad(tj.grad(tnp.sin))(x), -jnp.sin(x))
    assert_close(tj.grad(tj.grad(tj.grad(tnp.sin)))(x), -jnp.cos(x))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0)])
def test_grad_argnums(argnums):
    assert_close(tj.grad(f, argnums)(X, Y), jax.grad(jf, argnums)(X, Y), 1e-5)


def test_value_and_grad_and_has_aux():
    def g(x, y):
        return f(x, y), {"aux": x * 2.0}

    def jg(x, y):
        return jf(x, y), {"aux": x * 2.0}

    assert_close(tj.value_and_grad(g, has_aux=True)(X, Y),
                 jax.value_and_grad(jg, has_aux=True)(X, Y), 1e-5)
    assert_close(tj.grad(g, has_aux=True)(X, Y), jax.grad(jg, has_aux=True)(X, Y), 1e-5)


def test_grad_of_pytree_parameters():
    params = {"w": rand(rng, (3,)), "b": (rand(rng, ()), rand(rng, (3,)))}
    loss = lambda p, x: tnp.sum(tnp.tanh(p["w"] * x + p["b"][0]) * p["b"][1])
    jloss = lambda p, x: jnp.sum(jnp.tanh(p["w"] * x + p["b"][0]) * p["b"][1])
    assert_close(tj.grad(loss)(params, X), jax.grad(jloss)(params, X), 1e-5)


def test_jvp_and_linearize_match_jax():
    t = (rand(rng, (3,)), rand(rng, (3,)))
    assert_close(tj.jvp(f, (X, Y), t), jax.jvp(jf, (X, Y), t), 1e-5)
    out, lin = tj.linearize(f, X, Y)
    jout, jlin = jax.linearize(jf, X, Y)
    assert_close(out, jout, 1e-5)
    assert_close(lin(*t), jlin(*t), 1e-5)


def test_linearize_does_not_recompute_the_primal():
    calls = []
    out, lin = tj.linearize(lambda x: (calls.append(1), tnp.sin(x) * 2.0)[1], X)
    ir = tj.make_ir(lin)(X)
    assert "sin" not in str(ir) and "cos" not in str(ir)  # only the linear part runs
    assert len(calls) == 1
    assert_close(lin(Y), 2 * np.cos(X) * Y, 1e-6)


def test_vjp_pytrees_and_aux():
    fn = lambda a, b: ({"s": tnp.sin(a) * b}, a * 3.0)
    jfn = lambda a, b: ({"s": jnp.sin(a) * b}, a * 3.0)
    ct = ({"s": rand(rng, (3,))}, rand(rng, (3,)))
    out, vjp_fn = tj.vjp(fn, X, Y)
    jout, jvjp_fn = jax.vjp(jfn, X, Y)
    assert_close(out, jout)
    assert_close(vjp_fn(ct), jvjp_fn(ct), 1e-6)
    out, vjp_fn, aux = tj.vjp(lambda a: (tnp.sin(a), a), X, has_aux=True)
    assert_close(aux, X)
    assert isinstance(vjp_fn(Y), tuple)


def test_symbolic_zeros_no_arithmetic_for_ignored_input():
    g = tj.grad(lambda x, y: tnp.sum(tnp.sin(x)), argnums=(0, 1))
    ir = tj.make_ir(g)(X, Y)
    arithmetic = {"mul", "add", "sub", "neg", "div", "sin", "cos"}
    y_var = ir.invars[1]
    for eqn in ir.eqns:
        assert y_var not in eqn.invars
    ops = [e.prim.name for e in ir.eqns]
    assert ops.count("broadcast_in_dim") <= 2  # the ct seed and the zero gradient
    assert set(ops) - {"broadcast_in_dim"} <= arithmetic
    assert_close(g(X, Y)[1], np.zeros(3, np.float32))


def test_jvp_of_grad_and_grad_of_closure():
    # Hessian-vector product by forward-over-reverse.
    hvp = tj.jvp(tj.grad(lambda x: f(x, Y)), (X,), (Y,))[1]
    jhvp = jax.jvp(jax.grad(lambda x: jf(x, Y)), (X,), (Y,))[1]
    assert_close(hvp, jhvp, 1e-5)

    def outer(a):
        return tj.grad(lambda b: tnp.sin(a * b) * a)(0.5)

    jouter = lambda a: jax.grad(lambda b: jnp.sin(a * b) * a)(0.5)
    assert_close(tj.grad(outer)(np.float32(0.8)), jax.grad(jouter)(np.float32(0.8)), 1e-5)


def test_grad_under_jit_and_stop_gradient():
    g = tj.jit(tj.grad(lambda x: tnp.sum(tj.stop_gradient(x * x) * x)))
    assert_close(g(X), X * X, 1e-6)


def test_integer_inputs_have_no_gradient_and_float0_in_vjp():
    out, vjp_fn = tj.vjp(lambda x, n: x * n, X, np.int32(3))
    gx, gn = vjp_fn(Y)
    assert_close(gx, 3 * Y, 1e-6)
    assert gn.dtype == jax.dtypes.float0


def test_finite_differences_float64():
    check_grad_fd(lambda x: tnp.sum(tnp.sin(x) * tnp.exp(x) / (1.0 + x * x)), X)


def test_error_grad_of_non_scalar_names_the_shape():
    with pytest.raises(TypeError, match=r"real scalar, got f32\[3\].*\(3,\)"):
        tj.grad(tnp.sin)(X)


def test_error_grad_with_respect_to_integer_input():
    with pytest.raises(TypeError, match="argument 0 .* has dtype int32"):
        tj.grad(lambda n: n * 2.0)(np.int32(3))


def test_error_has_aux_without_pair():
    with pytest.raises(TypeError, match=r"has_aux=True requires .* pair"):
        tj.grad(lambda x: tnp.sum(x), has_aux=True)(X)


def test_error_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=3 is out of range"):
        tj.grad(f, argnums=3)(X, Y)


def test_error_jvp_tangent_structure_and_shape():
    with pytest.raises(ValueError, match="structure"):
        tj.jvp(f, (X, Y), (X,))
    with pytest.raises(ValueError, match=r"tangent f32\[2\] does not match .* f32\[3\]"):
        tj.jvp(f, (X, Y), (X, Y[:2] if hasattr(tnp, "getitem") else np.ones(2, np.float32)))
