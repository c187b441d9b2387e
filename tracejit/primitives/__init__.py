"""The primitive families. Importing this package registers every primitive."""

from tracejit.primitives import (  # noqa: F401
    cond,
    conv,
    cumulative,
    elementwise,
    gather,
    indexing,
    linalg,
    reductions,
    scan,
    scatter,
    shape,
    sorting,
    while_loop,
    windowed,
)
