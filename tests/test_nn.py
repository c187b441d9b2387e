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
    check_derivatives,
    check_forward,
    check_forward_all,
    check_grad_fd_args,
    check_vjp,
    check_vmap,
    check_vmap_all,
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


# Every activation in one compiled program per side (forward; jvp and vjp; vmap), and
# each eagerly (forward): a few XLA compiles instead of dozens per activation.
ACT_X = rand(np.random.default_rng(0), (3, 5), low=-4, high=4)


def _activations(which, names=ACT_IDS):
    fns = {a[0]: a[which] for a in ACTIVATIONS if a[0] in names}
    return lambda xs: {k: f(xs[k]) for k, f in fns.items()}


def test_activation_forward():
    check_forward_all({name: (tj_f, jax_f, [ACT_X]) for name, tj_f, jax_f in ACTIVATIONS})


def test_activation_derivatives():
    xs = {name: ACT_X for name in ACT_IDS}
    check_derivatives(_activations(1), _activations(2), [xs])


def test_activation_vmap():
    xb = rand(np.random.default_rng(1), (3, 4, 5), low=-4, high=4)
    check_vmap_all(
        {
            name: (tj_f, jax_f, [xb], 1)
            for name, tj_f, jax_f in ACTIVATIONS
            if name.startswith(("soft", "log_soft", "logsumexp", "relu"))  # axis-aware or selects
        }
    )


EXTREME = [a for a in ACTIVATIONS if a[0] in (
    "softplus", "log_sigmoid", "sigmoid", "silu", "gelu_exact", "softmax", "log_softmax_axes",
    "logsumexp", "logsumexp_axis")]  # fmt: skip


def test_activation_extreme_inputs_stay_finite():
    """Logits of ±1e4: values (eager and jit) and gradients (jit) are finite and equal
    JAX's; every activation in one compiled program per side."""
    x = np.array([[1e4, -1e4, 0.5, 3.0, -2.0], [-1e4, -1e4, 1e4, 1e4, 0.0]], np.float32)

    def loss(f, np_):
        def weighted(x):
            y = f(x)
            return np_.sum(y * np.arange(np.size(y), dtype=np.float32).reshape(np.shape(y)))

        return weighted

    def program(which, grad, np_):
        return lambda x: {a[0]: (a[which](x), grad(loss(a[which], np_))(x)) for a in EXTREME}

    expected = jax.jit(program(2, jax.grad, jnp))(x)
    got = tj.jit(program(1, tj.grad, tnp))(x)
    for name, tj_f, _ in EXTREME:
        out = tj_f(x)
        assert_close(out, expected[name][0], 1e-5, f"{name} eager")
        assert_close(got[name], expected[name], 1e-5, f"{name} jit (value, grad)")
        assert np.all(np.isfinite(np.asarray(out))), name
        assert np.all(np.isfinite(np.asarray(got[name][1]))), name


def test_activation_dtypes_and_ints():
    x = rand(np.random.default_rng(1), (4,), jnp.bfloat16)
    expected = jax.jit(lambda x: [jax_f(x) for _, _, jax_f in ACTIVATIONS[:8]])(x)
    for (name, tj_f, _), e in zip(ACTIVATIONS[:8], expected):
        assert_close(tj_f(x), e, 5e-2, name)
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
    check_grad_fd_args(
        lambda v, w: (
            tnp.sum(nn.log_softmax(v) * v) + tnp.sum(nn.gelu(w) + nn.softplus(w) + nn.silu(w))
        ),
        [x, x],
    )


