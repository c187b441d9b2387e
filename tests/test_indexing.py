"""Indexing vs JAX: x[idx] in every form, x.at[idx] updates, take/take_along_axis,
and the lax-level dynamic_slice / dynamic_update_slice / gather / scatter family;
values (eager and jit), jvp/vjp (repeated indices included), vmap, and errors."""

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
from tracejit import lax
from tracejit.errors import ConcretizationError

F32, I32, BOOL, BF16 = np.float32, np.int32, np.bool_, jnp.bfloat16
A = np.array


def check_forward_all(cases: dict, eager: bool = True) -> None:
    """``name -> (tj_fn, jax_fn, args)``: eager and jit vs JAX, all in one program each.

    One jit program per test keeps compile time down; failures name the case.
    ``eager=False`` skips the op-by-op run (for dtypes whose eager path is the
    same code as one already checked).
    """
    names = sorted(cases)
    args = {k: list(cases[k][2]) for k in names}

    def tj_all(a):
        return {k: cases[k][0](*a[k]) for k in names}

    expected = jax.jit(lambda a: {k: cases[k][1](*a[k]) for k in names})(args)
    eager = tj_all(args) if eager else expected
    jitted = tj.jit(tj_all)(args)
    for k in names:
        assert_close(eager[k], expected[k], what=f"{k} (eager)")
        assert_close(jitted[k], expected[k], what=f"{k} (jit)")
    tj.make_ir(tj_all)(args).check()


def combined(fns: list):
    """One function of all the cases' arguments returning all their results."""
    return lambda *xs: tuple(f(x) for f, x in zip(fns, xs, strict=True))


# name -> (operand shape, index). Every NumPy index form, alone and mixed.
GETITEM = {
    "int": ((4, 3), 2),
    "negative_int": ((4, 3), -1),
    "int_pair": ((4, 3), (1, -2)),
    "int_0d_result": ((5,), 3),
    "slice": ((6, 3), slice(1, 5)),
    "slice_step": ((7, 3), slice(None, None, 3)),
    "slice_negative_step": ((7, 3), slice(5, 0, -2)),
    "slice_reverse": ((4, 3), (slice(None), slice(None, None, -1))),
    "slice_empty": ((4, 3), slice(3, 1)),
    "slice_past_end": ((4, 3), slice(-10, 10)),
    "newaxis": ((4, 3), (None, slice(None), None)),
    "ellipsis": ((2, 3, 4), (Ellipsis, 1)),
    "ellipsis_middle": ((2, 3, 4), (1, Ellipsis, None, 0)),
    "empty_tuple": ((2, 3), ()),
    "scalar_operand": ((), ()),
    "int_array": ((5, 3), A([0, 4, 2])),
    "int_array_repeated": ((5, 3), A([1, 1, 3, 1])),
    "int_array_negative": ((5, 3), A([-1, -5, 2])),
    "int_array_2d": ((5, 3), A([[0, 1], [4, 3]])),
    "int_array_second_axis": ((3, 5), (slice(None), A([4, 0, 0]))),
    "two_arrays_broadcast": ((4, 5), (A([[0], [3]]), A([1, 2, 4]))),
    "arrays_adjacent_after_slice": ((2, 4, 5), (slice(None), A([0, 3]), A([1, 4]))),
    "arrays_separated_go_first": ((4, 2, 5), (A([0, 3]), slice(None), A([1, 4]))),
    "int_and_array_separated": ((4, 2, 5), (1, slice(None), A([0, 4]))),
    "int_and_array_adjacent": ((2, 4, 5), (slice(None), 1, A([0, 4]))),
    "array_and_newaxis": ((4, 5), (None, A([3, 0]), None)),
    "array_strided_slice": ((5, 6), (A([4, 1]), slice(None, None, -2))),
    "array_0_size": ((4, 3), A([], dtype=np.int32)),
    "bool_mask": ((4, 3), A([True, False, True, True])),
    "bool_mask_2d": ((3, 4), rand(np.random.default_rng(1), (3, 4), BOOL)),
    "bool_mask_with_slice": ((3, 4, 2), (slice(None), A([False, True, True, False]))),
    "bool_scalar_true": ((3, 2), True),
    "bool_scalar_false": ((3, 2), (Ellipsis, False)),
    "list_in_tuple": ((4, 3), ([0, -1, 2], slice(1, None))),
    "numpy_int": ((4, 3), np.int64(3)),
}


