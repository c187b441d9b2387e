"""tracejit.func (torch.func's spellings): the seed's functorch examples ported by
renaming, the torch-specific signatures, and ensembles (stack_module_state,
stack_params / unstack_params)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from checks import assert_close, rand

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import func

rng = np.random.default_rng(7)
batch_size, feature_size = 3, 5
weights = rand(rng, (feature_size,))
examples = rand(rng, (batch_size, feature_size))
targets = rand(rng, (batch_size,))


def test_seed_grad_and_second_order_grad():
    x = np.float32(rng.normal())
    cos_x = func.grad(lambda x: tnp.sin(x))(x)
    assert_close(cos_x, np.cos(x), 1e-6)
    neg_sin_x = func.grad(func.grad(lambda x: tnp.sin(x)))(x)
    assert_close(neg_sin_x, -np.sin(x), 1e-6)


def test_seed_vmap_of_a_model_hiding_the_batch_dimension():
    def model(feature_vec):
        assert feature_vec.ndim == 1
        return tnp.maximum(tnp.dot(feature_vec, weights), 0.0)

    result = func.vmap(model)(examples)
    expected = np.maximum(examples @ weights, 0.0)
    assert_close(result, expected, 1e-5)
    assert_close(func.vmap(model, in_dims=1)(examples.T.copy()), expected, 1e-5)
    assert_close(func.vmap(lambda x: model(x) * 2.0, out_dims=0)(examples), expected * 2, 1e-5)


def model(weights, feature_vec):
    return tnp.maximum(tnp.dot(feature_vec, weights), 0.0)


def compute_loss(weights, example, target):
    y = model(weights, example)
    return ((y - target) ** 2).mean()


def jcompute_loss(weights, example, target):
    y = jnp.maximum(jnp.dot(example, weights), 0.0)
    return ((y - target) ** 2).mean()


def test_seed_per_sample_gradients():
    inputs = (weights, examples, targets)
    per_example = func.vmap(func.grad(compute_loss), in_dims=(None, 0, 0))(*inputs)
    loop = np.stack(
        [
            np.asarray(func.grad(compute_loss)(weights, examples[i], targets[i]))
            for i in range(batch_size)
        ]
    )
    assert per_example.shape == (batch_size, feature_size)
    assert_close(per_example, loop, 1e-5)
    assert_close(per_example, jax.vmap(jax.grad(jcompute_loss), (None, 0, 0))(*inputs), 1e-5)
    jitted = tj.jit(func.vmap(func.grad(compute_loss), in_dims=(None, 0, 0)))
    assert_close(jitted(*inputs), loop, 1e-5)


def test_seed_jacobian_by_vmap_of_vjp():
    D = 4
    weight, bias, x = rand(rng, (D, D)), rand(rng, (D,)), rand(rng, (D,))

    def predict(weight, bias, x):
        return tnp.tanh(x @ weight.T + bias)

    unit_vectors = np.eye(D, dtype=np.float32)
    _, vjp_fn = func.vjp(lambda x: predict(weight, bias, x), x)
    jac = np.stack([np.asarray(vjp_fn(vec)[0]) for vec in unit_vectors])
    (ft_jacobian,) = func.vmap(vjp_fn)(unit_vectors)
    assert_close(ft_jacobian, jac, 1e-6)
    assert_close(func.jacrev(predict, argnums=2)(weight, bias, x), jac, 1e-6)
    assert_close(func.jacfwd(predict, argnums=2)(weight, bias, x), jac, 1e-5)
    _, jvp_out = func.jvp(lambda x: predict(weight, bias, x), (x,), (unit_vectors[1],))
    assert_close(jvp_out, jac[:, 1], 1e-6)
    _, lin = func.linearize(lambda x: predict(weight, bias, x), x)
    assert_close(lin(unit_vectors[2]), jac[:, 2], 1e-6)


def test_grad_and_value_uses_torch_order():
    f = lambda x: tnp.sum(tnp.sin(x) * x)
    g, value = func.grad_and_value(f)(weights)
    assert_close(value, jnp.sum(jnp.sin(weights) * weights), 1e-6)
    assert_close(g, jax.grad(lambda x: jnp.sum(jnp.sin(x) * x))(weights), 1e-6)
    h = lambda x, y: (tnp.sum(x * y), {"y2": y * 2.0})
    g, (value, aux) = func.grad_and_value(h, argnums=(0, 1), has_aux=True)(weights, weights)
    assert_close(g, (weights, weights), 1e-6)
    assert_close(aux, {"y2": weights * 2.0}, 1e-6)


def test_hessian_and_chunked_jacrev():
    f = lambda x: tnp.sum(tnp.sin(x) ** 3)
    jf = lambda x: jnp.sum(jnp.sin(x) ** 3)
    assert_close(func.hessian(f)(weights), jax.jit(jax.hessian(jf))(weights), 1e-4)
    g = lambda x: tnp.tanh(x) * x
    assert_close(func.jacrev(g, chunk_size=2)(weights), func.jacrev(g)(weights), 0.0)
    assert_close(func.vmap(g, chunk_size=2)(examples), tj.vmap(g)(examples), 0.0)


def test_same_transforms_as_the_top_level():
    assert func.grad is tj.grad and func.vjp is tj.vjp and func.jvp is tj.jvp
    assert func.linearize is tj.linearize and func.jacrev is tj.jacrev
    assert func.hessian is tj.hessian


@pytest.mark.parametrize("transform", [func.vmap, func.jacfwd], ids=["vmap", "jacfwd"])
def test_randomness_must_be_a_known_mode(transform):
    for mode in ["error", "different", "same"]:
        transform(tnp.sin, randomness=mode)
    with pytest.raises(
        ValueError,
        match=r"randomness must be one of 'error', 'different', "
        r"'same', got 'sometimes'",
    ):
        transform(tnp.sin, randomness="sometimes")


# --- ensembles ----------------------------------------------------------------------------


def _init(seed):
    r = np.random.default_rng(seed)
    return {"w": rand(r, (feature_size, 2)), "b": rand(r, (2,))}


def _fmodel(params, x):
    return tnp.tanh(x @ params["w"] + params["b"])


def test_stack_module_state_ensembles_by_vmap():
    models = [_init(s) for s in range(4)]
    params, buffers = func.stack_module_state(models)
    assert buffers == {}
    assert params["w"].shape == (4, feature_size, 2) and params["b"].shape == (4, 2)
    out = func.vmap(_fmodel, in_dims=(0, None))(params, examples)
    loop = np.stack([np.asarray(_fmodel(m, examples)) for m in models])
    assert_close(out, loop, 1e-5)


def test_stack_and_unstack_params_round_trip():
    members = [_init(s) for s in range(3)]
    stacked = tj.stack_params(members)
    assert_close(stacked, jax.tree_util.tree_map(lambda *xs: np.stack(xs), *members), 0.0)
    back = tj.unstack_params(stacked)
    assert len(back) == 3
    for m, b in zip(members, back):
        assert_close(b, m, 0.0)
    # Under jit and on traced values too.
    assert_close(tj.jit(tj.stack_params)(members), stacked, 0.0)
    assert_close(tj.jit(tj.unstack_params)(stacked), members, 0.0)


@pytest.mark.parametrize(
    "trees, match",
    [
        ([], "stack_params: got an empty list"),
        ([{"w": weights}, {"v": weights}], r"member 1 has structure .* but member 0 has"),
        ([{"w": weights}, {"w": examples}], r"leaf \['w'\] is f32\[3,5\] in member 1 but f32\[5\]"),
    ],
    ids=["empty", "structure", "shape"],
)
def test_stack_params_errors(trees, match):
    with pytest.raises(ValueError, match=match):
        tj.stack_params(trees)


@pytest.mark.parametrize(
    "tree, match",
    [
        ({"w": examples, "s": np.float32(1.0)}, r"leaf \['s'\] is a scalar f32\[\]"),
        (
            {"w": examples, "b": weights},
            r"the leaves disagree on the number of members .*"
            r"\['b'\]: f32\[5\]",
        ),
    ],
    ids=["scalar", "sizes"],
)
def test_unstack_params_errors(tree, match):
    with pytest.raises(ValueError, match=match):
        tj.unstack_params(tree)
