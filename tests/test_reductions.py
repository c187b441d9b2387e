"""Reductions and scans vs JAX: tracejit.numpy's reductions (values eagerly and under
jit over shapes, axes, keepdims and dtypes), jvp/vjp vs JAX and finite differences
(ties for max/min, zeros for prod/cumprod), vmap with the batch axis anywhere,
the lax-level primitives, and the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import (
    assert_close,
    check_vmap,
    numerical_grad,
    rand,
    validate,
)

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.primitives import cumulative as tcum
from tracejit.primitives import reductions as tred

F32, I32, BOOL, BF16 = np.float32, np.int32, np.bool_, jnp.bfloat16
ALL = (F32, I32, BOOL, BF16)

# name -> (kind, dtypes, differentiable, extra kwargs). Kinds: "reduce" (axis None/int/
# tuple, keepdims), "extremum" (no identity: reduced axes must be nonempty), "arg"
# (axis None/int, keepdims), "cum" (axis None/int).
SPECS = {
    "sum": ("reduce", ALL, True, {}),
    "mean": ("reduce", ALL, True, {}),
    "prod": ("reduce", (F32, I32, BOOL), True, {}),
    "max": ("extremum", ALL, True, {}),
    "min": ("extremum", (F32, I32), True, {}),
    "argmax": ("arg", (F32, BOOL), False, {}),
    "argmin": ("arg", (F32, I32), False, {}),
    "var": ("reduce", (F32, I32, BF16), True, {}),
    "std": ("reduce", (F32,), True, {"ddof": 1}),
    "all": ("reduce", (F32, BOOL), False, {}),
    "any": ("reduce", (F32, BOOL), False, {}),
    "cumsum": ("cum", ALL, True, {}),
    "cumprod": ("cum", (F32, BOOL), True, {}),
    "nansum": ("reduce", (F32,), True, {}),
    "nanmean": ("reduce", (F32, I32), True, {}),
    "nanprod": ("reduce", (F32,), True, {}),
    "nanmax": ("extremum", (F32,), True, {}),
    "nanmin": ("extremum", (F32,), True, {}),
}
# The nan* variants are compositions of the others; nanmean and nanmax stand for them
# in the derivative and vmap tests.
COMPOSED = ("nansum", "nanprod", "nanmin")


def test_amax_and_amin_are_max_and_min():
    assert tnp.amax is tnp.max and tnp.amin is tnp.min


# (shape, axis, keepdims)
REDUCE_CASES = [
    ((), None, False),
    ((5,), 0, True),
    ((3, 4), None, True),
    ((3, 4), -1, False),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (-1, 1), True),
    ((0, 3), 1, False),
    ((0, 3), 0, True),
]
ARG_CASES = [
    ((), None, False),
    ((5,), 0, True),
    ((3, 4), None, True),
    ((3, 4), -1, False),
    ((2, 3, 4), 1, True),
    ((0, 3), 1, False),
]
CUM_CASES = [
    ((), None, False),
    ((5,), 0, False),
    ((3, 4), None, False),
    ((3, 4), -1, False),
    ((2, 3, 4), 1, False),
    ((0, 3), 0, False),
]


def _cases(name, dtype=F32):
    kind = SPECS[name][0]
    cases = {"arg": ARG_CASES, "cum": CUM_CASES}.get(kind, REDUCE_CASES)
    if kind == "extremum":
        cases = [c for c in cases if not _reduces_empty(*c[:2])]
    # Every case in float32; the 2-d ones for the other dtypes.
    return cases if dtype is F32 else [c for c in cases if len(c[0]) == 2]


def _reduces_empty(shape, axis):
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return any(shape[a] == 0 for a in axes)


def _fns(name, axis, keepdims):
    kind, _, _, kwargs = SPECS[name]
    if kind != "cum":
        kwargs = dict(kwargs, keepdims=keepdims)
    tj_fn, jax_fn = getattr(tnp, name), getattr(jnp, name)
    return (lambda x: tj_fn(x, axis=axis, **kwargs)), (lambda x: jax_fn(x, axis=axis, **kwargs))


def _batched(name, cases):
    """One function of one array per case, returning every case's result (one compile)."""
    fns = [_fns(name, axis, keepdims) for _, axis, keepdims in cases]

    def tj_all(*xs):
        return tuple(f[0](x) for f, x in zip(fns, xs, strict=True))

    def jax_all(*xs):
        return tuple(f[1](x) for f, x in zip(fns, xs, strict=True))

    return tj_all, jax_all


