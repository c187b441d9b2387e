"""Structural guards on IR size: batching adds dimensions, not equations, and
tracejit's gradients are no larger than JAX's."""

import jax
import jax.numpy as jnp
import numpy as np

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.ir import count_eqns
from tracejit.lax import dot_general

SIZES = [8, 16, 16, 4]


def _mm(a, b):
    return dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())))


def loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = _mm(h, w) + b
        if i < len(params) - 1:
            h = tnp.tanh(h)
    return tnp.mean((h - y) ** 2)


def jax_loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return jnp.mean((h - y) ** 2)


def _data(batch):
    rng = np.random.default_rng(0)
    params = [
        (rng.normal(size=(a, b)).astype(np.float32), rng.normal(size=(b,)).astype(np.float32))
        for a, b in zip(SIZES[:-1], SIZES[1:])
    ]
    x = rng.normal(size=(batch, SIZES[0])).astype(np.float32)
    y = rng.normal(size=(batch, SIZES[-1])).astype(np.float32)
    return params, x, y


def test_grad_ir_no_larger_than_jax():
    params, x, y = _data(32)
    ours = count_eqns(tj.make_ir(tj.grad(loss))(params, x, y))
    theirs = len(jax.make_jaxpr(jax.grad(jax_loss))(params, x, y).eqns)
    assert ours <= theirs, (ours, theirs)
    # The values, compiled on both sides (one XLA program each).
    np.testing.assert_allclose(
        np.concatenate(
            [np.ravel(g) for g in jax.tree_util.tree_leaves(tj.jit(tj.grad(loss))(params, x, y))]
        ),
        np.concatenate(
            [
                np.ravel(g)
                for g in jax.tree_util.tree_leaves(jax.jit(jax.grad(jax_loss))(params, x, y))
            ]
        ),
        rtol=1e-4,
        atol=1e-5,
    )


def test_vmap_of_grad_adds_dimensions_not_equations():
    params, x, y = _data(64)
    one = count_eqns(tj.make_ir(tj.grad(loss))(params, x[0], y[0]))
    batched_ir = tj.make_ir(tj.vmap(tj.grad(loss), in_axes=(None, 0, 0)))(params, x, y)
    batched_ir.check()
    assert count_eqns(batched_ir) <= one + 6, (count_eqns(batched_ir), one)
    names = [e.prim.name for e in batched_ir.eqns]
    assert "broadcast_in_dim" not in [
        n
        for n, e in zip(names, batched_ir.eqns)
        if e.outvars[0].aval.shape[:1] == (64,)
        and e.invars
        and e.invars[0] in batched_ir.invars[:6]
    ]


def test_per_sample_grads_equal_the_loop():
    params, x, y = _data(8)
    batched = tj.vmap(tj.grad(loss), in_axes=(None, 0, 0))(params, x, y)
    for i in range(8):
        single = tj.grad(loss)(params, x[i], y[i])
        for b, s in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(single)):
            np.testing.assert_allclose(np.asarray(b)[i], s, rtol=1e-4, atol=1e-4)


def test_ensemble_of_ten_mlps_equals_running_each_model():
    members = [_data(4)[0] for _ in range(1)] + [
        [(w + 0.1 * k, b - 0.05 * k) for w, b in _data(4)[0]] for k in range(1, 10)
    ]
    stacked = tj.stack_params(members)
    _, x, _ = _data(16)

    def forward(params, x):
        h = x
        for i, (w, b) in enumerate(params):
            h = _mm(h, w) + b
            if i < len(params) - 1:
                h = tnp.tanh(h)
        return h

    out = tj.jit(tj.vmap(forward, in_axes=(0, None)))(stacked, x)
    assert out.shape == (10, 16, SIZES[-1])
    for k, member in enumerate(members):
        np.testing.assert_allclose(out[k], forward(member, x), rtol=1e-5, atol=1e-5)
