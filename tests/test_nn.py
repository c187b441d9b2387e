"""tracejit.nn against JAX: activations (incl. extreme logits), losses,
initializers (same keys, same weights as jax.nn.initializers), layers and
pooling, under jit, vmap and grad."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import (
    assert_close,
    check_forward,
    check_grad_fd,
    check_jvp,
    check_vjp,
    check_vmap,
    rand,
)

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import nn

# (name, tracejit function, jax function) on one float array.
ACTIVATIONS = [
    ("relu", nn.relu, jax.nn.relu),
    ("gelu", nn.gelu, jax.nn.gelu),
    (
        "gelu_exact",
        lambda x: nn.gelu(x, approximate=False),
        lambda x: jax.nn.gelu(x, approximate=False),
    ),
    ("silu", nn.silu, jax.nn.silu),
    ("sigmoid", nn.sigmoid, jax.nn.sigmoid),
    ("softplus", nn.softplus, jax.nn.softplus),
    ("log_sigmoid", nn.log_sigmoid, jax.nn.log_sigmoid),
    ("tanh", nn.tanh, jnp.tanh),
    ("softmax", nn.softmax, jax.nn.softmax),
    ("softmax_axis0", lambda x: nn.softmax(x, axis=0), lambda x: jax.nn.softmax(x, axis=0)),
    ("log_softmax", nn.log_softmax, jax.nn.log_softmax),
    (
        "log_softmax_axes",
        lambda x: nn.log_softmax(x, axis=(0, 1)),
        lambda x: jax.nn.log_softmax(x, axis=(0, 1)),
    ),
    ("logsumexp", nn.logsumexp, jax.nn.logsumexp),
    ("logsumexp_axis", lambda x: nn.logsumexp(x, axis=1), lambda x: jax.nn.logsumexp(x, axis=1)),
    (
        "logsumexp_keepdims",
        lambda x: nn.logsumexp(x, axis=0, keepdims=True),
        lambda x: jax.nn.logsumexp(x, axis=0, keepdims=True),
    ),
]
ACT_IDS = [a[0] for a in ACTIVATIONS]


@pytest.mark.parametrize("name, tj_f, jax_f", ACTIVATIONS, ids=ACT_IDS)
def test_activation(name, tj_f, jax_f):
    rng = np.random.default_rng(0)
    x = rand(rng, (3, 5), low=-4, high=4)
    check_forward(tj_f, jax_f, [x])
    check_jvp(tj_f, jax_f, [x])
    check_vjp(tj_f, jax_f, [x])
    if name.startswith(("soft", "log_soft", "logsumexp", "relu")):  # axis-aware or selects
        check_vmap(tj_f, jax_f, [rand(rng, (3, 4, 5), low=-4, high=4)], in_axes=1)


EXTREME = [a for a in ACTIVATIONS if a[0] in (
    "softplus", "log_sigmoid", "sigmoid", "silu", "gelu_exact", "softmax", "log_softmax_axes",
    "logsumexp", "logsumexp_axis")]  # fmt: skip


@pytest.mark.parametrize("name, tj_f, jax_f", EXTREME, ids=[a[0] for a in EXTREME])
def test_activation_extreme_inputs_stay_finite(name, tj_f, jax_f):
    """Logits of ±1e4: values and gradients are finite and equal JAX's."""
    x = np.array([[1e4, -1e4, 0.5, 3.0, -2.0], [-1e4, -1e4, 1e4, 1e4, 0.0]], np.float32)
    out = tj_f(x)
    assert_close(out, jax_f(x), 1e-5)
    assert np.all(np.isfinite(np.asarray(out)))

    def loss(f, np_):
        def weighted(x):
            y = f(x)
            return np_.sum(y * np.arange(np.size(y), dtype=np.float32).reshape(np.shape(y)))

        return weighted

    g = tj.grad(loss(tj_f, tnp))(x)
    assert_close(g, jax.grad(loss(jax_f, jnp))(x), 1e-5)
    assert np.all(np.isfinite(np.asarray(g)))


def test_activation_dtypes_and_ints():
    x = rand(np.random.default_rng(1), (4,), jnp.bfloat16)
    for _, tj_f, jax_f in ACTIVATIONS[:8]:
        assert_close(tj_f(x), jax_f(x), 5e-2)
    i = np.array([-3, 0, 2], np.int32)
    assert_close(nn.relu(i), jax.nn.relu(i))
    assert_close(nn.sigmoid(i), jax.nn.sigmoid(i.astype(np.float32)))  # ints promote


