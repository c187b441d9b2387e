"""vmap: axes specifications, composition, closures and the errors of SPEC.md."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp

rng = np.random.default_rng(0)
A = rand(rng, (4, 3))
B = rand(rng, (3, 4))
W = rand(rng, (3, 5))


def f(x, y):
    return tnp.sin(x) * y + 1.0


def jf(x, y):
    return jnp.sin(x) * y + 1.0


@pytest.mark.parametrize("in_axes", [0, (0, 1), (1, 0), (-2, -1), (0, None), (None, 1)])
def test_in_axes_forms(in_axes):
    args = {0: (A, B.T), (0, 1): (A, B), (1, 0): (B, A), (-2, -1): (A, B),
            (0, None): (A, B[:, 0]), (None, 1): (A[0], B)}[in_axes]
    assert_close(tj.vmap(f, in_axes)(*args), jax.vmap(jf, in_axes)(*args))


@pytest.mark.parametrize("out_axes", [0, 1, -1])
def test_out_axes(out_axes):
    assert_close(tj.vmap(f, out_axes=out_axes)(A, A), jax.vmap(jf, out_axes=out_axes)(A, A))


def test_pytree_prefix_in_axes_and_out_axes():
    params = {"w": W, "b": rand(rng, (5,))}
    xs = rand(rng, (7, 3))

    def model(p, x):
        return {"y": tj.lax.dot_general(x, p["w"], (((0,), (0,)), ((), ()))) + p["b"],
                "p": p["b"]}

    def jmodel(p, x):
        return {"y": x @ p["w"] + p["b"], "p": p["b"]}

    out_axes = {"y": 0, "p": None}
    in_axes = ({"w": None, "b": None}, 0)
    assert_close(tj.vmap(model, in_axes, out_axes)(params, xs),
                 jax.vmap(jmodel, in_axes, out_axes)(params, xs))


def test_axis_size_when_nothing_is_mapped():
    out = tj.vmap(lambda x: x * 2.0, in_axes=None, axis_size=4)(np.float32(1.5))
    assert_close(out, np.full(4, 3.0, np.float32))


def test_nested_vmap_matches_jax():
    g = lambda x, y: tnp.sum(x * y)
    jg = lambda x, y: jnp.sum(x * y)
    assert_close(
        tj.vmap(tj.vmap(g, (0, None)), (None, 0))(A, B.T),
        jax.vmap(jax.vmap(jg, (0, None)), (None, 0))(A, B.T),
    )


def test_vmap_closing_over_outer_traced_value():
    def outer(s):
        return tnp.sum(tj.vmap(lambda x: tnp.sin(x * s))(A))

    expected = jax.grad(lambda s: jnp.sum(jax.vmap(lambda x: jnp.sin(x * s))(A)))(0.3)
    assert_close(tj.grad(outer)(np.float32(0.3)), expected, 1e-5)


def test_unbatched_operand_is_not_broadcast_to_the_batch():
    v = rand(rng, (3,))
    ir = tj.make_ir(tj.vmap(lambda x: x * v))(A)
    text = str(ir)
    assert "f32[4,3] = broadcast_in_dim" not in text
    assert_close(tj.eval_ir(ir, [A])[0], A * v)


def test_error_in_axes_length():
    with pytest.raises(ValueError, match=r"len\(in_axes\)=3 for 2 arguments"):
        tj.vmap(f, in_axes=(0, 0, 0))(A, A)


def test_error_in_axes_structure():
    with pytest.raises(ValueError, match="in_axes specification must be a tree prefix"):
        tj.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": A})


def test_error_axis_out_of_range():
    with pytest.raises(ValueError,
                       match=r"in_axes=2 is out of range for argument \[0\].*f32\[4,3\]"):
        tj.vmap(f, in_axes=(2, 0))(A, A)


def test_error_inconsistent_sizes_names_every_argument():
    with pytest.raises(ValueError) as info:
        tj.vmap(f)(A, B)
    msg = str(info.value)
    assert "inconsistent sizes" in msg
    assert "argument [0] has size 4" in msg and "argument [1] has size 3" in msg


def test_error_out_axes_none_for_batched_output():
    with pytest.raises(ValueError, match="out_axes=None for output 0"):
        tj.vmap(lambda x: x * 2, out_axes=None)(A)


def test_error_no_mapped_input_without_axis_size():
    with pytest.raises(ValueError, match="pass axis_size"):
        tj.vmap(lambda x: x, in_axes=None)(A)