def _jnp_getitem(idx):
    return lambda x: jnp.asarray(x)[idx]


def _tnp_getitem(idx):
    return lambda x: tnp.getitem(x, idx)


@pytest.mark.parametrize("dtype", [F32, I32, BOOL, BF16], ids=str)
def test_getitem_forward(dtype):
    rng = np.random.default_rng(0)
    check_forward_all(
        {
            name: (_tnp_getitem(idx), _jnp_getitem(idx), [rand(rng, shape, dtype)])
            for name, (shape, idx) in GETITEM.items()
        },
        eager=dtype in (F32, I32),
    )


def test_tracer_getitem_and_iteration():
    x = rand(np.random.default_rng(0), (3, 4))
    f = tj.jit(lambda x: (x[1:, A([0, 0, 2])], [r.sum() for r in x], len(x)))
    rows, sums, n = f(x)
    assert_close(rows, jnp.asarray(x)[1:, A([0, 0, 2])])
    assert_close(jnp.stack(sums), jnp.sum(x, axis=1), 1e-5)
    assert n == 3


def test_concrete_jax_array_eager():
    x = jnp.arange(12.0).reshape(3, 4)
    out = tnp.getitem(x, (A([2, 0]), slice(None, None, -1)))
    assert isinstance(out, jax.Array)
    assert_close(out, x[A([2, 0]), ::-1])
    assert isinstance(tnp.getitem(np.ones(3), slice(None)), jax.Array)


DIFFERENTIABLE = [
    "int", "slice_negative_step", "newaxis", "int_array_repeated", "two_arrays_broadcast",
    "arrays_separated_go_first", "int_and_array_adjacent", "array_strided_slice", "bool_mask",
    "array_0_size",
]  # fmt: skip


def test_getitem_jvp_vjp():
    rng = np.random.default_rng(0)
    xs = [rand(rng, GETITEM[name][0]) for name in DIFFERENTIABLE]
    tj_fn = combined([_tnp_getitem(GETITEM[name][1]) for name in DIFFERENTIABLE])
    jax_fn = jax.jit(combined([_jnp_getitem(GETITEM[name][1]) for name in DIFFERENTIABLE]))
    check_jvp(tj_fn, jax_fn, xs)
    check_vjp(tj_fn, jax_fn, xs)


def test_grad_repeated_indices_accumulates():
    x = rand(np.random.default_rng(0), (5,))
    idx = A([1, 3, 1, 1, 0])
    g = tj.grad(lambda x: (tnp.getitem(x, idx) * np.arange(5.0, dtype=F32)).sum())(x)
    assert_close(g, A([4.0, 0 + 2 + 3, 0, 1, 0], F32))
    ir = str(tj.make_ir(tj.grad(lambda x: tnp.getitem(x, idx).sum()))(x))
    assert "scatter-add" in ir
    check_grad_fd(lambda x: (tnp.getitem(x, idx) ** 2).sum(), x)


# --- traced (dynamic) indices ----------------------------------------------------------

# name -> (operand shape, index values, function of (x, i))
SLICE_REV = slice(None, None, -1)
TRACED = {
    # name -> (operand shape, index values, index expression built from them)
    "scalar": ((5, 3), A(2, I32), lambda i: i),
    "scalar_negative": ((5, 3), A(-2, I32), lambda i: i),
    "scalar_out_of_range_clamps": ((5, 3), A(9, I32), lambda i: i),
    "scalar_below_range_clamps": ((5, 3), A(-9, I32), lambda i: i),
    "scalar_with_slices": ((4, 5, 3), A(-1, I32), lambda i: (slice(1, None), i, SLICE_REV)),
    "scalar_and_newaxis": ((4, 5), A(3, I32), lambda i: (None, slice(None), i)),
    "array": ((5, 3), A([4, 0, -1, 2], I32), lambda i: i),
    "array_out_of_range_clamps": ((5, 3), A([7, -8], I32), lambda i: (slice(None), i, None)),
    "array_mixed": ((4, 5, 3), A([[1], [0]], I32), lambda i: (i, slice(None), i + 1)),
    "array_int64": ((5, 3), A([4, 1], np.int64), lambda i: (i, 2)),
}  # fmt: skip


def _traced_fns(mk):
    return (
        lambda x, i: tnp.getitem(x, mk(i)),
        lambda x, i: jnp.asarray(x)[mk(jnp.asarray(i))],
    )