def _input(rng, shape, dtype):
    if dtype == np.dtype(BF16):
        return jnp.asarray(rand(rng, shape, F32), BF16)
    return rand(rng, shape, dtype)


def check_cases(fns, xs, labels, eager=None, tol=None):
    """check_forward for several (tj_fn, jax_fn) pairs of one array each.

    Every case runs compiled in one program on both sides; the cases for which
    ``eager(label)`` holds (default: all) also run op by op.
    """

    def tj_all(*a):
        return tuple(f(x) for (f, _), x in zip(fns, a, strict=True))

    expected = jax.jit(lambda *a: tuple(g(x) for (_, g), x in zip(fns, a, strict=True)))(*xs)
    for label, got, e in zip(labels, tj.jit(tj_all)(*xs), expected, strict=True):
        assert_close(got, e, tol, f"jit {label}")
    for (f, _), x, label, e in zip(fns, xs, labels, expected, strict=True):
        if eager is None or eager(label):
            assert_close(f(x), e, tol, f"eager {label}")
    validate(tj_all, *xs)


def check_vmap_jit(tj_fn, jax_fn, args, in_axes, labels=None):
    """check_vmap with both sides compiled (``labels`` name the outputs of a tuple)."""
    expected = jax.jit(jax.vmap(jax_fn, in_axes=in_axes))(*args)
    got = tj.jit(tj.vmap(tj_fn, in_axes=in_axes))(*args)
    if labels is None:
        got, expected, labels = [got], [expected], ["vmap"]
    for label, g, e in zip(labels, got, expected, strict=True):
        assert_close(g, e, None, f"vmap {label}")
    validate(tj.vmap(tj_fn, in_axes=in_axes), *args)


def check_derivatives(tj_fn, jax_fn, args, seed=0, tol=None):
    """check_jvp + check_vjp, run as one compiled program on each side.

    The transformed IR is the one eager evaluation runs; compiling it once
    instead of dispatching every equation keeps this file fast.
    """
    rng = np.random.default_rng(seed)
    n = len(args)
    ts = tuple(rand(rng, np.shape(a)) for a in args)
    out = jax.eval_shape(jax_fn, *args)
    cts = jax.tree_util.tree_map(lambda o: rand(rng, o.shape), out)

    def tj_both(a, t, c):
        return tj.jvp(tj_fn, a, t), tj.vjp(tj_fn, *a)[1](c)

    def jax_both(a, t, c):
        return jax.jvp(jax_fn, a, t), jax.vjp(jax_fn, *a)[1](c)

    args = tuple(args)
    expected = jax.jit(jax_both)(args, ts, cts)
    got = tj.jit(tj_both)(args, ts, cts)
    assert_close(got[0], expected[0], tol, "jvp")
    assert_close(got[1], expected[1], tol, "vjp")
    assert len(got[1]) == n
    validate(tj_both, args, ts, cts)


def check_grad_vs_fd(tj_fn, xs, tol=1e-5):
    """check_grad_fd for a scalar function of several arrays, compiled once.

    Central differences in float64, one element of one argument at a time.
    """
    with jax.enable_x64(True):
        xs = [np.asarray(x, np.float64) for x in xs]
        f = tj.jit(tj_fn)
        grads = tj.jit(tj.grad(tj_fn, argnums=tuple(range(len(xs)))))(*xs)
        for i, (x, g) in enumerate(zip(xs, grads, strict=True)):
            fd = numerical_grad(lambda v, i=i: f(*xs[:i], v, *xs[i + 1 :]), x)
            np.testing.assert_allclose(g, fd, rtol=tol, atol=tol, err_msg=f"argument {i}")


