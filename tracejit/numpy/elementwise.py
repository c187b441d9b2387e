"""tracejit.numpy elementwise functions: NumPy's names, JAX's promotion."""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.numpy._promote import asarray_arg, promote
from tracejit.primitives import elementwise as ew
from tracejit.tracing import aval_of

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "mod",
    "power",
    "negative",
    "positive",
    "abs",
    "absolute",
    "sign",
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sqrt",
    "cbrt",
    "square",
    "reciprocal",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "maximum",
    "minimum",
    "clip",
    "where",
    "floor",
    "ceil",
    "round",
    "around",
    "trunc",
    "isfinite",
    "isnan",
    "isinf",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "invert",
    "bitwise_not",
    "left_shift",
    "right_shift",
    "fmax",
    "fmin",
    "float_power",
    "copysign",
    "signbit",
    "heaviside",
    "hypot",
    "deg2rad",
    "rad2deg",
    "radians",
    "degrees",
    "fabs",
    "real",
    "imag",
    "conj",
    "conjugate",
    "logaddexp",
    "sinc",
    "nan_to_num",
]


def _float_unary(name: str, prim_fn):
    def fn(x: Any) -> Any:
        (x,) = promote(name, x, to_inexact=True)
        return prim_fn(x)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (integer inputs are promoted to float)."
    return fn


def _numeric_unary(name: str, prim_fn):
    def fn(x: Any) -> Any:
        (x,) = promote(name, x)
        return prim_fn(x)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}``."
    return fn


def _binary(name: str, prim_fn, to_inexact: bool = False):
    def fn(x: Any, y: Any) -> Any:
        x, y = promote(name, x, y, to_inexact=to_inexact)
        return prim_fn(x, y)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with NumPy broadcasting and JAX's promotion."
    return fn


def _bool_aware(name: str, prim_fn, bool_fn):
    # NumPy's + and * on booleans are logical or / and.
    def fn(x: Any, y: Any) -> Any:
        x, y = promote(name, x, y)
        if aval_of(x).dtype == dtypes.bool_:
            if bool_fn is None:
                raise TypeError(
                    f"{name}: boolean operands are not supported; use logical_xor / bitwise_xor"
                )
            return bool_fn(x, y)
        return prim_fn(x, y)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with NumPy broadcasting and JAX's promotion."
    return fn


add = _bool_aware("add", ew.add, ew.bitwise_or)
subtract = _bool_aware("subtract", ew.sub, None)
multiply = _bool_aware("multiply", ew.mul, ew.bitwise_and)
true_divide = _binary("true_divide", ew.div, to_inexact=True)
divide = true_divide
arctan2 = _binary("arctan2", ew.atan2, to_inexact=True)
maximum = _binary("maximum", ew.max)
minimum = _binary("minimum", ew.min)
equal = _binary("equal", ew.eq)
not_equal = _binary("not_equal", ew.ne)
less = _binary("less", ew.lt)
less_equal = _binary("less_equal", ew.le)
greater = _binary("greater", ew.gt)
greater_equal = _binary("greater_equal", ew.ge)
left_shift = _binary("left_shift", ew.shift_left)


def _bool_or_int(name: str, x: Any) -> None:
    d = aval_of(x).dtype
    if not (d == dtypes.bool_ or dtypes.is_integer(d)):
        raise TypeError(f"{name}: expected integer or boolean operands, got {aval_of(x)}")


def _bitwise(name: str, prim_fn):
    def fn(x: Any, y: Any) -> Any:
        x, y = promote(name, x, y)
        _bool_or_int(name, x)
        return prim_fn(x, y)

    fn.__name__ = name
    return fn


