"""tracejit.optim against the reference update formulas over several steps,
eagerly, under jit, under vmap (one state per ensemble member) and under
grad (MAML's outer gradient through an inner update)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import optim

STEPS = 4


def _params(rng):
    return {"w": rand(rng, (3, 2)), "b": rand(rng, (2,))}


# --- reference formulas (float64 numpy), one function per optimizer ---------------------------


def ref_sgd(lr, momentum=0.0, nesterov=False):
    def run(params, grads_seq):
        v = {k: np.zeros_like(p, np.float64) for k, p in params.items()}
        out = []
        for g in grads_seq:
            upd = {}
            for k in params:
                gk = g[k].astype(np.float64)
                if momentum:
                    v[k] = gk + momentum * v[k]
                    d = gk + momentum * v[k] if nesterov else v[k]
                else:
                    d = gk
                upd[k] = -lr * d
            out.append(upd)
        return out

    return run


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=None):
    def run(params, grads_seq):
        m = {k: np.zeros_like(p, np.float64) for k, p in params.items()}
        v = {k: np.zeros_like(p, np.float64) for k, p in params.items()}
        p = {k: x.astype(np.float64) for k, x in params.items()}
        out = []
        for t, g in enumerate(grads_seq, start=1):
            upd = {}
            for k in params:
                gk = g[k].astype(np.float64)
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk**2
                d = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
                if weight_decay is not None:
                    d = d + weight_decay * p[k]
                upd[k] = -lr * d
                p[k] = p[k] + upd[k]
            out.append(upd)
        return out

    return run


# (id, optimizer, reference)
OPTIMIZERS = [
    ("sgd", optim.sgd(0.1), ref_sgd(0.1)),
    ("sgd_momentum", optim.sgd(0.05, momentum=0.9), ref_sgd(0.05, 0.9)),
    ("sgd_nesterov", optim.sgd(0.05, momentum=0.8, nesterov=True), ref_sgd(0.05, 0.8, True)),
    ("adam", optim.adam(0.01), ref_adam(0.01)),
    ("adam_betas", optim.adam(0.03, b1=0.5, b2=0.9, eps=1e-3), ref_adam(0.03, 0.5, 0.9, 1e-3)),
    ("adamw", optim.adamw(0.01, weight_decay=0.1), ref_adam(0.01, weight_decay=0.1)),
]
OPT_IDS = [o[0] for o in OPTIMIZERS]


def _run(opt, params, grads_seq, step):
    state = opt.init(params)
    outs = []
    for g in grads_seq:
        updates, state = step(g, state, params)
        outs.append(updates)
        params = optim.apply_updates(params, updates)
    return outs, state, params


@pytest.mark.parametrize("name, opt, ref", OPTIMIZERS, ids=OPT_IDS)
def test_updates_match_reference(name, opt, ref):
    rng = np.random.default_rng(0)
    params = _params(rng)
    grads_seq = [_params(rng) for _ in range(STEPS)]
    expected = ref(params, grads_seq)
    eager, state, final = _run(opt, params, grads_seq, opt.update)
    jitted, jstate, _ = _run(opt, params, grads_seq, tj.jit(opt.update))
    for i in range(STEPS):
        exp32 = {k: v.astype(np.float32) for k, v in expected[i].items()}
        assert_close(eager[i], exp32, 1e-5, f"{name} step {i}")
        assert_close(jitted[i], eager[i], 1e-6, f"{name} jit step {i}")
    assert int(state.count) == int(jstate.count) == STEPS
    total = {k: params[k] + sum(u[k] for u in expected) for k in params}
    assert_close(final, {k: v.astype(np.float32) for k, v in total.items()}, 1e-5)


@pytest.mark.parametrize("name, opt, ref", OPTIMIZERS, ids=OPT_IDS)
def test_ensemble_under_vmap(name, opt, ref):
    """One optimizer state per member: vmap of init and update equals each member alone."""
    rng = np.random.default_rng(1)
    members = [_params(rng) for _ in range(3)]
    grads = [[_params(rng) for _ in range(3)] for _ in range(2)]
    stack = lambda trees: jax.tree_util.tree_map(lambda *xs: np.stack(xs), *trees)  # noqa: E731
    states = tj.vmap(opt.init)(stack(members))
    assert states.count.shape == (3,)
    update = tj.jit(tj.vmap(opt.update))
    params = stack(members)
    for g in grads:
        updates, states = update(stack(g), states, params)
        params = optim.apply_updates(params, updates)
    for i, p in enumerate(members):
        _, _, alone = _run(opt, p, [g[i] for g in grads], opt.update)
        member = jax.tree_util.tree_map(lambda a, i=i: a[i], params)
        assert_close(member, alone, 1e-5, name)


def _loss(np_):
    def loss(p, x):
        return np_.mean(np_.tanh(x @ p["w"] + p["b"]) ** 2)

    return loss


def _jax_inner(name, p, g):
    """The first update of each optimizer, written out with jnp (the oracle for MAML)."""
    if name.startswith("sgd"):
        lr, mom = {"sgd": (0.1, 0.0), "sgd_momentum": (0.05, 0.9), "sgd_nesterov": (0.05, 0.8)}[
            name
        ]
        # First step from a zero velocity: v = g; nesterov looks ahead to g + mom * v.
        scale = 1 + mom if name == "sgd_nesterov" else 1.0
        return jax.tree_util.tree_map(lambda p, g: p - lr * scale * g, p, g)
    lr, b1, b2, eps = {
        "adam": (0.01, 0.9, 0.999, 1e-8),
        "adam_betas": (0.03, 0.5, 0.9, 1e-3),
        "adamw": (0.01, 0.9, 0.999, 1e-8),
    }[name]

    def step(p, g):
        m_hat = (1 - b1) * g / (1 - b1)
        v_hat = (1 - b2) * g**2 / (1 - b2)
        d = m_hat / (jnp.sqrt(v_hat) + eps)
        return p - lr * (d + 0.1 * p if name == "adamw" else d)

    return jax.tree_util.tree_map(step, p, g)


@pytest.mark.parametrize("name, opt, ref", OPTIMIZERS, ids=OPT_IDS)
def test_maml_outer_gradient(name, opt, ref):
    """grad through an inner optimizer step (second-order MAML) equals JAX's."""
    rng = np.random.default_rng(2)
    params = _params(rng)
    x_in, x_out = rand(rng, (5, 3)), rand(rng, (5, 3))

    def maml_tj(p):
        g = tj.grad(_loss(tnp))(p, x_in)
        updates, _ = opt.update(g, opt.init(p), p)
        return _loss(tnp)(optim.apply_updates(p, updates), x_out)

    def maml_jax(p):
        g = jax.grad(_loss(jnp))(p, x_in)
        return _loss(jnp)(_jax_inner(name, p, g), x_out)

    value, grad = jax.jit(jax.value_and_grad(maml_jax))(params)  # the oracle, compiled once
    assert_close(maml_tj(params), value, 1e-5)
    assert_close(tj.grad(maml_tj)(params), grad, 1e-4)
    assert_close(tj.jit(tj.grad(maml_tj))(params), grad, 1e-4)


