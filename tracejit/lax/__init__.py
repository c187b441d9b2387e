"""tracejit.lax: the low-level operations (jax.lax's names and signatures) and
structured control flow."""

from tracejit.primitives.elementwise import (  # noqa: F401
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    convert_element_type,
    cos,
    cosh,
    div,
    eq,
    erf,
    erf_inv,
    exp,
    exp2,
    expm1,
    floor,
    ge,
    gt,
    integer_pow,
    is_finite,
    le,
    log,
    log1p,
    logistic,
    lt,
    max,
    min,
    mul,
    ne,
    neg,
    nextafter,
    population_count,
    pow,
    rem,
    round,
    rsqrt,
    select_n,
    shift_left,
    shift_right_arithmetic,
    shift_right_logical,
    sign,
    sin,
    sinh,
    sqrt,
    sub,
    tan,
    tanh,
)
from tracejit.primitives.gather import (  # noqa: F401
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    gather,
)
from tracejit.primitives.indexing import dynamic_slice, dynamic_update_slice  # noqa: F401
from tracejit.primitives.linalg import dot_general  # noqa: F401
from tracejit.primitives.reductions import reduce_sum  # noqa: F401
from tracejit.primitives.scatter import (  # noqa: F401
    scatter,
    scatter_add,
    scatter_max,
    scatter_min,
    scatter_mul,
)
from tracejit.primitives.shape import (  # noqa: F401
    broadcast_in_dim,
    broadcasted_iota,
    concatenate,
    expand_dims,
    iota,
    pad,
    reshape,
    rev,
    slice,
    slice_in_dim,
    squeeze,
    transpose,
)
from tracejit.transforms.stop_gradient import stop_gradient  # noqa: F401


def select(pred, on_true, on_false):
    """``on_true`` where ``pred`` else ``on_false`` (jax.lax.select)."""
    return select_n(pred, on_false, on_true)


from tracejit.lax.control_flow import cond, fori_loop, map, scan, switch, while_loop  # noqa: F401, E402, A004
from tracejit.primitives.conv import conv, conv_general_dilated  # noqa: F401,E402
from tracejit.primitives.cumulative import cummax, cummin, cumprod, cumsum  # noqa: F401,E402
from tracejit.primitives.reductions import (  # noqa: F401,E402
    argmax,
    argmin,
    reduce_and,
    reduce_max,
    reduce_min,
    reduce_or,
    reduce_prod,
)
from tracejit.primitives.sorting import sort, sort_key_val  # noqa: F401,E402
from tracejit.primitives.windowed import (  # noqa: F401,E402
    reduce_window,
    reduce_window_max,
    reduce_window_min,
    reduce_window_sum,
)
