"""tracejit.numpy elementwise functions vs jax.numpy: values (eager and jit) over
shapes and dtypes, jvp/vjp vs JAX, finite differences, and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import (
    assert_close,
    check_derivatives,
    check_forward,
    check_forward_cases,
    check_grad_fd,
    check_grad_fd_args,
    check_vjp,
    check_vmap,
    check_vmap_cases,
    rand,
)

import tracejit as tj
import tracejit.numpy as tnp

F32, I32, BOOL, BF16 = np.float32, np.int32, np.bool_, jnp.bfloat16

# name -> (domain (low, high), dtypes, differentiable)
UNARY = {
    "negative": ((-2, 2), [F32, I32, BF16], True),
    "positive": ((-2, 2), [F32, I32], True),
    "abs": ((-2, 2), [F32, I32, BF16], True),
    "sign": ((-2, 2), [F32, I32], False),
    "exp": ((-2, 2), [F32, BF16, I32], True),
    "exp2": ((-2, 2), [F32], True),
    "log": ((0.1, 3), [F32, BF16], True),
    "log2": ((0.1, 3), [F32], True),
    "log10": ((0.1, 3), [F32], True),
    "log1p": ((-0.5, 2), [F32], True),
    "expm1": ((-2, 2), [F32], True),
    "sqrt": ((0.1, 3), [F32, I32], True),
    "cbrt": ((0.1, 3), [F32], True),
    "square": ((-2, 2), [F32, I32], True),
    "reciprocal": ((0.5, 2), [F32], True),
    "sin": ((-3, 3), [F32, BF16, I32], True),
    "cos": ((-3, 3), [F32], True),
    "tan": ((-1, 1), [F32], True),
    "arcsin": ((-0.9, 0.9), [F32], True),
    "arccos": ((-0.9, 0.9), [F32], True),
    "arctan": ((-2, 2), [F32], True),
    "sinh": ((-2, 2), [F32], True),
    "cosh": ((-2, 2), [F32], True),
    "tanh": ((-2, 2), [F32, BF16], True),
    "arcsinh": ((-2, 2), [F32], True),
    "arccosh": ((1.2, 3), [F32], True),
    "arctanh": ((-0.9, 0.9), [F32], True),
    "floor": ((-3, 3), [F32, I32], False),
    "ceil": ((-3, 3), [F32, I32], False),
    "round": ((-3, 3), [F32, I32], False),
    "trunc": ((-3, 3), [F32, I32], False),
    "isfinite": ((-3, 3), [F32, I32], False),
    "isnan": ((-3, 3), [F32], False),
    "isinf": ((-3, 3), [F32], False),
    "logical_not": ((-2, 2), [BOOL, I32], False),
    "invert": ((-5, 5), [I32, BOOL], False),
    "deg2rad": ((-2, 2), [F32], True),
    "signbit": ((-2, 2), [F32, I32], False),
}

BINARY = {
    "add": ((-2, 2), [F32, I32, BF16, BOOL], True),
    "subtract": ((-2, 2), [F32, I32], True),
    "multiply": ((-2, 2), [F32, I32, BF16], True),
    "divide": ((0.5, 2), [F32, I32], True),
    "true_divide": ((0.5, 2), [F32], True),
    "floor_divide": ((-5, 5), [F32, I32], False),
    "remainder": ((-5, 5), [F32, I32], False),
    "mod": ((-5, 5), [I32], False),
    "power": ((0.5, 2), [F32], True),
    "arctan2": ((-2, 2), [F32], True),
    "maximum": ((-2, 2), [F32, I32, BOOL], True),
    "minimum": ((-2, 2), [F32, I32], True),
    "logical_and": ((-2, 2), [BOOL, I32], False),
    "logical_or": ((-2, 2), [BOOL], False),
    "logical_xor": ((-2, 2), [BOOL], False),
    "equal": ((-2, 2), [F32, I32, BOOL], False),
    "not_equal": ((-2, 2), [F32, I32], False),
    "less": ((-2, 2), [F32, I32], False),
    "less_equal": ((-2, 2), [F32, I32], False),
    "greater": ((-2, 2), [F32, I32], False),
    "greater_equal": ((-2, 2), [F32, I32], False),
    "bitwise_and": ((-9, 9), [I32, BOOL], False),
    "bitwise_or": ((-9, 9), [I32], False),
    "bitwise_xor": ((-9, 9), [I32], False),
    "left_shift": ((0, 5), [I32], False),
    "right_shift": ((0, 5), [I32], False),
    "hypot": ((-2, 2), [F32], True),
    "copysign": ((-2, 2), [F32], True),
    "logaddexp": ((-2, 2), [F32], True),
}

SHAPES = [(), (4,), (2, 3), (0, 3)]


def _args(rng, name, shapes, dtype, domain):
    return [rand(rng, s, dtype, *domain) for s in shapes]


# Each forward test runs every (dtype, shape) case in one compiled program per side
# (tj.jit and the JAX oracle); eagerly, every shape of the first dtype and one shape
# of each other dtype (the eager path is the same rule code for every dtype).
def _forward_cases(rng, dts, shape_sets, domain, eager_shapes):
    cases, labels, eager = [], [], []
    for d, dtype in enumerate(dts):
        for shapes in shape_sets:
            cases.append(_args(rng, None, shapes, dtype, domain))
            labels.append(f"{np.dtype(dtype).name} {shapes}")
            eager.append(d == 0 or shapes == eager_shapes)
    return cases, labels, eager


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward(name):
    domain, dts, _ = UNARY[name]
    rng = np.random.default_rng(hash(name) % 2**32)
    cases, labels, eager = _forward_cases(rng, dts, [[s] for s in SHAPES], domain, [(2, 3)])
    check_forward_cases(
        getattr(tnp, name), getattr(jnp, name), cases, labels=labels, eager=eager.__getitem__
    )


BINARY_SHAPES = [((), ()), ((4,), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((3,), ())]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward_with_broadcasting(name):
    domain, dts, _ = BINARY[name]
    rng = np.random.default_rng(hash(name) % 2**32)
    cases, labels, eager = _forward_cases(rng, dts, BINARY_SHAPES, domain, ((2, 3), (3,)))
    check_forward_cases(
        getattr(tnp, name), getattr(jnp, name), cases, labels=labels, eager=eager.__getitem__
    )


# Derivatives: jvp and vjp in one compiled program per side, vmap with every in_axes
# in one compiled program, and central differences (float64) through tj.jit.
@pytest.mark.parametrize("name", sorted(n for n, v in UNARY.items() if v[2]))
def test_unary_derivatives(name):
    domain, _, _ = UNARY[name]
    rng = np.random.default_rng(0)
    x = rand(rng, (5,), F32, *domain)
    f, jf = getattr(tnp, name), getattr(jnp, name)
    check_derivatives(f, jf, [x], tol=1e-4)
    check_vmap(f, jf, [rand(rng, (3, 5), F32, *domain)], in_axes=1, eager=False)
    check_grad_fd(lambda v: tnp.sum(f(v)), x, tol=1e-4, compiled=True)


@pytest.mark.parametrize("name", sorted(n for n, v in BINARY.items() if v[2]))
def test_binary_derivatives(name):
    domain, _, _ = BINARY[name]
    rng = np.random.default_rng(1)
    x, y = rand(rng, (2, 3), F32, *domain), rand(rng, (3,), F32, *domain)
    f, jf = getattr(tnp, name), getattr(jnp, name)
    check_derivatives(f, jf, [x, y], tol=1e-4)
    check_vmap_cases(
        f,
        jf,
        [
            ([x, y], (0, None)),
            ([x.T, y], (1, None)),
            ([x, rand(rng, (2, 3), F32, *domain)], (0, 0)),
        ],
    )
    check_grad_fd_args(lambda a, b: tnp.sum(f(a, b)), [x, y], tol=1e-4)


def test_ties_in_maximum_share_the_gradient_like_jax():
    x = np.array([1.0, 2.0, 3.0], F32)
    y = np.array([1.0, 1.0, 4.0], F32)
    for fn, jfn in [(tnp.maximum, jnp.maximum), (tnp.minimum, jnp.minimum)]:
        check_vjp(fn, jfn, [x, y], compiled=True)


def test_abs_at_zero_and_power_at_zero_match_jax():
    x = np.array([0.0, -1.0, 2.0], F32)
    check_vjp(tnp.abs, jnp.abs, [x], compiled=True)
    check_vjp(lambda a: tnp.power(a, 2.5), lambda a: jnp.power(a, 2.5), [x * x], compiled=True)
    check_vjp(lambda a: tnp.power(a, 3), lambda a: jnp.power(a, 3), [x], compiled=True)


def test_where_clip_and_weak_scalars():
    rng = np.random.default_rng(2)
    x, y = rand(rng, (2, 3)), rand(rng, (3,))
    check_forward(
        lambda c, a, b: tnp.where(c, a, b), lambda c, a, b: jnp.where(c, a, b), [x > 0, x, y]
    )
    check_vjp(lambda a, b: tnp.where(a > 0, a, b), lambda a, b: jnp.where(a > 0, a, b), [x, y])
    check_forward(lambda a: tnp.clip(a, -0.5, 0.5), lambda a: jnp.clip(a, -0.5, 0.5), [x])
    for s in [2, 2.5, True]:
        for arr in [x, x.astype(I32), x.astype(BF16)]:
            assert_close(tnp.multiply(arr, s), jnp.multiply(arr, s))


@pytest.mark.parametrize("name", ["sin", "multiply"])
def test_x64_mode_follows_jax(name):
    with jax.enable_x64(True):
        x = np.linspace(0.1, 1, 4)
        args = [x] if name == "sin" else [x, 2.0]
        out = getattr(tnp, name)(*args)
        assert out.dtype == np.float64
        assert_close(out, getattr(jnp, name)(*args))


def test_operators_on_tracers_match_jax():
    rng = np.random.default_rng(3)
    x, y = rand(rng, (3,), F32, 0.5, 2), rand(rng, (3,), F32, 0.5, 2)
    ops = lambda a, b: (
        a + b,
        a - b,
        a * b,
        a / b,
        a // b,
        a % b,
        a**b,
        -a,
        +a,
        abs(a),
        a < b,
        a <= b,
        a > b,
        a >= b,
        a == b,
        a != b,
        2.0 - a,
        2.0 / a,
        2**a,
    )
    assert_close(tj.jit(ops)(x, y), ops(jnp.asarray(x), jnp.asarray(y)))
    i, j = rand(rng, (3,), I32, 1, 9), rand(rng, (3,), I32, 1, 3)
    iops = lambda a, b: (a & b, a | b, a ^ b, ~a, a << b, a >> b)
    assert_close(tj.jit(iops)(i, j), iops(jnp.asarray(i), jnp.asarray(j)))


def test_errors_name_the_operation_and_operands():
    with pytest.raises(
        ValueError, match=r"add: incompatible shapes for broadcasting: \(3,\) and \(4,\)"
    ):
        tnp.add(np.ones(3, F32), np.ones(4, F32))
    with pytest.raises(
        TypeError, match=r"bitwise_and: expected integer or boolean operands, got f32\[3\]"
    ):
        tnp.bitwise_and(np.ones(3, F32), np.ones(3, F32))
    with pytest.raises(TypeError, match=r"add: argument 1 has type str|expected an array"):
        tnp.add(np.ones(3, F32), "x")
    with pytest.raises(
        TypeError, match=r"mul: operands must have equal dtypes, got f32\[3\] and i32\[3\]"
    ):
        tj.lax.mul(np.ones(3, F32), np.ones(3, I32))