def test_learning_rate_schedule():
    sched = lambda count: 0.1 / (1.0 + count)  # noqa: E731
    opt = optim.sgd(sched)
    p = {"w": np.ones(2, np.float32)}
    g = {"w": np.full(2, 2.0, np.float32)}
    state = opt.init(p)
    for step in range(3):
        updates, state = tj.jit(opt.update)(g, state)
        assert_close(updates, {"w": np.full(2, -2.0 * 0.1 / (1 + step), np.float32)}, 1e-6)


def test_apply_updates_keeps_param_dtype_and_structure():
    p = {"a": np.ones(2, jnp.bfloat16), "b": [np.zeros(3, np.float32)]}
    u = {"a": np.full(2, 0.5, np.float32), "b": [np.ones(3, np.float32)]}
    out = optim.apply_updates(p, u)
    assert out["a"].dtype == jnp.bfloat16 and isinstance(out["b"], list)
    assert_close(out["b"][0], np.ones(3, np.float32))


def test_states_are_pytrees_of_arrays():
    p = {"w": np.ones((2, 2), np.float32)}
    for opt in (optim.sgd(0.1), optim.sgd(0.1, momentum=0.9), optim.adam(0.1)):
        leaves = jax.tree_util.tree_leaves(opt.init(p))
        assert leaves and all(isinstance(x, jax.Array) for x in leaves)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: optim.adamw(0.1).update(
                {"w": np.ones(2)}, optim.adamw(0.1).init({"w": np.ones(2)})
            ),
            ValueError,
            "params are required",
        ),
        (
            lambda: optim.adam(0.1).update(
                {"w": np.ones(2)}, optim.sgd(0.1).init({"w": np.ones(2)})
            ),
            TypeError,
            "state must be the adam state",
        ),
        (
            lambda: optim.sgd(0.1, 0.9).update(
                {"v": np.ones(2)}, optim.sgd(0.1, 0.9).init({"w": np.ones(2)})
            ),
            ValueError,
            "structure",
        ),
        (
            lambda: optim.apply_updates({"w": np.ones(2)}, {"v": np.ones(2)}),
            ValueError,
            "apply_updates",
        ),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
