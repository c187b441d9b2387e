"""Tracer: a traced array value, with NumPy's operators and methods.

Every operator and method is a call into ``tracejit.numpy``, so a tracer
behaves exactly like the eager ``jax.Array`` it stands for.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from tracejit.ir import Aval, Var

if TYPE_CHECKING:
    from tracejit.tracing import Builder


def _tnp():
    return sys.modules["tracejit.numpy"]


class Tracer:
    """A value of the trace ``_builder``: an IR variable standing for an array."""

    __slots__ = ("_builder", "irvar")
    __array_priority__ = 1000
    __array_ufunc__ = None  # numpy defers to our reflected operators

    def __init__(self, builder: Builder, var: Var):
        self._builder = builder
        self.irvar = var

    # -- abstract value ----------------------------------------------------
    @property
    def aval(self) -> Aval:
        return self.irvar.aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.irvar.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.irvar.aval.dtype

    @property
    def weak_type(self) -> bool:
        return self.irvar.aval.weak_type

    @property
    def ndim(self) -> int:
        return len(self.irvar.aval.shape)

    @property
    def size(self) -> int:
        return self.irvar.aval.size

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError(f"len() of unsized traced value {self.aval}")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError(f"iteration over a 0-d traced value {self.aval}")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"Tracer<{self.aval} in {self._builder.kind}>"

    __str__ = __repr__

    def __hash__(self) -> int:
        raise TypeError(f"traced value {self.aval} is unhashable")

    # -- concretization ----------------------------------------------------
    def _concrete(self, op: str) -> np.ndarray:
        return np.asarray(self._builder.concrete_value(self, op))

    def __bool__(self) -> bool:
        return bool(self._concrete("bool() (e.g. `if x:` or `while x:`)"))

    def __int__(self) -> int:
        return int(self._concrete("int()"))

    def __float__(self) -> float:
        return float(self._concrete("float()"))

    def __complex__(self) -> complex:
        return complex(self._concrete("complex()"))

    def __index__(self) -> int:
        return int(self._concrete("use as an index (__index__)"))

    def item(self) -> Any:
        return self._concrete(".item()").item()

    def tolist(self) -> Any:
        return self._concrete(".tolist()").tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        value = self._concrete("numpy.asarray()")
        return value if dtype is None else value.astype(dtype)

    # -- arithmetic ----------------------------------------------------------
    def __add__(self, o):
        return _tnp().add(self, o)

    def __radd__(self, o):
        return _tnp().add(o, self)

    def __sub__(self, o):
        return _tnp().subtract(self, o)

    def __rsub__(self, o):
        return _tnp().subtract(o, self)

    def __mul__(self, o):
        return _tnp().multiply(self, o)

    def __rmul__(self, o):
        return _tnp().multiply(o, self)

    def __truediv__(self, o):
        return _tnp().true_divide(self, o)

    def __rtruediv__(self, o):
        return _tnp().true_divide(o, self)

    def __floordiv__(self, o):
        return _tnp().floor_divide(self, o)

    def __rfloordiv__(self, o):
        return _tnp().floor_divide(o, self)

    def __mod__(self, o):
        return _tnp().remainder(self, o)

    def __rmod__(self, o):
        return _tnp().remainder(o, self)

    def __divmod__(self, o):
        return _tnp().floor_divide(self, o), _tnp().remainder(self, o)

    def __pow__(self, o):
        return _tnp().power(self, o)

    def __rpow__(self, o):
        return _tnp().power(o, self)

    def __matmul__(self, o):
        return _tnp().matmul(self, o)

    def __rmatmul__(self, o):
        return _tnp().matmul(o, self)

    def __neg__(self):
        return _tnp().negative(self)

    def __pos__(self):
        return _tnp().positive(self)

    def __abs__(self):
        return _tnp().abs(self)

    def __invert__(self):
        return _tnp().invert(self)

    def __and__(self, o):
        return _tnp().bitwise_and(self, o)

    def __rand__(self, o):
        return _tnp().bitwise_and(o, self)

    def __or__(self, o):
        return _tnp().bitwise_or(self, o)

    def __ror__(self, o):
        return _tnp().bitwise_or(o, self)

    def __xor__(self, o):
        return _tnp().bitwise_xor(self, o)

    def __rxor__(self, o):
        return _tnp().bitwise_xor(o, self)

    def __lshift__(self, o):
        return _tnp().left_shift(self, o)

    def __rlshift__(self, o):
        return _tnp().left_shift(o, self)

    def __rshift__(self, o):
        return _tnp().right_shift(self, o)

    def __rrshift__(self, o):
        return _tnp().right_shift(o, self)

    # -- comparisons ---------------------------------------------------------
    def __eq__(self, o):  # type: ignore[override]
        return _tnp().equal(self, o)

    def __ne__(self, o):  # type: ignore[override]
        return _tnp().not_equal(self, o)

    def __lt__(self, o):
        return _tnp().less(self, o)

    def __le__(self, o):
        return _tnp().less_equal(self, o)

    def __gt__(self, o):
        return _tnp().greater(self, o)

    def __ge__(self, o):
        return _tnp().greater_equal(self, o)

    # -- indexing ------------------------------------------------------------
    def __getitem__(self, idx):
        return _tnp().getitem(self, idx)

    def __setitem__(self, idx, value):
        raise TypeError(
            "tracejit arrays are immutable; use x = x.at[idx].set(value) instead of "
            "x[idx] = value"
        )

    @property
    def at(self):
        return _tnp().IndexUpdateHelper(self)

    # -- methods -------------------------------------------------------------
    @property
    def T(self):
        return _tnp().transpose(self)

    @property
    def real(self):
        return _tnp().real(self)

    @property
    def imag(self):
        return _tnp().imag(self)

    def conj(self):
        return _tnp().conj(self)

    def astype(self, dtype):
        return _tnp().asarray(self, dtype=dtype)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return _tnp().reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return _tnp().transpose(self, axes or None)

    def swapaxes(self, a, b):
        return _tnp().swapaxes(self, a, b)

    def squeeze(self, axis=None):
        return _tnp().squeeze(self, axis)

    def ravel(self):
        return _tnp().ravel(self)

    def flatten(self):
        return _tnp().ravel(self)

    def dot(self, o):
        return _tnp().dot(self, o)

    def clip(self, min=None, max=None):
        return _tnp().clip(self, min, max)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return _tnp().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _tnp().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _tnp().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _tnp().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _tnp().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _tnp().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _tnp().argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _tnp().var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _tnp().std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _tnp().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _tnp().any(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _tnp().cumsum(self, axis=axis)
