"""Shape primitives (concatenate, pad, slice, rev, iota) and the tnp shape
functions, against jax.lax / jax.numpy: forward (eager and jit), jvp, vjp and
vmap, plus their error messages."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, check_forward, check_jvp, check_vjp, check_vmap, rand

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import lax as tlax

F32, I32, BOOL, BF16 = np.float32, np.int32, np.bool_, jnp.bfloat16
ALL_DTYPES = (F32, I32, BOOL, BF16)


class Spec(NamedTuple):
    """One function under test: ``make(module)`` builds it from tnp/tlax or jnp/lax."""

    id: str
    make: Any
    shapes: tuple
    dtypes: tuple = ALL_DTYPES
    vmap_axes: tuple | None = None  # None: the default variants below


def S(id, make, *shapes, **kw) -> Spec:
    return Spec(id, make, shapes, **kw)


NP_SPECS = [
    S("reshape", lambda m: lambda x: m.reshape(x, (3, -1)), (2, 6)),
    S("reshape_F", lambda m: lambda x: m.reshape(x, (3, 4), order="F"), (2, 6)),
    S("reshape_0d", lambda m: lambda x: m.reshape(x, (1, 1)), ()),
    S("reshape_zero", lambda m: lambda x: m.reshape(x, (3, 0)), (0, 3)),
    S("ravel", lambda m: m.ravel, (2, 3, 4)),
    S("ravel_0d", lambda m: m.ravel, ()),
    S("transpose", lambda m: m.transpose, (2, 3, 4)),
    S("transpose_axes", lambda m: lambda x: m.transpose(x, (-1, 0, 1)), (2, 3, 4)),
    S("swapaxes", lambda m: lambda x: m.swapaxes(x, 0, -1), (2, 3, 4)),
    S("moveaxis", lambda m: lambda x: m.moveaxis(x, 0, -1), (2, 3, 4)),
    S("moveaxis_multi", lambda m: lambda x: m.moveaxis(x, (0, 1), (2, 0)), (2, 3, 4)),
    S("expand_dims", lambda m: lambda x: m.expand_dims(x, (0, 3)), (2, 3)),
    S("expand_dims_0d", lambda m: lambda x: m.expand_dims(x, -1), ()),
    S("squeeze", lambda m: m.squeeze, (1, 3, 1)),
    S("squeeze_axis", lambda m: lambda x: m.squeeze(x, -1), (1, 3, 1)),
    S("broadcast_to", lambda m: lambda x: m.broadcast_to(x, (2, 3, 4)), (3, 1)),
    S("broadcast_to_0d", lambda m: lambda x: m.broadcast_to(x, (2, 2)), ()),
    S("broadcast_to_zero", lambda m: lambda x: m.broadcast_to(x, (2, 0, 3)), (0, 1)),
    S("broadcast_arrays", lambda m: lambda x, y: m.broadcast_arrays(x, y), (3, 1), (4,)),
    S("concatenate", lambda m: lambda x, y, z: m.concatenate([x, y, z], 1), (2, 3), (2, 1), (2, 0)),
    S("concatenate_neg", lambda m: lambda x, y: m.concatenate((x, y), axis=-2), (1, 3), (2, 3)),
    S("concatenate_none", lambda m: lambda x, y: m.concatenate([x, y], axis=None), (2, 3), (4,)),
    S("concatenate_array", lambda m: lambda x: m.concatenate(x, axis=1), (3, 2, 2)),
    S("stack", lambda m: lambda x, y: m.stack([x, y]), (2, 3), (2, 3)),
    S("stack_axis", lambda m: lambda x, y: m.stack([x, y], axis=-1), (2, 3), (2, 3)),
    S("stack_0d", lambda m: lambda x, y: m.stack((x, y)), (), ()),
    S("hstack_1d", lambda m: lambda x, y: m.hstack([x, y]), (3,), (2,)),
    S("hstack_2d", lambda m: lambda x, y: m.hstack([x, y]), (2, 3), (2, 1)),
    S("vstack", lambda m: lambda x, y: m.vstack([x, y]), (3,), (2, 3)),
    S("dstack", lambda m: lambda x, y: m.dstack([x, y]), (2, 3), (2, 3)),
    S("column_stack", lambda m: lambda x, y: m.column_stack([x, y]), (3,), (3, 2)),
    S("split_sections", lambda m: lambda x: m.split(x, 3), (6, 4)),
    S("split_indices", lambda m: lambda x: m.split(x, [1, 3], axis=1), (2, 5)),
    S("split_empty_piece", lambda m: lambda x: m.split(x, [2, 2], axis=0), (4, 2)),
    S("array_split", lambda m: lambda x: m.array_split(x, 3, axis=-1), (2, 7)),
    S("tile", lambda m: lambda x: m.tile(x, (2, 1, 2)), (2, 3)),
    S("tile_int", lambda m: lambda x: m.tile(x, 3), (2,)),
    S("tile_0d", lambda m: lambda x: m.tile(x, (2,)), ()),
    S("repeat", lambda m: lambda x: m.repeat(x, 2, axis=1), (2, 3)),
    S("repeat_flat", lambda m: lambda x: m.repeat(x, 3), (2, 2)),
    S("repeat_counts", lambda m: lambda x: m.repeat(x, np.array([1, 0, 2]), axis=1), (2, 3)),
    S(
        "repeat_total",
        lambda m: lambda x: m.repeat(x, np.array([2, 2, 1]), axis=0, total_repeat_length=7),
        (3, 2),
        dtypes=(F32,),
    ),
    S("flip", lambda m: m.flip, (2, 3)),
    S("flip_axis", lambda m: lambda x: m.flip(x, 1), (2, 3, 2)),
    S("fliplr", lambda m: m.fliplr, (2, 3)),
    S("flipud", lambda m: m.flipud, (2, 3)),
    S("roll_flat", lambda m: lambda x: m.roll(x, 2), (2, 3)),
    S("roll_axes", lambda m: lambda x: m.roll(x, (1, -2), axis=(0, 1)), (3, 4), dtypes=(F32,)),
    S("roll_zero_size", lambda m: lambda x: m.roll(x, 1, axis=0), (0, 3)),
    S("pad_constant", lambda m: lambda x: m.pad(x, ((1, 2), (0, 3))), (2, 3)),
    S("pad_value", lambda m: lambda x: m.pad(x, 2, constant_values=1), (2, 3)),
    S(
        "pad_per_axis",
        lambda m: lambda x: m.pad(x, (1, 2), constant_values=((1, 0), (0, 1))),
        (2, 3),
    ),
    S(
        "pad_edge",
        lambda m: lambda x: m.pad(x, ((2, 1), (0, 3)), mode="edge"),
        (2, 3),
        dtypes=(F32,),
    ),
    S("pad_reflect", lambda m: lambda x: m.pad(x, (7, 3), mode="reflect"), (5,)),
    S(
        "pad_reflect_2d",
        lambda m: lambda x: m.pad(x, ((1, 2), (2, 0)), mode="reflect"),
        (3, 4),
        dtypes=(F32,),
    ),
    S("pad_symmetric", lambda m: lambda x: m.pad(x, (4, 6), mode="symmetric"), (3,), dtypes=(F32,)),
    S(
        "pad_wrap",
        lambda m: lambda x: m.pad(x, ((4, 1), (2, 5)), mode="wrap"),
        (2, 3),
        dtypes=(F32,),
    ),
    S(
        "pad_reflect_odd",
        lambda m: lambda x: m.pad(x, (3, 2), mode="reflect", reflect_type="odd"),
        (4,),
        dtypes=(F32, I32),
    ),
    S("pad_0d", lambda m: lambda x: m.pad(x, 3), ()),
    S("atleast_1d", lambda m: m.atleast_1d, ()),
    S("atleast_2d", lambda m: m.atleast_2d, (3,)),
    S("atleast_3d_1d", lambda m: m.atleast_3d, (3,)),
    S("atleast_3d_2d", lambda m: m.atleast_3d, (2, 3)),
    S("atleast_multi", lambda m: lambda x, y: m.atleast_2d(x, y), (), (2, 3, 4)),
]

# jax.lax-level primitives: the same names and signatures in tracejit.lax.
LAX_SPECS = [
    S(
        "lax.concatenate",
        lambda m: lambda x, y: m.concatenate([x, y], 0),
        (2, 3),
        (1, 3),
        vmap_axes=((0, 1), (None, 2), (1, None)),
    ),
    S(
        "lax.pad",
        lambda m: lambda x: m.pad(x, np.zeros((), x.dtype), [(1, -1, 2), (-2, 3, 0)]),
        (3, 4),
    ),
    S(
        "lax.pad_value",
        lambda m: lambda x, v: m.pad(x, v, [(2, 1, 1)]),
        (3,),
        (),
        vmap_axes=((0, 0), (None, 0), (0, None)),
    ),
    S("lax.pad_crop", lambda m: lambda x: m.pad(x, np.ones((), x.dtype), [(-1, -2, 0)]), (4,)),
    S("lax.slice", lambda m: lambda x: m.slice(x, (1, 0), (3, 4)), (3, 4)),
    S("lax.slice_strided", lambda m: lambda x: m.slice(x, (0, 1), (3, 4), (2, 2)), (3, 4)),
    S("lax.slice_in_dim", lambda m: lambda x: m.slice_in_dim(x, 1, -1, axis=1), (2, 5)),
    S("lax.slice_empty", lambda m: lambda x: m.slice(x, (1,), (1,)), (3,)),
    S("lax.rev", lambda m: lambda x: m.rev(x, (0, 2)), (2, 3, 2)),
]

SPECS = [(s, tnp, jnp) for s in NP_SPECS] + [(s, tlax, jax.lax) for s in LAX_SPECS]


def _args(spec: Spec, dtype, seed: int = 0, axes=None, size: int = 3) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for i, s in enumerate(spec.shapes):
        a = None if axes is None else axes[i]
        if a is not None:
            a = a % (len(s) + 1)
            s = s[:a] + (size,) + s[a:]
        out.append(rand(rng, s, dtype))
    return out


def _ids(specs):
    return [s[0].id for s in specs]


def _dtype_cases():
    # Shape functions move elements without looking at them: every spec runs in
    # float32 and (unless it lists only float32, to save compile time) in one
    # other dtype taken in turn, so each dtype is covered across the table
    # without multiplying the test time by four.
    for i, (spec, tmod, jmod) in enumerate(SPECS):
        others = [d for d in spec.dtypes if d is not F32]
        for dtype in [F32, others[i % len(others)]] if others else [F32]:
            yield pytest.param(spec, tmod, jmod, dtype, id=f"{spec.id}-{np.dtype(dtype).name}")


@pytest.mark.parametrize("spec,tmod,jmod,dtype", list(_dtype_cases()))
def test_forward(spec, tmod, jmod, dtype):
    check_forward(spec.make(tmod), spec.make(jmod), _args(spec, dtype))


# Derivatives on a subset: the rest are compositions of the same primitives.
GRAD_IDS = {
    "reshape", "ravel", "transpose_axes", "moveaxis", "expand_dims", "squeeze", "broadcast_to",
    "concatenate", "concatenate_array", "stack", "stack_axis", "split_indices", "array_split",
    "tile", "repeat", "repeat_counts", "flip", "roll_axes", "pad_constant", "pad_reflect",
    "pad_wrap", "atleast_3d_2d",
}  # fmt: skip
GRAD_SPECS = [s for s in SPECS if s[0].id in GRAD_IDS or s[0].id.startswith("lax.")]


@pytest.mark.parametrize("spec,tmod,jmod", GRAD_SPECS, ids=_ids(GRAD_SPECS))
def test_jvp_vjp(spec, tmod, jmod):
    args = _args(spec, F32)
    check_jvp(spec.make(tmod), spec.make(jmod), args)
    check_vjp(spec.make(tmod), spec.make(jmod), args)


def _vmap_variants(spec: Spec) -> tuple:
    if spec.vmap_axes is not None:
        return spec.vmap_axes
    n = len(spec.shapes)
    if n == 1:
        return ((0,), (-1,))
    last = min(1, len(spec.shapes[-1]))
    return ((0,) * n, (-1,) + (None,) * (n - 1), (None,) * (n - 1) + (last,))


# vmap on the primitives (every variant) and on a subset of the tnp functions
# with distinct structure (the rest compose the same batching rules).
VMAP_IDS = {
    "reshape_F", "moveaxis_multi", "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays",
    "concatenate", "concatenate_none", "concatenate_array", "stack_axis", "hstack_2d",
    "column_stack", "split_indices", "array_split", "tile", "repeat_counts", "roll_axes",
    "pad_constant", "pad_per_axis", "pad_reflect", "pad_edge", "atleast_multi",
}  # fmt: skip


def _vmap_cases():
    # Unary specs alternate the batch axis between the front and the back;
    # n-ary specs also run with some operands unbatched.
    for i, (spec, tmod, jmod) in enumerate(SPECS):
        if spec.id not in VMAP_IDS and not spec.id.startswith("lax."):
            continue
        variants = _vmap_variants(spec)
        chosen = variants if len(spec.shapes) > 1 else [variants[i % len(variants)]]
        for axes in chosen:
            yield pytest.param(spec, tmod, jmod, axes, id=f"{spec.id}-{axes}")


@pytest.mark.parametrize("spec,tmod,jmod,axes", list(_vmap_cases()))
def test_vmap(spec, tmod, jmod, axes):
    args = _args(spec, F32, axes=axes)
    check_vmap(spec.make(tmod), spec.make(jmod), args, in_axes=axes)


def test_grad_fd_through_pad_and_concatenate():
    def f(x):
        y = tnp.concatenate([tnp.pad(x, (2, 1), mode="reflect"), tnp.ones(2), tnp.flip(x)])
        return tnp.sum(tnp.sin(tnp.roll(y, 2)) * tnp.arange(y.shape[0]))

    from checks import check_grad_fd

    check_grad_fd(tj.jit(f), np.linspace(-1, 1, 5))


def test_weak_types_follow_jax():
    one = jnp.asarray(1.0)
    cases = [
        (lambda m: m.stack([1.0, 2.0])),
        (lambda m: m.reshape(one, (1,))),
        (lambda m: m.tile(one, 2)),
        (lambda m: m.broadcast_to(1.0, (2,))),
        (lambda m: m.concatenate([m.ones(2), one[None]])),
        (lambda m: m.atleast_1d(2)),
        (lambda m: m.repeat(one, 3)),
    ]
    for make in cases:
        out, ref = make(tnp), make(jnp)
        assert isinstance(out, jax.Array)
        assert (out.dtype, out.weak_type, out.shape) == (ref.dtype, ref.weak_type, ref.shape)


def test_joining_and_padding_promote_like_jnp():
    f, i = np.ones((2, 2), np.float32), np.arange(4, dtype=np.int32).reshape(2, 2)
    b = np.array([[True, False]])
    cases = [
        lambda m: m.concatenate([f, i]),
        lambda m: m.concatenate([i, b], dtype=np.float32),
        lambda m: m.stack([i[0], b[0]]),
        lambda m: m.hstack([i, 2.5 * np.ones((2, 1), np.float32)]),
        lambda m: m.pad(i, 1, constant_values=2.7),
        lambda m: m.pad(b, 1, constant_values=1),
    ]
    for make in cases:
        out, ref = make(tnp), make(jnp)
        assert_close(out, ref)
        assert out.weak_type == ref.weak_type


def test_numpy_inputs_give_jax_arrays():
    x = np.arange(6.0).reshape(2, 3)
    for out in [tnp.reshape(x, (2, 3)), tnp.squeeze(x), tnp.ravel(np.ones(3)),
                tnp.concatenate([x]), tnp.transpose(np.ones(2))]:  # fmt: skip
        assert isinstance(out, jax.Array) and out.dtype == np.float32


def test_queries():
    x = np.ones((2, 3, 4))
    assert tnp.shape(x) == (2, 3, 4) and tnp.ndim(x) == 3 and tnp.size(x) == 24
    assert tnp.size(x, -1) == 4 and tnp.shape([[1, 2]]) == (1, 2) and tnp.ndim(3.0) == 0
    assert tnp.broadcast_shapes((3, 1), (4,)) == (3, 4)


# --- IR: batched ops stay single ops, no-ops emit nothing ---------------------------------------


def _prims(cir) -> list[str]:
    return [e.prim.name for e in cir.eqns]


def test_vmapped_concatenate_is_one_op_with_unbatched_operand():
    f = tj.vmap(lambda x, w: tnp.concatenate([x, w]), in_axes=(1, None))
    cir = tj.make_ir(f)(np.ones((2, 5), np.float32), np.ones(3, np.float32))
    assert _prims(cir).count("concatenate") == 1
    assert cir.out_avals[0].shape == (5, 5)


@pytest.mark.parametrize("make,prim", [
    (lambda x: tlax.pad(x, 0.0, [(1, 2, 1)]), "pad"),
    (lambda x: tlax.slice(x, (1,), (4,), (2,)), "slice"),
    (lambda x: tlax.rev(x, (0,)), "rev"),
])  # fmt: skip
def test_vmapped_primitive_is_one_op(make, prim):
    cir = tj.make_ir(tj.vmap(make, in_axes=1, out_axes=1))(np.ones((5, 4), np.float32))
    assert _prims(cir) == [prim]


def test_no_op_shape_calls_emit_nothing():
    def f(x):
        y = tnp.reshape(x, (2, 3))
        y = tlax.slice(y, (0, 0), (2, 3))
        y = tlax.pad(y, 0.0, [(0, 0, 0), (0, 0, 0)])
        y = tnp.transpose(tnp.transpose(y, (0, 1)))
        return tnp.concatenate([y], axis=0)

    assert _prims(tj.make_ir(f)(np.ones((2, 3), np.float32))) == ["transpose"]


def test_printed_ir():
    cir = tj.make_ir(lambda x: tlax.pad(tnp.concatenate([x, x]), 0.0, [(1, 0, 1)]))(
        np.ones(2, np.float32)
    )
    assert str(cir) == (
        "{ lambda ; a:f32[2]. let\n"
        "    b:f32[4] = concatenate[dimension=0] a a\n"
        "    c:f32[8] = pad[padding_config=((1, 0, 1),)] b 0.0:f32[]\n"
        "  in (c,) }"
    )


def test_iota():
    assert_close(tlax.iota(np.int32, 5), jax.lax.iota(np.int32, 5), what="iota")
    assert_close(
        tlax.broadcasted_iota(jnp.bfloat16, (2, 3), 1),
        jax.lax.broadcasted_iota(jnp.bfloat16, (2, 3), 1),
        what="broadcasted_iota",
    )
    cir = tj.make_ir(lambda: tlax.broadcasted_iota(np.float32, (2, 3), 0))()
    assert _prims(cir) == ["iota"] and not cir.consts
    # iota carries no derivative: gradients flow only through the other operand.
    g = tj.grad(lambda x: tnp.sum(x * tlax.iota(np.float32, 3)))(np.ones(3, np.float32))
    assert_close(g, np.arange(3, dtype=np.float32))


# --- errors ---------------------------------------------------------------------------------------

X23 = np.ones((2, 3), np.float32)

ERRORS = [
    (
        lambda: tnp.reshape(X23, (4,)),
        TypeError,
        r"reshape: cannot reshape an array f32\[2,3\]"
        r" \(6 elements\) into shape \(4,\)",
    ),
    (lambda: tnp.reshape(X23, (-1, -1)), TypeError, r"only one dimension may be -1"),
    (lambda: tnp.reshape(X23, (-1, 4)), TypeError, r"\(4\) does not divide the size 6"),
    (lambda: tnp.reshape(X23, (6,), order="K"), ValueError, r"order must be 'C' or 'F'"),
    (
        lambda: tnp.concatenate([X23, np.ones((3, 3))], axis=1),
        TypeError,
        r"concatenate: array shapes must match except along axis 1, got f32\[2,3\], f32\[3,3\]",
    ),
    (
        lambda: tnp.concatenate([X23, np.ones(3)]),
        TypeError,
        r"same number of dimensions, got f32\[2,3\], f32\[3\]",
    ),
    (lambda: tnp.concatenate([np.float32(1), np.float32(2)]), ValueError, r"zero-dimensional"),
    (lambda: tnp.concatenate([]), ValueError, r"concatenate: need at least one array"),
    (lambda: tnp.concatenate([X23], axis=2), ValueError, r"axis 2 is out of bounds"),
    (
        lambda: tnp.stack([X23, X23.T]),
        ValueError,
        r"stack: all input arrays must have the same shape, got f32\[2,3\], f32\[3,2\]",
    ),
    (lambda: tnp.transpose(X23, (0, 0)), ValueError, r"transpose: repeated axis"),
    (lambda: tnp.transpose(X23, (0,)), ValueError, r"do not match the axes of an array"),
    (lambda: tnp.moveaxis(X23, 0, 5), ValueError, r"moveaxis: axis 5 is out of bounds"),
    (lambda: tnp.moveaxis(X23, (0, 1), 0), ValueError, r"same number of elements"),
    (lambda: tnp.swapaxes(X23, 0, 2), ValueError, r"swapaxes: axis 2 is out of bounds"),
    (
        lambda: tnp.squeeze(X23, 0),
        ValueError,
        r"squeeze: cannot squeeze axis 0 of an array f32\[2,3\]: its size is 2",
    ),
    (lambda: tnp.expand_dims(X23, 5), ValueError, r"expand_dims: axis 5 is out of bounds"),
    (
        lambda: tnp.broadcast_to(X23, (3, 3)),
        ValueError,
        r"broadcast_to: cannot broadcast an array f32\[2,3\] to shape \(3, 3\)",
    ),
    (lambda: tnp.broadcast_to(X23, (3,)), ValueError, r"cannot broadcast"),
    (
        lambda: tnp.split(X23, 2, axis=1),
        ValueError,
        r"split: array split does not result in an equal division: axis 1 .* size 3",
    ),
    (lambda: tnp.split(X23, 0), ValueError, r"number of sections must be > 0"),
    (lambda: tnp.tile(X23, (-1,)), ValueError, r"tile: reps must be non-negative"),
    (
        lambda: tnp.repeat(X23, np.array([1, 2]), axis=1),
        ValueError,
        r"repeat: repeats of shape \(2,\) does not fit axis 1 of an array f32\[2,3\]",
    ),
    (lambda: tnp.repeat(X23, -1), ValueError, r"non-negative"),
    (lambda: tnp.repeat(X23, 1.5), TypeError, r"repeat: repeats must be integers"),
    (lambda: tnp.pad(X23, -1), ValueError, r"pad: pad_width must be non-negative"),
    (lambda: tnp.pad(X23, 1, mode="foo"), ValueError, r"pad: mode 'foo' is not supported"),
    (
        lambda: tnp.pad(X23, 1, mode="edge", constant_values=2),
        TypeError,
        r"unexpected keyword arguments \['constant_values'\] for mode 'edge'",
    ),
    (lambda: tnp.pad(X23, ((1, 2, 3),)), ValueError, r"pad_width of shape \(1, 3\)"),
    (
        lambda: tnp.pad(np.ones((0, 2)), 1, mode="wrap"),
        ValueError,
        r"cannot apply 'wrap' padding to the empty axis 0",
    ),
    (lambda: tnp.fliplr(np.ones(3)), ValueError, r"fliplr: needs an array of rank >= 2"),
    (lambda: tnp.flip(X23, 2), ValueError, r"flip: axis 2 is out of bounds"),
    (lambda: tnp.roll(X23, 1, axis=3), ValueError, r"roll: axis 3 is out of bounds"),
    (lambda: tnp.reshape(object(), (1,)), TypeError, r"reshape: expected an array, got object"),
    (
        lambda: tlax.concatenate([X23, np.ones((2, 3), np.int32)], 0),
        TypeError,
        r"concatenate: operands must have equal dtypes, got f32\[2,3\], i32\[2,3\]",
    ),
    (
        lambda: tlax.concatenate([X23, np.ones((3, 2), np.float32)], 0),
        TypeError,
        r"equal except along dimension 0, got f32\[2,3\], f32\[3,2\]",
    ),
    (
        lambda: tlax.pad(X23, np.ones(2, np.float32), [(0, 0, 0)] * 2),
        TypeError,
        r"pad: padding_value must be a scalar, got f32\[2\]",
    ),
    (
        lambda: tlax.pad(np.ones(3, np.float32), 0.0, [(-2, -2, 0)]),
        ValueError,
        r"pad: padding_config \(\(-2, -2, 0\),\) is invalid for operand f32\[3\]",
    ),
    (
        lambda: tlax.pad(np.ones(3, np.float32), 0.0, [(0, 0, 0)] * 2),
        TypeError,
        r"one \(lo, hi, interior\) triple per dimension of f32\[3\]",
    ),
    (
        lambda: tlax.slice(X23, (0, 2), (2, 1)),
        TypeError,
        r"slice: start_indices \(0, 2\), limit_indices \(2, 1\).* out of range for f32\[2,3\]",
    ),
    (lambda: tlax.slice(X23, (0,), (1,)), TypeError, r"need one entry per dimension"),
    (lambda: tlax.rev(X23, (2,)), TypeError, r"rev: dimensions \(2,\) are invalid"),
    (lambda: tlax.iota(np.bool_, 3), TypeError, r"iota: needs a numeric dtype"),
    (lambda: tlax.broadcasted_iota(np.int32, (-1,), 0), ValueError, r"negative dimensions"),
]


@pytest.mark.parametrize("fn,exc,match", ERRORS, ids=[f"err{i}" for i in range(len(ERRORS))])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_traced_shift_or_repeats_needs_concrete_value():
    with pytest.raises(tj.errors.ConcretizationError, match=r"roll: argument 'shift' must be"):
        tj.jit(lambda x, s: tnp.roll(x, s))(X23, 1)
    with pytest.raises(tj.errors.ConcretizationError, match=r"repeat: argument 'repeats'"):
        tj.jit(lambda x, r: tnp.repeat(x, r))(X23, 2)
    # Outside jit the value is known, so the trace specialises on it (as JAX does).
    out = tj.grad(lambda x, s: tnp.sum(tnp.roll(x, s) * tnp.arange(3.0)))(np.ones(3), 1)
    assert_close(
        out, np.asarray(jax.grad(lambda x: jnp.sum(jnp.roll(x, 1) * jnp.arange(3.0)))(jnp.ones(3)))
    )
