"""The primitive families. Importing this package registers every primitive."""

from tracejit.primitives import (  # noqa: F401
    cumulative,
    elementwise,
    gather,
    indexing,
    linalg,
    reductions,
    scatter,
    shape,
    sorting,
)
from tracejit.primitives import conv, windowed  # noqa: F401,E402
from tracejit.primitives import cond, scan, while_loop  # noqa: F401,E402  (control flow)