def test_traced_index():
    rng = np.random.default_rng(0)
    cases = {}
    for name, (shape, i, mk) in TRACED.items():
        cases[name] = (*_traced_fns(mk), [rand(rng, shape), i])
    check_forward_all(cases)
    # Gradients with the index traced too (under jit, inside the vjp).
    names = sorted(TRACED)
    fns = [tj.jit(_traced_fns(TRACED[k][2])[0]) for k in names]
    jfns = [_traced_fns(TRACED[k][2])[1] for k in names]
    idx = [TRACED[k][1] for k in names]
    xs = [cases[k][2][0] for k in names]
    check_vjp(
        lambda *xs: tuple(f(x, i) for f, x, i in zip(fns, xs, idx, strict=True)),
        jax.jit(lambda *xs: tuple(f(x, i) for f, x, i in zip(jfns, xs, idx, strict=True))),
        xs,
    )


def test_traced_scalar_index_is_a_dynamic_slice():
    ir = tj.make_ir(lambda x, i: x[i, 1:])(np.ones((4, 3), F32), np.int32(1))
    names = [e.prim.name for e in ir.eqns]
    assert "dynamic_slice" in names and "gather" not in names
    static = tj.make_ir(lambda x: x[1, ::-2, None])(np.ones((4, 3), F32))
    assert {e.prim.name for e in static.eqns} <= {"slice", "rev", "reshape"}


# --- vmap ---------------------------------------------------------------------------------

VMAP = {
    # name -> (function of (x, i), x shape (batched), i values (batched), in_axes)
    "batched_operand": (lambda x, i: x[i, ::2], (3, 5, 4), A([4, 0, 4], I32), (0, None)),
    "batched_indices": (
        lambda x, i: x[i, ::2],
        (5, 4),
        A([[1, 2], [0, 0], [4, 3]], I32),
        (None, 0),
    ),
    "both": (lambda x, i: x[:, i], (4, 3, 5), A([[1, 2], [0, 0], [4, 3]], I32), (1, 0)),
    "scalar_index_both": (lambda x, i: x[i], (3, 5), A([4, -1, 9], I32), (0, 0)),
    "scalar_index_only": (lambda x, i: x[1:, i], (3, 5), A([4, -1, 9], I32), (None, 0)),
    "at_set_both": (
        lambda x, i: x.at[i].set(2.0),
        (3, 5),
        A([[1, 2], [0, 0], [4, 3]], I32),
        (0, 0),
    ),
    "at_add_indices": (
        lambda x, i: x.at[i, 1].add(x[0, 0]),
        (5, 3),
        A([[1, 1], [0, 7]], I32),
        (None, 0),
    ),
}


@pytest.mark.parametrize("name", sorted(VMAP))
def test_vmap_indexing(name):
    fn, xshape, i, in_axes = VMAP[name]
    x = rand(np.random.default_rng(0), xshape)
    check_vmap(fn, jax.jit(_jaxify(fn)), [x, i], in_axes=in_axes)


def _jaxify(fn):
    return lambda x, i: fn(jnp.asarray(x), jnp.asarray(i))


def test_vmap_getitem_of_grad():
    x = rand(np.random.default_rng(0), (3, 5))
    i = A([[0, 0], [4, 1], [2, 2]], I32)

    def tj_f(x, i):
        return tj.grad(lambda x: (x[i] ** 2).sum())(x)

    def jax_f(x, i):
        return jax.grad(lambda x: (x[i] ** 2).sum())(x)

    check_vmap(tj_f, jax.jit(jax_f), [x, i])


def test_vmap_dynamic_slice_is_one_gather():
    x = np.arange(6.0, dtype=F32)
    i = A([0, 3, 5], I32)
    for in_axes, xs in (((None, 0), x), ((0, 0), np.stack([x] * 3))):
        fn = tj.vmap(lambda x, i: lax.dynamic_slice(x, (i,), (2,)), in_axes=in_axes)
        names = [e.prim.name for e in tj.make_ir(fn)(xs, i).eqns]
        assert names.count("gather") == 1
        assert not {"while", "scan", "dynamic_slice"} & set(names)
        assert_close(
            fn(xs, i),
            jax.vmap(lambda x, i: jax.lax.dynamic_slice(x, (i,), (2,)), in_axes=in_axes)(xs, i),
        )
    ir = tj.make_ir(tj.vmap(lambda x, i: x[i], in_axes=(None, 0)))(np.ones((4, 3), F32), i)
    gathers = [e for e in ir.eqns if e.prim.name == "gather"]
    assert len(gathers) == 1 and gathers[0].invars[0].aval.shape == (4, 3)  # operand unbatched


