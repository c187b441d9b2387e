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


CHUNK_SIZES = [1, 2, 3, 6, 7, 50]


@pytest.mark.parametrize("in_axis, out_axis", [(0, 0), (1, 1), (0, -1), (-1, 0)])
def test_chunked_equals_unchunked(in_axis, out_axis):
    """Every chunk size: eagerly bit-identical to the unchunked vmap and equal to
    jax.vmap; under jit, all chunk sizes in one compiled program."""
    xs = XS if in_axis == 0 else XS.T.copy()
    in_axes, out_axes = (in_axis, None), {"y": out_axis, "n": None}
    full = tj.vmap(f, in_axes, out_axes)(xs, W)
    expected = jax.jit(jax.vmap(jf, in_axes, out_axes))(xs, W)
    for chunk_size in CHUNK_SIZES:
        chunked = tj.vmap(f, in_axes, out_axes, chunk_size=chunk_size)(xs, W)
        assert_close(chunked, full, 0.0, f"chunk_size={chunk_size}")
        assert_close(chunked, expected, 1e-6, f"chunk_size={chunk_size} vs jax.vmap")
    jitted = tj.jit(
        lambda xs, w: [tj.vmap(f, in_axes, out_axes, chunk_size=c)(xs, w) for c in CHUNK_SIZES]
    )(xs, W)
    for chunk_size, got in zip(CHUNK_SIZES, jitted):
        assert_close(got, full, 1e-6, f"jit chunk_size={chunk_size}")


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
    expected = jax.jit(jax.grad(jloss, (0, 1)))(XS, W)
    assert_close(tj.grad(loss, (0, 1))(XS, W), expected, 1e-5)
    assert_close(tj.jit(tj.grad(loss, (0, 1)))(XS, W), expected, 1e-5)
    batches = rand(rng, (2, 7, 3))
    outer = tj.vmap(lambda xs: tj.vmap(tnp.sin, chunk_size=4)(xs), chunk_size=1)
    assert_close(outer(batches), tj.vmap(tj.vmap(tnp.sin))(batches), 0.0)


def test_chunk_size_must_be_a_positive_int():
    for bad in [0, -1, 1.5]:
        with pytest.raises(ValueError, match="chunk_size must be a positive int"):
            tj.vmap(tnp.sin, chunk_size=bad)