def test_relu_gradient_at_zero_is_zero():
    assert float(tj.grad(nn.relu)(0.0)) == float(jax.grad(jax.nn.relu)(0.0)) == 0.0


def test_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf], [1.0, -np.inf], [np.inf, 0.0]], np.float32)
    assert_close(nn.logsumexp(x, axis=1), jax.nn.logsumexp(x, axis=1))
    assert_close(nn.softmax(x[:2]), jax.nn.softmax(x[:2]))


def test_activation_grad_matches_finite_differences():
    x = rand(np.random.default_rng(2), (2, 3))
    check_grad_fd(lambda v: tnp.sum(nn.log_softmax(v) * v), x)
    check_grad_fd(lambda v: tnp.sum(nn.gelu(v) + nn.softplus(v) + nn.silu(v)), x)


@pytest.mark.parametrize("axis, dtype", [(-1, np.float32), (0, np.int32), (1, jnp.bfloat16)])
def test_one_hot(axis, dtype):
    labels = np.array([[0, 2, 5], [-1, 1, 4]], np.int32)  # 5 and -1 are out of range
    check_forward(
        lambda y: nn.one_hot(y, 5, dtype, axis),
        lambda y: jax.nn.one_hot(y, 5, dtype=dtype, axis=axis),
        [labels],
    )


# --- losses ------------------------------------------------------------------------------


def _jax_xent(logits, labels):
    logp = jax.nn.log_softmax(logits, axis=-1)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        return -jnp.mean(jnp.take_along_axis(logp, labels[..., None], axis=-1))
    return -jnp.mean(jnp.sum(labels * logp, axis=-1))


@pytest.mark.parametrize(
    "shape, scale",
    [((4, 5), 1.0), ((5,), 1e4), ((2, 3, 5), 1e4)],
    ids=["2d", "1d_extreme", "3d_extreme"],
)
def test_cross_entropy(shape, scale):
    rng = np.random.default_rng(3)
    logits = (rand(rng, shape) * scale).astype(np.float32)
    labels = rng.integers(0, shape[-1], shape[:-1]).astype(np.int32)
    soft = np.asarray(jax.nn.softmax(rand(rng, shape), axis=-1))
    tol = 1e-5 * max(scale, 1.0)
    check_forward(nn.cross_entropy, _jax_xent, [logits, labels], tol=tol)
    for y in (labels, np.asarray(jax.nn.one_hot(labels, shape[-1])), soft):
        assert_close(nn.cross_entropy(logits, y), _jax_xent(logits, y), tol)
        g = tj.grad(nn.cross_entropy)(logits, y)
        assert np.all(np.isfinite(np.asarray(g)))
        assert_close(g, jax.grad(_jax_xent)(logits, y), 1e-5)


def test_cross_entropy_masked_logits():
    """-inf logits away from the label give a finite loss (a select, not 0 * -inf)."""
    logits = np.array([[0.0, -np.inf, 1.0]], np.float32)
    assert_close(nn.cross_entropy(logits, np.array([2])), _jax_xent(logits, np.array([2])))


def test_cross_entropy_under_vmap_and_jit():
    rng = np.random.default_rng(4)
    logits, labels = rand(rng, (3, 4, 6)), rng.integers(0, 6, (3, 4)).astype(np.int32)
    check_vmap(nn.cross_entropy, _jax_xent, [logits, labels])


def test_mse():
    rng = np.random.default_rng(5)
    p, t = rand(rng, (4, 3)), rand(rng, (4, 3))
    ref = lambda p, t: jnp.mean((p - t) ** 2)  # noqa: E731
    check_forward(nn.mse, ref, [p, t])
    check_vjp(nn.mse, ref, [p, t])
    assert_close(nn.mse(p, 1.0), ref(p, 1.0))


# --- initializers ---------------------------------------------------------------------------

INITS = [
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
]


