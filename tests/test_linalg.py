"""tracejit.numpy linear algebra against jax.numpy: forward (eager and jit),
jvp, vjp, finite differences, vmap, the IR of batched products, and errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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

F32, I32, BF16, BOOL = np.float32, np.int32, jnp.bfloat16, np.bool_


ALL = (F32, I32, BF16, BOOL)
FI = (F32, I32)


@dataclass(frozen=True)
class Case:
    """One function on one set of operand shapes; ``fun(m)`` builds it from tnp or jnp.

    ``grad``: also checked by jvp/vjp against JAX (float32).
    """

    name: str
    fun: Callable
    shapes: tuple
    dtypes: tuple = (F32,)
    grad: bool = False

    def __str__(self) -> str:
        return self.name


def op(name: str, **kw) -> Callable:
    def build(m):
        f = getattr(m.linalg, name) if name == "norm" else getattr(m, name)
        return lambda *a: f(*a, **kw)

    return build


def mm(a, b, dtypes=(F32,), grad=False) -> Case:
    return Case(f"matmul{a}{b}", op("matmul"), (a, b), dtypes, grad)


def es(spec, shapes, dtypes=(F32,), grad=False) -> Case:
    return Case(f"einsum[{spec}]", lambda m: lambda *a: m.einsum(spec, *a), shapes, dtypes, grad)


CASES = [
    mm((3, 4), (4, 5), ALL, grad=True),
    mm((4,), (4, 5), grad=True),
    mm((3, 4), (4,), FI),
    mm((4,), (4,)),
    mm((3, 4), (2, 4, 5)),
    mm((2, 1, 3, 4), (5, 4, 2), ALL, grad=True),
    mm((1, 3, 4), (2, 4, 5)),
    mm((2, 3, 4), (2, 4, 5), grad=True),
    mm((5,), (2, 3, 5, 1)),
    mm((0, 3), (3, 2)),
    mm((3, 0), (0, 2)),
    Case("dot_scalar", op("dot"), ((), (3,)), grad=True),
    Case("dot_vv", op("dot"), ((3,), (3,)), (F32, BF16)),
    Case("dot_mm", op("dot"), ((2, 3), (3, 4)), (F32, I32, BOOL)),
    Case("dot_nd", op("dot"), ((2, 3, 4), (5, 4, 2)), grad=True),
    Case("dot_vnd", op("dot"), ((4,), (2, 4, 3))),
    Case("vdot", op("vdot"), ((2, 3), (3, 2)), FI),
    Case("inner_nd", op("inner"), ((2, 3), (4, 3)), grad=True),
    Case("inner_scalar", op("inner"), ((), (2,))),
    Case("outer", op("outer"), ((2, 2), (3,)), FI, grad=True),
    Case("outer_empty", op("outer"), ((0,), (2,))),
    Case("tensordot_2", op("tensordot"), ((2, 3, 4), (3, 4, 5)), FI),
    Case("tensordot_0", op("tensordot", axes=0), ((2,), (3,))),
    Case("tensordot_pair_int", op("tensordot", axes=(-1, 0)), ((2, 3), (3, 4))),
    Case(
        "tensordot_pairs", op("tensordot", axes=([1, 2], [1, 0])), ((2, 3, 4), (4, 3, 5)), grad=True
    ),
    Case("trace", op("trace"), ((3, 3),), (F32, I32, BOOL)),
    Case("trace_offset", op("trace", offset=1, axis1=2, axis2=0), ((2, 3, 4),), grad=True),
    Case("trace_neg", op("trace", offset=-2), ((4, 3),)),
    Case("diag_vec", op("diag"), ((3,),), (F32, BOOL)),
    Case("diag_vec_k", op("diag", k=2), ((3,),), grad=True),
    Case("diag_vec_negk", op("diag", k=-1), ((3,),), FI),
    Case("diag_mat", op("diag"), ((3, 4),), (F32, BOOL)),
    Case("diag_mat_negk", op("diag", k=-2), ((3, 4),), grad=True),
    Case("diag_mat_far", op("diag", k=5), ((3, 4),)),
    Case("diagonal_axes", op("diagonal", offset=1, axis1=2, axis2=0), ((2, 3, 4),), FI, grad=True),
    Case("diagonal_neg", op("diagonal", offset=-1, axis1=-1, axis2=1), ((2, 3, 4),)),
    Case("diagonal_empty", op("diagonal"), ((0, 3),)),
    Case("norm", op("norm"), ((2, 3, 4),), FI, grad=True),
    Case("norm_scalar", op("norm"), ((),)),
    Case("norm_vec", op("norm", ord=2), ((5,),), (F32, BF16)),
    Case("norm_1", op("norm", ord=1, axis=1), ((2, 3, 4),)),
    Case("norm_inf", op("norm", ord=np.inf, axis=-1), ((2, 3),), FI, grad=True),
    Case("norm_neginf", op("norm", ord=-np.inf, axis=0, keepdims=True), ((2, 3),)),
    Case("norm_0", op("norm", ord=0, axis=1, keepdims=True), ((2, 3, 4),)),
    Case("norm_p", op("norm", ord=3, axis=1), ((2, 3, 4),), grad=True),
    Case("norm_neg_p", op("norm", ord=-1.5), ((4,),)),
    Case("norm_fro", op("norm", ord="fro", axis=(2, 0)), ((2, 3, 4),)),
    Case("norm_mat1", op("norm", ord=1), ((3, 4),), FI, grad=True),
    Case("norm_mat_inf", op("norm", ord=np.inf, axis=(0, 1), keepdims=True), ((3, 4),)),
    Case("norm_mat_neg1", op("norm", ord=-1, axis=(2, 1)), ((2, 3, 4),)),
    es("ij,jk->ik", ((2, 3), (3, 4)), (F32, I32, BF16)),
    es("ij,jk", ((2, 3), (3, 4))),
    es("ii", ((3, 3),), FI),
    es("ii->i", ((3, 3),), (F32, BOOL), grad=True),
    es("iij->ji", ((3, 3, 2),)),
    es("iii->i", ((2, 2, 2),)),
    es("i,j", ((2,), (3,))),
    es("i,i,i->", ((3,), (3,), (3,)), grad=True),
    es("ijk,kj->i", ((2, 3, 4), (4, 3)), FI),
    es("bij,bjk,bkl->bil", ((2, 3, 4), (2, 4, 5), (2, 5, 6)), ALL, grad=True),
    es("ab,bc,cd,de->ae", ((2, 3), (3, 4), (4, 5), (5, 2))),
    es("...ij,...jk->...ik", ((1, 3, 4), (2, 4, 5)), grad=True),
    es("...i->i", ((2, 3),)),
    es("ij,ij->", ((1, 3), (2, 3))),
    es("iij,jk->ik", ((3, 3, 2), (2, 4)), FI, grad=True),
    es("ij,jj->i", ((2, 3), (3, 3))),
    es("Ab,bA->", ((2, 3), (3, 2))),
    es("i,->i", ((3,), ())),
    es("ij,kl->ijkl", ((2, 0), (1, 3))),
]
PARAMS = [pytest.param(c, d, id=f"{c}-{np.dtype(d).name}") for c in CASES for d in c.dtypes]
GRAD_CASES = [c for c in CASES if c.grad]


def _args(case: Case, dtype, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rand(rng, s, dtype) for s in case.shapes]


@pytest.mark.parametrize("case,dtype", PARAMS)
def test_forward(case, dtype):
    check_forward(case.fun(tnp), case.fun(jnp), _args(case, dtype))


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_jvp_vjp(case):
    args = _args(case, F32)
    check_jvp(case.fun(tnp), case.fun(jnp), args, tol=1e-4)
    check_vjp(case.fun(tnp), case.fun(jnp), args, tol=1e-4)


FD_NAMES = (
    "einsum[bij,bjk,bkl->bil]",
    "einsum[iij,jk->ik]",
    "tensordot_pairs",
    "norm_inf",
    "norm_p",
    "norm_mat1",
    "diag_mat_negk",
)
FD_CASES = [c for c in CASES if c.name in FD_NAMES]


def test_fd_cases_exist():
    assert len(FD_CASES) == len(FD_NAMES)


@pytest.mark.parametrize("case", FD_CASES, ids=str)
def test_grad_finite_differences(case):
    # Differentiate with respect to the first operand; the others are fixed.
    rng = np.random.default_rng(1)
    x, *rest = [rand(rng, s, np.float64) for s in case.shapes]
    f = case.fun(tnp)
    check_grad_fd(lambda v: tnp.sum(tnp.sin(f(v, *rest))), x, tol=1e-6)


def test_grad_fd_matmul():
    rng = np.random.default_rng(2)
    w, x = rand(rng, (3, 4), np.float64), rand(rng, (2, 4, 5), np.float64)
    check_grad_fd(lambda v: tnp.sum(tnp.tanh(tnp.matmul(v, x))), w, tol=1e-6)
    check_grad_fd(lambda v: tnp.sum(tnp.tanh(tnp.matmul(w, v))), x, tol=1e-6)


def test_second_order_matmul_einsum():
    import jax

    rng = np.random.default_rng(3)
    a, b, t = rand(rng, (3, 4)), rand(rng, (4, 2)), rand(rng, (3, 4))

    def f(m):
        return lambda x: m.sum(m.sin(m.einsum("ij,jk->ik", x, b) @ b.T))

    got = tj.jvp(tj.grad(f(tnp)), (a,), (t,))
    assert_close(got, jax.jvp(jax.grad(f(jnp)), (a,), (t,)), 1e-4)
    ggrad = tj.grad(lambda x: tnp.sum(tj.grad(f(tnp))(x) ** 2))(a)
    assert_close(ggrad, jax.grad(lambda x: jnp.sum(jax.grad(f(jnp))(x) ** 2))(a), 1e-4)


ZERO_GRAD_ORDS = [
    *[((3,), {"ord": o}) for o in (None, 1, np.inf, -np.inf, 3)],
    *[((2, 3), {"ord": o}) for o in ("fro", 1, np.inf)],
]


@pytest.mark.parametrize("shape,kw", ZERO_GRAD_ORDS, ids=[str(k) for _, k in ZERO_GRAD_ORDS])
def test_norm_grad_at_zero_matches_jax(shape, kw):
    # At x = 0: NaN for the 2-norm (sqrt'(0) * 0) and JAX's tie-breaking for max/min.
    import jax

    x = np.zeros(shape, np.float32)
    got = tj.grad(lambda v: tnp.linalg.norm(v, **kw))(x)
    want = jax.grad(lambda v: jnp.linalg.norm(v, **kw))(x)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_norm_grad_nonzero_and_empty_inf_norm():
    g = tj.grad(tnp.linalg.norm)(np.array([3.0, -4.0], np.float32))
    np.testing.assert_allclose(np.asarray(g), [0.6, -0.8], rtol=1e-6)
    empty = np.zeros((0,), np.float32)
    assert_close(tnp.linalg.norm(empty, ord=np.inf), jnp.linalg.norm(empty, ord=np.inf))


# --- vmap -------------------------------------------------------------------------------

VMAP_CASES = [
    ("matmul", ((3, 4), (4, 5)), (0, 0)),
    ("matmul", ((3, 4), (4, 5)), (None, 1)),
    ("matmul", ((3, 4), (4,)), (1, None)),
    ("matmul", ((2, 3, 4), (4, 5)), (-1, 0)),
    ("dot", ((2, 3, 4), (5, 4, 2)), (2, 1)),
    ("inner", ((2, 3), (4, 3)), (None, 0)),
    ("vdot", ((2, 3), (6,)), (1, 0)),
    ("outer", ((3,), (4,)), (0, None)),
    ("tensordot_pairs", ((2, 3, 4), (4, 3, 5)), (1, None)),
    ("einsum[bij,bjk,bkl->bil]", ((2, 3, 4), (2, 4, 5), (2, 5, 6)), (0, None, 2)),
    ("einsum[ii->i]", ((3, 3),), (1,)),
    ("einsum[...ij,...jk->...ik]", ((2, 3, 4), (4, 5)), (None, 0)),
    ("trace_offset", ((2, 3, 4),), (1,)),
    ("diag_vec_k", ((3,),), (0,)),
    ("diag_mat_negk", ((3, 4),), (1,)),
    ("diagonal_axes", ((2, 3, 4),), (3,)),
    ("norm", ((2, 3, 4),), (1,)),
    ("norm_mat_inf", ((3, 4),), (2,)),
]
_BY_NAME = {c.name: c for c in CASES}


def _vmap_case(name: str, shapes) -> Case:
    return _BY_NAME[name] if name in _BY_NAME else Case(name, op(name), shapes)


@pytest.mark.parametrize(
    "name,shapes,in_axes", VMAP_CASES, ids=[f"{n}-{a}" for n, _, a in VMAP_CASES]
)
def test_vmap(name, shapes, in_axes):
    case = _vmap_case(name, shapes)
    rng = np.random.default_rng(4)
    args = []
    for s, ax in zip(shapes, in_axes, strict=True):
        if ax is not None:
            s = list(s)
            s.insert(ax % (len(s) + 1), 3)
        args.append(rand(rng, tuple(s), F32))
    check_vmap(case.fun(tnp), case.fun(jnp), args, in_axes=in_axes, tol=1e-4)


def _prims(cir) -> list[str]:
    return [str(e.prim) for e in cir.eqns]


def test_vmap_matvec_is_one_dot_general():
    rng = np.random.default_rng(5)
    w, xs = rand(rng, (3, 4)), rand(rng, (7, 4))
    for cir in (
        tj.make_ir(tj.vmap(lambda x: w @ x))(xs),
        tj.make_ir(tj.vmap(tnp.matmul, in_axes=(None, 0)))(w, xs),
        tj.make_ir(tj.vmap(lambda x: x @ w.T))(xs),
    ):
        prims = _prims(cir)
        assert prims.count("dot_general") == 1, str(cir)
        assert "broadcast_in_dim" not in prims, str(cir)
    assert_close(tj.vmap(lambda x: w @ x)(xs), xs @ w.T, 1e-5)


def test_matmul_broadcast_batch_dims_use_no_broadcast():
    rng = np.random.default_rng(6)
    a, b = rand(rng, (2, 1, 3, 4)), rand(rng, (5, 4, 2))
    prims = _prims(tj.make_ir(tnp.matmul)(a, b))
    assert prims.count("dot_general") == 1 and "broadcast_in_dim" not in prims
    # Batch dims present on both sides with equal sizes are dot_general batch dims.
    cir = tj.make_ir(tnp.matmul)(rand(rng, (6, 3, 4)), rand(rng, (6, 4, 2)))
    (eqn,) = [e for e in cir.eqns if str(e.prim) == "dot_general"]
    assert eqn.params["dimension_numbers"] == (((2,), (1,)), ((0,), (0,)))
    assert _prims(cir) == ["dot_general"]


def test_tracer_matmul_operator_and_dot_method():
    rng = np.random.default_rng(7)
    a, b = rand(rng, (2, 3)), rand(rng, (3, 4))
    out = tj.jit(lambda x, y: (x @ y, x.dot(y), tnp.matmul(x, y)))(a, b)
    assert_close(out[0], jnp.matmul(a, b), 1e-5)
    assert_close(out[1], jnp.dot(a, b), 1e-5)


def test_preferred_element_type():
    a = np.arange(6, dtype=np.int8).reshape(2, 3) * 40
    b = np.ones((3, 2), np.int8) * 3
    for f in ("matmul", "dot", "tensordot"):
        kw = {"axes": 1} if f == "tensordot" else {}
        got = getattr(tnp, f)(a, b, preferred_element_type=np.int32, **kw)
        want = getattr(jnp, f)(a, b, preferred_element_type=np.int32, **kw)
        assert_close(got, want)
    got = tnp.einsum("ij,jk->ik", a, b, preferred_element_type=np.int32)
    assert_close(got, jnp.einsum("ij,jk->ik", a, b, preferred_element_type=np.int32))
    # Narrower than the operands: accumulate in float32, round once.
    x, y = rand(np.random.default_rng(9), (3, 40)), rand(np.random.default_rng(10), (40, 2))
    for f in (tnp.matmul, lambda u, v, **kw: tnp.einsum("ij,jk->ik", u, v, **kw)):
        got = f(x, y, preferred_element_type=BF16)
        assert_close(got, jnp.matmul(x, y, preferred_element_type=BF16), 0.0)


def test_einsum_interleaved_and_optimize():
    rng = np.random.default_rng(8)
    x, y, z = rand(rng, (2, 3)), rand(rng, (3, 4)), rand(rng, (4, 5))
    assert_close(
        tnp.einsum(x, [0, 1], y, [1, 2], [0, 2]), jnp.einsum(x, [0, 1], y, [1, 2], [0, 2]), 1e-5
    )
    assert_close(
        tnp.einsum(x, [Ellipsis, 1], y, [1, 2]), jnp.einsum(x, [Ellipsis, 1], y, [1, 2]), 1e-5
    )
    for opt in (False, True, "greedy", "optimal"):
        got = tnp.einsum("ij,jk,kl->il", x, y, z, optimize=opt)
        assert_close(got, jnp.einsum("ij,jk,kl->il", x, y, z), 1e-5)


def test_inf_values_do_not_leak_into_diagonals():
    x = np.array([[1.0, np.inf], [np.nan, 2.0]], np.float32)
    for f in ("diagonal", "trace", "diag"):
        assert_close(getattr(tnp, f)(x), getattr(jnp, f)(x))
    assert_close(tnp.einsum("ii->i", x), jnp.einsum("ii->i", x))
    v = np.array([np.inf, 1.0], np.float32)
    assert_close(tnp.diag(v, 1), jnp.diag(v, 1))


def test_linalg_module_is_tnp_linalg():
    assert tnp.linalg.norm is tj.numpy.linalg.norm
    assert "norm" not in dir(tnp) or tnp.norm is tnp.linalg.norm


# --- errors -------------------------------------------------------------------------------

ERRORS = [
    (
        lambda: tnp.matmul(np.ones((3, 4), F32), np.ones((5, 6), F32)),
        TypeError,
        ["matmul", "f32[3,4]", "f32[5,6]"],
    ),
    (
        lambda: tnp.matmul(np.ones((2, 3, 4), F32), np.ones((3, 4, 5), F32)),
        ValueError,
        ["matmul", "f32[2,3,4]", "f32[3,4,5]", "broadcast"],
    ),
    (lambda: tnp.matmul(np.float32(1), np.ones(3, F32)), ValueError, ["matmul", "rank", "f32[]"]),
    (
        lambda: tnp.dot(np.ones((2, 3), F32), np.ones((4, 2), F32)),
        TypeError,
        ["dot", "f32[2,3]", "f32[4,2]"],
    ),
    (lambda: tnp.vdot(np.ones((2, 3), F32), np.ones(5, F32)), TypeError, ["vdot", "f32[6]"]),
    (
        lambda: tnp.tensordot(np.ones((2, 3), F32), np.ones((4, 2), F32), 1),
        TypeError,
        ["tensordot", "f32[2,3]", "f32[4,2]"],
    ),
    (
        lambda: tnp.tensordot(np.ones((2, 3), F32), np.ones((3, 2), F32), ([0, 1], [0])),
        TypeError,
        ["tensordot", "equal lengths"],
    ),
    (
        lambda: tnp.tensordot(np.ones(2, F32), np.ones(2, F32), "x"),
        TypeError,
        ["tensordot", "axes"],
    ),
    (
        lambda: tnp.tensordot(np.ones(2, F32), np.ones(2, F32), 3),
        TypeError,
        ["tensordot", "axes=3"],
    ),
    (
        lambda: tnp.einsum("ij,jk->il", np.ones((2, 2)), np.ones((2, 2))),
        ValueError,
        ["einsum", "'l'", "does not appear"],
    ),
    (lambda: tnp.einsum("ij,jk", np.ones((2, 2))), ValueError, ["einsum", "2 operand", "1 were"]),
    (lambda: tnp.einsum("ij->ii", np.ones((2, 2))), ValueError, ["einsum", "more than once"]),
    (lambda: tnp.einsum("i1", np.ones((2, 2))), ValueError, ["einsum", "invalid character '1'"]),
    (lambda: tnp.einsum("i.j", np.ones((2, 2))), ValueError, ["einsum", "ellipsis"]),
    (lambda: tnp.einsum("...i...", np.ones((2, 2))), ValueError, ["einsum", "more than one"]),
    (lambda: tnp.einsum("ij->j->i", np.ones((2, 2))), ValueError, ["einsum", "malformed"]),
    (lambda: tnp.einsum("ijk", np.ones((2, 3), F32)), ValueError, ["einsum", "'ijk'", "f32[2,3]"]),
    (
        lambda: tnp.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 2))),
        ValueError,
        ["einsum", "label 'j'", "size"],
    ),
    (lambda: tnp.einsum(np.ones(2), ["a"]), TypeError, ["einsum", "sublists"]),
    (lambda: tnp.einsum("i"), ValueError, ["einsum", "at least one operand"]),
    (lambda: tnp.diag(np.ones((2, 2, 2), F32)), ValueError, ["diag", "1-d or 2-d", "f32[2,2,2]"]),
    (lambda: tnp.diagonal(np.ones(3, F32)), ValueError, ["diagonal", "rank >= 2", "f32[3]"]),
    (lambda: tnp.diagonal(np.ones((2, 2), F32), 0, 1, -1), ValueError, ["diagonal", "differ"]),
    (lambda: tnp.trace(np.ones((2, 2), F32), axis1=3), ValueError, ["trace", "axis 3"]),
    (lambda: tnp.linalg.norm(np.ones((2, 2, 2)), ord=1), ValueError, ["norm", "3 axes"]),
    (
        lambda: tnp.linalg.norm(np.ones((2, 2)), ord=3, axis=(0, 1)),
        ValueError,
        ["norm", "matrix norm", "3"],
    ),
    (lambda: tnp.linalg.norm(np.ones((2, 2)), ord="nuc"), ValueError, ["norm", "SVD"]),
    (
        lambda: tnp.linalg.norm(np.ones((2, 2)), ord="fro", axis=0),
        ValueError,
        ["norm", "vector norm", "'fro'"],
    ),
    (lambda: tnp.linalg.norm(np.ones((2, 2)), axis=(0, 0)), ValueError, ["norm", "repeated"]),
    (lambda: tnp.matmul("a", np.ones(2)), TypeError, ["matmul", "str"]),
]


@pytest.mark.parametrize("fn,exc,parts", ERRORS, ids=[f"err{i}" for i in range(len(ERRORS))])
def test_errors(fn, exc, parts):
    with pytest.raises(exc) as info:
        fn()
    for p in parts:
        assert p in str(info.value), f"{p!r} not in {str(info.value)!r}"
    assert re.search(r"\w", str(info.value))