@pytest.mark.parametrize("name", list(SPECS))
def test_forward_vs_jax(name):
    # Every dtype and case in one compiled program per side; op by op for the 0-d and
    # the first 2-d float32 cases.
    rng = np.random.default_rng(0)
    labels = [(np.dtype(d).name, c) for d in SPECS[name][1] for c in _cases(name, d)]
    xs = [_input(rng, shape, np.dtype(d)) for d, (shape, _, _) in labels]
    fns = [_fns(name, axis, keepdims) for _, (_, axis, keepdims) in labels]
    eager = [label for label in labels if label[0] == "float32" and len(label[1][0]) in (0, 2)]
    check_cases(fns, xs, labels, eager=eager[:2].__contains__)


# --- derivatives ----------------------------------------------------------------------

DIFF = [n for n, s in SPECS.items() if s[2] and n not in COMPOSED]


def _diff_cases(name):
    if SPECS[name][0] == "cum":
        return [((3, 4), None, False), ((2, 3, 4), -2, False)]
    return [((3, 4), None, False), ((3, 4), 1, True), ((2, 3, 4), (0, 2), False)]


@pytest.mark.parametrize("name", DIFF)
def test_jvp_and_vjp_vs_jax(name):
    cases = _diff_cases(name)
    rng = np.random.default_rng(1)
    xs = [rand(rng, shape) for shape, _, _ in cases]
    tj_all, jax_all = _batched(name, cases)
    check_derivatives(tj_all, jax_all, xs)


def test_grad_vs_finite_differences():
    # Every differentiable function on its own input, summed into one scalar.
    rng = np.random.default_rng(2)
    terms, xs = [], []
    for name in DIFF:
        shape, axis, keepdims = _diff_cases(name)[-1]
        tj_fn, jax_fn = _fns(name, axis, keepdims)
        xs.append(rand(rng, shape, np.float64, 0.5, 1.5) * rng.choice([-1, 1], shape))
        w = rand(rng, jax.eval_shape(jax_fn, xs[-1].astype(F32)).shape, np.float64)
        terms.append((tj_fn, w))

    def f(*a):
        return sum(tnp.sum(fn(x) * w) for (fn, w), x in zip(terms, a, strict=True))

    check_grad_vs_fd(f, xs)


TIES = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [0.5, -1.0, 0.5, 0.25]], F32)
ZEROS = np.array([[1.5, 0.0, 3.0, 2.0], [0.0, 2.0, 0.0, 1.0], [1.5, 2.0, 0.5, -1.0]], F32)


def _per_axis(name, axes=(None, 0, 1)):
    return _batched(name, [((3, 4), axis, False) for axis in axes])


@pytest.mark.parametrize("name", ["max", "min", "nanmax"])
def test_ties_share_the_derivative_like_jax(name):
    tj_all, jax_all = _per_axis(name)
    check_derivatives(tj_all, jax_all, [TIES] * 3)


@pytest.mark.parametrize("name", ["prod", "cumprod", "nanprod"])
def test_zeros_in_products(name):
    # One zero, two zeros and none along each row: the derivatives stay exact.
    axes = (1,) if name == "cumprod" else (0, 1)
    tj_all, jax_all = _per_axis(name, axes)
    check_derivatives(tj_all, jax_all, [ZEROS] * len(axes))
    if name != "nanprod":
        tj_fn, jax_fn = _fns(name, 1, False)
        w = rand(np.random.default_rng(3), np.shape(jax_fn(ZEROS)), np.float64)
        check_grad_vs_fd(lambda v: tnp.sum(tj_fn(v) * w), [ZEROS])


@pytest.mark.parametrize(
    "name,fn",
    [
        ("prod", lambda m, x: m.prod(x, axis=1)),
        ("cumprod", lambda m, x: m.cumprod(x, axis=1)),
        ("max", lambda m, x: m.max(x, axis=0)),
        ("var", lambda m, x: m.var(x, axis=1)),
        ("cumsum", lambda m, x: m.cumsum(x) ** 2),
    ],
)
def test_second_derivatives_vs_jax(name, fn):
    # Zeros (prod, cumprod) and ties (max) included: the jvp rules differentiate again.
    def tj_f(x):
        return tnp.sum(fn(tnp, x) * tnp.sum(fn(tnp, x)))

    def jax_f(x):
        return jnp.sum(fn(jnp, x) * jnp.sum(fn(jnp, x)))

    direction = TIES * 0.5 + 1
    expected = jax.jit(lambda x, t: jax.jvp(jax.grad(jax_f), (x,), (t,)))(ZEROS, direction)
    got = tj.jit(lambda x, t: tj.jvp(tj.grad(tj_f), (x,), (t,)))(ZEROS, direction)
    assert_close(got, expected, 1e-4)


