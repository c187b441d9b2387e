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


@pytest.mark.parametrize("which", JVP_CASES)
def test_custom_jvp_matches_jax(which):
    f, jf = _pair("custom_jvp", which)
    args = _args(which)
    assert_close(f(*args), jf(*args), 1e-6, "eager call")
    ts = tuple(rand(rng, np.shape(a)) for a in args)
    assert_close(tj.jvp(f, args, ts), jax.jvp(jf, args, ts), 1e-5, "jvp")
    loss, jloss = _scalar(f, tnp), _scalar(jf, jnp)
    argnums = tuple(range(len(args)))
    expected = jax.grad(jloss, argnums)(*args)
    assert_close(tj.grad(loss, argnums)(*args), expected, 1e-5, "grad")
    assert_close(tj.jit(tj.grad(loss, argnums))(*args), expected, 1e-5, "jit(grad)")
    assert_close(tj.jacfwd(f)(*args), jax.jacfwd(jf)(*args), 1e-5, "jacfwd")
    assert_close(tj.hessian(loss)(*args), jax.hessian(jloss)(*args), 1e-4, "hessian")
    validate(tj.grad(loss, argnums), *args)


@pytest.mark.parametrize("which", JVP_CASES)
def test_custom_jvp_under_vmap(which):
    f, jf = _pair("custom_jvp", which)
    args = tuple(rand(rng, (4, *np.shape(a))) for a in _args(which))
    assert_close(tj.vmap(f)(*args), jax.vmap(jf)(*args), 1e-6, "vmap")
    loss, jloss = _scalar(f, tnp), _scalar(jf, jnp)
    # Batched function, then differentiated: the batched primitive keeps the rule.
    vloss = lambda *a: tnp.sum(tj.vmap(loss)(*a))
    jvloss = lambda *a: jnp.sum(jax.vmap(jloss)(*a))
    assert_close(tj.grad(vloss)(*args), jax.grad(jvloss)(*args), 1e-5, "grad(vmap)")
    assert_close(tj.jit(tj.grad(vloss))(*args), jax.grad(jvloss)(*args), 1e-5, "jit")
    ts = tuple(rand(rng, np.shape(a)) for a in args)
    assert_close(tj.jvp(tj.vmap(f), args, ts), jax.jvp(jax.vmap(jf), args, ts), 1e-5)
    assert_close(tj.vmap(tj.grad(loss))(*args), jax.vmap(jax.grad(jloss))(*args), 1e-5)


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
    assert_close(f(*args), jf(*args), 1e-6, "eager call")
    out, vjp_fn = tj.vjp(f, *args)
    jout, jvjp_fn = jax.vjp(jf, *args)
    ct = jax.tree_util.tree_map(lambda o: rand(rng, np.shape(o)), jout)
    assert_close(out, jout, 1e-6, "vjp primal")
    assert_close(vjp_fn(ct), jvjp_fn(ct), 1e-5, "vjp")
    loss, jloss = _scalar(f, tnp), _scalar(jf, jnp)
    argnums = tuple(range(len(args)))
    expected = jax.grad(jloss, argnums)(*args)
    assert_close(tj.grad(loss, argnums)(*args), expected, 1e-5, "grad")
    assert_close(tj.jit(tj.grad(loss, argnums))(*args), expected, 1e-5, "jit(grad)")
    assert_close(tj.jacrev(f)(*args), jax.jacrev(jf)(*args), 1e-5, "jacrev")
    validate(tj.grad(loss, argnums), *args)


@pytest.mark.parametrize("which", VJP_CASES)
def test_custom_vjp_under_vmap(which):
    f, jf = _pair("custom_vjp", which)
    args = tuple(rand(rng, (4, *np.shape(a))) for a in _args(which))
    assert_close(tj.vmap(f)(*args), jax.vmap(jf)(*args), 1e-6, "vmap")
    loss, jloss = _scalar(f, tnp), _scalar(jf, jnp)
    vloss = lambda *a: tnp.sum(tj.vmap(loss)(*a))
    jvloss = lambda *a: jnp.sum(jax.vmap(jloss)(*a))
    assert_close(tj.grad(vloss)(*args), jax.grad(jvloss)(*args), 1e-5, "grad(vmap)")
    assert_close(tj.jit(tj.grad(vloss))(*args), jax.grad(jvloss)(*args), 1e-5, "jit")
    assert_close(tj.vmap(tj.grad(loss))(*args), jax.vmap(jax.grad(jloss))(*args), 1e-5)


def test_custom_vjp_grad_of_vmap_sums_the_cotangent_of_an_unbatched_argument():
    f, jf = _pair("custom_vjp", "sin_times")
    xs = rand(rng, (5, 3))
    g = tj.grad(lambda y: tnp.sum(tj.vmap(f, (0, None))(xs, y)))(Y)
    assert_close(g, jax.grad(lambda y: jnp.sum(jax.vmap(jf, (0, None))(xs, y)))(Y), 1e-5)


def test_custom_vjp_higher_order_through_bwd():
    f, jf = _pair("custom_vjp", "cube")
    x = np.float32(0.7)
    for order in (1, 2, 3):
        g, jg = f, jf
        for _ in range(order):
            g, jg = tj.grad(g), jax.grad(jg)
        assert_close(g(x), jg(x), 1e-5, f"order {order}")
    loss = lambda v: tnp.sum(f(v))
    assert_close(tj.hessian(loss)(X), jax.hessian(lambda v: jnp.sum(jf(v)))(X), 1e-5)
    assert_close(tj.jacrev(tj.jacrev(loss))(X), jax.hessian(lambda v: jnp.sum(jf(v)))(X), 1e-5)


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
