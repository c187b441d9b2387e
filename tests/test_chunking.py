"""vmap(..., chunk_size=): the same result as the unchunked vmap, bit for bit, for
every chunk size (dividing the mapped size or not, larger than it), axis placement
and transform around it; full chunks run as one scan."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp

rng = np.random.default_rng(11)
XS = rand(rng, (7, 3))
W = rand(rng, (3,))


def f(x, w):
    return {"y": tnp.sin(x) * w, "n": tnp.sum(w * w)}


def jf(x, w):
    return {"y": jnp.sin(x) * w, "n": jnp.sum(w * w)}


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 6, 7, 50])
@pytest.mark.parametrize("in_axis, out_axis", [(0, 0), (1, 1), (0, -1), (-1, 0)])
def test_chunked_equals_unchunked(chunk_size, in_axis, out_axis):
    xs = XS if in_axis == 0 else XS.T.copy()
    in_axes, out_axes = (in_axis, None), {"y": out_axis, "n": None}
    full = tj.vmap(f, in_axes, out_axes)(xs, W)
    chunked = tj.vmap(f, in_axes, out_axes, chunk_size=chunk_size)(xs, W)
    assert_close(chunked, full, 0.0)
    assert_close(chunked, jax.vmap(jf, in_axes, out_axes)(xs, W), 1e-6)
    assert_close(tj.jit(tj.vmap(f, in_axes, out_axes, chunk_size=chunk_size))(xs, W), full, 1e-6)


def test_full_chunks_run_as_one_scan():
    ir = tj.make_ir(tj.vmap(f, (0, None), chunk_size=2))(XS, W)
    names = [e.prim.name for e in ir.eqns]
    assert names.count("scan") == 1  # three chunks of 2 in one loop
    assert "concatenate" in names  # and the last member appended
    scan = next(e for e in ir.eqns if e.prim.name == "scan")
    assert scan.params["length"] == 3
    ir.check()


def test_differentiating_through_and_nesting_chunked_vmap():
    loss = lambda xs, w: tnp.sum(tj.vmap(lambda x: tnp.tanh(x * w), chunk_size=3)(xs))
    jloss = lambda xs, w: jnp.sum(jax.vmap(lambda x: jnp.tanh(x * w))(xs))
    assert_close(tj.grad(loss, (0, 1))(XS, W), jax.grad(jloss, (0, 1))(XS, W), 1e-5)
    assert_close(tj.jit(tj.grad(loss, (0, 1)))(XS, W), jax.grad(jloss, (0, 1))(XS, W), 1e-5)
    batches = rand(rng, (2, 7, 3))
    outer = tj.vmap(lambda xs: tj.vmap(tnp.sin, chunk_size=4)(xs), chunk_size=1)
    assert_close(outer(batches), tj.vmap(tj.vmap(tnp.sin))(batches), 0.0)


def test_chunk_size_must_be_a_positive_int():
    for bad in [0, -1, 1.5]:
        with pytest.raises(ValueError, match="chunk_size must be a positive int"):
            tj.vmap(tnp.sin, chunk_size=bad)