# --- vmap -----------------------------------------------------------------------------


def test_vmap_vs_jax():
    # Every function with the batch axis first, middle and last and unbatched, per-example
    # axes before and after it; one compiled program per side.
    cases = [(0, 1), (1, None), (-1, 0), (None, -1)]
    shapes = [(5, 3, 4), (3, 5, 4), (3, 4, 5), (3, 4)]
    names = [n for n in SPECS if n not in COMPOSED]
    labels = [(n, b, axis) for n in names for b, axis in cases]
    fns = [_fns(n, axis, SPECS[n][0] != "cum" and b == 1) for n, b, axis in labels]
    rng = np.random.default_rng(5)
    xs = [rand(rng, shapes[cases.index((b, axis))]) for _, b, axis in labels]
    check_vmap_jit(
        lambda *a: tuple(f[0](x) for f, x in zip(fns, a, strict=True)),
        lambda *a: tuple(f[1](x) for f, x in zip(fns, a, strict=True)),
        xs,
        in_axes=tuple(b for _, b, _ in labels),
        labels=labels,
    )


def test_vmap_of_grad_vs_jax():
    names = ["prod", "max", "cumprod", "var"]
    fns = [_fns(name, -1, False) for name in names]
    x = rand(np.random.default_rng(6), (3, 5, 4))
    check_vmap_jit(
        lambda v: tuple(tj.grad(lambda u, f=f: tnp.sum(f[0](u)))(v) for f in fns),
        lambda v: tuple(jax.grad(lambda u, f=f: jnp.sum(f[1](u)))(v) for f in fns),
        [x],
        in_axes=1,
        labels=names,
    )


@pytest.mark.parametrize(
    "fn,prim",
    [
        (lambda x: tnp.sum(x, 0), "reduce_sum"),
        (lambda x: tnp.max(x, axis=(0, 1)), "reduce_max"),
        (lambda x: tnp.prod(x, 1), "reduce_prod"),
        (lambda x: tnp.argmin(x, axis=1), "argmin"),
        (lambda x: tnp.any(x > 0, axis=0), "reduce_or"),
        (lambda x: tnp.cumsum(x, axis=0), "cumsum"),
        (lambda x: tj.lax.cummax(x, 1, reverse=True), "cummax"),
    ],
)
def test_vmapped_reduction_is_one_equation(fn, prim):
    x = rand(np.random.default_rng(7), (5, 3, 4))
    for in_axes in (0, 2):
        ir = tj.make_ir(tj.vmap(fn, in_axes=in_axes))(x)
        ir.check()
        assert [str(e.prim) for e in ir.eqns].count(prim) == 1, str(ir)
        assert all(str(e.prim) in (prim, "gt", "transpose") for e in ir.eqns), str(ir)


def test_vmap_of_sum_is_exactly_one_reduce_sum():
    x = rand(np.random.default_rng(7), (5, 3))
    ir = tj.make_ir(tj.vmap(lambda x: tnp.sum(x, 0)))(x)
    assert [str(e.prim) for e in ir.eqns] == ["reduce_sum"]
    assert ir.eqns[0].params["axes"] == (1,)
    check_vmap(lambda v: tnp.sum(v, 0), lambda v: jnp.sum(v, 0), [x], in_axes=1)  # eager too


# --- where / initial / dtype arguments and the lax-level primitives ------------------------

W = np.array([[True, False, True, True], [False, False, False, False], [True] * 4])
X34 = rand(np.random.default_rng(8), (3, 4))