@pytest.mark.parametrize("name", INITS)
@pytest.mark.parametrize(
    "shape, axes",
    [
        ((30, 20), {}),
        ((8, 3, 5, 5), dict(in_axis=1, out_axis=0)),
        ((4, 6, 7), dict(in_axis=(0, 1), out_axis=2)),
    ],
    ids=["dense", "oihw", "multi_axis"],
)
def test_initializer_equals_jax(name, shape, axes):
    key, jkey = tj.random.key(5), jax.random.PRNGKey(5)
    got = getattr(nn, name)(key, shape, **axes)
    expected = getattr(jax.nn.initializers, name)(**axes)(jkey, shape)
    assert_close(got, expected, 1e-6)
    if not axes:
        assert_close(tj.jit(lambda k: getattr(nn, name)(k, shape))(key), expected, 1e-6)


@pytest.mark.parametrize(
    "name, var",
    [("glorot_uniform", 2 / (300 + 200)), ("he_normal", 2 / 300), ("lecun_normal", 1 / 300)],
)
def test_initializer_variance(name, var):
    w = np.asarray(getattr(nn, name)(tj.random.key(0), (300, 200)), np.float64)
    assert abs(w.mean()) < 5 * np.sqrt(var / w.size)
    assert abs(w.var() / var - 1) < 0.03


def test_initializer_dtype_and_errors():
    w = nn.he_normal(tj.random.key(0), (4, 3), jnp.bfloat16)
    assert w.dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="at least 2-D"):
        nn.glorot_uniform(tj.random.key(0), (5,))
    with pytest.raises(ValueError, match="invalid mode"):
        nn.variance_scaling(1.0, "fan_mid", "normal")


# --- layers ------------------------------------------------------------------------------------


def _mlp_jax(params, x, act=jax.nn.relu):
    for i, p in enumerate(params):
        x = x @ p["w"] + p["b"]
        if i < len(params) - 1:
            x = act(x)
    return x


def test_dense_and_mlp_match_jax():
    rng = np.random.default_rng(6)
    dense = nn.Dense(3, 4)
    p = dense.init(tj.random.key(0))
    assert p["w"].shape == (3, 4) and p["b"].shape == (4,) and not np.any(np.asarray(p["b"]))
    x = rand(rng, (5, 3))
    check_forward(dense, lambda p, x: x @ p["w"] + p["b"], [p, x])
    mlp = nn.MLP([3, 8, 2], activation=nn.tanh)
    params = mlp.init(tj.random.key(1))
    assert isinstance(params, list) and len(params) == 2
    ref = lambda p, x: _mlp_jax(p, x, jnp.tanh)  # noqa: E731
    check_forward(mlp, ref, [params, x])
    check_vjp(mlp, ref, [params, x])
    # Per-example gradients: vmap of grad over the batch, params shared.
    loss = lambda f: lambda p, x: (f(p, x) ** 2).sum()  # noqa: E731
    expected = jax.vmap(jax.grad(loss(ref)), (None, 0))(params, x)
    assert_close(tj.jit(tj.vmap(tj.grad(loss(mlp)), (None, 0)))(params, x), expected, 1e-5)


def test_mlp_ensemble_init_under_vmap():
    mlp = nn.MLP([2, 4, 1])
    keys = tj.random.split(tj.random.key(0), 3)
    stacked = tj.vmap(mlp.init)(keys)
    init = tj.jit(mlp.init)
    for i in range(3):
        member = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        assert_close(member, init(keys[i]), 1e-6)


@pytest.mark.parametrize(
    "stride, padding", [(1, "SAME"), (2, "VALID"), ((2, 1), 1), (1, ((1, 0), (0, 2)))]
)
def test_conv2d_matches_jax(stride, padding):
    rng = np.random.default_rng(7)
    conv = nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding)
    p = conv.init(tj.random.key(0))
    assert p["w"].shape == (4, 3, 3, 2) and p["b"].shape == (4,)
    strides = (stride,) * 2 if isinstance(stride, int) else stride
    pads = ((padding,) * 2,) * 2 if isinstance(padding, int) else padding

    def ref(p, x):
        y = jax.lax.conv_general_dilated(x, p["w"], strides, pads)
        return y + p["b"][:, None, None]

    x = rand(rng, (2, 3, 7, 6))
    check_forward(conv, ref, [p, x], tol=1e-4)
    assert_close(conv(p, x[0]), ref(p, x[:1])[0], 1e-4)
    if padding == "SAME":  # the conv rules themselves are covered in test_conv.py
        check_vjp(conv, ref, [p, x], tol=1e-4)
        check_vmap(conv, ref, [p, x[:, None]], in_axes=(None, 0), tol=1e-4)