# --- x.at[idx] ----------------------------------------------------------------------------

AT_INDEX = {
    "int": ((5, 3), 2, ()),
    "negative_int": ((5, 3), (-1, 0), ()),
    "out_of_range_int_dropped": ((5, 3), 7, ()),
    "slice": ((5, 3), slice(1, 4), (3, 3)),
    "strided_slice": ((7, 3), (slice(None, None, -3), 1), (3,)),
    "array_unique": ((5, 3), A([4, 0, 2]), (3, 3)),
    "array_repeated": ((5, 3), A([1, 3, 1, 1]), (4, 1)),
    "array_out_of_range_dropped": ((5, 3), A([1, 9, -7]), (3, 3)),
    "arrays_separated": ((4, 2, 5), (A([0, 3, 0]), slice(None), A([1, 4, 1])), (3, 2)),
    "mask": ((4, 3), A([True, False, True, True]), (3,)),
    "newaxis_ellipsis": ((2, 3, 4), (None, Ellipsis, 1), (1, 2, 3)),
    "everything": ((3, 2), Ellipsis, (2,)),
}
OPS = ["set", "add", "multiply", "min", "max"]
AT_ALL_OPS = {"int", "strided_slice", "array_repeated", "array_out_of_range_dropped", "mask"}


def _at_fns(idx, op):
    def tj_fn(x, u):
        return getattr(tnp.IndexUpdateHelper(x)[idx], op)(u)

    def jax_fn(x, u):
        return getattr(jnp.asarray(x).at[idx], op)(u)

    return tj_fn, jax_fn


@pytest.mark.parametrize("dtype", [F32, I32, BOOL], ids=str)
def test_at_forward(dtype):
    rng = np.random.default_rng(0)
    # jax.numpy has no boolean add/multiply scatters either.
    ops = OPS if dtype != BOOL else ["set", "min", "max"]
    assert AT_ALL_OPS <= set(AT_INDEX)
    cases = {}
    for name, (shape, idx, ushape) in AT_INDEX.items():
        # Every form for set and add; the other ops share their indexing code, so a
        # few forms (repeats and out-of-range among them) suffice there.
        for op in ops if name in AT_ALL_OPS else ops[:2] if dtype != BOOL else ops[:1]:
            args = [rand(rng, shape, dtype), rand(rng, ushape, dtype)]
            cases[f"{name}-{op}"] = (*_at_fns(idx, op), args)
    check_forward_all(cases, eager=dtype == F32)


@pytest.mark.filterwarnings("ignore:scatter inputs have incompatible types")
def test_at_updates_promote_like_jax():
    x = A([1, 2, 3], I32)
    for op in ("set", "add", "multiply"):
        tj_fn, jax_fn = _at_fns(A([0, 0, 2]), op)
        assert_close(tj_fn(x, 2.5), jax_fn(x, 2.5))
        assert_close(tj.jit(tj_fn)(x, np.float32(2.5)), jax_fn(x, np.float32(2.5)))
    assert_close(tnp.IndexUpdateHelper(x)[1:].set([7, 8]), jnp.asarray(x).at[1:].set(A([7, 8])))


