"""The sort primitive and tnp.sort / tnp.argsort against jax.numpy and jax.lax:
forward (eager and jit, NaN ordering, stability), jvp/vjp and finite
differences, second order, vmap, and errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
from tracejit import lax as tlax

F32, I32, BF16, BOOL = np.float32, np.int32, jnp.bfloat16, np.bool_


@dataclass(frozen=True)
class Case:
    """``fun(m, l)`` builds the function from (tnp, tj.lax) or (jnp, jax.lax)."""

    name: str
    fun: Callable
    shapes: tuple
    dtypes: tuple = (F32,)
    grad: bool = False

    def __str__(self) -> str:
        return self.name

    def tj(self) -> Callable:
        return self.fun(tnp, tlax)

    def jax(self) -> Callable:
        return self.fun(jnp, jax.lax)


ALL = (F32, I32, BF16, BOOL)
CASES = [
    Case("sort", lambda m, lx: m.sort, ((7,),), ALL, grad=True),
    Case("sort_2d", lambda m, lx: m.sort, ((3, 5),), (F32, I32), grad=True),
    Case("sort_axis0", lambda m, lx: lambda x: m.sort(x, axis=0), ((4, 3),), grad=True),
    Case("sort_axis1_3d", lambda m, lx: lambda x: m.sort(x, axis=1), ((2, 4, 3),), (F32, BF16)),
    Case("sort_none", lambda m, lx: lambda x: m.sort(x, axis=None), ((3, 4),), grad=True),
    Case(
        "sort_desc",
        lambda m, lx: lambda x: m.sort(x, descending=True),
        ((2, 5),),
        (F32, I32),
        grad=True,
    ),
    Case("sort_unstable", lambda m, lx: lambda x: m.sort(x, stable=False), ((6,),)),
    Case("sort_empty", lambda m, lx: m.sort, ((2, 0),)),
    Case("argsort", lambda m, lx: m.argsort, ((7,),), ALL),
    Case("argsort_axis0", lambda m, lx: lambda x: m.argsort(x, axis=0), ((4, 3),), (F32, I32)),
    Case("argsort_none", lambda m, lx: lambda x: m.argsort(x, axis=None), ((3, 4),)),
    Case(
        "argsort_desc", lambda m, lx: lambda x: m.argsort(x, descending=True), ((2, 6),), (F32, I32)
    ),
    Case(
        "argsort_desc_unstable",
        lambda m, lx: lambda x: m.argsort(x, descending=True, stable=False),
        ((5,),),
    ),
    Case("argsort_dtype", lambda m, lx: lambda x: m.argsort(x, dtype=np.int16), ((5,),)),
    Case("lax_sort", lambda m, lx: lambda x: lx.sort(x, dimension=0), ((4, 3),), (F32, I32)),
    Case(
        "lax_sort_two",
        lambda m, lx: lambda x, y: lx.sort((x, y), num_keys=1),
        ((5,), (5,)),
        grad=True,
    ),
    Case(
        "lax_sort_two_keys",
        lambda m, lx: lambda x, y, z: lx.sort((x, y, z), num_keys=2),
        ((2, 6), (2, 6), (2, 6)),
        (F32, I32),
        grad=True,
    ),
    Case(
        "sort_key_val",
        lambda m, lx: lambda k, v: lx.sort_key_val(k, v, dimension=0),
        ((4, 2), (4, 2)),
        (F32, I32),
        grad=True,
    ),
]
PARAMS = [pytest.param(c, d, id=f"{c}-{np.dtype(d).name}") for c in CASES for d in c.dtypes]
GRAD = [c for c in CASES if c.grad]


def _args(case: Case, dtype, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    args = [rand(rng, s, dtype) for s in case.shapes]
    if np.dtype(dtype) == np.int32 and args and args[0].size > 3:
        args[0] = args[0] % 2  # many ties: exercises the stable order
    return args


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_forward(case, dtype):
    check_forward(case.tj(), case.jax(), _args(case, dtype))


def test_nan_inf_signed_zero_order():
    x = np.array([3.0, np.nan, -np.inf, 0.0, -0.0, np.inf, -1.0, np.nan, 0.0], np.float32)
    x[1] = -x[1]  # a NaN with the sign bit set also sorts last
    for f in ("sort", "argsort"):
        for kw in ({}, {"descending": True}):
            got = getattr(tnp, f)(x, **kw)
            want = getattr(jnp, f)(x, **kw)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
            assert np.signbit(np.asarray(got)).tolist() == np.signbit(np.asarray(want)).tolist()
    out = tj.jit(tnp.sort)(x)
    assert np.isnan(np.asarray(out)[-2:]).all() and not np.isnan(np.asarray(out)[:-2]).any()


def test_argsort_is_stable():
    x = np.array([2, 1, 2, 1, 0, 2, 1], np.int32)
    np.testing.assert_array_equal(np.asarray(tnp.argsort(x)), [4, 1, 3, 6, 0, 2, 5])
    np.testing.assert_array_equal(
        np.asarray(tnp.argsort(x, descending=True)), np.asarray(jnp.argsort(x, descending=True))
    )


@pytest.mark.parametrize("case", GRAD, ids=str)
def test_jvp_vjp(case):
    args = _args(case, F32)
    check_jvp(case.tj(), case.jax(), args)
    check_vjp(case.tj(), case.jax(), args)


def test_jvp_with_integer_operand_and_unused_keys():
    # The integer values carried along get no tangent; float keys do.
    rng = np.random.default_rng(1)
    k, v = rand(rng, (6,), F32), np.arange(6, dtype=np.int32)

    def f(m, lx):
        return lambda x: lx.sort((x, v), num_keys=1)

    check_jvp(f(tnp, tlax), f(jnp, jax.lax), [k])

    def g(m, lx):
        return lambda x: lx.sort_key_val(v, x)[1]

    check_vjp(g(tnp, tlax), g(jnp, jax.lax), [k])


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"descending": True}, {"axis": None}], ids=str)
def test_grad_finite_differences(kw):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 4))
    x = rand(rng, (3, 4), np.float64)

    def f(v):
        s = tnp.sort(v, **kw)
        return tnp.sum(tnp.sin(s) * w.reshape(s.shape))

    check_grad_fd(f, x, tol=1e-6)


def test_second_order():
    rng = np.random.default_rng(3)
    x, t = rand(rng, (3, 5)), rand(rng, (3, 5))
    w = np.linspace(-1, 1, 5).astype(np.float32)

    def f(m):
        return lambda v: m.sum(m.sort(v) ** 3 * w)

    assert_close(tj.jvp(tj.grad(f(tnp)), (x,), (t,)), jax.jvp(jax.grad(f(jnp)), (x,), (t,)), 1e-4)
    gg = tj.grad(lambda v: tnp.sum(tj.grad(f(tnp))(v) ** 2))(x)
    assert_close(gg, jax.grad(lambda v: jnp.sum(jax.grad(f(jnp))(v) ** 2))(x), 1e-4)


def test_grad_ir_has_no_gather_and_transposes_by_sorting():
    x = np.ones((2, 3), np.float32)
    cir = tj.make_ir(tj.grad(lambda v: tnp.sum(tnp.sort(v) * tnp.sort(v))))(x)
    prims = [str(e.prim) for e in cir.eqns]
    assert set(prims) <= {"sort", "iota", "mul", "broadcast_in_dim", "add"}, str(cir)


VMAP = [
    ("sort", (0,)),
    ("sort", (1,)),
    ("sort_2d", (2,)),
    ("sort_axis0", (-1,)),
    ("sort_none", (1,)),
    ("sort_desc", (0,)),
    ("argsort", (0,)),
    ("argsort_desc", (1,)),
    ("argsort_none", (2,)),
    ("lax_sort_two", (0, None)),
    ("lax_sort_two", (None, 0)),
    ("lax_sort_two_keys", (1, 0, None)),
    ("lax_sort_two_keys", (2, 2, 2)),
    ("sort_key_val", (0, 1)),
]
_BY_NAME = {c.name: c for c in CASES}


@pytest.mark.parametrize("name,in_axes", VMAP, ids=[f"{n}-{a}" for n, a in VMAP])
def test_vmap(name, in_axes):
    case = _BY_NAME[name]
    rng = np.random.default_rng(4)
    args = []
    for s, ax in zip(case.shapes, in_axes, strict=True):
        if ax is not None:
            s = list(s)
            s.insert(ax % (len(s) + 1), 3)
        args.append(rand(rng, tuple(s), F32))
    check_vmap(case.tj(), case.jax(), args, in_axes=in_axes)


def test_vmap_of_grad_and_grad_of_vmap():
    rng = np.random.default_rng(5)
    xs = rand(rng, (4, 6))
    w = np.linspace(0, 1, 6).astype(np.float32)

    def f(m):
        return lambda v: m.sum(m.sort(v) * w)

    want = jax.vmap(jax.grad(f(jnp)))(xs)
    assert_close(tj.vmap(tj.grad(f(tnp)))(xs), want)
    assert_close(tj.jit(tj.vmap(tj.grad(f(tnp))))(xs), want)
    got = tj.grad(lambda v: tnp.sum(tj.vmap(f(tnp))(v)))(xs)
    assert_close(got, jax.grad(lambda v: jnp.sum(jax.vmap(f(jnp))(v)))(xs))


def test_vmap_same_batch_axis_is_one_sort_without_transpose():
    xs = np.ones((3, 4, 5), np.float32)
    cir = tj.make_ir(tj.vmap(lambda v: tnp.sort(v, axis=0), in_axes=1, out_axes=1))(xs)
    assert [str(e.prim) for e in cir.eqns] == ["sort"], str(cir)
    assert cir.eqns[0].params["dimension"] == 0


# --- errors -------------------------------------------------------------------------------

ERRORS = [
    (
        lambda: tlax.sort((np.ones(3, F32), np.ones(4, F32))),
        TypeError,
        ["sort", "equal shapes", "f32[3]", "f32[4]"],
    ),
    (lambda: tlax.sort(np.ones(3, F32), dimension=2), ValueError, ["sort", "dimension 2"]),
    (lambda: tlax.sort((np.ones(3, F32),), num_keys=2), ValueError, ["sort", "num_keys=2"]),
    (lambda: tlax.sort(()), TypeError, ["sort", "at least one operand"]),
    (lambda: tnp.sort(np.float32(1)), ValueError, ["sort", "axis -1", "rank 0"]),
    (lambda: tnp.sort(np.ones(3), axis=1), ValueError, ["sort", "axis 1"]),
    (lambda: tnp.sort(np.ones(3), kind="quicksort"), TypeError, ["sort", "kind", "stable"]),
    (lambda: tnp.argsort(np.ones(3), order="x"), TypeError, ["argsort", "order"]),
    (lambda: tnp.argsort(np.ones(3), dtype=np.float32), TypeError, ["argsort", "integer"]),
    (lambda: tnp.sort("abc"), TypeError, ["sort", "str"]),
]


@pytest.mark.parametrize("fn,exc,parts", ERRORS, ids=[f"err{i}" for i in range(len(ERRORS))])
def test_errors(fn, exc, parts):
    with pytest.raises(exc) as info:
        fn()
    for p in parts:
        assert p in str(info.value), f"{p!r} not in {str(info.value)!r}"
