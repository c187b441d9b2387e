"""dtypes: names, canonicalization (x64 mode) and JAX's type-promotion lattice.

Promotion is delegated to ``jax.dtypes.result_type`` so tracejit and JAX agree
on every pair, weak types included: a weakly typed value is passed to JAX as
its Python type (``int``, ``float``, ``complex``), which is exactly how JAX
models weak types.
"""

from __future__ import annotations

import functools

import jax
import ml_dtypes
import numpy as np

bool_ = np.dtype(np.bool_)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
uint16 = np.dtype(np.uint16)
uint32 = np.dtype(np.uint32)
uint64 = np.dtype(np.uint64)
float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)

_SHORT = {
    bool_: "bool",
    int8: "i8",
    int16: "i16",
    int32: "i32",
    int64: "i64",
    uint8: "u8",
    uint16: "u16",
    uint32: "u32",
    uint64: "u64",
    float16: "f16",
    bfloat16: "bf16",
    float32: "f32",
    float64: "f64",
    complex64: "c64",
    complex128: "c128",
}


def short_name(dtype: np.dtype) -> str:
    """The IR printer's name for a dtype: ``f32``, ``i32``, ``bool``..."""
    return _SHORT.get(dtype, str(dtype))


@functools.cache
def _canonical(dtype: np.dtype, x64: bool) -> np.dtype:
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def canonicalize(dtype) -> np.dtype:
    """The dtype JAX would store ``dtype`` as (64-bit types narrow unless x64 is on)."""
    return _canonical(np.dtype(dtype), jax.config.jax_enable_x64)


_FLOATS = frozenset({float16, bfloat16, float32, float64})
_COMPLEX = frozenset({complex64, complex128})
_INTS = frozenset({int8, int16, int32, int64, uint8, uint16, uint32, uint64})
_UNSIGNED = frozenset({uint8, uint16, uint32, uint64})


def is_float(dtype: np.dtype) -> bool:
    return dtype in _FLOATS


def is_complex(dtype: np.dtype) -> bool:
    return dtype in _COMPLEX


def is_inexact(dtype: np.dtype) -> bool:
    """True for dtypes that carry derivatives (float and complex)."""
    return dtype in _FLOATS or dtype in _COMPLEX


def is_integer(dtype: np.dtype) -> bool:
    return dtype in _INTS


def is_unsigned(dtype: np.dtype) -> bool:
    return dtype in _UNSIGNED


def default_float() -> np.dtype:
    return canonicalize(float64)


def default_int() -> np.dtype:
    return canonicalize(int64)


def _weak_proxy(dtype: np.dtype) -> type | np.dtype:
    if dtype == bool_:
        return dtype
    if is_complex(dtype):
        return complex
    if is_inexact(dtype):
        return float
    return int


@functools.lru_cache(maxsize=4096)
def _result_type(key: tuple, x64: bool) -> tuple[np.dtype, bool]:
    args = [_weak_proxy(d) if weak else d for d, weak in key]
    dtype, weak = jax.dtypes.result_type(*args, return_weak_type_flag=True)
    dtype = np.dtype(dtype)
    if weak and len({d for d, w in key if w}) == 1 and all(w for _, w in key):
        # All operands weak and of one dtype: keep it (e.g. weak f16 stays f16).
        dtype = key[0][0]
    return dtype, bool(weak)


def result_type(*dtypes_and_weak: tuple[np.dtype, bool]) -> tuple[np.dtype, bool]:
    """Promote ``(dtype, weak_type)`` pairs on JAX's lattice; returns the pair."""
    return _result_type(tuple(dtypes_and_weak), jax.config.jax_enable_x64)


def python_scalar_dtype(x: bool | int | float | complex) -> np.dtype:
    """The dtype a Python scalar gets (weakly typed, except bool)."""
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return default_int()
    if isinstance(x, float):
        return default_float()
    return canonicalize(complex128)
