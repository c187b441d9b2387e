"""Elementwise primitives: arithmetic, transcendental, bitwise, comparison,
select and dtype conversion, each with all of its rules.

Operands of an n-ary elementwise primitive have equal dtypes and equal ranks
whose dims are equal or 1 (size-1 broadcasting, as jax.lax allows); a rank-0
operand broadcasts against anything. ``tracejit.numpy`` does the promotion.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np

from tracejit import dtypes
from tracejit.ir import Aval
from tracejit.primitive import NOT_LINEAR, ZERO_TANGENT, Primitive, register, set_rule
from tracejit.primitives._rules import (
    add_tangents,
    broadcast_tangent,
    elementwise_batch,
    instantiate,
    is_undefined,
    unbroadcast,
    vectorized_batch,
)
from tracejit.tracing import aval_of

lax = jax.lax

# --- abstract evaluation -------------------------------------------------------

_KINDS: dict[str, tuple[Callable[[np.dtype], bool], str]] = {
    "float": (dtypes.is_inexact, "floating-point"),
    "numeric": (lambda d: d != dtypes.bool_, "numeric (non-boolean)"),
    "any": (lambda d: True, "any"),
    "int_or_bool": (lambda d: d == dtypes.bool_ or dtypes.is_integer(d), "integer or boolean"),
    "int": (dtypes.is_integer, "integer"),
}


def broadcast_shapes(name: str, avals: tuple[Aval, ...]) -> tuple[int, ...]:
    shapes = [a.shape for a in avals if a.shape != ()]
    if not shapes:
        return ()
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        listing = " and ".join(str(a) for a in avals)
        raise TypeError(f"{name}: operands must have equal ranks (or be scalars), got {listing}")
    out = []
    for sizes in zip(*shapes):
        distinct = {n for n in sizes if n != 1}
        if len(distinct) > 1:
            listing = " and ".join(str(a) for a in avals)
            raise TypeError(f"{name}: incompatible shapes for broadcasting: {listing}")
        out.append(distinct.pop() if distinct else 1)
    return tuple(out)


def _nary_abstract_eval(name: str, kind: str, out_dtype: np.dtype | None = None):
    check, kind_name = _KINDS[kind]

    def abstract_eval(*avals: Aval, **params) -> Aval:
        dtype = avals[0].dtype
        if any(a.dtype != dtype for a in avals):
            listing = " and ".join(str(a) for a in avals)
            raise TypeError(f"{name}: operands must have equal dtypes, got {listing}")
        if not check(dtype):
            raise TypeError(f"{name}: expected {kind_name} operands, got {avals[0]}")
        shape = broadcast_shapes(name, avals)
        weak = all(a.weak_type for a in avals) and out_dtype is None
        return Aval(shape, dtype if out_dtype is None else out_dtype, weak)

    return abstract_eval


# Names of the n-ary elementwise primitives (operands of equal rank with size-1
# broadcasting, or scalars): passes may permute all operands' axes alike.
ELEMENTWISE: set[str] = set()


def _declare(name, lower, nargs, kind, jvp, transpose=NOT_LINEAR, out_dtype=None) -> Primitive:
    prim = Primitive(
        name,
        abstract_eval=_nary_abstract_eval(name, kind, out_dtype),
        lower=lower,
        jvp=jvp,
        transpose=transpose,
        batch=None,
    )
    batch = vectorized_batch(prim) if nargs == 1 else elementwise_batch(prim)
    set_rule(prim, "batch", batch)
    ELEMENTWISE.add(name)
    return register(prim)


def unop(name, lower, jvp, kind="float", transpose=NOT_LINEAR) -> Primitive:
    """A unary primitive; ``jvp(t, x, out)`` gives the tangent of a nonzero ``t``."""
    if isinstance(jvp, str):
        return _declare(name, lower, 1, kind, jvp, transpose)
    holder: list[Primitive] = []

    def jvp_rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        out = holder[0].bind(x, **params)
        return out, jvp(t, x, out, **params)

    prim = _declare(name, lower, 1, kind, jvp_rule, transpose)
    holder.append(prim)
    return prim


def binop(name, lower, jvps, kind="numeric", transpose=NOT_LINEAR) -> Primitive:
    """A binary primitive; ``jvps[i](t, x, y, out)`` is argument i's contribution."""
    if isinstance(jvps, str):
        return _declare(name, lower, 2, kind, jvps, transpose)
    holder: list[Primitive] = []

    def jvp_rule(primals, tangents, **params):
        x, y = primals
        out = holder[0].bind(x, y, **params)
        out_shape = aval_of(out).shape
        t_out = None
        for rule, t in zip(jvps, tangents):
            if t is not None:
                t_out = add_tangents(t_out, broadcast_tangent(rule(t, x, y, out), out_shape))
        return out, t_out

    prim = _declare(name, lower, 2, kind, jvp_rule, transpose)
    holder.append(prim)
    return prim