KEYWORDS = {
    "where_initial": [
        lambda m, x: m.sum(x, axis=1, where=W),
        lambda m, x: m.sum(x, initial=2.5),
        lambda m, x: m.prod(x, axis=0, where=W, initial=2.0),
        lambda m, x: m.max(x, axis=1, where=W, initial=-0.5),
        lambda m, x: m.min(x, axis=1, where=W, initial=0.0, keepdims=True),
        lambda m, x: m.max(np.zeros((0, 3), F32), axis=0, initial=1.0),
        lambda m, x: m.mean(x, axis=1, where=W),
        lambda m, x: m.var(x, axis=0, where=W),
        lambda m, x: m.all(x > -1, axis=1, where=W),
        lambda m, x: m.any(x > 1, axis=1, where=W),
    ],
    "dtype": [
        lambda m, x: m.sum(x, axis=0, dtype=I32),
        lambda m, x: m.sum(x, dtype=BOOL),
        lambda m, x: m.prod(x > 0, axis=1, dtype=BOOL),
        lambda m, x: m.mean(x > 0, dtype=BF16),
        lambda m, x: m.cumsum(x > 0, axis=1, dtype=BOOL),
        lambda m, x: m.cumsum(x.astype(np.int8), axis=0),
        lambda m, x: m.sum(x.astype(np.int8), axis=0),
        lambda m, x: m.prod(x.astype(np.uint8)),
        lambda m, x: m.mean(x.astype(np.int16), axis=1),
    ],
    "misc": [
        lambda m, x: m.var(x, ddof=12),
        lambda m, x: m.std(x, axis=0, ddof=4),
        lambda m, x: m.std(x, axis=1, ddof=1, keepdims=True),
        lambda m, x: m.mean(2.0),
        lambda m, x: m.sum(3),
        lambda m, x: m.max(True),
        lambda m, x: m.argmax(np.float32(2.0), keepdims=True),
        lambda m, x: m.cumprod(np.int32(3)),
    ],
}


@pytest.mark.parametrize("group", list(KEYWORDS))
def test_keyword_arguments_vs_jax(group):
    fns = [(lambda x, c=c: c(tnp, x), lambda x, c=c: c(jnp, x)) for c in KEYWORDS[group]]
    check_cases(fns, [X34] * len(fns), range(len(fns)))


NANS = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [-1.0, 2.0, 0.5]], F32)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanprod", "nanmax", "nanmin"])
def test_nan_functions_ignore_nans(name):
    check_cases([_fns(name, axis, False) for axis in (None, 0, 1)], [NANS] * 3, (None, 0, 1))


LAX = {
    "reduce_max": (lambda m, x: m.reduce_max(x, (0, 2)), (F32, I32, BOOL)),
    "reduce_min": (lambda m, x: m.reduce_min(x, (1,)), (F32, I32)),
    "reduce_prod": (lambda m, x: m.reduce_prod(x, (2,)), (F32, I32)),
    "reduce_and": (lambda m, x: m.reduce_and(x, (0, 1)), (BOOL, I32)),
    "reduce_or": (lambda m, x: m.reduce_or(x, (2,)), (BOOL, I32)),
    "argmax": (lambda m, x: m.argmax(x, 1, np.int32), (F32, I32, BOOL)),
    "argmin": (lambda m, x: m.argmin(x, 2, np.int32), (F32, I32)),
    "cumsum": (lambda m, x: m.cumsum(x, 1, reverse=True), (F32, I32)),
    "cumprod": (lambda m, x: m.cumprod(x, 2, reverse=True), (F32, I32)),
    "cummax": (lambda m, x: m.cummax(x, 0), (F32, I32)),
    "cummin": (lambda m, x: m.cummin(x, 2, reverse=True), (F32, I32)),
}


def _lax_fns(names):
    return [
        (lambda v, f=LAX[n][0]: f(tj.lax, v), lambda v, f=LAX[n][0]: f(jax.lax, v)) for n in names
    ]


def test_lax_level_vs_jax_lax():
    rng = np.random.default_rng(9)
    labels = [(n, np.dtype(d).name) for n, (_, dts) in LAX.items() for d in dts]
    xs = [rand(rng, (2, 3, 4), d) for _, d in labels]
    check_cases(_lax_fns([n for n, _ in labels]), xs, labels)


