"""tracejit.random: the Threefry block function's known answers, keys and
streams equal to jax.random's, determinism eagerly / under jit / under vmap,
vmap semantics of batched and unbatched keys, distribution moments, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, validate

import tracejit as tj
import tracejit.random as tr
from tracejit.ir import count_eqns

# Random123's known-answer vectors for Threefry-2x32 with 20 rounds:
# (key words, counter words, expected output words).
KNOWN_ANSWERS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


_THREEFRY_JIT = tj.jit(tr.threefry2x32)  # shared: one compile for every known answer


@pytest.mark.parametrize("key, counter, expected", KNOWN_ANSWERS)
def test_threefry_known_answers(key, counter, expected):
    key, counter = np.array(key, np.uint32), np.array(counter, np.uint32)
    want = np.array(expected, np.uint32)
    np.testing.assert_array_equal(tr.threefry2x32(key, counter), want)
    np.testing.assert_array_equal(_THREEFRY_JIT(key, counter), want)


def test_threefry_matches_jax_block_function():
    rng = np.random.default_rng(0)
    key = rng.integers(0, 2**32, (2,), dtype=np.uint32)
    counter = rng.integers(0, 2**32, (2, 7), dtype=np.uint32)
    from jax.extend.random import threefry_2x32

    np.testing.assert_array_equal(tr.threefry2x32(key, counter), threefry_2x32(key, counter))


def test_threefry_is_one_equation_per_draw():
    ir = validate(lambda k: tr.normal(k, (3, 4)), tr.key(0))
    names = [e.prim.name for e in ir.eqns]
    assert names.count("threefry2x32") == 1
    assert count_eqns(ir) < 25


@pytest.mark.parametrize("seed", [0, 1, 42, -1, 2**31 - 1, 2**31 + 5, 2**32 + 5])
def test_key_matches_prngkey(seed):
    np.testing.assert_array_equal(tr.key(seed), jax.random.PRNGKey(seed))
    assert tr.PRNGKey is tr.key


def test_key_from_traced_seeds():
    seeds = np.array([0, 7, -3, 2**31 - 1], np.int32)
    expected = jax.vmap(jax.random.PRNGKey)(seeds)
    np.testing.assert_array_equal(tj.vmap(tr.key)(seeds), expected)
    np.testing.assert_array_equal(tj.jit(tr.key)(np.int32(7)), jax.random.PRNGKey(7))


def _key_ops(m, k):
    out = {
        "split": m.split(k),
        "split5": m.split(k, 5),
        "split2x3": m.split(k, (2, 3)),
        "fold_in": m.fold_in(k, 17),
        "fold_in_int32": m.fold_in(k, np.int32(-4)),
    }
    for dtype, shape in ((np.uint8, (5,)), (np.uint16, (2, 3, 4)), (np.uint32, ())):
        out[f"bits_{np.dtype(dtype).name}"] = m.bits(k, shape, dtype)
    return out


def test_split_fold_in_bits_match_jax():
    """Eagerly against jax.random (computed in one compiled program)."""
    k, jk = tr.key(123), jax.random.PRNGKey(123)
    expected = jax.jit(lambda k: _key_ops(jax.random, k))(jk)
    got = _key_ops(tr, k)
    assert_close(got, expected)
    for name in ("bits_uint8", "bits_uint16", "bits_uint32"):
        assert got[name].dtype == expected[name].dtype
    # fold_in(key, i) is split(key, n)[i]: one counter space.
    np.testing.assert_array_equal(tr.fold_in(k, 3), got["split5"][3])


def test_bits_uint64_under_x64():
    with jax.enable_x64(True):
        k, jk = tr.key(5), jax.random.PRNGKey(5)
        np.testing.assert_array_equal(
            tr.bits(k, (4,), np.uint64), jax.random.bits(jk, (4,), np.uint64)
        )


# (id, tracejit sampler, jax sampler): both called as f(key) with the same key.
L3 = np.log(np.array([0.2, 0.5, 0.3], np.float32))
P5 = np.array([0.1, 0.2, 0.3, 0.15, 0.25], np.float32)
ARR = np.arange(24.0, dtype=np.float32).reshape(4, 6)
SAMPLERS = [
    ("uniform", lambda m, k: m.uniform(k, (3, 4))),
    (
        "uniform_bounds",
        lambda m, k: m.uniform(k, (2, 3), minval=np.array([-1, 0, 1.0], np.float32), maxval=5.0),
    ),
    ("uniform_bf16", lambda m, k: m.uniform(k, (6,), jnp.bfloat16)),
    ("uniform_f16", lambda m, k: m.uniform(k, (6,), np.float16, -2, 2)),
    ("normal", lambda m, k: m.normal(k, (4, 3))),
    ("normal_scalar", lambda m, k: m.normal(k)),
    ("truncated_normal", lambda m, k: m.truncated_normal(k, -1.0, 2.0, (5,))),
    (
        "truncated_normal_bcast",
        lambda m, k: m.truncated_normal(k, np.array([-3.0, 0.0], np.float32), 1.0),
    ),
    ("bernoulli", lambda m, k: m.bernoulli(k, 0.3, (8,))),
    ("bernoulli_array_p", lambda m, k: m.bernoulli(k, np.array([0.1, 0.9], np.float32))),
    ("randint", lambda m, k: m.randint(k, (10,), -5, 17)),
    ("randint_uint8_full", lambda m, k: m.randint(k, (10,), 0, 256, np.uint8)),
    ("randint_int8", lambda m, k: m.randint(k, (10,), -128, 127, np.int8)),
    ("randint_array_bounds", lambda m, k: m.randint(k, (2, 3), np.array([0, 10, -3]), 20)),
    ("randint_empty_range", lambda m, k: m.randint(k, (4,), 3, 3)),
    ("gumbel", lambda m, k: m.gumbel(k, (5,))),
    ("categorical", lambda m, k: m.categorical(k, L3)),
    ("categorical_shape", lambda m, k: m.categorical(k, np.stack([L3, L3[::-1]]), shape=(4, 2))),
    ("categorical_axis0", lambda m, k: m.categorical(k, np.stack([L3, L3[::-1]], 1), axis=0)),
    ("permutation_int", lambda m, k: m.permutation(k, 12)),
    ("permutation_rows", lambda m, k: m.permutation(k, ARR)),
    ("permutation_axis1", lambda m, k: m.permutation(k, ARR, axis=1)),
    ("permutation_independent", lambda m, k: m.permutation(k, ARR, axis=1, independent=True)),
    ("choice", lambda m, k: m.choice(k, 7, (3, 2))),
    ("choice_array", lambda m, k: m.choice(k, ARR, (5,), axis=1)),
    ("choice_no_replace", lambda m, k: m.choice(k, 9, (4,), replace=False)),
    ("choice_p", lambda m, k: m.choice(k, 5, (6,), p=P5)),
    ("choice_p_no_replace", lambda m, k: m.choice(k, ARR, (3,), replace=False, p=P5[:4])),
]
SAMPLER_IDS = [s[0] for s in SAMPLERS]


def _float_tol(x):
    return 1e-5 if np.issubdtype(np.asarray(x).dtype, np.floating) else None


def test_samplers_equal_jax_random():
    """Same key, same numbers as jax.random (bit-exact for integers and bools): every
    sampler in one compiled program per side (jax.random's and tracejit's), and one
    sampler per construction (FAMILIES, below) eagerly too."""
    expected = jax.jit(lambda k: {n: sample(jax.random, k) for n, sample in SAMPLERS})(
        jax.random.PRNGKey(11)
    )
    jitted = tj.jit(lambda k: {n: sample(tr, k) for n, sample in SAMPLERS})(tr.key(11))
    for name, sample in SAMPLERS:
        tol = 2e-2 if "bf16" in name or "f16" in name else _float_tol(expected[name])
        assert_close(jitted[name], expected[name], tol, f"{name} jit")
        if name in FAMILY_IDS:
            assert_close(sample(tr, tr.key(11)), expected[name], tol, f"{name} eager")


# One sampler per construction (every sampler is compared with jax.random above).
FAMILIES = [
    s
    for s in SAMPLERS
    if s[0]
    in (
        "uniform_bounds",
        "normal",
        "truncated_normal",
        "bernoulli",
        "randint_int8",
        "categorical_shape",
        "permutation_rows",
        "permutation_independent",
        "choice_array",
        "choice_p",
        "choice_p_no_replace",
    )
]
FAMILY_IDS = [s[0] for s in FAMILIES]


@pytest.mark.parametrize("name, sample", FAMILIES, ids=FAMILY_IDS)
def test_same_numbers_eager_jit_vmap(name, sample):
    keys = tr.split(tr.key(3), 2)
    eager = [sample(tr, keys[i]) for i in range(2)]
    tol = _float_tol(eager[0])

    def program(keys):  # jit, and vmap under jit: one compile
        return {
            "jit": sample(tr, keys[1]),
            # A batched key gives each member its own stream ...
            "batched": tj.vmap(lambda k: sample(tr, k))(keys),
            # ... and an unbatched key the same stream for every member.
            "same": tj.vmap(lambda i: sample(tr, keys[0]))(np.arange(2)),
        }

    got = tj.jit(program)(keys)
    assert_close(got["jit"], eager[1], tol, f"{name} jit")
    for i in range(2):
        assert_close(got["batched"][i], eager[i], tol, f"{name} vmap member {i}")
    if name not in ("randint_empty_range", "bernoulli_array_p"):
        assert not np.array_equal(np.asarray(got["batched"][0]), np.asarray(got["batched"][1]))
    assert_close(got["same"][1], eager[0], tol, f"{name} unbatched key")


def test_vmap_matches_jax_vmap():
    keys = tr.split(tr.key(9), 4)
    jkeys = jax.random.split(jax.random.PRNGKey(9), 4)
    np.testing.assert_array_equal(keys, jkeys)
    fns = (
        lambda m, k: m.normal(k, (3,)),
        lambda m, k: m.permutation(k, 6),
        lambda m, k: m.split(k, 3),
    )
    # All three in one compiled program per side; the first eagerly too.
    expected = jax.jit(lambda ks: [jax.vmap(lambda k, f=f: f(jax.random, k))(ks) for f in fns])(
        jkeys
    )
    got = tj.jit(lambda ks: [tj.vmap(lambda k, f=f: f(tr, k))(ks) for f in fns])(keys)
    assert_close(got, expected, 1e-6)
    assert_close(tj.vmap(lambda k: fns[0](tr, k))(keys), expected[0], 1e-6, "eager")


def test_fold_in_under_vmap_of_data():
    k = tr.key(0)
    steps = np.arange(5, dtype=np.int32)
    expected = jax.vmap(lambda s: jax.random.fold_in(jax.random.PRNGKey(0), s))(steps)
    np.testing.assert_array_equal(tj.vmap(lambda s: tr.fold_in(k, s))(steps), expected)


N = 40_000


def test_moments():
    # All six draws in one compiled program (the eager path is checked above).
    draws = tj.jit(
        lambda k1, k2, k3, k4, k5, k6: (
            tr.uniform(k1, (N,), minval=-1.0, maxval=3.0),
            tr.normal(k2, (N,)),
            tr.truncated_normal(k3, -1.0, 2.0, (N,)),
            tr.bernoulli(k4, 0.3, (N,)),
            tr.randint(k5, (N,), -3, 5),
            tr.categorical(k6, L3, shape=(N,)),
        )
    )(*tr.split(tr.key(2024), 6))
    u = np.asarray(draws[0], np.float64)
    assert u.min() >= -1 and u.max() < 3
    assert abs(u.mean() - 1.0) < 5 * np.sqrt(16 / 12 / N)
    assert abs(u.var() - 16 / 12) < 0.03
    z = np.asarray(draws[1], np.float64)
    assert abs(z.mean()) < 5 / np.sqrt(N) and abs(z.var() - 1) < 0.03
    assert abs(np.mean(z**3)) < 0.06 and abs(np.mean(z**4) - 3) < 0.15
    t = np.asarray(draws[2], np.float64)
    assert t.min() > -1 and t.max() < 2
    # Mean of N(0,1) truncated to (a, b): (phi(a) - phi(b)) / (Phi(b) - Phi(a)).
    from math import erf, exp, pi, sqrt

    phi = lambda x: exp(-x * x / 2) / sqrt(2 * pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + erf(x / sqrt(2)))  # noqa: E731
    assert abs(t.mean() - (phi(-1) - phi(2)) / (cdf(2) - cdf(-1))) < 0.02
    b = np.asarray(draws[3])
    assert b.dtype == np.bool_ and abs(b.mean() - 0.3) < 5 * np.sqrt(0.21 / N)
    r = np.asarray(draws[4])
    assert r.min() == -3 and r.max() == 4
    np.testing.assert_allclose(np.bincount(r + 3) / N, np.full(8, 1 / 8), atol=0.01)
    c = np.asarray(draws[5])
    np.testing.assert_allclose(np.bincount(c, minlength=3) / N, np.exp(L3), atol=0.015)


def test_combinatorics_properties():
    k = tr.key(77)
    perm = np.asarray(tr.permutation(k, 100))
    assert sorted(perm) == list(range(100)) and not np.array_equal(perm, np.arange(100))
    rows = np.asarray(tr.permutation(k, ARR, axis=1, independent=True))
    assert all(sorted(row) == sorted(orig) for row, orig in zip(rows, ARR, strict=True))
    draws = np.asarray(tr.choice(k, 50, (50,), replace=False))
    assert sorted(draws) == list(range(50))
    weighted = np.asarray(tr.choice(k, 4, (N,), p=np.array([0.1, 0.2, 0.3, 0.4], np.float32)))
    np.testing.assert_allclose(np.bincount(weighted) / N, [0.1, 0.2, 0.3, 0.4], atol=0.015)
    assert tr.choice(k, 5, (0,)).shape == (0,)


def test_reparameterized_gradients_match_jax():
    """Gradients flow through the sampler's parameters (not the key)."""
    k, jk = tr.key(1), jax.random.PRNGKey(1)

    def f(m, np_):
        def loss(lo, hi):
            u = m.uniform(k if m is tr else jk, (6,), minval=lo, maxval=hi)
            return np_.sum(np_.sin(u))

        return loss

    lo, hi = np.float32(-0.5), np.array([1, 2, 3, 4, 5, 6], np.float32)
    assert_close(
        tj.grad(f(tr, tj.numpy), argnums=(0, 1))(lo, hi),
        jax.grad(f(jax.random, jnp), argnums=(0, 1))(lo, hi),
        1e-5,
    )


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: tr.uniform(np.zeros(2, np.int32)), TypeError, r"uint32\[2\].*i32\[2\]"),
        (lambda: tr.normal(np.zeros((3, 2), np.uint32)), TypeError, "tj.vmap"),
        (lambda: tr.split(np.zeros(3, np.uint32)), TypeError, r"u32\[3\]"),
        (lambda: tr.uniform(tr.key(0), (2,), np.int32), TypeError, "floating-point dtype"),
        (lambda: tr.bits(tr.key(0), (2,), np.float32), TypeError, "unsigned integer"),
        (lambda: tr.randint(tr.key(0), (2,), 0, 5, np.float32), TypeError, "integer dtype"),
        (lambda: tr.bernoulli(tr.key(0), np.int32(1)), TypeError, "floating dtype"),
        (
            lambda: tr.uniform(tr.key(0), (2,), minval=np.zeros(3, np.float32)),
            ValueError,
            r"shape \(3,\) does not broadcast to the sample shape \(2,\)",
        ),
        (lambda: tr.uniform(tr.key(0), (-1,)), ValueError, "negative"),
        (lambda: tr.key(1.5), TypeError, "integer scalar"),
        (lambda: tr.fold_in(tr.key(0), 1.5), TypeError, "integer scalar"),
        (lambda: tr.choice(tr.key(0), 3, (5,), replace=False), ValueError, "larger sample"),
        (lambda: tr.choice(tr.key(0), 0, (2,)), ValueError, "greater than 0"),
        (lambda: tr.choice(tr.key(0), 4, p=np.ones(3, np.float32)), ValueError, "shape"),
        (
            lambda: tr.categorical(tr.key(0), np.zeros((2, 3), np.float32), shape=(4,)),
            ValueError,
            "batch shape",
        ),
        (lambda: tr.permutation(tr.key(0), np.float32(3)), TypeError, "integer"),
        (
            lambda: tr.threefry2x32(np.zeros(2, np.uint32), np.zeros(3, np.uint32)),
            TypeError,
            r"counter must be a uint32\[2, \.\.\.\]",
        ),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_traced_population_size_is_an_error():
    with pytest.raises(TypeError, match="known at trace time"):
        tj.jit(lambda n: tr.permutation(tr.key(0), n))(np.int32(5))