def _const(x, value):
    """``value`` as a scalar of ``x``'s type (a literal in the IR): weakly typed when
    ``x`` is, so rules keep weak values weak (JAX's ``_const``)."""
    aval = aval_of(x)
    if aval.weak_type:
        return scalar_literal(value, aval.dtype)
    return np.asarray(value, aval.dtype)[()]


# --- arithmetic ---------------------------------------------------------------


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(ct, y.aval) if is_undefined(y) else None]


def _sub_transpose(ct, x, y):
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(neg(ct), y.aval) if is_undefined(y) and ct is not None else None]


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise ValueError("mul: transpose of a product of two linear values (not linear)")
    if is_undefined(x):
        return [unbroadcast(mul(ct, y), x.aval), None]
    return [None, unbroadcast(mul(x, ct), y.aval)]


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ValueError("div: transpose with respect to the denominator (not linear)")
    return [unbroadcast(div(ct, y), x.aval), None]


add_p = binop("add", lax.add, (lambda t, x, y, o: t, lambda t, x, y, o: t),
              transpose=_add_transpose)
sub_p = binop("sub", lax.sub, (lambda t, x, y, o: t, lambda t, x, y, o: neg(t)),
              transpose=_sub_transpose)
mul_p = binop("mul", lax.mul, (lambda t, x, y, o: mul(t, y), lambda t, x, y, o: mul(x, t)),
              transpose=_mul_transpose)
div_p = binop(
    "div",
    lax.div,
    (lambda t, x, y, o: div(t, y), lambda t, x, y, o: neg(mul(t, div(o, y)))),
    transpose=_div_transpose,
)


def _rem_jvp_y(t, x, y, o):
    q = div(x, y)
    return neg(mul(t, mul(sign(q), floor(abs(q)))))


rem_p = binop("rem", lax.rem, (lambda t, x, y, o: t, _rem_jvp_y))


def _balanced_eq(x, z, y):
    # Derivative share of x in max(x, y)/min(x, y): 1 where x wins, 1/2 at ties.
    one, half, zero = _const(z, 1), _const(z, 0.5), _const(z, 0)
    return select_n(eq(x, z), full_like(zero, z), select_n(eq(y, z), full_like(one, z),
                                                         full_like(half, z)))


def full_like(value, like):
    from tracejit.primitives.shape import broadcast_in_dim

    return broadcast_in_dim(value, aval_of(like).shape, ())


max_p = binop(
    "max",
    lax.max,
    (lambda t, x, y, o: mul(t, _balanced_eq(x, o, y)),
     lambda t, x, y, o: mul(t, _balanced_eq(y, o, x))),
    kind="any",
)
min_p = binop(
    "min",
    lax.min,
    (lambda t, x, y, o: mul(t, _balanced_eq(x, o, y)),
     lambda t, x, y, o: mul(t, _balanced_eq(y, o, x))),
    kind="any",
)


def _pow_jvp_x(t, x, y, o):
    # d/dx x**y = y * x**(y-1), taken as 0 where y == 0 (JAX's convention).
    y_b = broadcast_tangent(y, aval_of(o).shape)
    dx = mul(y_b, pow(x, sub(y, _const(y, 1))))
    dx = select_n(eq(y_b, _const(y, 0)), dx, full_like(_const(o, 0), o))
    return mul(t, dx)