bitwise_and = _bitwise("bitwise_and", ew.bitwise_and)
bitwise_or = _bitwise("bitwise_or", ew.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", ew.bitwise_xor)


def right_shift(x: Any, y: Any) -> Any:
    x, y = promote("right_shift", x, y)
    if dtypes.is_unsigned(aval_of(x).dtype):
        return ew.shift_right_logical(x, y)
    return ew.shift_right_arithmetic(x, y)


def invert(x: Any) -> Any:
    (x,) = promote("invert", x)
    _bool_or_int("invert", x)
    return ew.bitwise_not(x)


bitwise_not = invert


def _logical(name: str, prim_fn):
    def fn(x: Any, y: Any) -> Any:
        x, y = promote(name, x, y)
        x, y = _to_bool(x), _to_bool(y)
        return prim_fn(x, y)

    fn.__name__ = name
    return fn


def _to_bool(x: Any) -> Any:
    if aval_of(x).dtype == dtypes.bool_:
        return x
    return ew.ne(x, np.zeros((), aval_of(x).dtype)[()])


logical_and = _logical("logical_and", ew.bitwise_and)
logical_or = _logical("logical_or", ew.bitwise_or)
logical_xor = _logical("logical_xor", ew.bitwise_xor)


def logical_not(x: Any) -> Any:
    (x,) = promote("logical_not", x)
    return ew.bitwise_not(_to_bool(x))


def floor_divide(x: Any, y: Any) -> Any:
    """``x // y`` rounding toward negative infinity (Python's convention)."""
    x, y = promote("floor_divide", x, y)
    dtype = aval_of(x).dtype
    if dtypes.is_integer(dtype):
        q = ew.div(x, y)
        r = ew.rem(x, y)
        zero = np.zeros((), dtype)[()]
        fix = ew.bitwise_and(ew.ne(r, zero), ew.ne(ew.lt(r, zero), ew.lt(y, zero)))
        return ew.select_n(fix, q, ew.sub(q, np.ones((), dtype)[()]))
    if dtype == dtypes.bool_:
        return ew.bitwise_and(x, y)
    return ew.floor(ew.div(x, y))


def remainder(x: Any, y: Any) -> Any:
    """``x % y`` with the sign of ``y`` (Python's convention)."""
    x, y = promote("remainder", x, y)
    r = ew.rem(x, y)
    zero = np.zeros((), aval_of(r).dtype)[()]
    fix = ew.bitwise_and(ew.ne(r, zero), ew.ne(ew.lt(r, zero), ew.lt(y, zero)))
    return ew.select_n(fix, r, ew.add(r, y))


mod = remainder


def power(x: Any, y: Any) -> Any:
    """``x ** y``; a static integer exponent becomes ``integer_pow``."""
    if isinstance(y, int) and not isinstance(y, bool):
        (x,) = promote("power", x)
        if dtypes.is_integer(aval_of(x).dtype) and y < 0:
            raise ValueError("power: integers to negative integer powers are not allowed")
        return ew.integer_pow(x, y)
    x, y = promote("power", x, y)
    dtype = aval_of(x).dtype
    if dtypes.is_integer(dtype):
        return _integer_power(x, y)
    return ew.pow(x, y)


def _integer_power(x: Any, y: Any) -> Any:
    # Square-and-multiply over the bits of y (y >= 0), as jnp does for ints.
    dtype = aval_of(x).dtype
    bits = 8 * dtype.itemsize
    acc = ew.select_n(ew.eq(y, np.zeros((), dtype)[()]), _ones_like(x, y), _ones_like(x, y))
    base = x
    for _ in range(bits):
        bit = ew.bitwise_and(y, np.ones((), dtype)[()])
        acc = ew.select_n(ew.ne(bit, np.zeros((), dtype)[()]), acc, ew.mul(acc, base))
        base = ew.mul(base, base)
        y = ew.shift_right_logical(y, np.ones((), dtype)[()])
    return acc


def _ones_like(x: Any, y: Any) -> Any:
    from tracejit.numpy._promote import broadcast_shapes
    from tracejit.primitives.shape import broadcast_in_dim

    shape = broadcast_shapes("power", aval_of(x).shape, aval_of(y).shape)
    return broadcast_in_dim(np.ones((), aval_of(x).dtype)[()], shape, ())


def float_power(x: Any, y: Any) -> Any:
    x, y = promote("float_power", x, y, to_inexact=True)
    return ew.pow(x, y)


def negative(x: Any) -> Any:
    (x,) = promote("negative", x)
    if aval_of(x).dtype == dtypes.bool_:
        raise TypeError("negative: boolean negation is not supported; use logical_not")
    return ew.neg(x)


def positive(x: Any) -> Any:
    (x,) = promote("positive", x)
    return x


def abs(x: Any) -> Any:  # noqa: A001
    (x,) = promote("abs", x)
    d = aval_of(x).dtype
    if d == dtypes.bool_ or dtypes.is_unsigned(d):
        return x
    return ew.abs(x)


absolute = abs
fabs = _float_unary("fabs", ew.abs)


def sign(x: Any) -> Any:
    (x,) = promote("sign", x)
    d = aval_of(x).dtype
    if d == dtypes.bool_:
        return x
    if dtypes.is_unsigned(d):
        return ew.convert_element_type(ew.ne(x, np.zeros((), d)[()]), d)
    return ew.sign(x)


exp = _float_unary("exp", ew.exp)
exp2 = _float_unary("exp2", ew.exp2)
log = _float_unary("log", ew.log)
log1p = _float_unary("log1p", ew.log1p)
expm1 = _float_unary("expm1", ew.expm1)
sqrt = _float_unary("sqrt", ew.sqrt)
cbrt = _float_unary("cbrt", ew.cbrt)
sin = _float_unary("sin", ew.sin)
cos = _float_unary("cos", ew.cos)
tan = _float_unary("tan", ew.tan)
arcsin = _float_unary("arcsin", ew.asin)
arccos = _float_unary("arccos", ew.acos)
arctan = _float_unary("arctan", ew.atan)
sinh = _float_unary("sinh", ew.sinh)
cosh = _float_unary("cosh", ew.cosh)
tanh = _float_unary("tanh", ew.tanh)
arcsinh = _float_unary("arcsinh", ew.asinh)
arccosh = _float_unary("arccosh", ew.acosh)
arctanh = _float_unary("arctanh", ew.atanh)


def _log_base(name: str, base: float):
    def fn(x: Any) -> Any:
        (x,) = promote(name, x, to_inexact=True)
        return ew.div(ew.log(x), np.asarray(np.log(base), aval_of(x).dtype)[()])

    fn.__name__ = name
    return fn


log2 = _log_base("log2", 2.0)
log10 = _log_base("log10", 10.0)


def square(x: Any) -> Any:
    (x,) = promote("square", x)
    return ew.integer_pow(x, 2)


def reciprocal(x: Any) -> Any:
    (x,) = promote("reciprocal", x)
    return (
        ew.integer_pow(x, -1)
        if dtypes.is_inexact(aval_of(x).dtype)
        else ew.div(np.ones((), aval_of(x).dtype)[()], x)
    )


def _int_passthrough(name: str, prim_fn):
    def fn(x: Any) -> Any:
        (x,) = promote(name, x)
        if not dtypes.is_inexact(aval_of(x).dtype):
            return x
        return prim_fn(x)

    fn.__name__ = name
    return fn


floor = _int_passthrough("floor", ew.floor)
ceil = _int_passthrough("ceil", ew.ceil)


def trunc(x: Any) -> Any:
    (x,) = promote("trunc", x)
    if not dtypes.is_inexact(aval_of(x).dtype):
        return x
    return ew.mul(ew.sign(x), ew.floor(ew.abs(x)))


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Round half to even, to ``decimals`` places."""
    (x,) = promote("round", x)
    dtype = aval_of(x).dtype
    if not dtypes.is_inexact(dtype):
        return x
    if decimals == 0:
        return ew.round(x, 1)
    factor = np.asarray(10.0**decimals, dtype)[()]
    return ew.div(ew.round(ew.mul(x, factor), 1), factor)


around = round


def isfinite(x: Any) -> Any:
    (x,) = promote("isfinite", x)
    if not dtypes.is_inexact(aval_of(x).dtype):
        return _full_bool(x, True)
    return ew.is_finite(x)


def isnan(x: Any) -> Any:
    (x,) = promote("isnan", x)
    if not dtypes.is_inexact(aval_of(x).dtype):
        return _full_bool(x, False)
    return ew.ne(x, x)


def isinf(x: Any) -> Any:
    (x,) = promote("isinf", x)
    if not dtypes.is_inexact(aval_of(x).dtype):
        return _full_bool(x, False)
    return ew.eq(ew.abs(x), np.asarray(np.inf, aval_of(x).dtype)[()])


def _full_bool(x: Any, value: bool) -> Any:
    from tracejit.primitives.shape import broadcast_in_dim

    return broadcast_in_dim(np.bool_(value), aval_of(x).shape, ())


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``x`` where ``condition`` else ``y`` (three-argument form only)."""
    if x is None or y is None:
        raise ValueError(
            "where: the one-argument form (nonzero indices) has a data-dependent shape and "
            "is not supported; pass both x and y"
        )
    condition = asarray_arg("where", condition)
    x, y = promote("where", x, y)
    from tracejit.numpy._promote import broadcast_shapes, broadcast_to_shape

    shape = broadcast_shapes("where", aval_of(condition).shape, aval_of(x).shape, aval_of(y).shape)
    c = _to_bool(condition)
    c, x, y = (broadcast_to_shape(v, shape) for v in (c, x, y))
    return ew.select_n(c, y, x)


def clip(
    a: Any,
    a_min: Any = None,
    a_max: Any = None,
    *,
    min: Any = None,  # noqa: A002
    max: Any = None,
) -> Any:  # noqa: A002
    """Clamp ``a`` to ``[a_min, a_max]`` (either bound may be None)."""
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is not None:
        a = maximum(a, lo)
    if hi is not None:
        a = minimum(a, hi)
    return a


def fmax(x: Any, y: Any) -> Any:
    return where(isnan(y), x, where(isnan(x), y, maximum(x, y)))


def fmin(x: Any, y: Any) -> Any:
    return where(isnan(y), x, where(isnan(x), y, minimum(x, y)))


def copysign(x: Any, y: Any) -> Any:
    x, y = promote("copysign", x, y, to_inexact=True)
    return where(signbit(y), negative(abs(x)), abs(x))


def signbit(x: Any) -> Any:
    (x,) = promote("signbit", x)
    d = aval_of(x).dtype
    if not dtypes.is_inexact(d):
        return less(x, 0)
    # -0.0 has its sign bit set: 1/x is -inf.
    return logical_or(less(x, 0), logical_and(equal(x, 0), less(reciprocal(x), 0)))


def heaviside(x: Any, h0: Any) -> Any:
    x, h0 = promote("heaviside", x, h0, to_inexact=True)
    return where(less(x, 0), 0.0, where(greater(x, 0), 1.0, h0))


def hypot(x: Any, y: Any) -> Any:
    x, y = promote("hypot", x, y, to_inexact=True)
    return sqrt(add(multiply(x, x), multiply(y, y)))


def deg2rad(x: Any) -> Any:
    (x,) = promote("deg2rad", x, to_inexact=True)
    return multiply(x, np.pi / 180)


def rad2deg(x: Any) -> Any:
    (x,) = promote("rad2deg", x, to_inexact=True)
    return multiply(x, 180 / np.pi)


radians = deg2rad
degrees = rad2deg


def logaddexp(x: Any, y: Any) -> Any:
    """log(exp(x) + exp(y)) without overflow."""
    x, y = promote("logaddexp", x, y, to_inexact=True)
    m = maximum(x, y)
    m_safe = where(isfinite(m), m, 0.0)
    out = add(m_safe, log(add(exp(subtract(x, m_safe)), exp(subtract(y, m_safe)))))
    return out


def sinc(x: Any) -> Any:
    (x,) = promote("sinc", x, to_inexact=True)
    px = multiply(x, np.pi)
    safe = where(equal(x, 0), 1.0, px)
    return where(equal(x, 0), 1.0, divide(sin(safe), safe))


def nan_to_num(
    x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Any:
    (x,) = promote("nan_to_num", x)
    d = aval_of(x).dtype
    if not dtypes.is_inexact(d):
        return x
    info = np.finfo(d) if d != dtypes.bfloat16 else None
    big = float(info.max) if info is not None else 3.3895313892515355e38
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    x = where(isnan(x), nan, x)
    x = where(equal(x, np.inf), posinf, x)
    return where(equal(x, -np.inf), neginf, x)


def real(x: Any) -> Any:
    (x,) = promote("real", x)
    if dtypes.is_complex(aval_of(x).dtype):
        raise TypeError("real: complex arrays are not supported by tracejit yet")
    return x


def imag(x: Any) -> Any:
    (x,) = promote("imag", x)
    if dtypes.is_complex(aval_of(x).dtype):
        raise TypeError("imag: complex arrays are not supported by tracejit yet")
    return multiply(x, 0)


def conj(x: Any) -> Any:
    return real(x)


conjugate = conj
