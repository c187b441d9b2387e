"""tracejit.lax: the low-level operations (jax.lax's names and signatures) and
structured control flow."""

from tracejit.primitives.elementwise import (  # noqa: F401
    abs, acos, acosh, add, asin, asinh, atan, atan2, atanh, bitwise_and, bitwise_not,
    bitwise_or, bitwise_xor, cbrt, ceil, convert_element_type, cos, cosh, div, eq, erf,
    erf_inv, exp, exp2, expm1, floor, ge, gt, integer_pow, is_finite, le, log, log1p,
    logistic, lt, max, min, mul, ne, neg, nextafter, population_count, pow, rem, round,
    rsqrt, select_n, shift_left, shift_right_arithmetic, shift_right_logical, sign, sin,
    sinh, sqrt, sub, tan, tanh,
)
from tracejit.primitives.linalg import dot_general  # noqa: F401
from tracejit.primitives.reductions import reduce_sum  # noqa: F401
from tracejit.primitives.shape import (  # noqa: F401
    broadcast_in_dim, expand_dims, reshape, squeeze, transpose,
)
from tracejit.transforms.stop_gradient import stop_gradient  # noqa: F401


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (jax.lax.select)."""
    return select_n(pred, on_false, on_true)