def _pow_jvp_y(t, x, y, o):
    # d/dy x**y = log(x) * x**y, with log(0) replaced by 0 where x == 0.
    safe_x = select_n(eq(x, _const(x, 0)), x, full_like(_const(x, 1), x))
    return mul(t, mul(log(safe_x), o))


pow_p = binop("pow", lax.pow, (_pow_jvp_x, _pow_jvp_y), kind="float")


def _atan2_jvp(sign_of_other):
    def rule(t, x, y, o):
        denom = add(mul(x, x), mul(y, y))
        other = y if sign_of_other > 0 else neg(x)
        return mul(t, div(other, denom))

    return rule


atan2_p = binop("atan2", lax.atan2, (_atan2_jvp(1), _atan2_jvp(-1)), kind="float")
nextafter_p = binop("nextafter", lax.nextafter, ZERO_TANGENT, kind="float")

neg_p = unop("neg", lax.neg, lambda t, x, o: neg(t), kind="numeric",
             transpose=lambda ct, x: [neg(ct)])
sign_p = unop("sign", lax.sign, ZERO_TANGENT, kind="numeric")
floor_p = unop("floor", lax.floor, ZERO_TANGENT)
ceil_p = unop("ceil", lax.ceil, ZERO_TANGENT)
round_p = unop("round", lambda x, rounding_method: lax.round(x, rounding_method), ZERO_TANGENT)
is_finite_p = Primitive(
    "is_finite",
    abstract_eval=_nary_abstract_eval("is_finite", "float", out_dtype=dtypes.bool_),
    lower=lax.is_finite,
    jvp=ZERO_TANGENT,
)
set_rule(is_finite_p, "batch", vectorized_batch(is_finite_p))
register(is_finite_p)

exp_p = unop("exp", lax.exp, lambda t, x, o: mul(t, o))
exp2_p = unop("exp2", lax.exp2, lambda t, x, o: mul(t, mul(o, _const(o, math.log(2)))))
log_p = unop("log", lax.log, lambda t, x, o: div(t, x))
log1p_p = unop("log1p", lax.log1p, lambda t, x, o: div(t, add(x, _const(x, 1))))
expm1_p = unop("expm1", lax.expm1, lambda t, x, o: mul(t, add(o, _const(o, 1))))
tanh_p = unop("tanh", lax.tanh, lambda t, x, o: mul(t, sub(_const(o, 1), mul(o, o))))
logistic_p = unop("logistic", lax.logistic,
                  lambda t, x, o: mul(t, mul(o, sub(_const(o, 1), o))))
sin_p = unop("sin", lax.sin, lambda t, x, o: mul(t, cos(x)))
cos_p = unop("cos", lax.cos, lambda t, x, o: neg(mul(t, sin(x))))
tan_p = unop("tan", lax.tan, lambda t, x, o: mul(t, add(_const(o, 1), mul(o, o))))
asin_p = unop("asin", lax.asin, lambda t, x, o: mul(t, rsqrt(sub(_const(x, 1), mul(x, x)))))
acos_p = unop("acos", lax.acos,
              lambda t, x, o: neg(mul(t, rsqrt(sub(_const(x, 1), mul(x, x))))))
atan_p = unop("atan", lax.atan, lambda t, x, o: div(t, add(_const(x, 1), mul(x, x))))
sinh_p = unop("sinh", lax.sinh, lambda t, x, o: mul(t, cosh(x)))
cosh_p = unop("cosh", lax.cosh, lambda t, x, o: mul(t, sinh(x)))
asinh_p = unop("asinh", lax.asinh, lambda t, x, o: mul(t, rsqrt(add(mul(x, x), _const(x, 1)))))
acosh_p = unop("acosh", lax.acosh,
               lambda t, x, o: mul(t, rsqrt(mul(sub(x, _const(x, 1)), add(x, _const(x, 1))))))
