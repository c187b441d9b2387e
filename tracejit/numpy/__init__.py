"""tracejit.numpy: NumPy's API on concrete arrays (eagerly) and traced values.

Each family lives in its own module; this package re-exports them all.
"""

from __future__ import annotations

import numpy as _np

from tracejit.dtypes import (  # noqa: F401
    bfloat16,
    bool_,
    complex64,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from tracejit.numpy.creation import *  # noqa: F401,F403
from tracejit.numpy.elementwise import *  # noqa: F401,F403
from tracejit.numpy.indexing import *  # noqa: F401,F403
from tracejit.numpy.linalg import *  # noqa: F401,F403
from tracejit.numpy.nanfunctions import *  # noqa: F401,F403
from tracejit.numpy.reductions import *  # noqa: F401,F403
from tracejit.numpy.shapes import *  # noqa: F401,F403
from tracejit.numpy.sorting import *  # noqa: F401,F403

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
dtype = _np.dtype
bool = bool_  # noqa: A001
