"""tnp array creation against jax.numpy: values, dtypes and weak types (eager
and jit), derivatives and vmap where the result depends on array inputs, IR
built under a trace, and error messages."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, check_forward, check_jvp, check_vjp, check_vmap, rand

import tracejit as tj
import tracejit.numpy as tnp

F32, I32, BOOL, BF16 = np.float32, np.int32, np.bool_, jnp.bfloat16


def _same_type(out, ref) -> None:
    out_leaves, ref_leaves = jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)
    for o, r in zip(out_leaves, ref_leaves, strict=True):
        assert isinstance(o, jax.Array), type(o)
        assert (o.dtype, o.weak_type, o.shape) == (r.dtype, r.weak_type, r.shape)


# --- constructors without array inputs: one entry per call, ``make(module)`` ------------------

J4, J2F = jnp.asarray(4), jnp.asarray(2.0)  # jax.Array arguments (made outside any trace)

NO_INPUT = {
    "zeros": lambda m: m.zeros((2, 3)),
    "zeros_int_shape": lambda m: m.zeros(3, I32),
    "zeros_0d_bool": lambda m: m.zeros((), BOOL),
    "zeros_empty_bf16": lambda m: m.zeros((0, 2), BF16),
    "ones": lambda m: m.ones((2, 3)),
    "ones_i32": lambda m: m.ones(4, dtype=I32),
    "ones_bool": lambda m: m.ones([2], BOOL),
    "empty": lambda m: m.empty((2, 2)),
    "full_weak": lambda m: m.full((2, 3), 2.5),
    "full_int": lambda m: m.full(3, 7),
    "full_dtype": lambda m: m.full(3, 7, I32),
    "full_bool": lambda m: m.full((2, 2), True),
    "full_bf16": lambda m: m.full((2,), 1.5, BF16),
    "full_numpy_scalar": lambda m: m.full((2,), np.float32(3)),
    "full_broadcast": lambda m: m.full((2, 3), np.array([1.0, 2.0, 3.0], np.float32)),
    "full_int_array": lambda m: m.full((2, 2), np.array([1, 2], np.int32)),
    "eye": lambda m: m.eye(3),
    "eye_rect_k": lambda m: m.eye(2, 4, k=1),
    "eye_neg_k": lambda m: m.eye(4, 3, k=-2, dtype=I32),
    "eye_bool": lambda m: m.eye(3, dtype=BOOL),
    "eye_empty": lambda m: m.eye(0),
    "identity": lambda m: m.identity(3, BF16),
    "tri": lambda m: m.tri(3),
    "tri_rect": lambda m: m.tri(2, 4, k=1, dtype=I32),
    "arange": lambda m: m.arange(5),
    "arange_start": lambda m: m.arange(2, 7),
    "arange_float_step": lambda m: m.arange(1, 3.5, 0.5),
    "arange_float": lambda m: m.arange(5.0),
    "arange_negative_step": lambda m: m.arange(10, 2, -3),
    "arange_empty": lambda m: m.arange(0),
    "arange_backwards_empty": lambda m: m.arange(5, 2),
    "arange_dtype": lambda m: m.arange(3, dtype=F32),
    "arange_bf16": lambda m: m.arange(1, 10, 2, dtype=BF16),
    "arange_numpy_int8": lambda m: m.arange(np.int8(5)),
    "arange_jax_array": lambda m: m.arange(J4),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace_no_endpoint": lambda m: m.linspace(2.0, 10.0, 7, endpoint=False),
    "linspace_int": lambda m: m.linspace(0, 10, 5, dtype=I32),
    "linspace_one": lambda m: m.linspace(0, 1, 1),
    "linspace_zero": lambda m: m.linspace(0, 1, 0),
    "linspace_arrays_axis": lambda m: m.linspace(np.array([0.0, 1.0]), 5.0, 4, axis=-1),
    "linspace_retstep": lambda m: m.linspace(0, 1, 4, retstep=True),
    "linspace_one_retstep": lambda m: m.linspace(0, 1, 1, endpoint=False, retstep=True),
    "linspace_bf16": lambda m: m.linspace(-1, 1, 9, dtype=BF16),
    "meshgrid_xy": lambda m: m.meshgrid(np.arange(3.0), np.arange(2), np.arange(4.0)),
    "meshgrid_ij_sparse": lambda m: m.meshgrid(np.arange(3), np.ones(2), indexing="ij",
                                               sparse=True),
    "array_list": lambda m: m.array([1, 2.0, 3]),
    "array_nested": lambda m: m.array([[1, 2], [3, 4]], dtype=BF16),
    "array_mixed": lambda m: m.array([np.float32(1), J2F, 3]),
    "array_int8_list": lambda m: m.array([np.int8(1), 2]),
    "array_empty": lambda m: m.asarray([]),
    "array_ndmin": lambda m: m.array(2.0, ndmin=2),
    "asarray_scalar": lambda m: m.asarray(2),
    "asarray_bool": lambda m: m.asarray(True),
    "asarray_float64": lambda m: m.asarray(np.arange(3.0)),
    "asarray_dtype": lambda m: m.asarray(np.arange(3), dtype=BF16),
    "asarray_weak_to_strong": lambda m: m.asarray(jnp.asarray(1.0), dtype=F32),
}  # fmt: skip


@pytest.mark.parametrize("name", list(NO_INPUT))
def test_no_input_constructors(name):
    make = NO_INPUT[name]
    out, ref = make(tnp), make(jnp)
    assert_close(out, ref, what=name)
    _same_type(out, ref)
    assert_close(tj.jit(lambda: make(tnp))(), ref, what=f"jit {name}")


def test_constructors_in_a_trace_emit_ir_not_constants():
    def f():
        return (tnp.arange(1000) + tnp.zeros(1000, I32), tnp.eye(500), tnp.linspace(0, 1, 1000),
                tnp.tril(tnp.ones((300, 300))), tnp.full((400,), 2.0))  # fmt: skip

    cir = tj.make_ir(f)()
    assert not cir.consts
    assert {e.prim.name for e in cir.eqns} <= {
        "iota", "broadcast_in_dim", "add", "mul", "div", "sub", "eq", "ge", "convert_element_type",
        "select_n", "reshape", "concatenate",
    }  # fmt: skip
    cir.check()


def test_x64_mode_canonicalization():
    with jax.enable_x64(True):
        makes = [lambda m: m.asarray(np.arange(3.0)), lambda m: m.arange(3),
                 lambda m: m.zeros(2), lambda m: m.asarray(1.0), lambda m: m.eye(2)]  # fmt: skip
        for make in makes:
            _same_type(make(tnp), make(jnp))
    _same_type(tnp.asarray(np.arange(3.0)), jnp.asarray(np.arange(3.0)))


# --- constructors with array inputs: forward over dtypes, derivatives, vmap ------------------

LIKE = {
    "zeros_like": lambda m: m.zeros_like,
    "ones_like_dtype": lambda m: lambda x: m.ones_like(x, dtype=I32),
    "full_like": lambda m: lambda x: m.full_like(x, 3),
    "full_like_shape": lambda m: lambda x: m.full_like(x, 2.5, shape=(2,)),
    "empty_like": lambda m: m.empty_like,
    "tril": lambda m: m.tril,
    "triu_k": lambda m: lambda x: m.triu(x, k=1),
    "tril_neg_k": lambda m: lambda x: m.tril(x, -1),
    "asarray": lambda m: m.asarray,
    "astype": lambda m: lambda x: m.asarray(x, dtype=BF16),
    "array_of_traced": lambda m: lambda x: m.array([[x[0, 0], 2], [x[1, 1], x[0, 1]]]),
}
LIKE_SHAPES = [(3, 4), (2, 3, 3), (0, 2)]


def _like_cases():
    dtypes = (F32, I32, BOOL, BF16)
    for i, name in enumerate(LIKE):
        for dtype in (F32, dtypes[1 + i % 3]):
            shape = LIKE_SHAPES[i % len(LIKE_SHAPES)]
            if name == "array_of_traced":
                shape = (2, 2)
            yield pytest.param(name, dtype, shape, id=f"{name}-{np.dtype(dtype).name}-{shape}")


@pytest.mark.parametrize("name,dtype,shape", list(_like_cases()))
def test_like_forward(name, dtype, shape):
    x = rand(np.random.default_rng(0), shape, dtype)
    check_forward(LIKE[name](tnp), LIKE[name](jnp), [x])


@pytest.mark.parametrize("name", ["tril", "triu_k", "array_of_traced", "full_like", "astype"])
def test_like_jvp_vjp(name):
    x = rand(np.random.default_rng(1), (2, 3, 3) if name.startswith("tri") else (2, 2))
    check_jvp(LIKE[name](tnp), LIKE[name](jnp), [x])
    check_vjp(LIKE[name](tnp), LIKE[name](jnp), [x])


@pytest.mark.parametrize("name,axis", [("tril", 0), ("triu_k", -1), ("zeros_like", 1),
                                       ("array_of_traced", 0)])  # fmt: skip
def test_like_vmap(name, axis):
    shape = [2, 2] if name == "array_of_traced" else [3, 4]
    shape.insert(axis % 3, 5)
    x = rand(np.random.default_rng(2), shape)
    check_vmap(LIKE[name](tnp), LIKE[name](jnp), [x], in_axes=axis)


def _linspace(m):
    return lambda a, b: m.linspace(a, b, 5, axis=-1)


def test_linspace_differentiable_and_batched():
    rng = np.random.default_rng(3)
    a, b = rand(rng, (3,)), rand(rng, (2, 1))
    check_jvp(_linspace(tnp), _linspace(jnp), [a, b])
    check_vjp(_linspace(tnp), _linspace(jnp), [a, b])
    check_vmap(_linspace(tnp), _linspace(jnp), [rand(rng, (4, 3)), b], in_axes=(0, None))


def test_full_with_traced_fill_value():
    def f(m):
        return lambda v: m.full((2, 3), v) * m.arange(3.0)

    v = np.float32(1.5)
    check_jvp(f(tnp), f(jnp), [v])
    check_vjp(f(tnp), f(jnp), [v])
    check_vmap(f(tnp), f(jnp), [rand(np.random.default_rng(4), (4,))])


def test_array_of_tracers_keeps_python_scalars_weak_in_promotion():
    # [traced f32, 2] stacks as float32 (the Python int adopts the array dtype).
    out = tj.jit(lambda x: tnp.array([x, 2, 3.5]))(np.float32(1.0))
    assert_close(out, jnp.array([np.float32(1.0), 2, 3.5]))
    g = tj.grad(lambda x: tnp.sum(tnp.array([[x, 2 * x], [x * x, 1.0]])))(np.float32(3.0))
    assert_close(g, np.float32(9.0))


def test_astype_method_and_eager_results_are_jax_arrays():
    out = tj.jit(lambda x: x.astype(I32) + 1)(np.float32(2.7))
    assert_close(out, np.int32(3))
    for value in (tnp.asarray(np.ones(2)), tnp.asarray(3.0), tnp.array([1, 2]), tnp.zeros(2)):
        assert isinstance(value, jax.Array)


def test_asarray_of_numpy_in_a_trace_is_a_constant():
    c = np.arange(4.0, dtype=np.float32)
    cir = tj.make_ir(lambda x: tnp.asarray(c) * x)(np.float32(2.0))
    assert len(cir.consts) == 1 and [e.prim.name for e in cir.eqns] == ["mul"]


# --- errors -------------------------------------------------------------------------------------

ERRORS = [
    (lambda: tnp.zeros(-1), ValueError, r"zeros: negative dimensions are not allowed, got shape"),
    (lambda: tnp.ones((2, -3)), ValueError, r"ones: negative dimensions.*\(2, -3\)"),
    (lambda: tnp.zeros(2.5), TypeError, r"zeros: argument 'shape' must be an integer, got float"),
    (lambda: tnp.full((2,), np.ones(3)), ValueError, r"full: incompatible shapes"),
    (lambda: tnp.full((2,), np.ones((2, 2))), ValueError, r"full: cannot broadcast fill_value"),
    (lambda: tnp.zeros_like(object()), TypeError, r"zeros_like: argument of type object"),
    (lambda: tnp.arange(0, 5, 0), ZeroDivisionError, r"arange: step must not be zero"),
    (lambda: tnp.arange(np.ones(2)), ValueError, r"arange: arguments must be scalars"),
    (lambda: tnp.arange(1 + 2j), ValueError, r"arange: complex"),
    (lambda: tnp.linspace(0, 1, -1), ValueError, r"linspace: number of samples num=-1"),
    (lambda: tnp.linspace(0, 1, 3, axis=2), ValueError, r"linspace: axis 2 is out of bounds"),
    (lambda: tnp.eye(-1), ValueError, r"eye: negative dimensions are not allowed, got N=-1"),
    (lambda: tnp.eye(2, k=0.5), TypeError, r"eye: argument 'k' must be an integer"),
    (lambda: tnp.tril(np.ones(3)), ValueError, r"tril: argument must be at least 2-D, got f32"),
    (lambda: tnp.triu(2.0), ValueError, r"triu: argument must be at least 2-D"),
    (lambda: tnp.array([[1, 2], [3]]), ValueError, r"array: cannot build an array"),
    (lambda: tnp.array(object()), TypeError, r"array: argument of type object is not an array"),
    (lambda: tnp.array([1, object()]), TypeError, r"array: an element of type object"),
    (lambda: tnp.asarray(np.array([None])), TypeError, r"dtype object"),
    (lambda: tnp.array([1.0], order="F"), ValueError, r"order='F' is not supported"),
    (lambda: tnp.meshgrid(np.ones((2, 2))), ValueError, r"meshgrid: argument 0 must be 1-D"),
    (lambda: tnp.meshgrid(np.ones(2), indexing="xx"), ValueError, r"'xy' or 'ij'"),
    (lambda: tj.jit(lambda x: tnp.array([x, np.ones(2)]))(np.float32(1)), ValueError,
     r"inhomogeneous shape"),
]  # fmt: skip


@pytest.mark.parametrize("fn,exc,match", ERRORS, ids=[f"err{i}" for i in range(len(ERRORS))])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("call,arg", [
    (lambda n: tnp.arange(n), "stop"),
    (lambda n: tnp.arange(1, 10, n), "step"),
    (lambda n: tnp.zeros(n), "shape"),
    (lambda n: tnp.linspace(0.0, 1.0, n), "num"),
    (lambda n: tnp.eye(3, k=n), "k"),
])  # fmt: skip
def test_traced_size_arguments_raise_concretization_error(call, arg):
    with pytest.raises(tj.errors.ConcretizationError, match=rf"argument '{arg}' must be concrete"):
        tj.jit(call)(2)
    # Outside jit the value is known: the trace specialises on it, as in JAX.
    assert tj.grad(lambda x, n: tnp.sum(call(n) * x))(np.float32(1.0), 3).shape == ()
