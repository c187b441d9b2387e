"""Optimization passes, each on its own, with the validator after each."""

import numpy as np

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.ir import Literal
from tracejit.passes import cse, dce, optimize

f32 = np.float32
X = np.ones(3, f32)


def names(cir):
    return [e.prim.name for e in cir.eqns]


def test_dce_drops_unused_equations_and_constants():
    w = np.arange(3, dtype=f32)

    def f(x):
        unused = tnp.exp(x) * w
        del unused
        return tnp.sin(x)

    ir = tj.make_ir(f)(X)
    assert names(ir) == ["exp", "mul", "sin"] and len(ir.consts) == 1
    out = dce(ir)
    out.check()
    assert names(out) == ["sin"] and out.consts == ()


def test_dce_keeps_everything_that_reaches_an_output():
    ir = tj.make_ir(lambda x: tnp.sin(tnp.cos(x)) + x)(X)
    assert names(dce(ir)) == names(ir)


def test_dce_can_drop_outputs():
    ir = tj.make_ir(lambda x: (tnp.sin(x), tnp.cos(x)))(X)
    out = dce(ir, [False, True])
    out.check()
    assert names(out) == ["cos"] and len(out.outvars) == 1


def test_cse_merges_identical_equations():
    def f(x):
        return tnp.sin(x) * 2.0 + tnp.sin(x) * 2.0 + tnp.sin(x) * 3.0

    ir = tj.make_ir(f)(X)
    assert names(ir).count("sin") == 3
    out = cse(ir)
    out.check()
    assert names(out).count("sin") == 1
    assert names(out).count("mul") == 2  # *2.0 once, *3.0 once
    np.testing.assert_allclose(tj.eval_ir(out, [X])[0], tj.eval_ir(ir, [X])[0])


def test_cse_merges_commuted_operands_of_commutative_ops_only():
    y = np.random.default_rng(0).normal(size=3).astype(f32)
    ir = tj.make_ir(lambda a, b: (a * b + b * a, tnp.maximum(a, b) - tnp.maximum(b, a),
                                  a - b, b - a, a / b, b / a, 2.0 * a, a * 2.0))(X + y, y)
    out = cse(ir)
    out.check()
    ops = names(out)
    assert ops.count("mul") == 2 and ops.count("max") == 1, ops  # a*b and 2*a
    assert ops.count("sub") == 3 and ops.count("div") == 2, ops  # never commuted
    for a, b in zip(tj.eval_ir(out, [X + y, y]), tj.eval_ir(ir, [X + y, y])):
        np.testing.assert_allclose(a, b)
    # the Hessian-vector product of tanh computes g * j once, not also j * g
    hvp = lambda x, v: tj.jvp(tj.grad(lambda x: tnp.sum(tnp.tanh(x))), (x,), (v,))[1]
    assert names(tj.jit(hvp).trace(X, y)).count("mul") < names(tj.make_ir(hvp)(X, y)).count("mul")


def test_cse_respects_params_and_literals():
    ir = tj.make_ir(lambda x: (tnp.sum(x, axis=0), tnp.sum(x, axis=1), x + 1.0, x + 2.0))(
        np.ones((2, 3), f32)
    )
    assert len(cse(ir).eqns) == len(ir.eqns)


def test_optimize_runs_cse_then_dce():
    def f(x):
        a, b = tnp.sin(x), tnp.sin(x)
        tnp.cos(a)
        return a * b

    out = optimize(tj.make_ir(f)(X))
    out.check()
    assert names(out) == ["sin", "mul"]


# --- simplify ---------------------------------------------------------------------------

from tracejit.passes import simplify  # noqa: E402


def _simplified(fn, *args):
    ir = tj.make_ir(fn)(*args)
    out = dce(simplify(ir))
    out.check()
    for a, b in zip(tj.eval_ir(out, list(args)), tj.eval_ir(ir, list(args))):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    return names(out)


def test_simplify_identities():
    assert _simplified(lambda x: tnp.sin(x) * 1.0 + 0.0 - 0.0, X) == ["sin"]
    assert _simplified(lambda x: 1.0 * (0.0 + tnp.sin(x)) / 1.0, X) == ["sin"]
    assert _simplified(lambda x: -(-tnp.sin(x)), X) == ["sin"]  # noqa: B002


def test_simplify_keeps_ops_that_change_the_type():
    # x * 1.0 with a scalar x and a vector 1.0 broadcasts: not an identity.
    assert _simplified(lambda s: s * np.ones(3, f32), f32(2.0)) == ["mul"]


def test_simplify_folds_scalar_literals():
    assert _simplified(lambda x: x * tj.lax.mul(f32(2.0), f32(3.0)), X) == ["mul"]
    ir = dce(simplify(tj.make_ir(tj.grad(tj.grad(tnp.sin)))(f32(1.0))))
    assert names(ir) == ["sin", "mul"]


def test_simplify_shape_chains():
    y = np.ones((2, 3), f32)
    assert _simplified(lambda a: tj.lax.reshape(tj.lax.reshape(a, (3, 2)), (6,)), y) == [
        "reshape"]
    assert _simplified(lambda a: tj.lax.transpose(tj.lax.transpose(a, (1, 0)), (1, 0)), y) == []
    z = np.ones((2, 3, 4), f32)
    assert _simplified(lambda a: tj.lax.transpose(tj.lax.transpose(a, (1, 0, 2)), (0, 2, 1)),
                       z) == ["transpose"]