@pytest.mark.parametrize("op", OPS)
def test_at_jvp_vjp(op):
    names = ["int", "strided_slice", "array_unique", "array_repeated", "arrays_separated"]
    if op in ("min", "max"):  # the largest jvp rules: fewer (still distinct) cases
        names = ["int", "array_repeated", "arrays_separated"]
    rng = np.random.default_rng(3)
    xs, us, tj_fns, jax_fns = [], [], [], []
    for name in names:
        shape, idx, ushape = AT_INDEX[name]
        xs.append(rand(rng, shape))
        # For min/max, larger updates win in some places and lose in others.
        us.append(rand(rng, ushape) * (2 if op in ("min", "max") else 1))
        tj_fn, jax_fn = _at_fns(idx, op)
        tj_fns.append(tj_fn)
        jax_fns.append(jax_fn)
    n = len(names)

    def split(fns):
        return lambda *a: tuple(f(x, u) for f, x, u in zip(fns, a[:n], a[n:], strict=True))

    if op == "multiply":
        # JAX has no updates-gradient of a scatter-mul whose indices may repeat; we do,
        # so finite differences are the oracle there (and JAX for the operand).
        check_jvp(
            lambda *x: split(tj_fns)(*x, *us), jax.jit(lambda *x: split(jax_fns)(*x, *us)), xs
        )
        weights = [rand(rng, s) for s in (np.shape(x) for x in xs)]

        def loss(*us_):
            outs = split(tj_fns)(*[x.astype(u.dtype) for x, u in zip(xs, us_, strict=True)], *us_)
            return sum((o * w.astype(o.dtype)).sum() for o, w in zip(outs, weights, strict=True))

        for k in range(n):
            check_grad_fd(
                tj.jit(
                    lambda u, k=k: loss(*[u if j == k else us[j].astype(u.dtype) for j in range(n)])
                ),
                us[k],
            )
        return
    check_jvp(split(tj_fns), jax.jit(split(jax_fns)), xs + us)
    check_vjp(split(tj_fns), jax.jit(split(jax_fns)), xs + us)


def test_at_set_repeated_jvp_masks_overwritten():
    x, u = rand(np.random.default_rng(0), (4,)), A([1.0, 2.0, 3.0], F32)
    idx = A([2, 0, 2])
    f = lambda x, u: tnp.IndexUpdateHelper(x)[idx].set(u)  # noqa: E731
    out, t = tj.jvp(f, (x, u), (np.ones(4, F32), A([10.0, 20.0, 30.0], F32)))
    ref_out, ref_t = jax.jvp(
        lambda x, u: jnp.asarray(x).at[idx].set(u),
        (x, u),
        (np.ones(4, F32), A([10.0, 20.0, 30.0], F32)),
    )
    assert_close(out, ref_out)
    assert_close(t, ref_t)
    assert float(t[1]) == 1.0 and float(t[0]) == 20.0 and float(t[2]) in (10.0, 30.0)


def test_scatter_mul_with_zero_updates_grad():
    x = A([1.5, -2.0, 3.0], F32)
    u = A([0.0, 2.0, 0.0, 3.0, -1.0], F32)
    idx = A([0, 0, 1, 1, 2])

    def f(u):
        return (tnp.IndexUpdateHelper(x.astype(u.dtype))[idx].multiply(u) * A([1.0, 2, 3])).sum()

    check_grad_fd(f, u)


def test_at_get_modes():
    x = rand(np.random.default_rng(0), (5,))
    idx = A([0, 7, -1, -9])
    for kw in ({}, {"mode": "clip"}, {"mode": "fill"}, {"mode": "fill", "fill_value": -1.0}):
        assert_close(tnp.IndexUpdateHelper(x)[idx].get(**kw), jnp.asarray(x).at[idx].get(**kw))
        got = tj.jit(lambda x, kw=kw: x.at[idx].get(**kw))(x)
        assert_close(got, jnp.asarray(x).at[idx].get(**kw))
    assert_close(
        tnp.IndexUpdateHelper(x)[9].get(mode="fill"), jnp.asarray(x).at[9].get(mode="fill")
    )
    assert_close(
        tnp.IndexUpdateHelper(x)[idx].add(1.0, mode="clip"),
        jnp.asarray(x).at[idx].add(1.0, mode="clip"),
    )


# --- take / take_along_axis ----------------------------------------------------------------

TAKE = {
    "flat": ((3, 4), A([0, 11, 5, 5]), {}),
    "axis0": ((4, 3), A([[3, 0], [1, 1]]), {"axis": 0}),
    "axis_neg": ((2, 4, 3), A([2, -1, 0]), {"axis": -2}),
    "fill_out_of_range": ((5,), A([1, 6, -7]), {"axis": 0}),
    "clip": ((5, 2), A([1, 6, -7]), {"axis": 0, "mode": "clip"}),
    "wrap": ((5, 2), A([1, 6, -7]), {"axis": 0, "mode": "wrap"}),
    "empty_indices": ((5, 2), A([], np.int32), {"axis": 1}),
}


def test_take():
    rng = np.random.default_rng(0)
    cases = {}
    for name, (shape, idx, kw) in TAKE.items():
        cases[name] = (
            lambda x, idx=idx, kw=kw: tnp.take(x, idx, **kw),
            lambda x, idx=idx, kw=kw: jnp.take(x, idx, **kw),
            [rand(rng, shape)],
        )
    check_forward_all(cases)
    names = sorted(cases)
    check_vjp(
        combined([cases[k][0] for k in names]),
        jax.jit(combined([cases[k][1] for k in names])),
        [cases[k][2][0] for k in names],
    )


