"""custom_jvp / custom_vjp against jax.custom_jvp / jax.custom_vjp definitions of
the same functions: values, every transform and composition, nondiff_argnums,
and the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand, validate

import tracejit as tj
import tracejit.numpy as tnp

rng = np.random.default_rng(3)
X = rand(rng, (3,))
Y = rand(rng, (3,))


# --- definitions, written once for both libraries --------------------------------------


def _define_jvp(custom_jvp, m, which):
    if which == "sin_doubled":
        # A deliberately "wrong" derivative, so the rule is seen to be used; the rule
        # calls the function itself for the primal output (JAX's idiom).
        @custom_jvp
        def f(x):
            return m.sin(x)

        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return f(x), 2.0 * m.cos(x) * t

        return f
    if which == "log1pexp":  # numerically stable derivative (JAX's documentation example)

        @custom_jvp
        def f(x):
            return m.log(1.0 + m.exp(x))

        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return f(x), t * (1.0 - 1.0 / (1.0 + m.exp(x)))

        return f
    if which == "two_args_pytree_out":

        @custom_jvp
        def f(x, y):
            return {"p": x * y, "s": m.sin(x)}

        @f.defjvp
        def f_jvp(primals, tangents):
            (x, y), (tx, ty) = primals, tangents
            out = f(x, y)
            return out, {"p": tx * y + x * ty * 3.0, "s": m.cos(x) * tx}

        return f
    if which == "nondiff_fn":

        def apply(fn, x):
            return fn(x) * x

        f = custom_jvp(apply, nondiff_argnums=(0,))

        @f.defjvp
        def f_jvp(fn, primals, tangents):
            (x,), (t,) = primals, tangents
            return f(fn, x), (fn(x) + 5.0) * t

        return lambda x: f(m.tanh, x)
    raise ValueError(which)


JVP_CASES = ["sin_doubled", "log1pexp", "two_args_pytree_out", "nondiff_fn"]


def _pair(kind, which):
    """The tracejit and the JAX version of one definition."""
    if kind == "custom_jvp":
        return _define_jvp(tj.custom_jvp, tnp, which), _define_jvp(jax.custom_jvp, jnp, which)
    return _define_vjp(tj.custom_vjp, tnp, which), _define_vjp(jax.custom_vjp, jnp, which)


def _args(which):
    return (X, Y) if which in ("two_args_pytree_out", "sin_times", "pytree_args") else (X,)


def _scalar(f, m):
    return lambda *a: sum(m.sum(v) for v in jax.tree_util.tree_leaves(f(*a)))


# The transforms of each definition run in one compiled program per side (tj.jit vs
# jax.jit: two XLA compiles instead of one per eager op); the call and the gradient
# also run eagerly, through the rule's eager path.
TJ = {
    "jit": tj.jit,
    "jvp": tj.jvp,
    "vjp": tj.vjp,
    "grad": tj.grad,
    "vmap": tj.vmap,
    "jacfwd": tj.jacfwd,
    "jacrev": tj.jacrev,
    "hessian": tj.hessian,
    "np": tnp,
}
JAX = {
    "jit": jax.jit,
    "jvp": jax.jvp,
    "vjp": jax.vjp,
    "grad": jax.grad,
    "vmap": jax.vmap,
    "jacfwd": jax.jacfwd,
    "jacrev": jax.jacrev,
    "hessian": jax.hessian,
    "np": jnp,
}


def _compare(program, f, jf, inputs, tols):
    """``program(T, f)`` builds a function of ``inputs`` returning a dict of results,
    with ``T`` the transforms of one library; compares both compiled."""
    expected = jax.jit(program(JAX, jf))(*inputs)
    got = tj.jit(program(TJ, f))(*inputs)
    for k, tol in tols.items():
        assert_close(got[k], expected[k], tol, k)
    return expected


@pytest.mark.parametrize("which", JVP_CASES)
def test_custom_jvp_matches_jax(which):
    f, jf = _pair("custom_jvp", which)
    args = _args(which)
    ts = tuple(rand(rng, np.shape(a)) for a in args)
    argnums = tuple(range(len(args)))

    def program(T, f):
        loss = _scalar(f, T["np"])
        return lambda a, t: {
            "call": f(*a),
            "jvp": T["jvp"](f, a, t),
            "grad": T["grad"](loss, argnums)(*a),
            "jacfwd": T["jacfwd"](f)(*a),
            "hessian": T["hessian"](loss)(*a),
        }

    tols = {"call": 1e-6, "jvp": 1e-5, "grad": 1e-5, "jacfwd": 1e-5, "hessian": 1e-4}
    expected = _compare(program, f, jf, (args, ts), tols)
    loss = _scalar(f, tnp)
    assert_close(f(*args), expected["call"], 1e-6, "eager call")
    assert_close(tj.grad(loss, argnums)(*args), expected["grad"], 1e-5, "eager grad")
    validate(tj.grad(loss, argnums), *args)


def _vmapped_program(T, f):
    loss = _scalar(f, T["np"])
    # Batched function, then differentiated: the batched primitive keeps the rule.
    vloss = lambda *a: T["np"].sum(T["vmap"](loss)(*a))  # noqa: E731
    return lambda a: {
        "vmap": T["vmap"](f)(*a),
        "grad(vmap)": T["grad"](vloss)(*a),
        "vmap(grad)": T["vmap"](T["grad"](loss))(*a),
    }


@pytest.mark.parametrize("which", JVP_CASES)
def test_custom_jvp_under_vmap(which):
    f, jf = _pair("custom_jvp", which)
    args = tuple(rand(rng, (4, *np.shape(a))) for a in _args(which))
    ts = tuple(rand(rng, np.shape(a)) for a in args)

    def program(T, f):
        rest = _vmapped_program(T, f)
        return lambda a, t: {**rest(a), "jvp(vmap)": T["jvp"](T["vmap"](f), a, t)}

    tols = {"vmap": 1e-6, "grad(vmap)": 1e-5, "vmap(grad)": 1e-5, "jvp(vmap)": 1e-5}
    expected = _compare(program, f, jf, (args, ts), tols)
    assert_close(tj.vmap(f)(*args), expected["vmap"], 1e-6, "eager vmap")


def test_custom_jvp_rule_is_used_where_the_plain_derivative_overflows():
    f, jf = _pair("custom_jvp", "log1pexp")
    x = np.float32(100.0)
    assert np.isnan(tj.grad(lambda x: tnp.log(1.0 + tnp.exp(x)))(x))
    assert_close(tj.grad(f)(x), np.float32(1.0), 0.0)
    assert_close(
        tj.grad(tj.grad(f))(np.float32(0.3)), jax.grad(jax.grad(jf))(np.float32(0.3)), 1e-6
    )


def test_custom_jvp_with_array_in_nondiff_argnums_and_keywords():
    def scaled_sin(x, scale):
        return tnp.sin(x) * scale

    f = tj.custom_jvp(scaled_sin, nondiff_argnums=(1,))

    @f.defjvp
    def f_jvp(scale, primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x, scale), tnp.cos(x) * scale * t * 2.0

    expected = 2.0 * np.cos(X) * Y
    assert_close(tj.grad(lambda x: tnp.sum(f(x, Y)))(X), expected, 1e-5)
    assert_close(tj.grad(lambda x: tnp.sum(f(x, scale=Y)))(X), expected, 1e-5)
    # A traced nondiff array (batched by vmap) is an operand, not a dead closure.
    per_row = tj.vmap(tj.grad(lambda x, s: tnp.sum(f(x, s))))(np.stack([X, X]), np.stack([Y, X]))
    assert_close(per_row, 2.0 * np.cos(X) * np.stack([Y, X]), 1e-5)


# --- custom_vjp --------------------------------------------------------------------------


def _define_vjp(custom_vjp, m, which):
    if which == "sin_times":

        @custom_vjp
        def f(x, y):
            return m.sin(x) * y

        def fwd(x, y):
            return f(x, y), (m.cos(x), m.sin(x), y)

        def bwd(res, ct):
            c, s, y = res
            return (3.0 * c * y * ct, s * ct)

        f.defvjp(fwd, bwd)
        return f
    if which == "cube":  # bwd is differentiable: grad of grad goes through it

        @custom_vjp
        def f(x):
            return x * x * x

        def fwd(x):  # computes the output itself, so forward-over-reverse works (as in JAX)
            return x * x * x, x

        def bwd(x, ct):
            return (3.0 * x * x * ct + 0.5 * ct,)

        f.defvjp(fwd, bwd)
        return f
    if which == "clip_gradient":  # nondiff_argnums holding Python floats

        def clip(lo, hi, x):
            return x

        f = custom_vjp(clip, nondiff_argnums=(0, 1))

        def fwd(lo, hi, x):
            return x, None

        def bwd(lo, hi, _, ct):
            return (m.clip(ct, lo, hi),)

        f.defvjp(fwd, bwd)
        return lambda x: f(-0.5, 0.5, x * 3.0)
    if which == "pytree_args":

        @custom_vjp
        def f(p, x):
            return {"y": m.tanh(p["w"] * x), "z": p["b"] * 2.0}

        def fwd(p, x):
            y = m.tanh(p["w"] * x)
            return {"y": y, "z": p["b"] * 2.0}, (y, p["w"], x)

        def bwd(res, ct):
            y, w, x = res
            dy = ct["y"] * (1.0 - y * y)
            return {"w": dy * x, "b": ct["z"] * 2.0}, None  # None: zero cotangent for x

        f.defvjp(fwd, bwd)
        return lambda x, y: f({"w": x, "b": y}, y)
    raise ValueError(which)


VJP_CASES = ["sin_times", "cube", "clip_gradient", "pytree_args"]


@pytest.mark.parametrize("which", VJP_CASES)
def test_custom_vjp_matches_jax(which):
    f, jf = _pair("custom_vjp", which)
    args = _args(which)
    ct = jax.tree_util.tree_map(lambda o: rand(rng, np.shape(o)), jax.eval_shape(jf, *args))
    argnums = tuple(range(len(args)))

    def program(T, f):
        loss = _scalar(f, T["np"])

        def run(a, c):
            out, vjp_fn = T["vjp"](f, *a)
            return {
                "call": f(*a),
                "vjp primal": out,
                "vjp": vjp_fn(c),
                "grad": T["grad"](loss, argnums)(*a),
                "jacrev": T["jacrev"](f)(*a),
            }

        return run

    tols = {"call": 1e-6, "vjp primal": 1e-6, "vjp": 1e-5, "grad": 1e-5, "jacrev": 1e-5}
    expected = _compare(program, f, jf, (args, ct), tols)
    loss = _scalar(f, tnp)
    assert_close(f(*args), expected["call"], 1e-6, "eager call")
    out, vjp_fn = tj.vjp(f, *args)
    assert_close(out, expected["vjp primal"], 1e-6, "eager vjp primal")
    assert_close(vjp_fn(ct), expected["vjp"], 1e-5, "eager vjp")
    validate(tj.grad(loss, argnums), *args)


@pytest.mark.parametrize("which", VJP_CASES)
def test_custom_vjp_under_vmap(which):
    f, jf = _pair("custom_vjp", which)
    args = tuple(rand(rng, (4, *np.shape(a))) for a in _args(which))
    tols = {"vmap": 1e-6, "grad(vmap)": 1e-5, "vmap(grad)": 1e-5}
    expected = _compare(_vmapped_program, f, jf, (args,), tols)
    assert_close(tj.vmap(f)(*args), expected["vmap"], 1e-6, "eager vmap")


def test_custom_vjp_grad_of_vmap_sums_the_cotangent_of_an_unbatched_argument():
    f, jf = _pair("custom_vjp", "sin_times")
    xs = rand(rng, (5, 3))
    g = tj.grad(lambda y: tnp.sum(tj.vmap(f, (0, None))(xs, y)))(Y)
    assert_close(g, jax.grad(lambda y: jnp.sum(jax.vmap(jf, (0, None))(xs, y)))(Y), 1e-5)


def test_custom_vjp_higher_order_through_bwd():
    f, jf = _pair("custom_vjp", "cube")
    x = np.float32(0.7)

    def program(T, f):
        loss = lambda v: T["np"].sum(f(v))  # noqa: E731
        jacrev2 = T["jacrev"](T["jacrev"](loss))

        def run(x, v):
            out, g = {}, f
            for order in (1, 2, 3):
                g = T["grad"](g)
                out[f"order {order}"] = g(x)
            return {**out, "hessian": T["hessian"](loss)(v), "jacrev(jacrev)": jacrev2(v)}

        return run

    keys = ["order 1", "order 2", "order 3", "hessian", "jacrev(jacrev)"]
    expected = _compare(program, f, jf, (x, X), dict.fromkeys(keys, 1e-5))
    assert_close(tj.grad(tj.grad(f))(x), expected["order 2"], 1e-5, "eager order 2")


def test_forward_over_reverse_through_a_fwd_that_calls_the_function_is_an_error():
    # JAX raises the same: the outer jvp meets the custom_vjp call made inside fwd.
    f, _ = _pair("custom_vjp", "sin_times")
    with pytest.raises(TypeError, match="forward-mode autodiff"):
        tj.hessian(lambda x: tnp.sum(f(x, Y)))(X)


def test_no_transform_just_runs_the_function():
    calls = []

    @tj.custom_vjp
    def f(x):
        calls.append("f")
        return x * 2.0

    f.defvjp(lambda x: calls.append("fwd") or (f(x), None), lambda r, ct: (ct,))
    assert_close(f(X), X * 2.0, 0.0)
    assert calls == ["f"]


def test_ir_holds_the_function_and_its_rule():
    f, _ = _pair("custom_jvp", "sin_doubled")
    ir = tj.make_ir(f)(X)
    assert [e.prim.name for e in ir.eqns] == ["custom_jvp_call"]
    assert "sin" in str(ir) and "jvp rule of f" in str(ir)
    g, _ = _pair("custom_vjp", "sin_times")
    assert [e.prim.name for e in tj.make_ir(g)(X, Y).eqns] == ["custom_vjp_call"]


def test_closing_over_a_concrete_array_under_vmap():
    scale = rand(rng, (3,))

    @tj.custom_jvp
    def f(x):
        return tnp.sin(x) * scale

    f.defjvp(lambda p, t: (f(p[0]), tnp.cos(p[0]) * scale * t[0] * 2.0))

    @tj.custom_vjp
    def g(x):
        return tnp.sin(x) * scale

    g.defvjp(lambda x: (g(x), tnp.cos(x)), lambda c, ct: (c * scale * ct * 2.0,))
    xs = rand(rng, (4, 3))
    for h in (f, g):
        loss = lambda xs, h=h: tnp.sum(tj.vmap(h)(xs))
        assert_close(tj.grad(loss)(xs), 2.0 * np.cos(xs) * scale, 1e-5)
        assert_close(tj.jit(tj.grad(loss))(xs), 2.0 * np.cos(xs) * scale, 1e-5)


def test_closing_over_an_outer_jit_value():
    def outer(x, s):
        @tj.custom_vjp
        def f(x):
            return tnp.sin(x) * s

        f.defvjp(lambda x: (f(x), tnp.cos(x)), lambda c, ct: (c * s * ct,))
        return tj.grad(lambda x: tnp.sum(f(x)))(x)

    assert_close(tj.jit(outer)(X, Y), np.cos(X) * Y, 1e-6)
    assert_close(outer(X, Y), np.cos(X) * Y, 1e-6)


# --- errors ----------------------------------------------------------------------------------


def test_missing_rules_are_attribute_errors():
    f = tj.custom_jvp(tnp.sin)
    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function sin"):
        f(X)
    g = tj.custom_vjp(tnp.sin)
    with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function sin"):
        g(X)


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: tj.jvp(f, (X,), (X,)),
        lambda f: tj.jacfwd(f)(X),
        lambda f: tj.linearize(f, X)[1](X),
    ],
    ids=["jvp", "jacfwd", "linearize"],
)
def test_forward_mode_through_custom_vjp_is_an_error(transform):
    f, _ = _pair("custom_vjp", "cube")
    with pytest.raises(TypeError, match="forward-mode autodiff .* custom_vjp function f"):
        transform(f)


def _jvp_with(rule_out):
    @tj.custom_jvp
    def f(x):
        return tnp.sin(x)

    f.defjvp(lambda p, t: rule_out(p[0], t[0]))
    return f


@pytest.mark.parametrize(
    "rule_out, match",
    [
        (lambda x, t: tnp.sin(x), r"jvp rule must return a pair \(primal_out, tangent_out\)"),
        (lambda x, t: (tnp.sin(x), (t, t)), r"tangent output must have the structure"),
        (
            lambda x, t: (tnp.sin(x), tnp.sum(t)),
            r"tangent output is f32\[\], but its primal is "
            r"f32\[3\]",
        ),
        (lambda x, t: ((x, x), t), r"primal output must have the structure"),
        (lambda x, t: (tnp.sum(x), t), r"primal output must match the function's output f32\[3\]"),
    ],
    ids=["not a pair", "tangent structure", "tangent shape", "primal structure", "primal shape"],
)
def test_bad_jvp_rule_outputs(rule_out, match):
    with pytest.raises(TypeError, match=match):
        tj.grad(lambda x: tnp.sum(_jvp_with(rule_out)(x)))(X)


def _vjp_with(fwd, bwd):
    @tj.custom_vjp
    def f(x, y):
        return tnp.sin(x) * y

    f.defvjp(fwd, bwd)
    return f


@pytest.mark.parametrize(
    "fwd, bwd, match",
    [
        (lambda x, y: tnp.sin(x) * y, lambda r, ct: (ct, ct), r"fwd must return a pair"),
        (
            lambda x, y: (tnp.sin(x) * y, None),
            lambda r, ct: (ct,),
            r"bwd must return a tuple with one cotangent per differentiated argument \(2\), got "
            r"tuple of length 1",
        ),
        (
            lambda x, y: (tnp.sin(x) * y, None),
            lambda r, ct: (ct, tnp.sum(ct)),
            r"bwd's cotangent 1 is f32\[\], but its primal is f32\[3\]",
        ),
    ],
    ids=["fwd not a pair", "bwd length", "bwd shape"],
)
def test_bad_vjp_rules(fwd, bwd, match):
    with pytest.raises(TypeError, match=match):
        tj.grad(lambda x: tnp.sum(_vjp_with(fwd, bwd)(x, Y)))(X)


def test_closing_over_the_differentiated_value_is_an_error():
    def loss(x):
        @tj.custom_vjp
        def f(y):
            return y * x

        f.defvjp(lambda y: (f(y), None), lambda r, ct: (ct * x,))
        return tnp.sum(f(Y))

    with pytest.raises(
        TypeError, match="custom_vjp function f closes over a value that is being differentiated"
    ):
        tj.grad(loss)(X)

    def loss_jvp(x):
        @tj.custom_jvp
        def g(y):
            return y * x

        g.defjvp(lambda p, t: (g(p[0]), t[0] * x))
        return tnp.sum(g(Y))

    with pytest.raises(TypeError, match="custom_jvp function g closes over a value"):
        tj.grad(loss_jvp)(X)


def test_nondiff_argnums_out_of_range():
    f = tj.custom_jvp(lambda x: x, nondiff_argnums=(3,))
    f.defjvp(lambda p, t: (p[0], t[0]))
    with pytest.raises(
        ValueError,
        match=r"nondiff_argnums=\(3,\) is out of range for a call "
        r"with 1 positional",
    ):
        tj.jit(f)(X)


def test_vmap_of_a_rule_that_batches_what_the_function_does_not():
    @tj.custom_jvp
    def f(x, y):
        return tnp.sum(y)

    f.defjvp(lambda p, t: (tnp.sum(p[1]) + 0.0 * tnp.sum(p[0]), tnp.sum(t[0])))
    vf = tj.vmap(f, (0, None))
    with pytest.raises(
        ValueError,
        match=r"vmap of custom_jvp function f: its jvp rule returns an "
        r"output that depends on the mapped inputs",
    ):
        tj.jvp(lambda x: vf(x, Y), (np.stack([X, X]),), (np.stack([X, X]),))
