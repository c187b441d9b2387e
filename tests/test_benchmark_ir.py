"""Structure guards for the benchmark programs (no timings in tests): the
optimized IR of each workload's tracejit program is pinned, so a change that
bloats a gradient, a batching rule or the passes shows up here."""

import os
import sys

import jax
import pytest

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.ir import count_eqns

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import workloads as W  # noqa: E402

# Pinned optimized equation counts (nested IRs included). Lower is fine: update
# the pin in the same commit. Higher is a regression to explain.
PINNED = {
    "W1 mlp train step": 75,
    "W2 per-sample grads": 50,
    "W3 ensemble train step": 58,
    "W4 maml 5 step fori_loop": 201,
    "W5 hessian": 43,
    "W6 vmap(jacfwd)": 9,
    "W6 vmap(jacrev)": 14,
}


def _programs():
    p1 = W._mlp_params([784, 512, 512, 10])
    x1, y1 = W._data(256, 784, 10)
    step = lambda p, x, y: W._sgd(jax.tree_util.tree_map, p, tj.grad(W.tj_loss)(p, x, y))
    yield "W1 mlp train step", tj.jit(step), (p1, x1, y1)
    p2 = W._mlp_params([784, 128, 10])
    x2, y2 = W._data(64, 784, 10)
    one = lambda p, a, b: W.tj_loss(p, a[None], b[None])
    yield "W2 per-sample grads", tj.jit(tj.vmap(tj.grad(one), in_axes=(None, 0, 0))), (
        p2, x2, y2)
    stacked = jax.tree_util.tree_map(lambda *a: jax.numpy.stack(a), *[p2] * 10)
    xs = jax.numpy.stack([x2] * 10)
    ys = jax.numpy.stack([y2] * 10)
    yield "W3 ensemble train step", tj.jit(tj.vmap(step)), (stacked, xs, ys)
    _, task = W._maml(tnp, lambda h: tnp.maximum(h, 0.0), tj.grad, tj.lax.fori_loop, 5, True)
    outer = lambda p, *d: tnp.mean(tj.vmap(task, in_axes=(None, 0, 0, 0, 0))(p, *d))
    yield "W4 maml 5 step fori_loop", tj.jit(tj.grad(outer)), (
        W._mlp_params([1, 40, 40, 1]), *W._maml_data())
    w = jax.numpy.ones((256, 256)) / 256
    f = lambda x: tnp.sum(tnp.tanh(w @ tnp.tanh(w @ x)))
    yield "W5 hessian", tj.jit(tj.jacfwd(tj.jacrev(f))), (jax.numpy.ones(256),)
    for mode in ("jacfwd", "jacrev"):
        g = getattr(tj, mode)(lambda x: tnp.tanh(w @ x + 1.0))
        yield f"W6 vmap({mode})", tj.jit(tj.vmap(g)), (jax.numpy.ones((64, 256)),)


@pytest.mark.parametrize("name,jitted,args", list(_programs()), ids=lambda v: str(v)[:30])
def test_benchmark_ir_size_is_pinned(name, jitted, args):
    ir = jitted.trace(*args)
    ir.check()
    assert count_eqns(ir) <= PINNED[name], f"{name}: {count_eqns(ir)} > {PINNED[name]}"


def test_jacfwd_shares_the_weight_product_across_the_batch():
    w = jax.numpy.ones((256, 256)) / 256
    ir = tj.jit(tj.vmap(tj.jacfwd(lambda x: tnp.tanh(w @ x)))).trace(jax.numpy.ones((64, 256)))
    ir.check()
    # vmap keeps the identity basis unbatched, so W meets it once (never a batch of 64
    # bases), and that product is W itself: the only matmul left is W with the batch.
    products = [e for e in ir.eqns if e.prim.name == "dot_general"]
    assert [sorted(e.outvars[0].aval.shape) for e in products] == [[64, 256]], ir
    # The Jacobian is written in its final layout: no transpose of a 64x256x256 array.
    assert not [e for e in ir.eqns if e.prim.name == "transpose" and e.outvars[0].aval.ndim == 3]


def test_gradient_ir_grows_linearly_with_depth():
    # W9's structural guard: doubling an MLP's depth at most doubles (x2.2) its gradient
    # IR, before and after the passes (trace + transform work is per equation).
    sizes = {}
    for depth in (8, 16):
        loss, params, x = W.deep_mlp_loss(tnp, depth)
        raw = tj.make_ir(tj.grad(loss))(params, x)
        raw.check()
        sizes[depth] = (count_eqns(raw), count_eqns(tj.jit(tj.grad(loss)).trace(params, x)))
    for before, after in zip(sizes[8], sizes[16]):
        assert after <= 2.2 * before, sizes
    # and it is really the gradient of a 16-layer network (not a truncated trace)
    assert sizes[16][1] >= 16 * 4, sizes