TAKE_ALONG = {
    "last_axis": ((3, 4), A([[0, 3], [1, 1], [-1, 2]]), -1, {}),
    "first_axis": ((3, 4), A([[0, 2, 1, 1]]), 0, {}),
    "broadcast_index": ((3, 4, 2), A([[[1], [0], [3], [2]]]), 1, {}),
    "broadcast_arr": ((3, 1, 2), A([[[0, 1], [1, 0]]] * 3), 2, {}),
    "flat": ((3, 4), A([0, 11, 2]), None, {}),
    "out_of_range_fill": ((2, 3), A([[0, 5], [-4, 1]]), 1, {}),
    "clip": ((2, 3), A([[0, 5], [-4, 1]]), 1, {"mode": "clip"}),
}


def test_take_along_axis():
    rng = np.random.default_rng(0)
    cases = {}
    for name, (shape, idx, axis, kw) in TAKE_ALONG.items():
        cases[name] = (
            lambda x, idx=idx, axis=axis, kw=kw: tnp.take_along_axis(x, idx, axis, **kw),
            lambda x, idx=idx, axis=axis, kw=kw: jnp.take_along_axis(x, idx, axis, **kw),
            [rand(rng, shape)],
        )
    check_forward_all(cases)
    names = sorted(cases)
    check_vjp(
        combined([cases[k][0] for k in names]),
        jax.jit(combined([cases[k][1] for k in names])),
        [cases[k][2][0] for k in names],
    )


def test_take_along_axis_argsort_vmap():
    x = rand(np.random.default_rng(0), (3, 4, 5))
    i = np.argsort(x, axis=-1)[..., :2].astype(I32)
    check_vmap(
        lambda x, i: tnp.take_along_axis(x, i, -1),
        jax.jit(lambda x, i: jnp.take_along_axis(x, i, -1)),
        [x, i],
        in_axes=(1, 1),
    )


# --- lax-level dynamic_slice / dynamic_update_slice / gather / scatter -------------------------

DS = {
    # name -> (operand shape, starts, slice sizes)
    "inside": ((5, 4), (1, 2), (2, 2)),
    "clamped_high": ((5, 4), (4, 9), (3, 2)),
    "negative_wraps_then_clamps": ((5, 4), (-1, -7), (2, 3)),
    "whole": ((5, 4), (3, 3), (5, 4)),
    "zero_size": ((5, 4), (2, 1), (0, 2)),
}


def test_dynamic_slice():
    rng = np.random.default_rng(0)
    cases = {}
    for name, (shape, starts, sizes) in DS.items():
        s = [np.int32(v) for v in starts]
        cases[name] = (
            lambda x, *s, sizes=sizes: lax.dynamic_slice(x, s, sizes),
            lambda x, *s, sizes=sizes: jax.lax.dynamic_slice(x, s, sizes),
            [rand(rng, shape), *s],
        )
        # Python-int starts (static) as well as traced ones.
        cases[name + "-static"] = (
            lambda x, s=starts, sizes=sizes: lax.dynamic_slice(x, s, sizes),
            lambda x, s=starts, sizes=sizes: jax.lax.dynamic_slice(x, s, sizes),
            [rand(rng, shape)],
        )
    check_forward_all(cases)
    names = sorted(DS)
    tj_fns = [(lambda x, c=cases[k]: c[0](x, *c[2][1:])) for k in names]
    jax_fns = [(lambda x, c=cases[k]: c[1](x, *c[2][1:])) for k in names]
    xs = [cases[k][2][0] for k in names]
    check_jvp(combined(tj_fns), jax.jit(combined(jax_fns)), xs)
    check_vjp(combined(tj_fns), jax.jit(combined(jax_fns)), xs)