def test_conv2d_init_is_lecun_over_receptive_field():
    w = np.asarray(nn.Conv2d(16, 32, 3).init(tj.random.key(0))["w"], np.float64)
    assert abs(w.var() * 16 * 9 - 1) < 0.08


def test_layer_norm_matches_jax():
    rng = np.random.default_rng(8)
    ln = nn.LayerNorm(6, eps=1e-3)
    p = ln.init(tj.random.key(0))
    assert_close(p, {"scale": np.ones(6, np.float32), "bias": np.zeros(6, np.float32)})
    p = {"scale": rand(rng, (6,)), "bias": rand(rng, (6,))}

    def ref(p, x):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + 1e-3) * p["scale"] + p["bias"]

    x = rand(rng, (2, 3, 6))
    check_forward(ln, ref, [p, x])
    check_vjp(ln, ref, [p, x], tol=1e-4)


def test_layers_are_immutable_and_hashable():
    layer = nn.Dense(2, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.in_features = 5
    assert hash(nn.MLP([2, 3])) == hash(nn.MLP((2, 3)))
    out = tj.jit(lambda layer, p, x: layer(p, x), static_argnums=0)(
        layer, layer.init(tj.random.key(0)), np.ones((1, 2), np.float32)
    )
    assert out.shape == (1, 3)


# --- pooling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "window, strides, padding",
    [
        (2, None, "VALID"),
        ((3, 3), (2, 2), "SAME"),
        ((2, 3), 1, ((1, 0), (0, 2))),
        ((3,), 2, "SAME"),
    ],
)
def test_pooling_matches_reduce_window(window, strides, padding):
    rng = np.random.default_rng(9)
    x = rand(rng, (2, 3, 7, 6))
    win = (window,) * 2 if isinstance(window, int) else window
    st = (
        win if strides is None else ((strides,) * len(win) if isinstance(strides, int) else strides)
    )

    def args(x):  # full-rank window params for this (possibly per-example) rank
        lead = x.ndim - len(win)
        pads = padding if isinstance(padding, str) else ((0, 0),) * lead + padding
        return (1,) * lead + win, (1,) * lead + st, pads

    def ref_max(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, *args(x))

    def ref_avg(x):
        return jax.lax.reduce_window(x, 0.0, jax.lax.add, *args(x)) / np.prod(win)

    for tj_f, ref in (
        (lambda x: nn.max_pool(x, window, strides, padding), ref_max),
        (lambda x: nn.avg_pool(x, window, strides, padding), ref_avg),
    ):
        check_forward(tj_f, ref, [x])
        check_vjp(tj_f, ref, [x])
        if isinstance(window, int):
            check_vmap(tj_f, ref, [x], in_axes=1)


def test_pooling_errors():
    x = np.ones((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="strides"):
        nn.max_pool(x, (2, 2), (1,))
    with pytest.raises(ValueError, match="does not fit"):
        nn.avg_pool(x, (1, 1, 1, 1, 2))
    with pytest.raises(ValueError, match="pair"):
        nn.max_pool(x, 2, padding=((1, 1),))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda: nn.Dense(3, 2)({"w": np.ones((3, 2)), "b": np.ones(2)}, np.ones((4, 5))),
            ValueError,
            r"Dense\(3, 2\): input f32\[4,5\] must have 3 features",
        ),
        (
            lambda: nn.Conv2d(3, 2, 3)(nn.Conv2d(3, 2, 3).init(tj.random.key(0)), np.ones((3, 3))),
            ValueError,
            "NCHW or CHW",
        ),
        (lambda: nn.MLP([3]), ValueError, "at least"),
        (
            lambda: nn.LayerNorm(4)(nn.LayerNorm(4).init(), np.ones((2, 3))),
            ValueError,
            "4 features",
        ),
        (lambda: nn.one_hot(np.array([1]), 2.5), TypeError, "static Python int"),
        (
            lambda: nn.cross_entropy(np.ones((2, 3)), np.ones((3,), np.int32)),
            ValueError,
            "integer labels",
        ),
        (lambda: nn.cross_entropy(np.ones((2, 3)), np.ones((2, 4))), ValueError, "shape"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