LAX_DIFF = [n for n in LAX if LAX[n][1][0] is F32 and n not in ("argmax", "argmin")]


def test_lax_level_derivatives_vs_jax():
    xs = [rand(np.random.default_rng(10), (2, 3, 4)) for _ in LAX_DIFF]
    fns = _lax_fns(LAX_DIFF)
    check_derivatives(
        lambda *a: tuple(f(x) for (f, _), x in zip(fns, a, strict=True)),
        lambda *a: tuple(g(x) for (_, g), x in zip(fns, a, strict=True)),
        xs,
    )
    # cummax/cummin against finite differences (the others: test_grad_vs_finite_differences).
    rng = np.random.default_rng(11)
    (_, f0), (_, f1) = _lax_fns(["cummax", "cummin"])
    w0, w1 = rand(rng, (2, 3, 4), np.float64), rand(rng, (2, 3, 4), np.float64)
    check_grad_vs_fd(
        lambda a, b: (
            tnp.sum(LAX["cummax"][0](tj.lax, a) * w0) + tnp.sum(LAX["cummin"][0](tj.lax, b) * w1)
        ),
        [xs[0], xs[1]],
    )


def test_lax_level_vmap_vs_jax():
    # Each primitive in its first dtype, batched along axis 0 and along axis 2.
    rng = np.random.default_rng(12)
    fns = _lax_fns(list(LAX))
    xs = []
    for _, dts in LAX.values():
        x = rand(rng, (2, 3, 4), dts[0])
        xs += [np.stack([x, x[::-1]]), np.stack([x, x[:, ::-1]], axis=2)]
    check_vmap_jit(
        lambda *a: tuple(f(x) for (f, _), x in zip([f for f in fns for _ in "ab"], a, strict=True)),
        lambda *a: tuple(g(x) for (_, g), x in zip([f for f in fns for _ in "ab"], a, strict=True)),
        xs,
        in_axes=(0, 2) * len(LAX),
        labels=[(n, b) for n in LAX for b in (0, 2)],
    )


@pytest.mark.parametrize(
    "reverse,expected",
    [
        (False, [1.0, 2.0, 2.0, 4.0, 5.0, 6.0]),
        (True, [5.0, 5.0, 5.0, 5.0, 5.0, 6.0]),
    ],
)
def test_cummax_ties_follow_the_latest_running_max(reverse, expected):
    x = np.array([1.0, 3.0, 2.0, 3.0, 5.0, 5.0], F32)
    t = np.arange(1.0, 7.0, dtype=F32)
    c = rand(np.random.default_rng(11), (6,))

    def f(x, t, c):
        dmax = tj.jvp(lambda v: tj.lax.cummax(v, 0, reverse=reverse), (x,), (t,))[1]
        dmin = tj.jvp(lambda v: tj.lax.cummin(-v, 0, reverse=reverse), (x,), (t,))[1]
        (ct,) = tj.vjp(lambda v: tj.lax.cummax(v, 0, reverse=reverse), x)[1](c)
        return dmax, dmin, ct

    dmax, dmin, ct = tj.jit(f)(x, t, c)
    assert_close(dmax, np.array(expected, F32))
    assert_close(dmin, -np.array(expected, F32))
    # The vjp is the transpose of that jvp: <J t, c> == <t, J^T c>.
    np.testing.assert_allclose(np.dot(ct, t), np.dot(c, expected), rtol=1e-5)


def test_tracer_methods_under_jit():
    def f(x):
        return (
            x.sum(),
            x.max(axis=0),
            x.min(keepdims=True),
            x.argmax(),
            x.argmin(axis=1),
            x.prod(axis=1),
            x.mean(axis=(0, 1)),
            x.cumsum(axis=1),
        )

    assert_close(tj.jit(f)(X34), f(jnp.asarray(X34)))


# --- errors --------------------------------------------------------------------------------

