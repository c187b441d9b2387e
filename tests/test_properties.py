"""Property tests of transform compositions (hypothesis): vmap equals a loop,
<u, J^T v> == <J u, v>, jvp is linear in the tangent, grad∘vmap∘grad == JAX."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tracejit as tj
import tracejit.numpy as tnp

# Programs built from a small vocabulary, mirrored in tracejit and JAX.
OPS = {
    "sin": (tnp.sin, jnp.sin),
    "tanh": (tnp.tanh, jnp.tanh),
    "square": (lambda x: x * x, lambda x: x * x),
    "exp_neg": (lambda x: tnp.exp(-x * x), lambda x: jnp.exp(-x * x)),
    "scale": (lambda x: 1.5 * x + 0.25, lambda x: 1.5 * x + 0.25),
    "cumul": (lambda x: x * tnp.sum(x), lambda x: x * jnp.sum(x)),
}

programs = st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=5)
sizes = st.integers(min_value=1, max_value=5)
seeds = st.integers(min_value=0, max_value=2**16)


def build(ops, which):
    def f(x):
        for op in ops:
            x = OPS[op][which](x)
        return x

    return f


def arr(seed, shape):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape).astype(np.float32)


SETTINGS = settings(max_examples=20, deadline=None)


@SETTINGS
@given(programs, sizes, sizes, seeds)
def test_vmap_equals_a_loop(ops, batch, n, seed):
    f = build(ops, 0)
    xs = arr(seed, (batch, n))
    out = tj.vmap(f)(xs)
    for i in range(batch):
        np.testing.assert_allclose(out[i], f(xs[i]), rtol=1e-5, atol=1e-6)


@SETTINGS
@given(programs, sizes, seeds)
def test_transpose_identity(ops, n, seed):
    f = build(ops, 0)
    x, u, v = arr(seed, (n,)), arr(seed + 1, (n,)), arr(seed + 2, (n,))
    _, ju = tj.jvp(f, (x,), (u,))
    _, vjp_fn = tj.vjp(f, x)
    (jtv,) = vjp_fn(v)
    np.testing.assert_allclose(np.dot(jtv, u), np.dot(v, ju), rtol=1e-4, atol=1e-4)


@SETTINGS
@given(programs, sizes, seeds)
def test_jvp_is_linear_in_the_tangent(ops, n, seed):
    f = build(ops, 0)
    x, u, v = arr(seed, (n,)), arr(seed + 1, (n,)), arr(seed + 2, (n,))
    _, lin = tj.linearize(f, x)
    np.testing.assert_allclose(lin(2.0 * u - v), 2.0 * lin(u) - lin(v), rtol=1e-4, atol=1e-4)


@SETTINGS
@given(programs, sizes, sizes, seeds)
def test_grad_vmap_grad_matches_jax(ops, batch, n, seed):
    f, jf = build(ops, 0), build(ops, 1)

    def inner(w, x):
        return tnp.sum(f(w * x))

    def jinner(w, x):
        return jnp.sum(jf(w * x))

    def outer(w, xs):
        return tnp.sum(tj.vmap(tj.grad(inner), in_axes=(None, 0))(w, xs))

    def jouter(w, xs):
        return jnp.sum(jax.vmap(jax.grad(jinner), in_axes=(None, 0))(w, xs))

    # Compiled on both sides: one XLA program each instead of one per eager op.
    w, xs = arr(seed, (n,)), arr(seed + 1, (batch, n))
    np.testing.assert_allclose(
        tj.jit(tj.grad(outer))(w, xs), jax.jit(jax.grad(jouter))(w, xs), rtol=2e-4, atol=2e-4
    )