def test_dynamic_update_slice():
    rng = np.random.default_rng(0)
    cases = {}
    for name, (shape, starts, sizes) in DS.items():
        s = [np.int32(v) for v in starts]
        cases[name] = (
            lambda x, u, *s: lax.dynamic_update_slice(x, u, s),
            lambda x, u, *s: jax.lax.dynamic_update_slice(x, u, s),
            [rand(rng, shape), rand(rng, sizes), *s],
        )
    check_forward_all(cases)
    names = sorted(DS)
    n = len(names)
    starts = [cases[k][2][2:] for k in names]

    def split(fn):
        return lambda *a: tuple(fn(x, u, *s) for x, u, s in zip(a[:n], a[n:], starts, strict=True))

    args = [cases[k][2][0] for k in names] + [cases[k][2][1] for k in names]
    check_jvp(split(cases[names[0]][0]), jax.jit(split(cases[names[0]][1])), args)
    check_vjp(split(cases[names[0]][0]), jax.jit(split(cases[names[0]][1])), args)


@pytest.mark.parametrize("in_axes", [(0, 0, 0), (None, 0, 0), (0, None, 0), (1, 0, None)])
def test_dynamic_update_slice_vmap(in_axes):
    rng = np.random.default_rng(0)
    x, u = rand(rng, (3, 5, 4)), rand(rng, (3, 2, 4))
    i = A([4, -1, 1], I32)
    args = [x if in_axes[0] != 1 else np.moveaxis(x, 0, 1), u, i]
    args = [a if ax is not None else a[0] for a, ax in zip(args, in_axes, strict=True)]

    def tj_fn(x, u, i):
        return lax.dynamic_update_slice(x, u, (i, np.int32(0)))

    def jax_fn(x, u, i):
        return jax.lax.dynamic_update_slice(x, u, (i, np.int32(0)))

    check_vmap(tj_fn, jax.jit(jax_fn), args, in_axes=in_axes)
    check_vmap(
        lambda x, i: lax.dynamic_slice(x, (np.int32(1), i), (3, 2)),
        jax.jit(lambda x, i: jax.lax.dynamic_slice(x, (np.int32(1), i), (3, 2))),
        [args[0], args[2]],
        in_axes=(in_axes[0], in_axes[2]),
    )


GDN = jax.lax.GatherDimensionNumbers(
    offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,)
)
SDN = jax.lax.ScatterDimensionNumbers(
    update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)


def test_gather_and_scatter_add_are_transposes():
    rng = np.random.default_rng(0)
    x, idx = rand(rng, (5, 3)), A([[4], [0], [4]], I32)
    g = lambda x: lax.gather(x, idx, GDN, (1, 3))  # noqa: E731
    jg = lambda x: jax.lax.gather(x, idx, GDN, (1, 3))  # noqa: E731
    check_forward(g, jg, [x])
    check_vjp(g, jg, [x])
    u = rand(rng, (3, 3))
    s = lambda x, u: lax.scatter_add(x, idx, u, SDN)  # noqa: E731
    js = lambda x, u: jax.lax.scatter_add(x, idx, u, SDN)  # noqa: E731
    check_forward(s, js, [x, u])
    check_vjp(s, js, [x, u])
    check_vmap(s, js, [rand(rng, (2, 5, 3)), u], in_axes=(0, None))
    ir = str(tj.make_ir(lambda x: tj.vjp(g, x)[1](jnp.ones((3, 3))))(x))
    assert "scatter-add" in ir
    ir = str(tj.make_ir(lambda u: tj.vjp(lambda u: s(x, u), u)[1](jnp.ones((5, 3))))(u))
    assert "gather" in ir


def test_ir_printing():
    ir = tj.make_ir(lambda x, i: x[i])(np.ones((4, 3), F32), A([1, 2], I32))
    text = str(ir)
    assert "gather[dimension_numbers=GatherDimensionNumbers(offset_dims=(1,), " in text
    assert "mode=GatherScatterMode.PROMISE_IN_BOUNDS" in text
    ir.check()


# --- errors --------------------------------------------------------------------------------


