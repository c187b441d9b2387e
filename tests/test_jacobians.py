"""jacfwd, jacrev, hessian against JAX's: layouts over pytrees, argnums, has_aux,
chunking, composition, the seed's Jacobian examples and the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand, validate

import tracejit as tj
import tracejit.numpy as tnp

rng = np.random.default_rng(0)
W = rand(rng, (4, 3))
B = rand(rng, (4,))
X = rand(rng, (3,))
P = {"w": rand(rng, (3,)), "b": (rand(rng, ()), rand(rng, (2, 3)))}


def _same_structure(actual, expected):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)


# (name, tracejit function, jax function, args): one entry per shape of problem.
SPECS = [
    ("vector->vector", lambda x: tnp.tanh(W @ x), lambda x: jnp.tanh(W @ x), (X,)),
    ("scalar->scalar", lambda x: tnp.sin(x) * x, lambda x: jnp.sin(x) * x, (np.float32(0.7),)),
    (
        "matrix->scalar",
        lambda m: tnp.sum(tnp.exp(m) * m),
        lambda m: jnp.sum(jnp.exp(m) * m),
        (rand(rng, (2, 3)),),
    ),
    (
        "zero-size input",
        lambda x: tnp.sum(x) + 1.0,
        lambda x: jnp.sum(x) + 1.0,
        (np.zeros((0,), np.float32),),
    ),
    ("two args", lambda x, w: tnp.sin(w @ x), lambda x, w: jnp.sin(w @ x), (X, W)),
    (
        "pytree in and out",
        lambda p, x: {"a": tnp.sum(tnp.sin(p["w"] * x)), "b": (p["b"][1] * p["b"][0], x * 2.0)},
        lambda p, x: {"a": jnp.sum(jnp.sin(p["w"] * x)), "b": (p["b"][1] * p["b"][0], x * 2.0)},
        (P, X),
    ),
]
IDS = [s[0] for s in SPECS]


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("name, f, jf, args", SPECS, ids=IDS)
def test_jacobian_matches_jax(mode, name, f, jf, args):
    """argnums=0 and every argument: both under jit (one compiled program per side),
    the latter eagerly too."""
    tj_jac, jax_jac = (tj.jacfwd, jax.jacfwd) if mode == "fwd" else (tj.jacrev, jax.jacrev)
    argnums_list = [0, tuple(range(len(args)))]

    def program(jac, fun):
        return lambda *a: [jac(fun, argnums)(*a) for argnums in argnums_list]

    expected = jax.jit(program(jax_jac, jf))(*args)
    jitted = tj.jit(program(tj_jac, f))(*args)
    for argnums, got, e in zip(argnums_list, jitted, expected):
        _same_structure(got, e)
        assert_close(got, e, 1e-5, f"jit {mode} {argnums}")
    argnums = argnums_list[-1]
    actual = tj_jac(f, argnums)(*args)
    _same_structure(actual, expected[-1])
    assert_close(actual, expected[-1], 1e-5, f"eager {mode} {argnums}")
    validate(tj_jac(f, argnums), *args)


@pytest.mark.parametrize("argnums", [1, (1, 0), (0,)])
def test_argnums_layout(argnums):
    f, jf, args = SPECS[-1][1:]

    def program(jacfwd, jacrev, fun):  # both modes in one compiled program per side
        return lambda *a: (jacfwd(fun, argnums)(*a), jacrev(fun, argnums)(*a))

    expected = jax.jit(program(jax.jacfwd, jax.jacrev, jf))(*args)
    actual = tj.jit(program(tj.jacfwd, tj.jacrev, f))(*args)
    for mode, got, e in zip(("jacfwd", "jacrev"), actual, expected):
        _same_structure(got, e)
        assert_close(got, e, 1e-5, mode)


def test_has_aux():
    f = lambda x: (tnp.sin(x) * x, {"n": tnp.sum(x)})
    jf = lambda x: (jnp.sin(x) * x, {"n": jnp.sum(x)})
    g = lambda x: (tnp.sum(tnp.sin(x) ** 2), x * 3.0)
    jg = lambda x: (jnp.sum(jnp.sin(x) ** 2), x * 3.0)

    def program(jacfwd, jacrev, hessian, f, g):  # one compiled program per side
        return lambda x: {
            "jacfwd": jacfwd(f, has_aux=True)(x),
            "jacrev": jacrev(f, has_aux=True)(x),
            "hessian": hessian(g, has_aux=True)(x),
        }

    expected = jax.jit(program(jax.jacfwd, jax.jacrev, jax.hessian, jf, jg))(X)
    assert_close(tj.jit(program(tj.jacfwd, tj.jacrev, tj.hessian, f, g))(X), expected, 1e-5)
    assert_close(tj.jacrev(f, has_aux=True)(X), expected["jacrev"], 1e-5, "eager jacrev")


CHUNK_SIZES = [1, 2, 3, 4, 100]


def test_jacrev_chunk_size_gives_identical_results():
    """Eagerly bit-identical to the unchunked Jacobian for chunks of one, a remainder
    and more than the output size; every chunk size under jit (one program)."""
    f = lambda x, w: {"y": tnp.tanh(w @ x), "z": tnp.sum(x * x)}
    full = tj.jacrev(f, (0, 1))(X, W)
    for chunk_size in (1, 2, 100):
        chunked = tj.jacrev(f, (0, 1), chunk_size=chunk_size)(X, W)
        assert_close(chunked, full, 0.0, f"chunk_size={chunk_size}")
    jitted = tj.jit(lambda x, w: [tj.jacrev(f, (0, 1), chunk_size=c)(x, w) for c in CHUNK_SIZES])
    for chunk_size, got in zip(CHUNK_SIZES, jitted(X, W)):
        assert_close(got, full, 1e-6, f"jit chunk_size={chunk_size}")


def _h(x, y):
    return tnp.sum(tnp.sin(x) ** 2 * y) + tnp.sum(x * x * x)


def _jh(x, y):
    return jnp.sum(jnp.sin(x) ** 2 * y) + jnp.sum(x * x * x)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_hessian_and_jacfwd_of_jacrev(argnums):
    Y = rand(rng, (3,))
    expected = jax.jit(jax.hessian(_jh, argnums))(X, Y)
    assert_close(tj.hessian(_h, argnums)(X, Y), expected, 1e-4, "eager hessian")
    # The compositions in one compiled program.
    got = tj.jit(
        lambda x, y: {
            "hessian": tj.hessian(_h, argnums)(x, y),
            "jacfwd(jacrev)": tj.jacfwd(tj.jacrev(_h, argnums), argnums)(x, y),
            "jacrev(jacrev)": tj.jacrev(tj.jacrev(_h, argnums), argnums)(x, y),
        }
    )(X, Y)
    for k, v in got.items():
        assert_close(v, expected, 1e-4, k)


def test_hvp_by_jvp_of_grad():
    Y, V = rand(rng, (3,)), rand(rng, (3,))
    hvp = lambda x, v: tj.jvp(tj.grad(lambda x: _h(x, Y)), (x,), (v,))[1]
    expected = jax.jvp(jax.grad(lambda x: _jh(x, Y)), (X,), (V,))[1]
    assert_close(hvp(X, V), expected, 1e-4)
    assert_close(tj.jit(hvp)(X, V), expected, 1e-4)
    assert_close(hvp(X, V), tj.hessian(_h)(X, Y) @ V, 1e-4)


def test_vmap_of_jacobians():
    xs = rand(rng, (5, 3))
    f = lambda x: tnp.tanh(W @ x)
    jf = lambda x: jnp.tanh(W @ x)

    def program(vmap, jacfwd, jacrev, f):  # one compiled program per side
        return lambda xs: {"jacrev": vmap(jacrev(f))(xs), "jacfwd": vmap(jacfwd(f))(xs)}

    expected = jax.jit(program(jax.vmap, jax.jacfwd, jax.jacrev, jf))(xs)
    assert_close(tj.jit(program(tj.vmap, tj.jacfwd, tj.jacrev, f))(xs), expected, 1e-5)


@pytest.mark.parametrize("jac", [tj.jacfwd, tj.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobian_of_linear_map_is_the_matrix(jac):
    # The primals stay unbatched, so W meets the whole identity basis in one product,
    # which the simplifier sees is W itself: no matmul is left (JAX performs one).
    ir = tj.jit(jac(lambda x: W @ x)).trace(X)
    ir.check()
    assert [e.prim.name for e in ir.eqns] == [], ir
    assert ir.ir.outvars[0] in ir.ir.constvars
    assert_close(jac(lambda x: W @ x)(X), W, 1e-6)
    assert_close(tj.jit(jac(lambda x: W @ x))(X), W, 1e-6)


def test_python_control_flow_on_values_outside_jit():
    def f(x):
        if float(tnp.sum(x)) > 0:
            return tnp.sin(x)
        return tnp.cos(x)

    x = np.abs(X)
    assert_close(tj.jacfwd(f)(x), jax.jacfwd(jnp.sin)(x), 1e-6)
    assert_close(tj.jacrev(f)(-x), jax.jacrev(jnp.cos)(-x), 1e-6)


# --- the seed's example: the Jacobian of a linear layer with tanh -------------------------


def predict(weight, bias, x):
    return tnp.tanh(x @ weight.T + bias)


def jpredict(weight, bias, x):
    return jnp.tanh(x @ weight.T + bias)


def test_seed_jacobian_rows_by_vjp_equal_jacrev():
    D = 4
    weight, bias, x = rand(rng, (D, D)), rand(rng, (D,)), rand(rng, (D,))
    unit_vectors = np.eye(D, dtype=np.float32)
    _, vjp_fn = tj.vjp(lambda x: predict(weight, bias, x), x)
    rows = np.stack([np.asarray(vjp_fn(v)[0]) for v in unit_vectors])
    jac = tj.jacrev(predict, argnums=2)(weight, bias, x)
    assert jac.shape == (D, D)
    assert_close(jac, rows, 1e-6)
    (ft_jacobian,) = tj.vmap(vjp_fn)(unit_vectors)
    assert_close(ft_jacobian, rows, 1e-6)
    assert_close(jac, jax.jacrev(jpredict, argnums=2)(weight, bias, x), 1e-5)
    # Columns by jvp: the forward-mode Jacobian.
    cols = np.stack(
        [
            np.asarray(tj.jvp(lambda x: predict(weight, bias, x), (x,), (v,))[1])
            for v in unit_vectors
        ],
        axis=1,
    )
    assert_close(tj.jacfwd(predict, argnums=2)(weight, bias, x), cols, 1e-6)
    assert_close(cols, rows, 1e-5)


def test_seed_jacobian_with_respect_to_weight_and_bias():
    weight, bias, x = rand(rng, (4, 3)), rand(rng, (4,)), rand(rng, (3,))
    expected = jax.jit(
        lambda *a: [jac(jpredict, argnums=(0, 1))(*a) for jac in (jax.jacfwd, jax.jacrev)]
    )(weight, bias, x)
    for tj_jac, e in zip((tj.jacfwd, tj.jacrev), expected):
        actual = tj_jac(predict, argnums=(0, 1))(weight, bias, x)
        assert actual[0].shape == (4, 4, 3) and actual[1].shape == (4, 4)
        assert_close(actual, e, 1e-5)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jac", [tj.jacfwd, tj.jacrev, tj.hessian], ids=["jacfwd", "jacrev", "hessian"]
)
def test_integer_input_is_a_type_error(jac):
    with pytest.raises(TypeError, match=r"real- or complex-valued inputs.*argument 0.*i32\[3\]"):
        jac(lambda x: x * 2)(np.arange(3, dtype=np.int32))


def test_jacrev_integer_output_is_a_type_error():
    with pytest.raises(TypeError, match=r"jacrev requires real floating-point outputs.*i32\[3\]"):
        tj.jacrev(lambda x: tnp.argsort(x))(X)


@pytest.mark.parametrize("jac", [tj.jacfwd, tj.jacrev], ids=["jacfwd", "jacrev"])
def test_argnums_out_of_range(jac):
    with pytest.raises(ValueError, match=r"argnums=2 is out of range .* 1 positional"):
        jac(tnp.sin, argnums=2)(X)


def test_jacrev_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        tj.jacrev(tnp.sin, chunk_size=0)(X)