def test_one_hot():
    labels = np.array([[0, 2, 5], [-1, 1, 4]], np.int32)  # 5 and -1 are out of range
    check_forward_all(
        {
            f"{axis}-{np.dtype(dtype).name}": (
                lambda y, axis=axis, dtype=dtype: nn.one_hot(y, 5, dtype, axis),
                lambda y, axis=axis, dtype=dtype: jax.nn.one_hot(y, 5, dtype=dtype, axis=axis),
                [labels],
            )
            for axis, dtype in [(-1, np.float32), (0, np.int32), (1, jnp.bfloat16)]
        }
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
    # Integer, one-hot and soft labels: value and gradient in one compiled program per
    # side; the values eagerly too.
    ys = {"int": labels, "one_hot": np.asarray(jax.nn.one_hot(labels, shape[-1])), "soft": soft}

    def program(ce, grad):
        return lambda lg, ys: {k: (ce(lg, y), grad(ce)(lg, y)) for k, y in ys.items()}

    expected = jax.jit(program(_jax_xent, jax.grad))(logits, ys)
    got = tj.jit(program(nn.cross_entropy, tj.grad))(logits, ys)
    for k, y in ys.items():
        assert_close(nn.cross_entropy(logits, y), expected[k][0], tol, f"{k} eager")
        assert_close(got[k][0], expected[k][0], tol, f"{k} jit")
        assert np.all(np.isfinite(np.asarray(got[k][1]))), k
        assert_close(got[k][1], expected[k][1], 1e-5, f"{k} grad")


def test_cross_entropy_masked_logits():
    """-inf logits away from the label give a finite loss (a select, not 0 * -inf)."""
    logits = np.array([[0.0, -np.inf, 1.0]], np.float32)
    assert_close(nn.cross_entropy(logits, np.array([2])), _jax_xent(logits, np.array([2])))


def test_cross_entropy_under_vmap_and_jit():
    rng = np.random.default_rng(4)
    logits, labels = rand(rng, (3, 4, 6)), rng.integers(0, 6, (3, 4)).astype(np.int32)
    check_vmap(nn.cross_entropy, _jax_xent, [logits, labels], eager=False)


def test_mse():
    rng = np.random.default_rng(5)
    p, t = rand(rng, (4, 3)), rand(rng, (4, 3))
    ref = lambda p, t: jnp.mean((p - t) ** 2)  # noqa: E731
    check_forward(nn.mse, ref, [p, t])
    check_vjp(nn.mse, ref, [p, t], compiled=True)
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


@pytest.mark.parametrize(
    "shape, axes",
    [
        ((30, 20), {}),
        ((8, 3, 5, 5), dict(in_axis=1, out_axis=0)),
        ((4, 6, 7), dict(in_axis=(0, 1), out_axis=2)),
    ],
    ids=["dense", "oihw", "multi_axis"],
)
def test_initializer_equals_jax(shape, axes):
    """Same key, same weights: every initializer in one compiled program per side, and
    eagerly on the dense shape."""
    key, jkey = tj.random.key(5), jax.random.PRNGKey(5)
    expected = jax.jit(
        lambda k: {n: getattr(jax.nn.initializers, n)(**axes)(k, shape) for n in INITS}
    )(jkey)
    got = tj.jit(lambda k: {n: getattr(nn, n)(k, shape, **axes) for n in INITS})(key)
    assert_close(got, expected, 1e-6, "jit")
    if not axes:
        for n in INITS:
            assert_close(getattr(nn, n)(key, shape), expected[n], 1e-6, f"{n} eager")


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
    mlp = nn.MLP([3, 8, 2], activation=nn.tanh)
    params = tj.jit(mlp.init)(tj.random.key(1))  # (Dense.init above runs eagerly)
    assert isinstance(params, list) and len(params) == 2
    ref = lambda p, x: _mlp_jax(p, x, jnp.tanh)  # noqa: E731
    check_forward_all(
        {
            "dense": (dense, lambda p, x: x @ p["w"] + p["b"], [p, x]),
            "mlp": (mlp, ref, [params, x]),
        }
    )
    check_vjp(mlp, ref, [params, x], compiled=True)
    # Per-example gradients: vmap of grad over the batch, params shared.
    loss = lambda f: lambda p, x: (f(p, x) ** 2).sum()  # noqa: E731
    expected = jax.jit(jax.vmap(jax.grad(loss(ref)), (None, 0)))(params, x)
    assert_close(tj.jit(tj.vmap(tj.grad(loss(mlp)), (None, 0)))(params, x), expected, 1e-5)


def test_mlp_ensemble_init_under_vmap():
    mlp = nn.MLP([2, 4, 1])
    keys = tj.random.split(tj.random.key(0), 3)
    stacked = tj.jit(tj.vmap(mlp.init))(keys)
    init = tj.jit(mlp.init)
    for i in range(3):
        member = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        assert_close(member, init(keys[i]), 1e-6)


CONV2D = [(1, "SAME"), (2, "VALID"), ((2, 1), 1), (1, ((1, 0), (0, 2)))]


def test_conv2d_matches_jax():
    """Every stride/padding form, batched (NCHW) and not (CHW), in one compiled program
    per side and eagerly; vjp and vmap (compiled) of the SAME one."""
    rng = np.random.default_rng(7)
    x = rand(rng, (2, 3, 7, 6))
    cases = {}
    for stride, padding in CONV2D:
        conv = nn.Conv2d(3, 4, (3, 2), stride=stride, padding=padding)
        p = conv.init(tj.random.key(0))
        assert p["w"].shape == (4, 3, 3, 2) and p["b"].shape == (4,)
        strides = (stride,) * 2 if isinstance(stride, int) else stride
        pads = ((padding,) * 2,) * 2 if isinstance(padding, int) else padding

        def ref(p, x, strides=strides, pads=pads):
            y = jax.lax.conv_general_dilated(x, p["w"], strides, pads)
            return y + p["b"][:, None, None]

        cases[f"{stride}-{padding}"] = (conv, ref, [p, x])
        cases[f"{stride}-{padding} CHW"] = (
            conv,
            lambda p, x, ref=ref: ref(p, x[None])[0],
            [p, x[0]],
        )
    check_forward_all(cases, tol=1e-4)
    # The conv rules themselves are covered in test_conv.py.
    conv, ref, (p, _) = cases["1-SAME"]
    check_vjp(conv, ref, [p, x], tol=1e-4, compiled=True)
    check_vmap(conv, ref, [p, x[:, None]], in_axes=(None, 0), tol=1e-4, eager=False)


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
    check_vjp(ln, ref, [p, x], tol=1e-4, compiled=True)


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

    pools = {
        "max_pool": (lambda x: nn.max_pool(x, window, strides, padding), ref_max),
        "avg_pool": (lambda x: nn.avg_pool(x, window, strides, padding), ref_avg),
    }
    # Both pools in one compiled program per side (forward, vjp, vmap).
    check_forward_all({k: (f, ref, [x]) for k, (f, ref) in pools.items()})
    check_vjp(
        lambda x: {k: f(x) for k, (f, _) in pools.items()},
        lambda x: {k: ref(x) for k, (_, ref) in pools.items()},
        [x],
        compiled=True,
    )
    if isinstance(window, int):
        check_vmap_all({k: (f, ref, [x], 1) for k, (f, ref) in pools.items()})


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
