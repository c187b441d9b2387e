"""The IR: printer (golden strings), validator, and the IR data types."""

import numpy as np
import pytest

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.errors import IRTypeError
from tracejit.ir import IR, Aval, ClosedIR, Eqn, Literal, Var, count_eqns
from tracejit.primitives.elementwise import mul_p, sin_p

f32 = np.float32


def test_printer_matches_spec_example():
    ir = tj.make_ir(lambda a, b: tnp.sin(a) * b)(np.ones(3, f32), np.float32(2.0))
    assert str(ir) == (
        "{ lambda ; a:f32[3] b:f32[]. let\n"
        "    c:f32[3] = sin a\n"
        "    d:f32[3] = mul c b\n"
        "  in (d,) }"
    )


def test_printer_consts_params_literals_and_multiple_outputs():
    w = np.arange(6, dtype=f32).reshape(2, 3)

    def f(x):
        return tnp.sum(x * w, axis=1) + 1.0, x

    ir = tj.make_ir(f)(np.ones((2, 3), f32))
    assert str(ir) == (
        "{ lambda a:f32[2,3] ; b:f32[2,3]. let\n"
        "    c:f32[2,3] = mul b a\n"
        "    d:f32[2] = reduce_sum[axes=(1,)] c\n"
        "    e:f32[2] = add d 1.0:f32[]\n"
        "  in (e, b) }"
    )


def test_printer_is_deterministic_and_names_past_z():
    def f(x):
        for _ in range(30):
            x = tnp.sin(x)
        return x

    text = str(tj.make_ir(f)(f32(1.0)))
    assert text == str(tj.make_ir(f)(f32(1.0)))
    assert " ba:f32[] = sin z" in text and " be:f32[] = sin bd" in text


def test_printer_int_bool_and_weak_literals():
    ir = tj.make_ir(lambda x: (x > 2, x * 3))(np.ones(2, np.int32))
    assert str(ir) == (
        "{ lambda ; a:i32[2]. let\n"
        "    b:bool[2] = gt a 2:i32[]\n"
        "    c:i32[2] = mul a 3:i32[]\n"
        "  in (b, c) }"
    )


def test_closed_ir_accessors():
    ir = tj.make_ir(lambda x: tnp.sin(x) * 2.0)(np.ones(3, f32))
    assert len(ir.invars) == 1 and len(ir.outvars) == 1 and ir.consts == ()
    assert [e.prim.name for e in ir.eqns] == ["sin", "mul"]
    assert ir.in_avals == (Aval((3,), np.dtype(f32), False),)
    assert count_eqns(ir) == 2
    ir.check()


def _ir(eqns, invars, outvars):
    return IR((), tuple(invars), tuple(eqns), tuple(outvars))


def test_validator_rejects_wrong_declared_type():
    a = Var(Aval((3,), np.dtype(f32)))
    b = Var(Aval((4,), np.dtype(f32)))
    ir = _ir([Eqn(sin_p, (a,), (b,), {})], [a], [b])
    with pytest.raises(IRTypeError, match=r"sin.*declared f32\[4\], inferred f32\[3\]"):
        ir_check(ir)


def test_validator_rejects_use_before_definition_and_redefinition():
    a = Var(Aval((3,), np.dtype(f32)))
    b = Var(Aval((3,), np.dtype(f32)))
    c = Var(Aval((3,), np.dtype(f32)))
    with pytest.raises(IRTypeError, match="used before it is defined"):
        ir_check(_ir([Eqn(mul_p, (a, b), (c,), {})], [a], [c]))
    with pytest.raises(IRTypeError, match="defined twice"):
        ir_check(_ir([Eqn(sin_p, (a,), (a,), {})], [a], [a]))


def test_validator_rejects_ill_typed_equation():
    a = Var(Aval((3,), np.dtype(f32)))
    b = Var(Aval((3,), np.dtype(np.int32)))
    c = Var(Aval((3,), np.dtype(f32)))
    with pytest.raises(IRTypeError, match=r"mul.*equal dtypes"):
        ir_check(_ir([Eqn(mul_p, (a, b), (c,), {})], [a, b], [c]))


def test_validator_rejects_non_scalar_literal():
    a = Var(Aval((3,), np.dtype(f32)))
    c = Var(Aval((3,), np.dtype(f32)))
    lit = Literal(np.ones(3, f32), Aval((3,), np.dtype(f32)))
    with pytest.raises(IRTypeError, match="not a scalar"):
        ir_check(_ir([Eqn(mul_p, (a, lit), (c,), {})], [a], [c]))


def ir_check(ir):
    ClosedIR(ir, ()).check()


def test_literal_equality_and_hash():
    a = Literal(np.float32(2.0), Aval((), np.dtype(f32)))
    b = Literal(np.float32(2.0), Aval((), np.dtype(f32)))
    c = Literal(np.int32(2), Aval((), np.dtype(np.int32)))
    assert a == b and hash(a) == hash(b) and a != c