def test_simplify_swaps_dot_operands_instead_of_transposing():
    a, b = np.ones((5, 2), f32), np.ones((5, 3), f32)
    dn = (((), ()), ((0,), (0,)))
    out = _simplified(lambda p, q: tj.lax.transpose(tj.lax.dot_general(p, q, dn), (0, 2, 1)),
                      a, b)
    assert out == ["dot_general"]


def test_simplify_scalar_broadcast_into_elementwise():
    y = np.ones((2, 3), f32)
    ops = _simplified(lambda a: tj.lax.broadcast_in_dim(f32(2.0), (2, 3), ()) * a, y)
    assert ops == ["mul"]


RNG = np.random.default_rng(3)


def _rand(*shape):
    return RNG.normal(size=shape).astype(f32)


def test_simplify_sinks_a_transpose_into_free_operand_transposes():
    # transpose(u[None] * v[:, None]) (the end of a vmapped jacfwd): both operands only
    # move size-1 axes or come from a dot, so the transpose disappears.
    w, x, v = _rand(4, 3), _rand(3, 4), _rand(2, 4)
    lax = tj.lax

    def f(w, x, v):
        u = lax.reshape(lax.dot_general(w, x, (((1,), (0,)), ((), ()))), (1, 4, 4))
        return lax.transpose(u * lax.reshape(tnp.tanh(v), (2, 1, 4)), (0, 2, 1))

    ops = _simplified(f, w, x, v)
    assert "transpose" not in ops and ops.count("dot_general") == 1, ops
    # scalars and literals ride along
    assert "transpose" not in _simplified(lambda v: lax.transpose(
        lax.reshape(v, (2, 1, 4)) * 2.0, (0, 2, 1)), v)


def test_simplify_keeps_a_transpose_that_would_move_data():
    a, b = _rand(2, 3, 4), _rand(2, 4, 3)
    lax = tj.lax
    # a full operand would need its own transpose: nothing to gain
    assert "transpose" in _simplified(lambda a: lax.transpose(tnp.sin(a), (0, 2, 1)), a)
    # the elementwise result is used twice: sinking would compute it twice
    def twice(v):
        s = tnp.sin(lax.reshape(v, (2, 1, 4)))
        return lax.transpose(s, (0, 2, 1)), s

    ops = _simplified(twice, _rand(2, 4))
    assert "transpose" in ops and ops.count("sin") == 1, ops
    ops = _simplified(lambda a, b: lax.transpose(a * 2.0, (0, 2, 1)) + b, a, b)
    assert "transpose" in ops


def test_simplify_drops_products_with_an_identity_matrix():
    x, y = _rand(3, 5), _rand(5, 2, 3)
    eye = lambda n: tnp.eye(n, dtype=f32)
    lax = tj.lax
    dot = lambda a, b, c: lax.dot_general(a, b, (c, ((), ())))
    # x @ I, I @ x, and contractions on the other axis: a copy or a transpose, no matmul
    for fn, arg in [
        (lambda x: dot(x, eye(5), ((1,), (0,))), x),
        (lambda x: dot(x, eye(5), ((1,), (1,))), x),
        (lambda x: dot(eye(3), x, ((1,), (0,))), x),
        (lambda x: dot(eye(3), x, ((0,), (0,))), x),
        (lambda y: dot(y, eye(3), ((2,), (0,))), y),
        (lambda y: dot(eye(2), y, ((0,), (1,))), y),
    ]:
        ops = _simplified(fn, arg)
        assert "dot_general" not in ops, ops
        assert_close = np.testing.assert_allclose
        assert_close(tj.jit(fn)(arg), fn(arg), rtol=1e-6)
    # a matrix that only looks like one is left alone
    ops = _simplified(lambda x: dot(x, tnp.ones((5, 5), f32), ((1,), (0,))), x)
    assert "dot_general" in ops


def test_simplify_identity_revealed_by_a_scalar_broadcast():
    y = _rand(2, 3)
    ops = _simplified(lambda a: tj.lax.broadcast_in_dim(f32(1.0), (2, 3), ()) * tnp.sin(a), y)
    assert ops == ["sin"], ops


def test_scalar_folds_agree_with_xla_bit_for_bit():
    import jax
    import ml_dtypes

    cases = [
        (lambda L, a, b: a + b, (f32(0.1), f32(0.2))),
        (lambda L, a, b: a * b - a, (f32(1e30), f32(1e10))),             # overflow to inf
        (lambda L, a, b: a / b, (f32(1.0), f32(3.0))),
        (lambda L, a, b: L.max(a, b) - L.min(a, b), (f32(-2.5), f32(7.25))),
        (lambda L, a, b: a * b + a, (np.int32(2**30), np.int32(4))),       # integer wrap
        (lambda L, a, b: L.sqrt(a) / b, (f32(2.0), f32(7.0))),
        (lambda L, a, b: L.integer_pow(a, -2) + L.integer_pow(b, 2), (f32(3.0), f32(1.1))),
        (lambda L, a, b: a * b, (ml_dtypes.bfloat16(1.1), ml_dtypes.bfloat16(3.3))),
        (lambda L, a, b: L.convert_element_type(a, np.float16) * 3, (np.int32(7), f32(1))),
    ]
    for fn, (a, b) in cases:
        want = np.asarray(jax.jit(lambda fn=fn, a=a, b=b: fn(jax.lax, a, b))())
        program = tj.jit(lambda fn=fn, a=a, b=b: fn(tj.lax, a, b))
        ir = program.trace()
        assert ir.eqns == () and isinstance(ir.ir.outvars[0], Literal), ir  # folded
        np.testing.assert_array_equal(np.asarray(program()), want)