atanh_p = unop("atanh", lax.atanh, lambda t, x, o: div(t, sub(_const(x, 1), mul(x, x))))
sqrt_p = unop("sqrt", lax.sqrt, lambda t, x, o: div(t, mul(o, _const(o, 2))))
rsqrt_p = unop("rsqrt", lax.rsqrt,
               lambda t, x, o: mul(t, mul(div(o, x), _const(o, -0.5))))
cbrt_p = unop("cbrt", lax.cbrt,
              lambda t, x, o: mul(t, div(o, mul(x, _const(x, 3)))))
# d|x| = t where x >= 0 else -t (JAX's choice at 0: the derivative from the right).
abs_p = unop("abs", lax.abs,
             lambda t, x, o: select_n(ge(x, _const(x, 0)), neg(t), t), kind="numeric")
erf_p = unop("erf", lax.erf,
             lambda t, x, o: mul(t, mul(_const(x, 2 / math.sqrt(math.pi)), exp(neg(mul(x, x))))))
erf_inv_p = unop("erf_inv", lax.erf_inv,
                 lambda t, x, o: mul(t, mul(_const(o, math.sqrt(math.pi) / 2), exp(mul(o, o)))))


def _integer_pow_jvp(t, x, o, *, y):
    if y == 0:
        return mul(t, full_like(_const(x, 0), x))
    if y == 1:
        return t
    x_pow = x if y == 2 else integer_pow(x, y - 1)
    return mul(t, mul(_const(x, y), x_pow))


integer_pow_p = unop("integer_pow", lambda x, y: lax.integer_pow(x, y), _integer_pow_jvp,
                     kind="numeric")

# --- bitwise and logical -------------------------------------------------------

not_p = unop("not", lax.bitwise_not, ZERO_TANGENT, kind="int_or_bool")
and_p = binop("and", lax.bitwise_and, ZERO_TANGENT, kind="int_or_bool")
or_p = binop("or", lax.bitwise_or, ZERO_TANGENT, kind="int_or_bool")
xor_p = binop("xor", lax.bitwise_xor, ZERO_TANGENT, kind="int_or_bool")
shift_left_p = binop("shift_left", lax.shift_left, ZERO_TANGENT, kind="int")
shift_right_arithmetic_p = binop("shift_right_arithmetic", lax.shift_right_arithmetic,
                                 ZERO_TANGENT, kind="int")
shift_right_logical_p = binop("shift_right_logical", lax.shift_right_logical,
                              ZERO_TANGENT, kind="int")
population_count_p = unop("population_count", lax.population_count, ZERO_TANGENT, kind="int")


# --- comparisons ----------------------------------------------------------------


def _compare(name, lower) -> Primitive:
    return _declare(name, lower, 2, "any", ZERO_TANGENT, out_dtype=dtypes.bool_)


eq_p = _compare("eq", lax.eq)
ne_p = _compare("ne", lax.ne)
lt_p = _compare("lt", lax.lt)
le_p = _compare("le", lax.le)
gt_p = _compare("gt", lax.gt)
ge_p = _compare("ge", lax.ge)


# --- select_n -------------------------------------------------------------------