def test_errors():
    x = np.ones((3, 4), F32)
    with pytest.raises(IndexError, match="too many indices for array: array is 2-dimensional"):
        tnp.getitem(x, (0, 1, 2))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        tnp.getitem(x, 3)
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1 with size 4"):
        tj.jit(lambda x: x[:, -5])(x)
    with pytest.raises(IndexError, match="single ellipsis"):
        tnp.getitem(x, (Ellipsis, Ellipsis))
    with pytest.raises(IndexError, match="boolean index did not match"):
        tnp.getitem(x, A([True, False]))
    with pytest.raises(TypeError, match="integer or boolean type, got indexer f32"):
        tnp.getitem(x, A([0.0, 1.0], F32))
    with pytest.raises(TypeError, match="integer or boolean type, got float"):
        tnp.getitem(x, 1.0)
    with pytest.raises(TypeError, match="non-tuple sequence"):
        tnp.getitem(x, [0, 1])
    with pytest.raises(IndexError, match="could not be broadcast together with shapes"):
        tnp.getitem(x, (A([0, 1]), A([0, 1, 2])))
    with pytest.raises(IndexError, match="slice bounds must be static"):
        tj.jit(lambda x, i: x[i:])(x, np.int32(1))
    with pytest.raises(ValueError, match="at\\[\\]: cannot broadcast the update values f32\\[5\\]"):
        tnp.IndexUpdateHelper(x)[0].set(np.ones(5, F32))
    with pytest.raises(ValueError, match="take: invalid mode 'raise'"):
        tnp.take(x, A([0]), mode="raise")
    with pytest.raises(ValueError, match="unknown out-of-bounds mode 'nearest'"):
        tnp.IndexUpdateHelper(x)[0].get(mode="nearest")
    with pytest.raises(ValueError, match="same number of dimensions"):
        tnp.take_along_axis(x, A([0]), 1)
    with pytest.raises(TypeError, match="tracejit arrays are immutable; use x = x.at"):
        tj.jit(lambda x: x.__setitem__(0, 1.0))(x)


def test_traced_boolean_mask_is_a_concretization_error():
    x = np.arange(4.0, dtype=F32)
    with pytest.raises(ConcretizationError, match="boolean mask index .* Use tnp.where"):
        tj.jit(lambda x: x[x > 1.0])(x)
    with pytest.raises(ConcretizationError, match="boolean mask"):
        tj.vmap(lambda x: x[x > 1.0])(x.reshape(2, 2))
    assert issubclass(ConcretizationError, TypeError)
    # Outside jit, a mask whose value is known at trace time is fine (grad specialises).
    g = tj.grad(lambda x: x[x > 1.0].sum())(x)
    assert_close(g, A([0, 0, 1, 1], F32))


def test_lax_errors():
    x = np.ones((3, 4), F32)
    with pytest.raises(TypeError, match="dynamic_slice: needs one start index per dimension"):
        lax.dynamic_slice(x, (0,), (1, 1))
    with pytest.raises(TypeError, match="dynamic_slice: slice_sizes \\(4, 1\\)"):
        lax.dynamic_slice(x, (0, 0), (4, 1))
    with pytest.raises(TypeError, match="start indices must be integer scalars, got f32"):
        lax.dynamic_slice(x, (np.float32(0), 0), (1, 1))
    with pytest.raises(TypeError, match="dynamic_update_slice: update f32\\[4,1\\]"):
        lax.dynamic_update_slice(x, np.ones((4, 1), F32), (0, 0))
    with pytest.raises(TypeError, match="gather: indices must have an integer dtype"):
        lax.gather(x, np.zeros((1, 1), F32), GDN, (1, 4))
    with pytest.raises(TypeError, match="gather: operand f32\\[3,4\\], indices i32\\[2,1\\]"):
        lax.gather(x, np.zeros((2, 1), I32), GDN, (1, 9))
    with pytest.raises(TypeError, match="scatter-add: operand f32\\[3,4\\] and updates i32"):
        lax.scatter_add(x, np.zeros((2, 1), I32), np.ones((2, 4), I32), SDN)
    from tracejit.primitives.scatter import scatter_p

    with pytest.raises(TypeError, match="scatter: only a scatter with unique_indices=True"):
        scatter_p.transpose(x, x, A([[0]], I32), np.ones((1, 4), F32), **_params(SDN))


def _params(dn, unique=False):
    from tracejit.primitives.gather import GatherScatterMode, ScatterDims

    return dict(
        dimension_numbers=ScatterDims.of(dn),
        mode=GatherScatterMode.FILL_OR_DROP,
        indices_are_sorted=False,
        unique_indices=unique,
    )


def test_lax_scatter_repeated_indices_vjp():
    rng = np.random.default_rng(0)
    x, u, idx = rand(rng, (5, 3)), rand(rng, (4, 3)), A([[1], [3], [1], [9]], I32)
    s = lambda x, u: lax.scatter(x, idx, u, SDN)  # noqa: E731
    js = lambda x, u: jax.lax.scatter(x, idx, u, SDN)  # noqa: E731
    check_forward(s, js, [x, u])
    check_jvp(s, js, [x, u])
    check_vjp(s, js, [x, u])
