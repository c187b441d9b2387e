"""Convolution and windowed reductions (pooling) against JAX: forward (eager
and jit), jvp, vjp, vmap (one batched primitive), second order, and errors."""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import (
    assert_close,
    check_derivatives,
    check_forward,
    check_forward_all,
    check_grad_fd,
    check_jvp,
    check_vjp,
    check_vmap_all,
    rand,
    validate,
)

import tracejit as tj
from tracejit.ir import count_eqns

TOL = 2e-4

# --- conv_general_dilated -------------------------------------------------------------

# (id, lhs shape, rhs shape, kwargs for conv_general_dilated)
CONV_SPECS = [
    ("same", (2, 3, 6, 5), (4, 3, 3, 3), dict(window_strides=(1, 1), padding="SAME")),
    (
        "strided_padded_rhs_dilated",
        (2, 3, 9, 7),
        (4, 3, 3, 2),
        dict(window_strides=(2, 1), padding=((1, 2), (0, 1)), rhs_dilation=(1, 2)),
    ),
    (
        "lhs_dilated",
        (1, 2, 4, 5),
        (3, 2, 2, 3),
        dict(window_strides=(1, 2), padding=((1, 1), (2, 0)), lhs_dilation=(2, 1)),
    ),
    ("valid_stride3", (2, 2, 8, 7), (3, 2, 2, 2), dict(window_strides=(3, 3), padding="VALID")),
    (
        "feature_groups",
        (2, 4, 5, 5),
        (6, 2, 3, 3),
        dict(window_strides=(1, 1), padding="SAME", feature_group_count=2),
    ),
    (
        "depthwise",
        (1, 3, 5, 4),
        (3, 1, 2, 2),
        dict(window_strides=(1, 1), padding="VALID", feature_group_count=3),
    ),
    (
        "batch_groups",
        (4, 2, 5, 5),
        (6, 2, 3, 3),
        dict(window_strides=(1, 1), padding="VALID", batch_group_count=2),
    ),
    (
        "nhwc_hwio",
        (2, 6, 5, 3),
        (3, 3, 3, 4),
        dict(window_strides=(1, 2), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")),
    ),
    ("conv1d", (3, 2, 9), (4, 2, 3), dict(window_strides=(2,), padding=((2, 1),))),
    ("conv3d", (1, 2, 4, 3, 4), (2, 2, 2, 2, 2), dict(window_strides=(1, 1, 2), padding="SAME")),
]
CONV_IDS = [s[0] for s in CONV_SPECS]


def _conv_pair(kwargs):
    def tj_f(lhs, rhs):
        return tj.lax.conv_general_dilated(lhs, rhs, **kwargs)

    def jax_f(lhs, rhs):
        return jax.lax.conv_general_dilated(lhs, rhs, **kwargs)

    return tj_f, jax_f


def _conv_args(spec, seed=0, dtype=np.float32):
    _, ls, rs, _ = spec
    rng = np.random.default_rng(seed)
    return [rand(rng, ls, dtype), rand(rng, rs, dtype)]


# Every spec in one compiled program per side (and each eagerly).
def test_conv_forward():
    cases = {spec[0]: (*_conv_pair(spec[3]), _conv_args(spec)) for spec in CONV_SPECS}
    check_forward_all(cases, tol=TOL)


def test_conv_forward_dtypes():
    spec = CONV_SPECS[1]
    tj_f, jax_f = _conv_pair(spec[3])
    check_forward(tj_f, jax_f, _conv_args(spec, dtype=np.int32))
    pref = CONV_SPECS[0]
    bf16 = {
        "bf16": (tj_f, jax_f, _conv_args(spec, dtype=jnp.bfloat16)),
        "preferred_element_type": (
            *_conv_pair(dict(pref[3], preferred_element_type=np.float32)),
            _conv_args(pref, dtype=jnp.bfloat16),
        ),
    }
    check_forward_all(bf16, tol=0.1)


def _all_specs(which):
    """One function of every spec's (lhs, rhs), returning every spec's conv by id."""
    fns = {spec[0]: _conv_pair(spec[3])[which] for spec in CONV_SPECS}
    return lambda args: {k: f(*args[k]) for k, f in fns.items()}


def test_conv_derivatives():
    """jvp and vjp of every spec, in one compiled program per side."""
    args = {spec[0]: _conv_args(spec) for spec in CONV_SPECS}
    check_derivatives(_all_specs(0), _all_specs(1), [args], tol=TOL)


# Every batching branch: both operands batched, only the lhs, only the kernel; the
# grouped specs take all three (their branches differ), the others one each.
IN_AXES = [(0, 0), (1, None), (None, 2)]
GROUPED = ("feature_groups", "depthwise", "batch_groups")
VMAP_CASES = [
    pytest.param(spec, axes, id=f"{spec[0]}-{axes}")
    for i, spec in enumerate(CONV_SPECS)
    for axes in (IN_AXES if spec[0] in GROUPED else [IN_AXES[i % 3]])
]


def test_conv_vmap_is_one_conv():
    """Every batching case against jax.vmap (one compiled program per side); each
    batched conv is one conv_general_dilated equation."""
    rng = np.random.default_rng(1)
    cases = {}
    for case in VMAP_CASES:
        spec, in_axes = case.values
        tj_f, jax_f = _conv_pair(spec[3])
        args = []
        for shape, ax in zip(spec[1:3], in_axes, strict=True):
            if ax is None:
                args.append(rand(rng, shape))
            else:
                args.append(rand(rng, (*shape[:ax], 3, *shape[ax:])))
        cases[case.id] = (tj_f, jax_f, args, in_axes)
        ir = validate(tj.vmap(tj_f, in_axes=in_axes), *args)
        assert [e.prim.name for e in ir.eqns].count("conv_general_dilated") == 1, case.id
    check_vmap_all(cases, tol=TOL)


def test_conv_grad_of_vmap_and_vmap_of_grad():
    """Per-example kernel gradients (vmap of grad) and grad through a vmapped conv."""
    spec = CONV_SPECS[4]
    tj_f, jax_f = _conv_pair(spec[3])
    lhs, rhs = _conv_args(spec)
    xs = rand(np.random.default_rng(2), (3, *lhs.shape))

    def per_example(f, grad):
        return lambda w, x: grad(lambda w: (f(x, w) ** 2).sum())(w)

    batched_loss = lambda v, f: lambda w, x: (v(f, (0, None))(x, w) ** 2).sum()  # noqa: E731

    def both(jit, vmap, grad, f):  # one compiled program per side
        return jit(
            lambda w, x: (
                vmap(per_example(f, grad), (None, 0))(w, x),
                grad(batched_loss(vmap, f))(w, x),
            )
        )

    expected = both(jax.jit, jax.vmap, jax.grad, jax_f)(rhs, xs)
    got = both(tj.jit, tj.vmap, tj.grad, tj_f)(rhs, xs)
    assert_close(got[0], expected[0], TOL, "vmap(grad)")
    assert_close(got[1], expected[1], TOL, "grad(vmap)")


def test_conv_second_order():
    """Hessian-vector products: forward over reverse, both operands."""
    spec = CONV_SPECS[1]
    tj_f, jax_f = _conv_pair(spec[3])
    args = _conv_args(spec)

    def loss(f):
        return lambda lhs, rhs: (
            jnp.tanh(f(lhs, rhs)) if f is jax_f else tj.numpy.tanh(f(lhs, rhs))
        ).sum()

    g_tj = tj.grad(loss(tj_f), argnums=(0, 1))
    g_jax = jax.grad(loss(jax_f), argnums=(0, 1))
    check_jvp(g_tj, g_jax, args, tol=1e-3, compiled=True)


def test_conv_grad_matches_finite_differences():
    rhs = rand(np.random.default_rng(3), (2, 2, 2, 2)).astype(np.float64)

    def f(x):
        y = tj.lax.conv_general_dilated(x, rhs, (2, 1), ((1, 0), (0, 1)), rhs_dilation=(1, 2))
        return tj.numpy.sum(tj.numpy.sin(y))

    check_grad_fd(f, rand(np.random.default_rng(4), (1, 2, 5, 4)), compiled=True)


@pytest.mark.parametrize(
    "lhs_shape, rhs_shape, kwargs, exc, match",
    [
        ((1, 3, 5, 5), (4, 2, 3, 3), {}, TypeError, "input features"),
        ((1, 3, 5, 5), (4, 3, 3), {}, TypeError, "equal ranks"),
        ((1, 3, 5, 5), (4, 3, 3, 3), dict(padding="FULL"), ValueError, "unknown padding"),
        ((1, 3, 5, 5), (4, 3, 3, 3), dict(padding=((1, 1),)), ValueError, "pairs"),
        ((1, 3, 5, 5), (4, 3, 3, 3), dict(window_strides=(1,)), ValueError, "window_strides"),
        ((1, 3, 5, 5), (4, 3, 3, 3), dict(lhs_dilation=(2, 2)), ValueError, "lhs_dilation"),
        (
            (1, 3, 5, 5),
            (4, 3, 3, 3),
            dict(dimension_numbers=("NCHW", "OIHW", "NCH")),
            TypeError,
            "do not match operands of rank 4",
        ),
        (
            (1, 3, 5, 5),
            (4, 3, 3, 3),
            dict(dimension_numbers=("NCHW", "OIHW", "NCHX")),
            TypeError,
            "spatial characters",
        ),
        (
            (1, 3, 5, 5),
            (4, 3, 3, 3),
            dict(dimension_numbers=("NCHW", "OIHW", "NNHW")),
            TypeError,
            "exactly once",
        ),
        (
            (1, 4, 5, 5),
            (3, 2, 3, 3),
            dict(feature_group_count=2),
            TypeError,
            "multiple of feature_group_count",
        ),
    ],
)
def test_conv_errors(lhs_shape, rhs_shape, kwargs, exc, match):
    kwargs = {"window_strides": (1, 1), "padding": "SAME", **kwargs}
    if kwargs.get("lhs_dilation"):
        kwargs["padding"] = "SAME"
    lhs, rhs = np.ones(lhs_shape, np.float32), np.ones(rhs_shape, np.float32)
    with pytest.raises(exc, match=match):
        tj.lax.conv_general_dilated(lhs, rhs, **kwargs)


def test_conv_error_names_shapes_and_dtypes():
    with pytest.raises(TypeError, match=r"conv_general_dilated.*f32\[1,3,5,5\].*i32\[4,3,3,3\]"):
        tj.lax.conv_general_dilated(
            np.ones((1, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3), np.int32), (1, 1), "SAME"
        )


def test_conv_ir_is_one_equation():
    x, w = np.ones((1, 2, 4, 4), np.float32), np.ones((3, 2, 3, 3), np.float32)
    ir = tj.make_ir(lambda x, w: tj.lax.conv(x, w, (1, 1), "SAME"))(x, w)
    assert count_eqns(ir) == 1
    assert "conv_general_dilated" in str(ir)


# --- reduce_window family ---------------------------------------------------------------

# (id, operand shape, window, strides, padding, base_dilation, window_dilation)
WINDOW_SPECS = [
    ("pool2x2", (2, 3, 6, 6), (1, 1, 2, 2), (1, 1, 2, 2), "VALID", None, None),
    ("overlap_same", (2, 2, 5, 7), (1, 1, 3, 3), (1, 1, 2, 2), "SAME", None, None),
    ("pairs", (3, 7), (2, 3), (1, 2), ((1, 0), (2, 1)), None, None),
    ("base_dilated", (2, 5, 4), (1, 2, 2), (1, 1, 2), ((0, 0), (1, 1), (0, 1)), (1, 2, 1), None),
    ("window_dilated", (2, 8, 6), (1, 2, 2), (1, 1, 1), "VALID", None, (1, 2, 3)),
    ("vector", (9,), (3,), (2,), ((1, 1),), None, None),
]
WINDOW_IDS = [s[0] for s in WINDOW_SPECS]
MONOIDS = {
    "sum": (tj.lax.reduce_window_sum, jax.lax.add, 0.0),
    "max": (tj.lax.reduce_window_max, jax.lax.max, -np.inf),
    "min": (tj.lax.reduce_window_min, jax.lax.min, np.inf),
}


def _window_pair(kind, spec):
    _, _, window, strides, padding, base, wdil = spec
    tj_fn, op, init = MONOIDS[kind]

    def tj_f(x):
        return tj_fn(x, window, strides, padding, base, wdil)

    def jax_f(x):
        return jax.lax.reduce_window(
            x, np.asarray(init, x.dtype), op, window, strides, padding, base, wdil
        )

    return tj_f, jax_f


@pytest.mark.parametrize("kind", list(MONOIDS))
def test_reduce_window(kind):
    """Every window spec: forward (eager and one jit program), jvp and vjp (one
    compiled program per side), vmap (one compiled program per side)."""
    pairs = {spec[0]: _window_pair(kind, spec) for spec in WINDOW_SPECS}
    xs = {spec[0]: rand(np.random.default_rng(0), spec[1]) for spec in WINDOW_SPECS}
    check_forward_all({k: (*pairs[k], [xs[k]]) for k in pairs})
    # JAX has no VJP of a dilated-window max/min either: forward mode only there.
    no_vjp = {"window_dilated"} if kind != "sum" else set()

    def all_of(which, names):
        return lambda a: {k: pairs[k][which](a[k]) for k in names}

    rev = [k for k in pairs if k not in no_vjp]
    check_derivatives(all_of(0, rev), all_of(1, rev), [{k: xs[k] for k in rev}])
    if no_vjp:
        fwd_only = sorted(no_vjp)
        check_jvp(
            all_of(0, fwd_only), all_of(1, fwd_only), [{k: xs[k] for k in fwd_only}], compiled=True
        )
    batched = {
        spec[0]: (
            *pairs[spec[0]],
            [rand(np.random.default_rng(1), (*spec[1][:1], 3, *spec[1][1:]))],
            1,
        )
        for spec in WINDOW_SPECS
    }
    check_vmap_all(batched)


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_reduce_window_int(kind):
    spec = WINDOW_SPECS[1]
    tj_f, _ = _window_pair(kind, spec)
    x = rand(np.random.default_rng(0), spec[1], np.int32)
    op, init = MONOIDS[kind][1], np.iinfo(np.int32).min if kind == "max" else 0
    expected = jax.lax.reduce_window(x, np.int32(init), op, *spec[2:5])
    assert_close(tj_f(x), expected)
    assert_close(tj.jit(tj_f)(x), expected)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
def test_pool_per_example_grads_and_second_order(kind):
    """vmap of grad (select_and_scatter_add batching) and jvp of grad (its jvp)."""
    spec = WINDOW_SPECS[1]
    tj_f, jax_f = _window_pair(kind, spec)

    def loss(f, np_):
        return lambda x: (np_.sin(f(x)) ** 2).sum()

    xs = rand(np.random.default_rng(5), (3, *spec[1]))
    expected = jax.jit(jax.vmap(jax.grad(loss(jax_f, jnp))))(xs)
    assert_close(tj.jit(tj.vmap(tj.grad(loss(tj_f, tj.numpy))))(xs), expected, TOL)
    check_derivatives(tj.grad(loss(tj_f, tj.numpy)), jax.grad(loss(jax_f, jnp)), [xs[0]], tol=1e-3)


def test_max_pool_grad_matches_finite_differences():
    def f(x):
        return tj.numpy.sum(
            tj.numpy.tanh(
                tj.lax.reduce_window_max(x, (1, 2, 2), (1, 2, 1), ((0, 0), (1, 0), (0, 1)))
            )
        )

    check_grad_fd(f, rand(np.random.default_rng(6), (2, 5, 4)), compiled=True)


def test_reduce_window_generic_entry_point():
    x = rand(np.random.default_rng(0), (4, 6))
    for op, init, jop in (
        (tj.lax.add, 0.0, jax.lax.add),
        (jax.lax.max, -np.inf, jax.lax.max),
        (operator.add, 0.0, jax.lax.add),
        (tj.lax.min, np.inf, jax.lax.min),
    ):
        out = tj.lax.reduce_window(x, np.float32(init), op, (2, 3), (1, 2), "SAME")
        assert_close(out, jax.lax.reduce_window(x, np.float32(init), jop, (2, 3), (1, 2), "SAME"))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda x: tj.lax.reduce_window(x, 1.0, tj.lax.add, (2, 2), (1, 1), "VALID"),
            ValueError,
            "identity of sum",
        ),
        (
            lambda x: tj.lax.reduce_window(x, 1.0, tj.lax.mul, (2, 2), (1, 1), "VALID"),
            TypeError,
            "not supported",
        ),
        (
            lambda x: tj.lax.reduce_window_max(x, (2,), (1,), "VALID"),
            TypeError,
            r"window_dimensions=\(2,\) needs one entry per dimension of f32\[4,6\]",
        ),
        (lambda x: tj.lax.reduce_window_sum(x, (2, 2), (1, 0), "VALID"), ValueError, ">= 1"),
        (
            lambda x: tj.lax.reduce_window_sum(x, (2, 2), (1, 1), "HALF"),
            ValueError,
            "unknown padding",
        ),
        (
            lambda x: tj.grad(
                lambda x: tj.numpy.sum(
                    tj.lax.reduce_window_max(x, (2, 2), (1, 1), "VALID", None, (2, 1))
                )
            )(x),
            ValueError,
            "window_dilation",
        ),
    ],
)
def test_reduce_window_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.ones((4, 6), np.float32))


def test_reduce_window_sum_transpose_with_large_padding():
    """Padding beyond the window (whole windows of padding) transposes correctly."""
    f_tj = functools.partial(
        tj.lax.reduce_window_sum,
        window_dimensions=(1, 2),
        window_strides=(1, 1),
        padding=((0, 0), (3, 2)),
    )
    f_jax = lambda x: jax.lax.reduce_window(
        x,
        0.0,
        jax.lax.add,
        (1, 2),
        (1, 1),  # noqa: E731
        ((0, 0), (3, 2)),
    )
    check_vjp(f_tj, f_jax, [rand(np.random.default_rng(0), (2, 3))], compiled=True)