def _select_n_abstract_eval(which: Aval, *cases: Aval) -> Aval:
    if not cases:
        raise TypeError("select_n: needs at least one case")
    first = cases[0]
    if any(c.shape != first.shape or c.dtype != first.dtype for c in cases):
        listing = ", ".join(str(c) for c in cases)
        raise TypeError(f"select_n: cases must have equal shapes and dtypes, got {listing}")
    if which.shape not in ((), first.shape):
        raise TypeError(
            f"select_n: predicate {which} must be a scalar or have the cases' shape {first}"
        )
    if which.dtype != dtypes.bool_ and not dtypes.is_integer(which.dtype):
        raise TypeError(f"select_n: predicate must be boolean or integer, got {which}")
    return Aval(first.shape, first.dtype, all(c.weak_type for c in cases))


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    if all(t is None for t in tangents[1:]):
        return out, None
    out_aval = aval_of(out)
    ts = [instantiate(t, out_aval) for t in tangents[1:]]
    return out, select_n(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if is_undefined(which):
        raise ValueError("select_n: the predicate cannot be a linear input")
    outs = [None]
    for i, c in enumerate(cases):
        if not is_undefined(c) or ct is None:
            outs.append(None)
            continue
        zeros = full_like(_const(ct, 0), ct)
        branches = [zeros] * len(cases)
        branches[i] = ct
        outs.append(select_n(which, *branches))
    return outs


def _select_n_batch(args, dims):
    from tracejit.primitives._rules import batch_size, bdim_to_front

    which, *cases = args
    wd, *cds = dims
    if wd is None and len(set(cds)) == 1 and cds[0] is not None and np.ndim(which) == 0:
        return select_n(which, *cases), cds[0]
    size = batch_size(args, dims)
    case_shape = next(
        tuple(getattr(c, "shape", ()))[: d] + tuple(getattr(c, "shape", ()))[d + 1:]
        if d is not None else tuple(getattr(c, "shape", ()))
        for c, d in zip(cases, cds)
    )
    cases = [bdim_to_front(c, d, size) for c, d in zip(cases, cds)]
    if wd is None and np.ndim(which) == 0:
        return select_n(which, *cases), 0
    which = bdim_to_front(which, wd, size)
    if np.ndim(which) - 1 != len(case_shape):
        from tracejit.primitives.shape import broadcast_in_dim

        which = broadcast_in_dim(which, (size, *case_shape), (0,))
    return select_n(which, *cases), 0


select_n_p = register(
    Primitive(
        "select_n",
        abstract_eval=_select_n_abstract_eval,
        lower=lambda which, *cases: lax.select_n(which, *cases),
        jvp=_select_n_jvp,
        transpose=_select_n_transpose,
        batch=_select_n_batch,
    )
)


# --- convert_element_type ---------------------------------------------------------


def _convert_abstract_eval(x: Aval, *, new_dtype: np.dtype, weak_type: bool) -> Aval:
    return Aval(x.shape, new_dtype, weak_type)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    out = convert_element_type(x, new_dtype, weak_type)
    if t is None or not dtypes.is_inexact(new_dtype) or not dtypes.is_inexact(aval_of(x).dtype):
        return out, None
    return out, convert_element_type(t, new_dtype, weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    if ct is None:
        return [None]
    return [convert_element_type(ct, x.aval.dtype, x.aval.weak_type)]


def _convert_lower(x, *, new_dtype, weak_type):
    if weak_type:
        # jax.lax has no public weak conversion; JAX's own promotion gives one exactly:
        # a weak Python scalar as an array, and weak int * weak 1.0 a weak float.
        if isinstance(x, (int, float, complex)) and not isinstance(x, bool):
            v = scalar_literal(x, new_dtype)
            if not isinstance(v, np.generic):
                return jax.numpy.asarray(v)
        elif (
            getattr(x, "weak_type", False)
            and dtypes.is_integer(np.dtype(x.dtype))
            and new_dtype == dtypes.default_float()
        ):
            return jax.numpy.multiply(x, 1.0)
    return lax.convert_element_type(x, new_dtype)


convert_element_type_p = register(
    Primitive(
        "convert_element_type",
        abstract_eval=_convert_abstract_eval,
        lower=_convert_lower,
        jvp=_convert_jvp,
        transpose=_convert_transpose,
        batch=lambda args, dims, **p: (convert_element_type_p.bind(*args, **p), dims[0]),
    )
)


# --- the lax-level functions (exact dtypes; Python scalars take the other's dtype) ---


def scalar_literal(x: bool | int | float | complex, dtype: np.dtype) -> object:
    """The Python scalar ``x`` as an operand of ``dtype``.

    Where ``dtype`` is the one a Python scalar of some kind gets (f32 for
    float, i32 for int), ``x`` stays a weakly typed Python scalar of that kind
    (``2`` becomes ``2.0`` for f32), so ``weak * 2`` is weak as in JAX; else it
    becomes a strongly typed numpy scalar of ``dtype``.
    """
    if not isinstance(x, bool):
        for kind in (int, float, complex):
            if dtypes.python_scalar_dtype(kind(0)) == dtype and (
                kind is not int or isinstance(x, int)
            ):
                return kind(x)
    return np.asarray(x, dtype)[()]


def _scalar_args(*args):
    ref = next((a for a in args if not isinstance(a, (bool, int, float, complex))), None)
    if ref is None:
        return args
    dtype = aval_of(ref).dtype
    return tuple(
        scalar_literal(a, dtype) if isinstance(a, (bool, int, float, complex)) else a
        for a in args
    )


def _binary(prim: Primitive):
    def fn(x, y):
        return prim.bind(*_scalar_args(x, y))

    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise ``{prim.name}`` (jax.lax semantics: equal dtypes)."
    return fn


add = _binary(add_p)
sub = _binary(sub_p)
mul = _binary(mul_p)
div = _binary(div_p)
rem = _binary(rem_p)
max = _binary(max_p)  # noqa: A001
min = _binary(min_p)  # noqa: A001
pow = _binary(pow_p)  # noqa: A001
atan2 = _binary(atan2_p)
nextafter = _binary(nextafter_p)
bitwise_and = _binary(and_p)
bitwise_or = _binary(or_p)
bitwise_xor = _binary(xor_p)
shift_left = _binary(shift_left_p)
shift_right_arithmetic = _binary(shift_right_arithmetic_p)
shift_right_logical = _binary(shift_right_logical_p)
eq = _binary(eq_p)
ne = _binary(ne_p)
lt = _binary(lt_p)
le = _binary(le_p)
gt = _binary(gt_p)
ge = _binary(ge_p)


def neg(x):
    return neg_p.bind(x)


def sign(x):
    return sign_p.bind(x)


def floor(x):
    return floor_p.bind(x)


def ceil(x):
    return ceil_p.bind(x)


def round(x, rounding_method=1):  # noqa: A001
    """Round to integral values; ``rounding_method=1`` is round-half-to-even."""
    return round_p.bind(x, rounding_method=int(rounding_method))


def is_finite(x):
    return is_finite_p.bind(x)


def exp(x):
    return exp_p.bind(x)


def exp2(x):
    return exp2_p.bind(x)


def log(x):
    return log_p.bind(x)


def log1p(x):
    return log1p_p.bind(x)


def expm1(x):
    return expm1_p.bind(x)


def tanh(x):
    return tanh_p.bind(x)


def logistic(x):
    return logistic_p.bind(x)


def sin(x):
    return sin_p.bind(x)


def cos(x):
    return cos_p.bind(x)


def tan(x):
    return tan_p.bind(x)


def asin(x):
    return asin_p.bind(x)


def acos(x):
    return acos_p.bind(x)


def atan(x):
    return atan_p.bind(x)


def sinh(x):
    return sinh_p.bind(x)


def cosh(x):
    return cosh_p.bind(x)


def asinh(x):
    return asinh_p.bind(x)


def acosh(x):
    return acosh_p.bind(x)


def atanh(x):
    return atanh_p.bind(x)


def sqrt(x):
    return sqrt_p.bind(x)


def rsqrt(x):
    return rsqrt_p.bind(x)


def cbrt(x):
    return cbrt_p.bind(x)


def abs(x):  # noqa: A001
    return abs_p.bind(x)


def erf(x):
    return erf_p.bind(x)


def erf_inv(x):
    return erf_inv_p.bind(x)


def integer_pow(x, y: int):
    return integer_pow_p.bind(x, y=int(y))


def bitwise_not(x):
    return not_p.bind(x)


def population_count(x):
    return population_count_p.bind(x)


def select_n(which, *cases):
    """``cases[which]`` elementwise; a boolean ``which`` picks cases[1] where True."""
    return select_n_p.bind(which, *_scalar_args(*cases))


def convert_element_type(x, new_dtype, weak_type: bool = False):
    """``x`` as ``new_dtype``; a no-op (no equation) when nothing changes."""
    new_dtype = dtypes.canonicalize(new_dtype)
    aval = aval_of(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type and not isinstance(
        x, (bool, int, float, complex)
    ):
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


# --- stop_gradient ------------------------------------------------------------------

stop_gradient_p = unop("stop_gradient", lax.stop_gradient, ZERO_TANGENT, kind="any")
