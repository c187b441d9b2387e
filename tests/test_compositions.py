"""Adversarial compositions of transforms, tracejit against JAX (the oracle).

Every program below is written once against a small namespace ``M`` that is
either tracejit (``TJ``) or JAX (``JX``): the same source runs through both
libraries, so a mismatch is tracejit's bug, not a transcription slip. Each
program is then checked under every composition of transforms that applies to
it (higher-order derivatives, forward-over-reverse, vmap of grad, grad of vmap,
MAML-style grad-of-vmap-of-grad with closures over the outer parameter, jit of
those, linearize / vjp under vmap, chunked vmap and jacrev, batch axes in
non-leading positions and unmapped arguments).

Tolerance is 1e-5 (float32). Programs computing in bfloat16 use 5e-2 (three
significant digits); the few programs whose derivatives of order three amplify
float32 rounding say why they use more.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp

tree_map = jax.tree_util.tree_map
tree_leaves = jax.tree_util.tree_leaves
F32 = np.float32
I32 = np.int32
B = 3  # batch size of the vmap compositions


class Lib:
    """The transforms and array namespaces of one library (hashable by identity)."""

    def __init__(self, name: str, **attrs: Any):
        self.name = name
        self.__dict__.update(attrs)

    def __repr__(self) -> str:
        return self.name


TJ = Lib(
    "tj", np=tnp, lax=tj.lax, grad=tj.grad, value_and_grad=tj.value_and_grad, jvp=tj.jvp,
    vjp=tj.vjp, linearize=tj.linearize, vmap=tj.vmap, jacfwd=tj.jacfwd, jacrev=tj.jacrev,
    hessian=tj.hessian, jit=tj.jit, custom_jvp=tj.custom_jvp, custom_vjp=tj.custom_vjp,
    checkpoint=tj.checkpoint, stop_gradient=tj.stop_gradient,
    vmap_chunked=lambda f, chunk_size, **kw: tj.vmap(f, chunk_size=chunk_size, **kw),
    jacrev_chunked=lambda f, chunk_size, **kw: tj.jacrev(f, chunk_size=chunk_size, **kw),
)
JX = Lib(
    "jax", np=jnp, lax=jax.lax, grad=jax.grad, value_and_grad=jax.value_and_grad, jvp=jax.jvp,
    vjp=jax.vjp, linearize=jax.linearize, vmap=jax.vmap, jacfwd=jax.jacfwd, jacrev=jax.jacrev,
    hessian=jax.hessian, jit=jax.jit, custom_jvp=jax.custom_jvp, custom_vjp=jax.custom_vjp,
    checkpoint=jax.checkpoint, stop_gradient=jax.lax.stop_gradient,
    # JAX has no chunk_size: the oracle is the unchunked transform.
    vmap_chunked=lambda f, chunk_size, **kw: jax.vmap(f, **kw),
    jacrev_chunked=lambda f, chunk_size, **kw: jax.jacrev(f, **kw),
)

_CACHE: dict = {}


def cached(make: Callable) -> Callable:
    """``make(M)`` built once per library (custom rules, jitted helpers)."""

    def get(M):
        key = (make, M.name)
        if key not in _CACHE:
            _CACHE[key] = make(M)
        return _CACHE[key]

    return get


def is_float(x: Any) -> bool:
    return jnp.issubdtype(x.dtype, jnp.inexact)


# --- the programs ---------------------------------------------------------------------


def p_poly(M, x):
    # A 0-d input: grad of grad of grad is meaningful; integer_pow, pow with a
    # weak base, a reciprocal.
    return M.np.sin(x) * x**3 + 2.0**x - 1 / (x * x + 1.0) + x**-2


def p_closures(M, x, y):
    # grad inside the program closing over x and y, vmap closing over its result.
    g = M.grad(lambda w: M.np.sum(M.np.sin(w * x) * y))(x)
    h = M.vmap(lambda r: M.np.dot(r, g) * M.np.tanh(x[0]))(M.np.outer(y, x))
    k = M.vmap(lambda r, s: M.grad(lambda u: M.np.sum(M.np.cos(u * s * g)))(r), (0, None))(
        M.np.outer(x, y), y[1]
    )
    return h + M.np.cos(g).sum(), k


def p_pytree(M, p, x):
    h = M.np.tanh(x @ p["w"] + p["b"])
    return {"h": h, "none": None, "pair": (h.sum() * p["extra"][1], M.np.argmax(h))}


def p_aux(M, x, y):
    main = M.np.sum(M.np.exp(x * 0.5) * y) + M.np.sum(x * x * y)
    return main, {"x2": x * 2, "n": (x > 0).sum(), "y": M.np.sin(y)}


def p_argnums(M, x, n, y):
    return M.np.sum(M.np.sin(x * n) + y**2 * n) + M.np.sum(x[:, None] * y[None, :])


def p_int_mixed(M, x, n):
    z = x * n + n // 2
    return z, n * 3, x > 0.5, M.np.sum(z * x)


def p_symbolic_zeros(M, x, y):
    # y is unused; one output is constant, one passes x through unchanged.
    return M.np.sin(x), M.np.ones(3) * 2.0, x, M.np.zeros_like(x) + 1.0


def p_weak(M, x):
    return (
        x * 2 + 3 - x**2 + 2.0**x + x**3 / 7 + (1 - x) * 0.5 + x**-2
        + np.float32(1.5) * x + True * x
    )


def p_bf16(M, x, y):
    a = x * 1.5 + 2
    b = a * y
    return M.np.sin(a), b, (a * 0.25).astype(M.np.float32)


def p_promote(M, x, n):
    return (n / 3) * x + n * x + (n + 1.5) * M.np.sin(x) + np.float32(2) * n


def p_broadcast(M, x, y):
    z = x * y + M.np.exp(x) - y
    return z.sum(axis=0, keepdims=True) * z + M.np.broadcast_to(y, (2, 3, 4)).sum(0)


def p_reductions(M, x):
    return (
        x.sum(0), x.mean(1), M.np.prod(x, axis=1), x.max(axis=0), x.min(), M.np.var(x, axis=1),
        M.np.std(x), M.np.argmax(x, axis=1), M.np.sum(x, axis=(0, 1), keepdims=True),
    )


def p_ties(M, x, y):
    # Values drawn from {-1, 0.5, 2}: max/min/maximum/clip/sort all meet ties.
    return (
        M.np.max(x), M.np.maximum(x, y), M.np.minimum(x, 2.0), M.np.max(M.np.stack([x, y]), 0),
        M.np.clip(x, -1.0, 2.0), M.np.sort(x * y), M.np.min(x * y, axis=0),
    )


def p_indexing(M, x, idx):
    return x[idx], x[1::2, ::-1], x[idx, 1], x[..., None][2:, :, 0], x[-1], x[idx[0]]


def p_at(M, x, y, idx):
    return (
        x.at[idx].add(y * 2), x.at[1:3].set(y[:2]), x.at[idx[0]].set(y[0] ** 2),
        x.at[::2].add(M.np.sin(y[:3])), x.at[idx].get() * y,
    )


def p_where(M, x, y):
    a = M.np.where(x > 0, M.np.sin(x), y**2)
    b = M.np.where(y > x, 1.0, x)
    c = M.lax.select(x < y, x * y, M.np.cos(y))
    return a + b * c


def p_sort_cumsum(M, x):
    s = M.np.sort(x)
    return M.np.cumsum(s * x), M.np.cumprod(x[:4]), s[::2], M.np.argsort(x), M.np.cumsum(x[::-1])


def p_linalg(M, w, x, v):
    return (
        w @ x, M.np.einsum("ij,jk->ik", w, x), M.np.einsum("ij,j->i", w, v),
        M.np.tensordot(w, x, axes=1), M.np.dot(v, v), M.np.matmul(M.np.stack([w, w * 2]), x),
        M.np.einsum("ij,ij->", w, w), M.np.outer(v, w[0]),
    )


def p_shapes(M, x, y):
    a = M.np.concatenate([x, y[None], x[::-1]], axis=0)
    b = M.np.pad(a, ((1, 0), (0, 2)), constant_values=1.5)
    c = b.reshape(3, -1).T
    d = M.np.transpose(M.np.stack([x, x * 2]), (2, 0, 1))
    return c * 1.5, d, M.np.flip(y) ** 2, M.np.tile(y, 2), M.np.repeat(y, 2), M.np.squeeze(x[:1])


def p_cond(M, x, y):
    def t(ops):
        a, b = ops
        return M.np.sin(a) * b, a

    def f(ops):
        a, b = ops
        return a * y.sum(), M.np.cos(b)  # closes over y

    out = M.lax.cond(x.sum() > 0, t, f, (x, y))
    idx = (x[0] > 0).astype(M.np.int32) + (y[0] > 0)
    s = M.lax.switch(idx, [lambda z: z**2, lambda z: M.np.exp(z) * x[1], lambda z: -z], x)
    return out[0] + s, out[1]


def p_scan(M, x, xs):
    def body(c, xi):
        c2 = M.np.sin(c * xi) + x  # closes over x
        return c2, (c2 * xi).sum()

    c, ys = M.lax.scan(body, x * 0.5, xs)
    c2, ys2 = M.lax.scan(lambda c, xi: (c * 0.9 + xi, c.sum()), c, xs, reverse=True)
    return c2, ys + ys2


def p_fori(M, x):
    def body(i, c):
        return c * M.np.cos(c) + i * 0.1 * x

    return M.lax.fori_loop(0, 3, body, x)


def p_while(M, x):
    def cond(c):
        i, v = c
        return (i < 4) & (M.np.sum(v) < 6.0)

    def body(c):
        i, v = c
        return i + 1, v * 1.5 + M.np.sin(v) * x

    i, v = M.lax.while_loop(cond, body, (0, x))
    return v * 2, i


@cached
def custom_fns(M):
    @M.custom_jvp
    def scaled_tanh(x, s):
        return M.np.tanh(x) * s

    @scaled_tanh.defjvp
    def scaled_tanh_jvp(primals, tangents):
        x, s = primals
        tx, ts = tangents
        # Deliberately twice the true derivative in x: the rule must be the one used.
        return scaled_tanh(x, s), 2.0 * (1 - M.np.tanh(x) ** 2) * s * tx + M.np.tanh(x) * ts

    def power(n, x):
        return x**n

    power = M.custom_jvp(power, nondiff_argnums=(0,))

    @power.defjvp
    def power_jvp(n, primals, tangents):
        (x,), (t,) = primals, tangents
        return power(n, x), n * x ** (n - 1) * t * 0.5

    @M.custom_vjp
    def sin_mul(x, y):
        return M.np.sin(x) * y

    def sin_mul_fwd(x, y):
        return sin_mul(x, y), (x, y)

    def sin_mul_bwd(res, g):
        x, y = res
        # Half the true cotangent of x, a made-up one for y; smooth, so it differentiates.
        ct_y = g * M.np.sin(x) ** 2
        return g * M.np.cos(x) * y * 0.5, ct_y if np.ndim(y) else M.np.sum(ct_y)

    sin_mul.defvjp(sin_mul_fwd, sin_mul_bwd)
    return scaled_tanh, power, sin_mul


def p_custom_jvp(M, x, s):
    scaled_tanh, power, _ = custom_fns(M)
    return scaled_tanh(x * x, s) + power(3, x) * s, scaled_tanh(x, 1.0)


def p_custom_vjp(M, x, y):
    _, _, sin_mul = custom_fns(M)
    return sin_mul(x * y, y) + x, sin_mul(x, 2.0)


def p_checkpoint(M, x, w):
    blk = M.checkpoint(lambda h: M.np.tanh(w @ h) * M.np.sin(h))  # closes over w
    return blk(blk(x)) * x


def p_stop_gradient(M, x, y):
    sg = M.stop_gradient
    return x * sg(x * y) + sg(M.np.sin(x)) ** 2 + M.np.cos(sg(y) * x)


def p_jit_inside(M, x, y):
    f = M.jit(lambda a: M.np.sin(a) * y)  # jit closing over a (possibly traced) value
    g = M.jit(lambda a, b: M.grad(lambda u: M.np.sum(M.np.exp(u * b)))(a))  # grad in jit
    return f(x) * g(x, y), g(y, x)


def p_pyctrl(M, x, ref=None):
    # Python control flow on values: fine under tracejit's differentiation outside
    # jit/vmap. JAX (0.10) refuses it, so its oracle decides on the concrete ``ref``.
    v = x if ref is None else ref
    y = M.np.sin(x) if float(v.sum()) > 0 else M.np.cos(x)
    for _ in range(int(v[0] > 0) + 1):
        y = y * x
    return y


def p_dynamic_slice(M, x, i):
    a = M.lax.dynamic_slice(x, (i,), (3,))
    b = M.lax.dynamic_update_slice(x, a * 2, (i + 1,))
    return a * b[:3], b


def p_elementwise(M, x, y):
    return (
        M.np.log(x) / y + y**x + M.np.sqrt(x * y) - M.np.arctan2(x, y) + M.np.expm1(-x)
        * M.np.log1p(y) + M.lax.rsqrt(x) + M.np.abs(x - y) + M.np.tanh(x) ** 2
    )


def p_casts(M, x):
    a = x.astype(M.np.bfloat16).astype(M.np.float32)
    b = x.astype(M.np.int32)
    return a * x, b * x, b, x > 0


def p_nested_control(M, x, xs):
    # cond (predicate batched under vmap) inside scan, a custom_jvp in a branch, a
    # checkpoint closing over the scan's slice and carry.
    scaled_tanh = custom_fns(M)[0]

    def body(c, xi):
        c = M.lax.cond(
            xi.sum() > 0, lambda c: scaled_tanh(c * xi, 1.5), lambda c: M.np.cos(c) * x, c
        )
        blk = M.checkpoint(lambda h: M.np.sin(h) * xi + c)
        return blk(c), c.sum()

    return M.lax.scan(body, x, xs)


def p_grad_in_loop(M, x):
    # grad inside a loop body, closing over the carry and over x.
    def body(i, c):
        g = M.grad(lambda u: M.np.sum(M.np.sin(u * c) * x))(x)
        return c - 0.1 * g

    return M.lax.fori_loop(0, 2, body, x * 0.5)


def p_inner_transforms(M, x, w):
    j = M.jacfwd(lambda v: M.np.tanh(w @ v))(x)
    r = M.vmap(lambda col, s: col * s, in_axes=(1, None), out_axes=1)(j, x[0])
    h = M.jacrev(lambda v: M.np.sin(v) * x)(x)  # closes over the value it differentiates
    _, t = M.jvp(lambda u: M.np.sin(u * w[0]), (x,), (M.np.cos(x),))
    _, lin = M.linearize(lambda u: M.np.exp(u) * x, w[1])
    _, pullback = M.vjp(lambda u: M.np.tanh(u * x), w[2])
    d = M.vmap(lambda a: a["p"] * a["q"], in_axes=({"p": 0, "q": None},))({"p": w, "q": x})
    return r + h, t * lin(x) + pullback(x)[0], d


def p_scan_misc(M, x, n):
    # An integer carry next to a float one, no xs, unroll, reverse; a switch on an argument.
    def body(c, _):
        i, v = c
        return (i + 1, v * M.np.cos(v) + i), v.sum() * i

    (i, v), ys = M.lax.scan(body, (0, x), None, length=3, unroll=2, reverse=True)
    s = M.lax.switch(n, [lambda z: z * 2.0, lambda z: M.np.sin(z), lambda z: z * v], x)
    return v, ys, i, s


def p_kinks(M, x):
    # Exact zeros: abs, relu, sign, sqrt behind where (nan in the unselected branch).
    return (
        M.np.abs(x), M.np.maximum(x, 0.0), M.np.sign(x) * x, M.np.where(x > 0, M.np.sqrt(x), 0.0),
        M.np.clip(x, 0.0, 1.0), M.np.maximum(x, x),
    )


@cached
def custom_fns2(M):
    @M.custom_jvp
    def dict_fn(d, n):  # a dict argument, an integer argument and outputs
        return {"s": M.np.sin(d["a"]) * d["b"], "i": n * 2, "c": M.np.tanh(d["b"])}

    @dict_fn.defjvp
    def dict_fn_jvp(primals, tangents):
        (d, n), (td, _) = primals, tangents
        out = dict_fn(d, n)
        ts = M.np.cos(d["a"]) * td["a"] * d["b"] + M.np.sin(d["a"]) * td["b"]
        tc = (1 - out["c"] ** 2) * td["b"]
        return out, {"s": ts, "i": np.zeros(np.shape(n), jax.dtypes.float0), "c": tc}

    def apply(fn, x, n, d):
        return fn(x) * n + d["w"].sum() * x

    apply = M.custom_vjp(apply, nondiff_argnums=(0,))

    def apply_fwd(fn, x, n, d):
        return apply(fn, x, n, d), {"x": x, "n": n, "w": d["w"]}

    def apply_bwd(fn, res, ct):
        # None for the integer argument; a made-up (but smooth) cotangent for d.
        ct_x = ct * M.np.cos(res["x"]) * res["n"] + ct * res["w"].sum()
        return ct_x, None, {"w": M.np.ones_like(res["w"]) * M.np.sum(ct * res["x"] ** 2)}

    apply.defvjp(apply_fwd, apply_bwd)
    return dict_fn, apply


def p_custom_jvp_pytree(M, a, b, n):
    dict_fn, _ = custom_fns2(M)
    out = dict_fn({"a": a * b, "b": b}, n)
    return out["s"] * out["c"], out["i"], out["c"]


def p_custom_vjp_pytree(M, x, n, w):
    _, apply = custom_fns2(M)
    return apply(M.np.sin, x * w[0], n, {"w": w}), apply(M.np.tanh, x, 2, {"w": w * x})


# --- argument makers ------------------------------------------------------------------


def _ties(rng, shape):
    return rng.choice(np.array([-1.0, 0.5, 2.0], F32), size=shape)


def _pos(rng):
    return rand(rng, (4,), F32, 0.5, 2.0)


@dataclass
class Prog:
    name: str
    fn: Callable
    make: Callable  # rng -> args (a tuple)
    diff: tuple = (0,)  # float argnums differentiated by grad
    tol: float = 1e-5
    aux: bool = False  # fn returns (main, aux)
    tags: frozenset = field(default_factory=frozenset)

    def args(self) -> tuple:
        return self.make(np.random.default_rng(zlib.crc32(self.name.encode())))

    def for_lib(self, M) -> Callable:
        """The program for library ``M``: JAX's oracle decides Python control flow on
        the concrete arguments (it cannot look at traced values)."""
        if M is JX and "pyctrl" in self.tags:
            ref = self.args()
            return lambda M, *a: self.fn(M, *a, ref=ref[0])
        return self.fn


def _r(shape, low=-2.0, high=2.0, dtype=F32):
    return lambda rng: rand(rng, shape, dtype, low, high)


def _args(*makers):
    return lambda rng: tuple(m(rng) for m in makers)


PROGS = [
    Prog("poly", p_poly, _args(lambda rng: np.asarray(rng.uniform(0.6, 1.6), F32)),
         tags=frozenset({"scalar"})),
    Prog("closures", p_closures, _args(_r((3,), -1.0, 1.0), _r((3,), -1.0, 1.0)), diff=(0, 1)),
    Prog("pytree", p_pytree, _args(
        lambda rng: {"w": rand(rng, (3, 2)), "b": rand(rng, (2,)),
                     "extra": (None, rand(rng, ()))}, _r((3,))), diff=(0, 1),
         tags=frozenset({"int_out"})),
    Prog("aux", p_aux, _args(_r((4,)), _r((4,))), diff=(0, 1), aux=True,
         tags=frozenset({"int_out"})),
    Prog("argnums", p_argnums, _args(_r((3,)), _r((3,), dtype=I32), _r((3,))), diff=(0, 2)),
    Prog("int_mixed", p_int_mixed, _args(_r((4,)), _r((4,), dtype=I32)),
         tags=frozenset({"int_out"})),
    Prog("symbolic_zeros", p_symbolic_zeros, _args(_r((3,)), _r((2,))), diff=(0, 1)),
    Prog("weak_literals", p_weak, _args(_r((4,), 0.5, 2.0))),
    # bfloat16 keeps 8 bits of mantissa.
    Prog("bf16", p_bf16, _args(_r((4,), dtype=jnp.bfloat16), _r((4,))), diff=(0, 1), tol=5e-2),
    Prog("promote", p_promote, _args(_r((3,)), _r((3,), dtype=I32))),
    Prog("broadcast", p_broadcast, _args(_r((3, 1)), _r((1, 4))), diff=(0, 1)),
    Prog("reductions", p_reductions, _args(_r((3, 4))), tags=frozenset({"int_out"})),
    # Ties: the derivative is discontinuous there, so no MAML step (a 1-ulp difference
    # in the adapted point between eager and jit may break a tie either way).
    Prog("ties", p_ties, _args(lambda rng: _ties(rng, (5,)), lambda rng: _ties(rng, (5,))),
         diff=(0, 1), tags=frozenset({"discontinuous"})),
    Prog("indexing", p_indexing, _args(
        _r((5, 3)), lambda rng: rng.integers(-5, 5, size=(4,)).astype(I32))),
    Prog("at", p_at, _args(_r((5,)), _r((4,)), lambda rng: np.array([1, 3, 1, -2], I32)),
         diff=(0, 1)),
    Prog("where", p_where, _args(_r((4,)), _r((4,))), diff=(0, 1)),
    Prog("sort_cumsum", p_sort_cumsum, _args(_r((6,))), tags=frozenset({"int_out"})),
    Prog("linalg", p_linalg, _args(_r((3, 4)), _r((4, 2)), _r((4,))), diff=(0, 1, 2)),
    Prog("shapes", p_shapes, _args(_r((2, 3)), _r((3,))), diff=(0, 1)),
    Prog("cond", p_cond, _args(_r((3,)), _r((3,))), diff=(0, 1)),
    Prog("scan", p_scan, _args(_r((3,), -1.0, 1.0), _r((4, 3), -1.0, 1.0)), diff=(0, 1)),
    Prog("fori", p_fori, _args(_r((3,), -1.0, 1.0))),
    Prog("while", p_while, _args(_r((3,), 0.2, 1.0)), tags=frozenset({"no_rev", "int_out"})),
    Prog("custom_jvp", p_custom_jvp, _args(_r((3,)), _r(())), diff=(0, 1)),
    Prog("custom_vjp", p_custom_vjp, _args(_r((3,)), _r((3,))), diff=(0, 1),
         tags=frozenset({"no_fwd"})),
    Prog("checkpoint", p_checkpoint, _args(_r((3,)), _r((3, 3))), diff=(0, 1)),
    Prog("stop_gradient", p_stop_gradient, _args(_r((3,)), _r((3,))), diff=(0, 1)),
    Prog("jit_inside", p_jit_inside, _args(_r((3,), -1.0, 1.0), _r((3,), -1.0, 1.0)),
         diff=(0, 1)),
    Prog("pyctrl", p_pyctrl, _args(_r((3,))), tags=frozenset({"pyctrl"})),
    Prog("dynamic_slice", p_dynamic_slice, _args(
        _r((6,)), lambda rng: np.asarray(rng.integers(0, 5), I32))),
    Prog("elementwise", p_elementwise, _args(_pos, _pos), diff=(0, 1)),
    Prog("nested_control", p_nested_control, _args(_r((3,), -1.0, 1.0), _r((4, 3), -1.0, 1.0)),
         diff=(0, 1)),
    Prog("grad_in_loop", p_grad_in_loop, _args(_r((3,), -1.0, 1.0))),
    Prog("inner_transforms", p_inner_transforms, _args(_r((3,), -1.0, 1.0), _r((3, 3))),
         diff=(0, 1)),
    Prog("scan_misc", p_scan_misc, _args(
        _r((3,), -1.0, 1.0), lambda rng: np.asarray(rng.integers(-1, 4), I32)),
         tags=frozenset({"int_out"})),
    Prog("kinks", p_kinks, _args(lambda rng: rng.choice(np.array([-1.0, 0.0, 0.5], F32), (5,)))),
    Prog("custom_jvp_pytree", p_custom_jvp_pytree, _args(
        _r((3,), -1.0, 1.0), _r((3,), -1.0, 1.0), _r((3,), dtype=I32)), diff=(0, 1),
         tags=frozenset({"int_out"})),
    Prog("custom_vjp_pytree", p_custom_vjp_pytree, _args(
        _r((3,), -1.0, 1.0), _r((3,), dtype=I32), _r((3,), -1.0, 1.0)), diff=(0, 2),
         tags=frozenset({"no_fwd"})),
    Prog("casts", p_casts, _args(_r((4,))), tags=frozenset({"int_out"})),
]


# --- the compositions -----------------------------------------------------------------


def weights(leaf) -> np.ndarray:
    return np.cos(np.arange(int(np.prod(leaf.shape)))).reshape(leaf.shape)


def loss(M, out):
    """A nonlinear real scalar of every float leaf (integer leaves are left out):
    bounded derivatives (tanh), so it does not amplify float32 rounding."""
    total = 0.0
    for leaf in tree_leaves(out):
        if is_float(leaf):
            leaf = leaf.astype(M.np.float32)
            total = total + M.np.sum((leaf + 0.5 * M.np.tanh(leaf)) * weights(leaf).astype(F32))
    return total


def contract(M, tree):
    """A fixed linear functional of a pytree (for derivatives of derivatives)."""
    total = 0.0
    for leaf in tree_leaves(tree):
        total = total + M.np.sum(leaf * weights(leaf).astype(leaf.dtype))
    return total


def scalar_fn(M, prog, aux=False):
    """The program reduced to a scalar loss (with its aux when ``aux``)."""

    def F(*args):
        out = prog.for_lib(M)(M, *args)
        if prog.aux:
            main, a = out
            return (loss(M, main), a) if aux else loss(M, main)
        return loss(M, out)

    return F


def with_arg(args, i, v):
    return args[:i] + (v,) + args[i + 1 :]


def only(n, i, ax=0):
    return tuple(ax if j == i else None for j in range(n))


class Data:
    """Inputs of one (program, composition) check, identical for both libraries."""

    def __init__(self, prog: Prog):
        rng = np.random.default_rng(zlib.crc32(prog.name.encode()))
        self.args = prog.make(rng)
        assert all(np.array_equal(a, b) for a, b in zip(tree_leaves(self.args),
                                                         tree_leaves(prog.args())))
        self.d0 = prog.diff[0]
        self.x = self.args[self.d0]
        self.bargs = self._stack([prog.make(rng) for _ in range(B)])
        self.b5args = self._stack([prog.make(rng) for _ in range(5)])
        self.b6args = self._stack([prog.make(rng) for _ in range(6)])
        like = lambda a: rand(rng, np.shape(a), np.asarray(a).dtype)
        self.t = tree_map(like, self.x)
        self.t2 = tree_map(like, self.x)
        self.T = tree_map(lambda a: np.stack([like(a), like(a)]), self.x)
        self.raw_t = tuple(
            tree_map(lambda a: like(a) if is_float(np.asarray(a))
                     else np.zeros(np.shape(a), jax.dtypes.float0), a)
            for a in self.args
        )
        out = prog.for_lib(JX)(JX, *tree_map(jnp.asarray, self.args))
        main = out[0] if prog.aux else out
        self.raw_ct = tree_map(
            lambda o: rand(rng, o.shape, o.dtype) if is_float(o)
            else np.zeros(o.shape, jax.dtypes.float0),
            main,
        )

    @staticmethod
    def _stack(arg_sets):
        def stack(*xs):
            s = np.stack([np.asarray(x) for x in xs])
            if s.dtype == np.float64:
                s = s.astype(F32)
            return s

        return tree_map(stack, *arg_sets)


def c_forward(M, prog, D):
    return prog.for_lib(M)(M, *tree_map(M.np.asarray, D.args))


def c_grad(M, prog, D):
    return M.grad(scalar_fn(M, prog, True), argnums=prog.diff, has_aux=prog.aux)(*D.args)


def c_value_and_grad(M, prog, D):
    f = scalar_fn(M, prog, True)
    return M.value_and_grad(f, argnums=D.d0, has_aux=prog.aux)(*D.args)


def _fx(M, prog, D):
    F = scalar_fn(M, prog)
    return lambda x: F(*with_arg(D.args, D.d0, x))


def c_grad3(M, prog, D):
    g1 = M.grad(_fx(M, prog, D))
    g2 = M.grad(lambda z: contract(M, g1(z)))
    return M.grad(lambda z: contract(M, g2(z)))(D.x)


def c_hessian(M, prog, D):
    return M.hessian(scalar_fn(M, prog, True), argnums=D.d0, has_aux=prog.aux)(*D.args)


def c_jacfwd_jacrev(M, prog, D):
    F = scalar_fn(M, prog)
    return M.jacfwd(M.jacrev(F, argnums=prog.diff), argnums=prog.diff)(*D.args)


def c_jacrev_jacfwd(M, prog, D):
    return M.jacrev(M.jacfwd(_fx(M, prog, D)))(D.x)


def c_jacrev_jacrev(M, prog, D):
    return M.jacrev(M.jacrev(_fx(M, prog, D)))(D.x)


def c_jacfwd_jacfwd(M, prog, D):
    return M.jacfwd(M.jacfwd(_fx(M, prog, D)))(D.x)


def c_jvp_grad(M, prog, D):
    return M.jvp(M.grad(_fx(M, prog, D)), (D.x,), (D.t,))


def c_jvp_jvp(M, prog, D):
    fx = _fx(M, prog, D)
    return M.jvp(lambda z: M.jvp(fx, (z,), (D.t,))[1], (D.x,), (D.t2,))


def c_linearize_vmap(M, prog, D):
    y, lin = M.linearize(M.grad(_fx(M, prog, D)), D.x)
    return y, M.vmap(lin)(D.T)


def c_vjp_rows(M, prog, D):
    y, pullback = M.vjp(M.grad(_fx(M, prog, D)), D.x)
    return y, M.vmap(pullback)(D.T)


def c_vmap_grad(M, prog, D):
    f = M.grad(scalar_fn(M, prog, True), argnums=D.d0, has_aux=prog.aux)
    n = len(D.args)
    return M.vmap(f, in_axes=only(n, D.d0))(*with_arg(D.args, D.d0, D.bargs[D.d0]))


def c_vmap_grad_all(M, prog, D):
    return M.vmap(M.grad(scalar_fn(M, prog), argnums=prog.diff))(*D.bargs)


def c_vmap_grad_axis(M, prog, D):
    # Batch axis last on the input, and on the output.
    f = M.grad(scalar_fn(M, prog), argnums=D.d0)
    n = len(D.args)
    bx = tree_map(lambda a: np.moveaxis(a, 0, -1), D.bargs[D.d0])
    args = with_arg(D.args, D.d0, bx)
    return M.vmap(f, in_axes=only(n, D.d0, -1), out_axes=-1)(*args)


def c_grad_vmap(M, prog, D):
    F = scalar_fn(M, prog)
    n = len(D.args)

    def total(bx):
        return M.np.sum(M.vmap(F, in_axes=only(n, D.d0))(*with_arg(D.args, D.d0, bx)))

    return M.grad(total)(D.bargs[D.d0])


def c_vmap_vmap_grad(M, prog, D):
    f = M.grad(scalar_fn(M, prog), argnums=D.d0)
    n = len(D.args)
    # (6, ...) -> (2, 3, ...): the outer vmap maps axis 1, the inner one axis 0.
    bx = tree_map(lambda a: a.reshape(2, 3, *a.shape[1:]), D.b6args[D.d0])
    inner = M.vmap(f, in_axes=only(n, D.d0))
    return M.vmap(inner, in_axes=only(n, D.d0, 1))(*with_arg(D.args, D.d0, bx))


def maml(M, prog, D):
    fx = _fx(M, prog, D)

    def outer(theta):
        def task(xb):
            def inner_loss(p):  # closes over theta (outer grad) and xb (vmap)
                return fx(tree_map(lambda a, b, c: a + 0.1 * b * c, p, xb, theta))

            g = M.grad(inner_loss)(theta)
            return fx(tree_map(lambda a, b: a - 0.05 * b, theta, g))

        return M.np.sum(M.vmap(task)(D.bargs[D.d0]))

    return outer


def c_maml(M, prog, D):
    return M.grad(maml(M, prog, D))(D.x)


def c_chunked_vmap_grad(M, prog, D):
    f = M.grad(scalar_fn(M, prog), argnums=prog.diff)
    return M.vmap_chunked(f, chunk_size=2)(*D.b5args)


def c_jit_grad(M, prog, D):
    f = M.grad(scalar_fn(M, prog, True), argnums=prog.diff, has_aux=prog.aux)
    return M.jit(f)(*D.args)


def c_jit_vmap_grad(M, prog, D):
    return M.jit(M.vmap(M.grad(scalar_fn(M, prog), argnums=prog.diff)))(*D.bargs)


def c_jit_hessian(M, prog, D):
    return M.jit(M.hessian(scalar_fn(M, prog), argnums=D.d0))(*D.args)


def c_grad_jit(M, prog, D):
    return M.grad(M.jit(scalar_fn(M, prog)), argnums=prog.diff)(*D.args)


def c_jit_maml(M, prog, D):
    return M.jit(M.grad(maml(M, prog, D)))(D.x)


def c_jvp_raw(M, prog, D):
    return M.jvp(lambda *a: prog.for_lib(M)(M, *a), D.args, D.raw_t, has_aux=prog.aux)


def c_vjp_raw(M, prog, D):
    out = M.vjp(lambda *a: prog.for_lib(M)(M, *a), *D.args, has_aux=prog.aux)
    return out[0], out[1](D.raw_ct), out[2:]


def c_vmap_raw(M, prog, D):
    return M.vmap(lambda *a: prog.for_lib(M)(M, *a))(*D.bargs)


def c_vmap_raw_unmapped(M, prog, D):
    n = len(D.args)
    return M.vmap(lambda *a: prog.for_lib(M)(M, *a), in_axes=only(n, D.d0))(
        *with_arg(D.args, D.d0, D.bargs[D.d0])
    )


def c_vmap_jvp(M, prog, D):
    f = lambda *a: prog.for_lib(M)(M, *a)
    return M.vmap(lambda t: M.jvp(f, D.args, with_arg(D.raw_t, D.d0, t), has_aux=prog.aux))(D.T)


def c_linearize_raw_vmap(M, prog, D):
    f = lambda *a: prog.for_lib(M)(M, *a)
    y, lin = M.linearize(lambda x: f(*with_arg(D.args, D.d0, x)), D.x)
    return y, M.vmap(lin)(D.T)


def c_jvp_vmap(M, prog, D):
    n = len(D.args)
    f = M.vmap(lambda *a: prog.for_lib(M)(M, *a), in_axes=only(n, D.d0))
    bt = tree_map(lambda a: np.stack([a] * B), D.t)
    return M.jvp(lambda x: f(*with_arg(D.args, D.d0, x)), (D.bargs[D.d0],), (bt,))


def c_jacfwd_raw(M, prog, D):
    return M.jacfwd(lambda *a: prog.for_lib(M)(M, *a), argnums=prog.diff, has_aux=prog.aux)(*D.args)


def c_jacrev_raw_chunked(M, prog, D):
    f = lambda *a: prog.for_lib(M)(M, *a)
    return M.jacrev_chunked(f, chunk_size=2, argnums=prog.diff, has_aux=prog.aux)(*D.args)


# name: (function, what the composition needs)
COMPS = {
    "forward": (c_forward, set()),
    "grad": (c_grad, {"rev"}),
    "value_and_grad": (c_value_and_grad, {"rev"}),
    "grad3": (c_grad3, {"rev"}),
    "hessian": (c_hessian, {"rev", "fwd"}),
    "jacfwd_jacrev": (c_jacfwd_jacrev, {"rev", "fwd"}),
    "jacrev_jacfwd": (c_jacrev_jacfwd, {"rev", "fwd"}),
    "jacrev_jacrev": (c_jacrev_jacrev, {"rev"}),
    "jacfwd_jacfwd": (c_jacfwd_jacfwd, {"fwd"}),
    "jvp_grad": (c_jvp_grad, {"rev", "fwd"}),
    "jvp_jvp": (c_jvp_jvp, {"fwd"}),
    "linearize_vmap": (c_linearize_vmap, {"rev", "fwd"}),
    "vjp_rows": (c_vjp_rows, {"rev"}),
    "vmap_grad": (c_vmap_grad, {"rev", "vmapx"}),
    "vmap_grad_all": (c_vmap_grad_all, {"rev", "vmapx"}),
    "vmap_grad_axis": (c_vmap_grad_axis, {"rev", "vmapx"}),
    "grad_vmap": (c_grad_vmap, {"rev", "vmapx"}),
    "vmap_vmap_grad": (c_vmap_vmap_grad, {"rev", "vmapx"}),
    "maml": (c_maml, {"rev", "vmapx", "adapt"}),
    "chunked_vmap_grad": (c_chunked_vmap_grad, {"rev", "vmapx"}),
    "jit_grad": (c_jit_grad, {"rev", "jit"}),
    "jit_vmap_grad": (c_jit_vmap_grad, {"rev", "vmapx", "jit"}),
    "jit_hessian": (c_jit_hessian, {"rev", "fwd", "jit"}),
    "grad_jit": (c_grad_jit, {"rev", "jit"}),
    "jit_maml": (c_jit_maml, {"rev", "vmapx", "jit", "adapt"}),
    "jvp_raw": (c_jvp_raw, {"fwd"}),
    "vjp_raw": (c_vjp_raw, {"rev"}),
    "vmap_raw": (c_vmap_raw, {"vmapx"}),
    "vmap_raw_unmapped": (c_vmap_raw_unmapped, {"vmapx"}),
    "vmap_jvp": (c_vmap_jvp, {"fwd"}),
    "linearize_raw_vmap": (c_linearize_raw_vmap, {"fwd"}),
    "jvp_vmap": (c_jvp_vmap, {"fwd", "vmapx"}),
    "jacfwd_raw": (c_jacfwd_raw, {"fwd", "float_out"}),
    "jacrev_raw_chunked": (c_jacrev_raw_chunked, {"rev", "float_out"}),
}

EXCLUDES = {
    "no_rev": {"rev"},
    "no_fwd": {"fwd"},
    "pyctrl": {"vmapx", "jit"},
    "int_out": {"float_out"},
    "discontinuous": {"adapt"},
}


def applies(prog: Prog, needs: set) -> bool:
    return not any(needs & EXCLUDES.get(tag, set()) for tag in prog.tags)


# The default run: every program under a few of its nastiest compositions, every
# composition on several programs. The whole table (~1300 checks, minutes of CPU) is
# opt-in: python -m pytest tests/test_compositions.py -m compositions
CORE = {
    "poly": ("grad3", "jit_hessian"),
    "closures": ("maml", "jacfwd_jacrev"),
    "pytree": ("vmap_grad_axis", "vjp_raw"),
    "aux": ("hessian", "vmap_grad"),
    "argnums": ("jacfwd_jacrev", "chunked_vmap_grad"),
    "int_mixed": ("jvp_raw", "vmap_jvp"),
    "symbolic_zeros": ("jacrev_raw_chunked", "linearize_vmap"),
    "weak_literals": ("jit_grad", "grad3"),
    "bf16": ("vjp_raw", "vmap_grad_all"),
    "promote": ("hessian", "grad_vmap"),
    "broadcast": ("vmap_vmap_grad", "jvp_grad"),
    "reductions": ("vjp_rows", "vmap_raw"),
    "ties": ("grad", "vmap_grad_all"),
    "indexing": ("vmap_raw", "jacrev_jacrev"),
    "at": ("grad_vmap", "vmap_raw_unmapped"),
    "where": ("jvp_jvp", "maml"),
    "sort_cumsum": ("hessian", "vmap_grad_axis"),
    "linalg": ("jit_vmap_grad", "jacfwd_raw"),
    "shapes": ("vjp_raw", "linearize_raw_vmap"),
    "cond": ("vmap_grad_all", "hessian", "jit_maml"),
    "scan": ("maml", "jvp_vmap"),
    "fori": ("grad3", "vmap_grad"),
    "while": ("jacfwd_jacfwd", "vmap_jvp"),
    "custom_jvp": ("grad_vmap", "hessian"),
    "custom_vjp": ("vmap_grad_all", "jacrev_jacrev"),
    "checkpoint": ("grad_vmap", "maml"),
    "stop_gradient": ("hessian", "vmap_grad"),
    "jit_inside": ("grad_jit", "vmap_grad_all"),
    "pyctrl": ("hessian", "grad3"),
    "dynamic_slice": ("vmap_grad_all", "jvp_raw"),
    "elementwise": ("jacfwd_jacrev", "chunked_vmap_grad"),
    "nested_control": ("vmap_grad_all", "maml"),
    "grad_in_loop": ("hessian", "vmap_grad"),
    "inner_transforms": ("grad", "vmap_raw"),
    "scan_misc": ("vmap_raw", "grad"),
    "kinks": ("grad", "vmap_grad_all"),
    "custom_jvp_pytree": ("jvp_raw", "vmap_grad_all"),
    "custom_vjp_pytree": ("grad_vmap", "vjp_rows"),
    "casts": ("vjp_raw", "jit_grad"),
}
CASES = [
    pytest.param(
        prog,
        name,
        id=f"{prog.name}-{name}",
        marks=() if name in CORE[prog.name] else (pytest.mark.compositions,),
    )
    for prog in PROGS
    for name, (_, needs) in COMPS.items()
    if applies(prog, needs)
]
_DATA: dict = {}


@pytest.mark.parametrize("prog, comp", CASES)
def test_composition_matches_jax(prog: Prog, comp: str):
    if prog.name not in _DATA:
        _DATA[prog.name] = Data(prog)
    D = _DATA[prog.name]
    fn = COMPS[comp][0]
    expected = fn(JX, prog, D)
    actual = fn(TJ, prog, D)
    same(actual, expected, prog.tol, f"{prog.name} {comp}")


def same(actual: Any, expected: Any, tol: float, what: str) -> None:
    """Equal pytree structure, float0 where JAX has float0, values within ``tol``."""
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected), what
    for x, y in zip(tree_leaves(actual), tree_leaves(expected)):
        x, y = np.asarray(x), np.asarray(y)
        if y.dtype.names == ("float0",):
            assert x.dtype.names == ("float0",) and x.shape == y.shape, f"{what}: {x.dtype}"
        else:
            assert_close(x, y, tol, what)


# --- what is unsupported by design raises a clear error -------------------------------


# Programs that some compositions must refuse, with the error that says why.
REFUSALS = {
    "while": (("grad", "hessian", "vjp_raw"), TypeError, "while_loop.*fori_loop"),
    "custom_vjp": (("jvp_raw", "hessian", "jacfwd_raw", "linearize_raw_vmap"), TypeError,
                   "forward-mode.*custom_vjp function sin_mul"),
    "pyctrl": (("jit_grad", "vmap_grad", "grad_jit", "vmap_raw"), tj.errors.ConcretizationError,
               r"float\(\) needs a concrete value"),
}


@pytest.mark.parametrize("prog_name", list(REFUSALS))
def test_unsupported_compositions_are_clear_errors(prog_name):
    # reverse mode through while_loop; forward mode through custom_vjp; Python control
    # flow on values under jit or vmap
    prog = next(p for p in PROGS if p.name == prog_name)
    D = Data(prog)
    comps, error, message = REFUSALS[prog_name]
    for name in comps:
        with pytest.raises(error, match=message):
            COMPS[name][0](TJ, prog, D)


# --- dtype details that a composition must keep --------------------------------------


@pytest.mark.parametrize(
    "f",
    [
        lambda M, a: a * 2,
        lambda M, a: a * True + 1,
        lambda M, a: M.np.sin(a) * 2.5 - 1,
        lambda M, a: M.np.maximum(a, 0) / 3,
    ],
    ids=["mul-int", "mul-bool", "sin-float", "maximum-div"],
)
def test_python_scalars_keep_results_weakly_typed(f):
    # weak f32 op Python scalar stays weak, so it does not promote a bf16 operand.
    bf = np.ones(2, jnp.bfloat16)
    for arg in (2.0, 2):
        expected = jax.jit(lambda a, b: (f(JX, a), f(JX, a) * b))(arg, bf)
        actual = tj.jit(lambda a, b: (f(TJ, a), f(TJ, a) * b))(arg, bf)
        same(actual, expected, 1e-6, "jit")
        assert [x.dtype for x in actual] == [x.dtype for x in expected]
        assert actual[0].weak_type == expected[0].weak_type


def test_float0_tangents_and_cotangents_leave_jit_and_vmap():
    x = np.ones((2, 3), F32)
    mixed = lambda M: (lambda a: (a * 2, a.astype(M.np.int32).sum()))
    for case in [
        lambda M: M.vmap(lambda a: M.jvp(mixed(M), (a,), (a,))[1])(x),
        lambda M: M.vmap(lambda a: M.vjp(lambda u, n: u * n, a, np.int32(2))[1](a))(x),
        lambda M: M.jit(lambda a: M.vjp(lambda u, n: u * n, a, np.int32(2))[1](a))(x),
        lambda M: M.jit(lambda a: M.jvp(mixed(M), (a,), (a,)))(x),
    ]:
        same(case(TJ), case(JX), 1e-6, "float0")


WEAK_CASES = {
    "grad": lambda M, s: M.grad(lambda a: M.np.sin(a) * 2)(s),
    "value_and_grad": lambda M, s: M.value_and_grad(lambda a: a * a)(s)[1],
    "grad_grad": lambda M, s: M.grad(M.grad(lambda a: a**3))(s),
    "jvp": lambda M, s: M.jvp(lambda a: a * 3, (s,), (1.0,))[1],
    "vjp": lambda M, s: M.vjp(lambda a: M.np.cos(a), s)[1](1.0)[0],
    "linearize": lambda M, s: M.linearize(lambda a: a * a, s)[1](0.5),
    "hessian": lambda M, s: M.hessian(lambda a: a**3)(s),
    "jacfwd": lambda M, s: M.jacfwd(lambda a: a**3)(s),
    "jacrev": lambda M, s: M.jacrev(lambda a: a**3)(s),
    "vmap": lambda M, s: M.vmap(lambda a: a * 2.0, in_axes=None, axis_size=2)(s),
}


@pytest.mark.parametrize("case", list(WEAK_CASES), ids=list(WEAK_CASES))
def test_derivatives_of_python_scalars_are_weakly_typed(case):
    # JAX: the derivative of a weakly typed value is weak, so it does not promote a
    # bfloat16 array it meets (inside jit, where tracejit's types are the IR's).
    f = WEAK_CASES[case]
    bf = np.ones(2, jnp.bfloat16)
    expected = jax.jit(lambda b: f(JX, 2.0) * b)(bf)
    actual = tj.jit(lambda b: f(TJ, 2.0) * b)(bf)
    same(actual, expected, 0.0, case)
