"""checkpoint / remat: same values and derivatives, and the reverse pass recomputes
the forward intermediates instead of storing them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand, validate

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.ir import nested_irs

rng = np.random.default_rng(5)
X = rand(rng, (3,))
Y = rand(rng, (3,))


def count(ir, name):
    """How many equations named ``name`` an IR holds, nested IRs included."""
    ir = getattr(ir, "ir", ir)
    total = 0
    for eqn in ir.eqns:
        total += eqn.prim.name == name
        total += sum(count(sub, name) for sub in nested_irs(eqn.params))
    return total


SPECS = [
    (
        "sin_sin",
        lambda x: tnp.sum(tnp.sin(tnp.sin(x))),
        lambda x: jnp.sum(jnp.sin(jnp.sin(x))),
        (X,),
    ),
    (
        "two_args",
        lambda x, y: tnp.sum(tnp.tanh(x * y) * tnp.exp(y)),
        lambda x, y: jnp.sum(jnp.tanh(x * y) * jnp.exp(y)),
        (X, Y),
    ),
    (
        "pytree",
        lambda p: tnp.sum(tnp.sin(p["a"]) * p["b"][0]) + p["b"][1],
        lambda p: jnp.sum(jnp.sin(p["a"]) * p["b"][0]) + p["b"][1],
        ({"a": X, "b": (Y, 2.0)},),
    ),
]
IDS = [s[0] for s in SPECS]


@pytest.mark.parametrize("name, f, jf, args", SPECS, ids=IDS)
def test_values_and_gradients_match(name, f, jf, args):
    cf = tj.checkpoint(f)
    argnums = tuple(range(len(args)))
    assert_close(cf(*args), jf(*args), 1e-6, "value")
    expected = jax.value_and_grad(jf, argnums)(*args)
    assert_close(tj.value_and_grad(cf, argnums)(*args), expected, 1e-5, "value_and_grad")
    assert_close(tj.jit(tj.value_and_grad(cf, argnums))(*args), expected, 1e-5, "jit")
    assert_close(tj.grad(cf, argnums)(*args), expected[1], 1e-5, "grad")
    ts = jax.tree_util.tree_map(lambda a: rand(rng, np.shape(a)), args)
    assert_close(tj.jvp(cf, args, ts), jax.jvp(jf, args, ts), 1e-5, "jvp")
    validate(tj.grad(cf, argnums), *args)


def test_reverse_pass_recomputes_the_forward():
    f = lambda x: tnp.sum(tnp.sin(tnp.sin(x)))
    plain = tj.make_ir(tj.value_and_grad(f))(X)
    remat = tj.make_ir(tj.value_and_grad(tj.checkpoint(f)))(X)
    assert count(plain, "sin") == 2
    # Forward: sin, sin; backward: sin(x) again, to get cos(sin(x)).
    assert count(remat, "sin") == 3
    assert count(tj.make_ir(tj.grad(tj.checkpoint(f)))(X), "sin") == 1  # no forward needed
    assert count(remat, "checkpoint") == 2


def test_only_the_inputs_are_residuals():
    f = tj.checkpoint(lambda x: tnp.sin(tnp.exp(x)) * x)
    ir = tj.make_ir(lambda x, ct: tj.vjp(f, x)[1](ct))(X, Y)
    backward = [e for e in ir.eqns if e.prim.name == "checkpoint"][-1]
    # The backward checkpoint reads x and the cotangent only: no intermediate is stored.
    assert set(backward.invars) <= set(ir.invars)
    assert count(backward.params["body"], "exp") == 1


def test_prevent_cse_puts_an_optimization_barrier_in_the_program():
    f = lambda x: tnp.sum(tnp.sin(tnp.sin(x)))
    text = tj.jit(tj.grad(tj.checkpoint(f))).lower(X).as_text()
    assert "optimization_barrier" in text
    text = tj.jit(tj.grad(tj.checkpoint(f, prevent_cse=False))).lower(X).as_text()
    assert "optimization_barrier" not in text


def test_composes_with_every_transform():
    f = lambda x: tnp.sum(tnp.sin(x) * tnp.cos(x) * x)
    jf = lambda x: jnp.sum(jnp.sin(x) * jnp.cos(x) * x)
    cf = tj.remat(f)
    xs = rand(rng, (4, 3))

    # Every composition in one compiled program per side; vmap(grad) eagerly too.
    def program(T, cf, ckpt, np_, sin):
        return lambda xs, s, x: {
            "vmap(grad)": T.vmap(T.grad(cf))(xs),
            "grad(vmap)": T.grad(lambda xs: np_.sum(T.vmap(cf)(xs)))(xs),
            "grad2": T.grad(T.grad(lambda x: cf(x * 1.5)))(s),
            "hessian": T.hessian(cf)(x),
            "jacrev": T.jacrev(ckpt(sin))(x),
        }

    args = (xs, np.float32(0.4), X)
    expected = jax.jit(program(jax, jf, lambda g: g, jnp, jnp.sin))(*args)
    got = tj.jit(program(tj, cf, tj.checkpoint, tnp, tnp.sin))(*args)
    for k, tol in {
        "vmap(grad)": 1e-5,
        "grad(vmap)": 1e-5,
        "grad2": 1e-5,
        "hessian": 1e-4,
        "jacrev": 1e-6,
    }.items():
        assert_close(got[k], expected[k], tol, k)
    assert_close(tj.vmap(tj.grad(cf))(xs), expected["vmap(grad)"], 1e-5, "eager vmap(grad)")


def test_nested_checkpoints_and_closures():
    def layer(w, x):
        return tnp.tanh(w * x)

    def net(ws, x):
        for w in ws:
            x = tj.checkpoint(layer)(w, x)
        return tnp.sum(tj.checkpoint(lambda x: tj.checkpoint(tnp.sin)(x) * Y)(x))

    def jnet(ws, x):
        for w in ws:
            x = jnp.tanh(w * x)
        return jnp.sum(jnp.sin(x) * Y)

    ws = [rand(rng, (3,)) for _ in range(3)]
    assert_close(tj.grad(net)(ws, X), jax.grad(jnet)(ws, X), 1e-5)
    assert_close(tj.jit(tj.grad(net, (0, 1)))(ws, X), jax.grad(jnet, (0, 1))(ws, X), 1e-5)


def test_static_argnums_and_integer_outputs():
    def f(x, n):
        for _ in range(n):
            x = tnp.sin(x)
        return tnp.sum(x), tnp.argmax(x)

    cf = tj.checkpoint(f, static_argnums=(1,))
    value, index = tj.jit(lambda x: cf(x, 2))(X)
    g = tj.grad(lambda x: cf(x, 2)[0])(X)
    assert_close(value, jnp.sum(jnp.sin(jnp.sin(X))), 1e-6)
    assert int(index) == int(jnp.argmax(jnp.sin(jnp.sin(X))))
    assert_close(g, jax.grad(lambda x: jnp.sum(jnp.sin(jnp.sin(x))))(X), 1e-5)


def test_without_a_transform_the_function_just_runs():
    calls = []
    f = tj.checkpoint(lambda x: calls.append(1) or x * 2.0)
    assert_close(f(X), X * 2.0, 0.0)
    assert calls == [1]


def test_non_array_argument_is_a_type_error():
    f = tj.checkpoint(lambda x, n: x * n)
    with pytest.raises(
        TypeError,
        match=r"checkpoint of <lambda>: argument \[0\]\[1\] has type "
        r"str.*static_argnums",
    ):
        tj.grad(lambda x: tnp.sum(f(x, "two")))(X)