EMPTY = np.zeros((0, 3), F32)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: tnp.sum(X34, axis=2), ValueError, r"sum: axis 2 is out of bounds.*rank 2"),
        (lambda: tnp.mean(X34, axis=-3), ValueError, r"mean: axis -3 is out of bounds.*rank 2"),
        (lambda: tnp.max(np.float32(1), axis=0), ValueError, r"max: axis 0 .*rank 0.*axis=None"),
        (lambda: tnp.var(X34, axis=(0, -2)), ValueError, r"var: duplicate value in axis=\(0, -2\)"),
        (lambda: tnp.cumsum(X34, axis=5), ValueError, r"cumsum: axis 5 .*rank 2"),
        (lambda: tnp.argmax(X34, axis=3), ValueError, r"argmax: axis 3 .*rank 2"),
        (lambda: tnp.sum(X34, axis=1.5), TypeError, r"sum: axis must be None, an int"),
        (lambda: tnp.argmax(X34, axis=(0,)), TypeError, r"argmax: axis must be None or an int"),
        (lambda: tnp.max(EMPTY), ValueError, r"max: zero-size array to reduction operation max"),
        (lambda: tnp.min(EMPTY, axis=0), ValueError, r"min: zero-size array.*f32\[0,3\]"),
        (lambda: tnp.amax(X34, where=W), ValueError, r"max: .*where mask.*'initial'"),
        (
            lambda: tnp.argmin(EMPTY, axis=0),
            ValueError,
            r"argmin: attempt to get argmin of an empty",
        ),
        (lambda: tnp.argmax(EMPTY), ValueError, r"argmax: attempt to get argmax of an empty"),
        (lambda: tnp.sum(X34, out=X34), TypeError, r"sum: the out= argument is not supported"),
        (
            lambda: tnp.max(X34, initial=np.ones(2)),
            ValueError,
            r"max: initial value must be a scalar",
        ),
        (lambda: tnp.std(X34 + 1j), TypeError, r"std: complex operands are not supported"),
        (lambda: tnp.sum(X34, where=np.ones(3, bool)), ValueError, r"broadcast"),
        (lambda: tnp.sum("abc"), TypeError, r"sum: expected an array, got str"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _traced(fn, x=X34):
    return lambda: tj.make_ir(fn)(x)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            _traced(lambda x: tred.reduce_prod_p.bind(x > 0, axes=(0,))),
            TypeError,
            r"reduce_prod: expected a numeric \(non-boolean\) operand, got bool\[3,4\]",
        ),
        (
            _traced(lambda x: tred.reduce_sum_p.bind(x, axes=(2,))),
            ValueError,
            r"reduce_sum: invalid axes \(2,\) for operand f32\[3,4\] of rank 2",
        ),
        (
            _traced(lambda x: tred.reduce_max_p.bind(x, axes=(0, 0))),
            ValueError,
            r"reduce_max: invalid axes \(0, 0\)",
        ),
        (
            _traced(lambda x: tred.reduce_and_p.bind(x, axes=(0,))),
            TypeError,
            r"reduce_and: expected an integer or boolean operand, got f32\[3,4\]",
        ),
        (
            _traced(lambda x: tj.lax.argmax(x, 0, np.float32)),
            TypeError,
            r"argmax: index_dtype must be an integer dtype, got float32",
        ),
        (
            _traced(lambda x: tred.argmin_p.bind(x, axes=(0, 1), index_dtype=np.dtype(I32))),
            ValueError,
            r"argmin: expects exactly one axis, got axes=\(0, 1\)",
        ),
        (
            _traced(lambda x: tj.lax.argmax(x, 0, np.int32), EMPTY),
            ValueError,
            r"argmax: attempt to get argmax of an empty sequence \(axis 0 of f32\[0,3\]",
        ),
        (
            _traced(lambda x: tcum.cumsum(x, 2)),
            ValueError,
            r"cumsum: axis 2 is out of range for operand f32\[3,4\] of rank 2",
        ),
        (
            _traced(lambda x: tcum.cummax(x > 0, 0)),
            TypeError,
            r"cummax: expected a numeric \(non-boolean\) operand, got bool\[3,4\]",
        ),
    ],
)
def test_primitive_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
