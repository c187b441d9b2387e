"""tracejit.nn: activations, losses, initializers, layers and pooling over
plain dict pytrees.

    mlp = tj.nn.MLP([2, 32, 1])
    params = mlp.init(tj.random.key(0))
    loss = tj.nn.mse(mlp(params, x), y)
"""

from tracejit.nn.activations import (
    gelu,
    log_sigmoid,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from tracejit.nn.initializers import (
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    variance_scaling,
)
from tracejit.nn.layers import MLP, Conv2d, Dense, LayerNorm
from tracejit.nn.losses import cross_entropy, mse
from tracejit.nn.pooling import avg_pool, max_pool

__all__ = [
    "MLP", "Conv2d", "Dense", "LayerNorm", "avg_pool", "cross_entropy", "gelu",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform", "log_sigmoid", "log_softmax", "logsumexp", "max_pool", "mse", "one_hot",
    "relu", "sigmoid", "silu", "softmax", "softplus", "tanh", "variance_scaling",
]  # fmt: skip
