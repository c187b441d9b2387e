"""tracejit.numpy tiling, repeating, flipping, rolling and padding (re-exported
by ``tracejit.numpy.shapes``).

Repeat counts, shifts and pad widths must be concrete: they decide the
result's shape (or, for ``roll``, which slices are joined).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracejit.numpy._promote import broadcast_to_shape, canonical_axes, canonical_axis, convert
from tracejit.numpy.creation import as_array, concrete_int, concrete_value
from tracejit.primitives import shape as lax_shape
from tracejit.tracing import aval_of

__all__ = ["tile", "repeat", "flip", "fliplr", "flipud", "roll", "pad"]


def _ints(name: str, argname: str, value: Any) -> np.ndarray:
    """A concrete integer argument (scalar or sequence) as a numpy int array."""
    value = concrete_value(name, argname, value)
    if isinstance(value, (list, tuple)):
        value = [concrete_value(name, argname, v) for v in value]
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name}: {argname} must be integers, got {value!r}")
    return arr.astype(np.int64)


def _repeat_each(a: Any, r: int, axis: int) -> Any:
    """Each element along ``axis`` repeated ``r`` times: broadcast a new axis, merge."""
    s = aval_of(a).shape
    dims = tuple(i if i <= axis else i + 1 for i in range(len(s)))
    b = lax_shape.broadcast_in_dim(a, s[: axis + 1] + (r,) + s[axis + 1 :], dims)
    return lax_shape.reshape(b, s[:axis] + (s[axis] * r,) + s[axis + 1 :])


def tile(A: Any, reps: Any) -> Any:
    """``A`` repeated ``reps`` times along each axis (ranks are aligned on the right)."""
    A = as_array("tile", A)
    reps = tuple(int(r) for r in _ints("tile", "reps", reps).ravel())
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    s = aval_of(A).shape
    rank = max(len(reps), len(s))
    s = (1,) * (rank - len(s)) + s
    reps = (1,) * (rank - len(reps)) + reps
    A = lax_shape.reshape(A, s)
    if all(r == 1 for r in reps):
        return A
    # out[r0, i0, r1, i1, ...] = A[i0, i1, ...]: one broadcast and one reshape.
    interleaved = tuple(v for r, n in zip(reps, s, strict=True) for v in (r, n))
    tiled = lax_shape.broadcast_in_dim(A, interleaved, tuple(range(1, 2 * rank, 2)))
    return lax_shape.reshape(tiled, tuple(r * n for r, n in zip(reps, s, strict=True)))


def repeat(a: Any, repeats: Any, axis: int | None = None, *,
           total_repeat_length: int | None = None) -> Any:  # fmt: skip
    """Repeat each element of ``a`` (flattened when ``axis`` is None).

    Args:
      a: the array.
      repeats: an int, or one concrete count per element along ``axis``.
      axis: the axis to repeat along.
      total_repeat_length: the result's length along ``axis``: extra elements
        are dropped, a shortfall repeats the last element more (as jnp).

    Raises:
      ValueError: for negative counts or a count list of the wrong length.
      ConcretizationError: for traced repeat counts.
    """
    a = as_array("repeat", a)
    if axis is None:
        a, axis = lax_shape.reshape(a, (aval_of(a).size,)), 0
    aval = aval_of(a)
    axis = canonical_axis("repeat", axis, aval.ndim)
    n = aval.shape[axis]
    reps = _ints("repeat", "repeats", repeats)
    if reps.ndim > 1 or (reps.ndim == 1 and reps.size not in (1, n)):
        raise ValueError(
            f"repeat: repeats of shape {reps.shape} does not fit axis {axis} of an array "
            f"{aval}; give one count, or one per element ({n})"
        )
    if (reps < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative, got {reps.tolist()}")
    reps = np.broadcast_to(reps.ravel(), (n,)).copy() if reps.size == 1 else reps.copy()
    if total_repeat_length is not None and n:
        total = concrete_int("repeat", "total_repeat_length", total_repeat_length)
        cum = np.cumsum(reps)
        if total < cum[-1]:
            reps = np.diff(np.minimum(cum, total), prepend=0)
        reps[-1] += max(0, total - int(cum[-1]))
    if n == 0:
        return a
    if (reps == reps[0]).all():
        return _repeat_each(a, int(reps[0]), axis)
    # Runs of equal counts become one slice each, repeated and joined.
    pieces, start = [], 0
    for stop in range(1, n + 1):
        if stop == n or reps[stop] != reps[start]:
            if reps[start]:
                part = lax_shape.slice_in_dim(a, start, stop, axis=axis)
                pieces.append(_repeat_each(part, int(reps[start]), axis))
            start = stop
    if not pieces:
        return lax_shape.slice_in_dim(a, 0, 0, axis=axis)
    return lax_shape.concatenate(pieces, axis)


# --- flipping and rolling ----------------------------------------------------------------


def flip(m: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """``m`` with the order of elements reversed along ``axis`` (all axes when None)."""
    m = as_array("flip", m)
    return lax_shape.rev(m, canonical_axes("flip", axis, aval_of(m).ndim))


def fliplr(m: Any) -> Any:
    """``m`` reversed along axis 1 (needs rank >= 2)."""
    m = as_array("fliplr", m)
    if aval_of(m).ndim < 2:
        raise ValueError(f"fliplr: needs an array of rank >= 2, got {aval_of(m)}")
    return lax_shape.rev(m, (1,))


def flipud(m: Any) -> Any:
    """``m`` reversed along axis 0 (needs rank >= 1)."""
    m = as_array("flipud", m)
    if aval_of(m).ndim < 1:
        raise ValueError(f"flipud: needs an array of rank >= 1, got {aval_of(m)}")
    return lax_shape.rev(m, (0,))


def roll(a: Any, shift: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """Elements of ``a`` shifted cyclically by ``shift`` along ``axis``.

    With ``axis=None`` the array is rolled flattened. Shifts must be concrete.
    """
    a = as_array("roll", a)
    aval = aval_of(a)
    if axis is None:
        flat = lax_shape.reshape(a, (aval.size,))
        return lax_shape.reshape(roll(flat, shift, 0), aval.shape)
    shifts = _ints("roll", "shift", shift)
    axes = _ints("roll", "axis", axis)
    try:
        pairs = np.broadcast(shifts, axes)
    except ValueError:
        raise ValueError(
            f"roll: shift {shifts.tolist()} and axis {axes.tolist()} must broadcast together"
        ) from None
    if pairs.nd > 1:
        raise ValueError("roll: shift and axis must be ints or 1-D sequences")
    total: dict[int, int] = {}
    for s, ax in pairs:
        ax = canonical_axis("roll", int(ax), aval.ndim)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = aval.shape[ax]
        s = s % n if n else 0
        if s:
            # roll by s: the last s elements move to the front.
            tail = lax_shape.slice_in_dim(a, n - s, n, axis=ax)
            head = lax_shape.slice_in_dim(a, 0, n - s, axis=ax)
            a = lax_shape.concatenate([tail, head], ax)
    return a


# --- padding ----------------------------------------------------------------------------------

_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "empty")
_PAD_KWARGS = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
               "symmetric": {"reflect_type"}}  # fmt: skip


def _pairs(argname: str, value: Any, nd: int) -> list[tuple[Any, Any]]:
    """Per-axis ``(before, after)`` from NumPy's forms: ``((b0, a0), ...)``,
    ``((b, a),)``, ``(b, a)``, ``(p,)`` or ``p``."""
    arr = _ints("pad", argname, value)
    if arr.shape == (nd, 2):
        return [(int(b), int(a)) for b, a in arr]
    if arr.shape in ((1, 2), (2,)):
        b, a = arr.ravel()
        return [(int(b), int(a))] * nd
    if arr.shape in ((1,), ()):
        p = int(arr.ravel()[0])
        return [(p, p)] * nd
    raise ValueError(
        f"pad: {argname} of shape {arr.shape} does not fit an array of rank {nd}; use "
        f"shape ({nd}, 2), (1, 2), (2,), (1,) or ()"
    )


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """Pad ``array`` by ``pad_width`` (NumPy's forms) with values chosen by ``mode``.

    Args:
      array: the array.
      pad_width: concrete widths, ``((before, after), ...)`` per axis or a
        broadcastable short form.
      mode: "constant" (``constant_values``, scalar or per axis/side), "edge",
        "reflect" / "symmetric" (``reflect_type`` "even" or "odd"), "wrap"
        or "empty" (zeros).

    Raises:
      ValueError: for negative widths, an unknown mode or padding an empty
        axis with a mode that needs its values.
    """
    array = as_array("pad", array)
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of {_PAD_MODES}")
    unexpected = set(kwargs) - _PAD_KWARGS.get(mode, set())
    if unexpected:
        raise TypeError(f"pad: unexpected keyword arguments {sorted(unexpected)} for mode "
                        f"{mode!r}")  # fmt: skip
    aval = aval_of(array)
    widths = _pairs("pad_width", pad_width, aval.ndim)
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad_width must be non-negative, got {widths}")
    if aval.ndim == 0:
        return array
    if mode in ("constant", "empty"):
        return _pad_constant(array, widths, kwargs.get("constant_values", 0))
    for i, (lo, hi) in enumerate(widths):
        if aval.shape[i] == 0 and (lo or hi):
            raise ValueError(f"pad: cannot apply {mode!r} padding to the empty axis {i} of "
                             f"an array {aval}")  # fmt: skip
    if mode == "edge":
        return _pad_edge(array, widths)
    if mode == "wrap":
        return _pad_wrap(array, widths)
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    return _pad_reflect(array, widths, mode, reflect_type)


def _pad_constant(array: Any, widths: list, constant_values: Any) -> Any:
    aval = aval_of(array)
    values = as_array("pad", constant_values)
    v_aval = aval_of(values)
    if v_aval.ndim == 0 or v_aval.shape == (1,):
        value = convert(lax_shape.reshape(values, ()), aval.dtype, aval.weak_type)
        return lax_shape.pad(array, value, [(lo, hi, 0) for lo, hi in widths])
    if v_aval.ndim > 2 or v_aval.shape[-1] not in (1, 2):
        raise ValueError(f"pad: constant_values {v_aval} must be a scalar or have shape "
                         f"({aval.ndim}, 2), (1, 2) or (2,)")  # fmt: skip
    # One value per axis and side: pad each side of each axis on its own.
    values = broadcast_to_shape(values, (aval.ndim, 2))
    for i, pair in enumerate(widths):
        for j, width in enumerate(pair):
            if width:
                v = lax_shape.reshape(lax_shape.slice(values, (i, j), (i + 1, j + 1)), ())
                config = [(0, 0, 0)] * aval.ndim
                config[i] = (width, 0, 0) if j == 0 else (0, width, 0)
                array = lax_shape.pad(array, convert(v, aval.dtype, aval.weak_type), config)
    return array


def _pad_edge(array: Any, widths: list) -> Any:
    for i, (lo, hi) in enumerate(widths):
        n = aval_of(array).shape[i]
        parts = [array]
        if lo:
            parts.insert(0, _repeat_each(lax_shape.slice_in_dim(array, 0, 1, axis=i), lo, i))
        if hi:
            parts.append(_repeat_each(lax_shape.slice_in_dim(array, n - 1, n, axis=i), hi, i))
        array = lax_shape.concatenate(parts, i)
    return array


def _pad_wrap(array: Any, widths: list) -> Any:
    for i, (lo, hi) in enumerate(widths):
        n = aval_of(array).shape[i]
        if n == 0:
            continue
        # The axis repeated periodically, then trimmed to lo before / hi after.
        left_reps, left_rem = divmod(lo, n)
        right_reps, right_rem = divmod(hi, n)
        parts = [array] * (left_reps + right_reps + 1)
        if left_rem:
            parts.insert(0, lax_shape.slice_in_dim(array, n - left_rem, n, axis=i))
        if right_rem:
            parts.append(lax_shape.slice_in_dim(array, 0, right_rem, axis=i))
        array = lax_shape.concatenate(parts, i)
    return array


def _pad_reflect(array: Any, widths: list, mode: str, reflect_type: str) -> Any:
    from tracejit.numpy.elementwise import multiply, subtract

    for i, (lo, hi) in enumerate(widths):
        n = aval_of(array).shape[i]
        if n == 0:
            continue
        # "reflect" mirrors about the edge element, "symmetric" repeats it;
        # widths beyond the axis reflect the already padded array (periodic).
        offset = 1 if mode == "reflect" and n > 1 else 0
        for before, amount in ((True, lo), (False, hi)):
            m = aval_of(array).shape[i]
            edge = lax_shape.slice_in_dim(array, 0 if before else m - 1, 1 if before else m, axis=i)
            while amount > 0:
                cur = min(amount, n - offset)
                amount -= cur
                m = aval_of(array).shape[i]
                start = offset if before else m - cur - offset
                x = lax_shape.rev(lax_shape.slice_in_dim(array, start, start + cur, axis=i), (i,))
                if reflect_type == "odd":
                    # Odd reflection is point symmetry about the edge: 2 * edge - x.
                    x = subtract(multiply(2, edge), x)
                    if n > 1:
                        k = aval_of(x).shape[i]
                        edge = lax_shape.slice_in_dim(x, 0 if before else k - 1,
                                                      1 if before else k, axis=i)  # fmt: skip
                array = lax_shape.concatenate([x, array] if before else [array, x], i)
    return array
