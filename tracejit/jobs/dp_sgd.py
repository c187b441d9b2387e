"""Differentially private SGD (Abadi et al., 2016) on the digits set.

Why per-sample gradients matter: DP-SGD bounds each example's influence on
an update by clipping *that example's* gradient to L2 norm ``C`` before
averaging, then adds Gaussian noise of standard deviation ``sigma * C`` to the
sum. With ``vmap(grad)`` the whole private step is one compiled function::

    grads = tj.vmap(tj.grad(example_loss), in_axes=(None, 0, 0))(params, x, y)
    scale = minimum(1, C / norms(grads))                  # per example
    noisy = (sum_i scale_i * grads_i + sigma * C * N(0, I)) / batch

The privacy spent is tracked with the Renyi-DP accountant of the sampled
Gaussian mechanism (Mironov, Talwar and Zhang, 2019), at integer orders,
treating each batch as a Poisson sample of rate ``batch / n`` (the usual
approximation for shuffled fixed-size batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import optim, random, tree_util
from tracejit.jobs.config import section, setting
from tracejit.jobs.data import accuracy, digits, sampler
from tracejit.jobs.models import DigitsCNN
from tracejit.jobs.per_sample_grads import example_loss_fn
from tracejit.jobs.runner import Log, Result, final_loss, run_steps
from tracejit.jobs.sections import CNNModel, ImageData, Train, make_optimizer


@dataclass(frozen=True)
class Privacy:
    """``[dp]``: the clipping norm C, the noise multiplier sigma, and the delta of the
    (epsilon, delta) guarantee that is reported."""

    clip_norm: float = setting(1.0, lo=0.0, exclusive_lo=True)
    noise_multiplier: float = setting(1.0, lo=0.0)
    delta: float = setting(1e-5, lo=0.0, hi=1.0, exclusive_lo=True)


@dataclass(frozen=True)
class Settings:
    """The ``dp_sgd`` config."""

    seed: int = setting(0)
    data: ImageData = section(ImageData)
    model: CNNModel = section(CNNModel)
    train: Train = section(Train)
    dp: Privacy = section(Privacy)


def clip_and_noise(
    grads: Any, key: Any, clip_norm: float, noise_multiplier: float
) -> tuple[Any, Any]:
    """The private gradient of a batch from its per-sample gradients.

    Args:
      grads: a pytree whose leaves have a leading batch axis (one gradient per example).
      key: the PRNG key for the noise.
      clip_norm: C, the largest L2 norm any one example's gradient keeps.
      noise_multiplier: sigma; the noise on the summed gradient has std ``sigma * C``.

    Returns:
      ``(private_grad, clipped)``: the noisy mean of the clipped gradients, and the
      fraction of examples whose gradient was clipped.
    """
    leaves, treedef = tree_util.tree_flatten(grads)
    batch = leaves[0].shape[0]
    # ||g_i||^2 summed over every leaf of example i.
    sq = sum(tnp.sum(tnp.reshape(g * g, (batch, -1)), axis=1) for g in leaves)
    norms = tnp.sqrt(sq)
    # scale_i = min(1, C / ||g_i||), so ||scale_i g_i|| <= C (the tiny floor avoids 0/0).
    scale = tnp.minimum(1.0, clip_norm / tnp.maximum(norms, 1e-12))
    # One draw of noise for all leaves (one generator call compiles faster than one per leaf).
    sizes = [int(np.prod(g.shape[1:])) for g in leaves]
    noise = random.normal(key, (sum(sizes),), leaves[0].dtype)
    out, start = [], 0
    for g, size in zip(leaves, sizes, strict=True):
        summed = tnp.tensordot(scale, g, axes=1)  # sum_i scale_i * g_i
        z = tnp.reshape(noise[start : start + size], summed.shape)
        out.append((summed + noise_multiplier * clip_norm * z) / batch)
        start += size
    clipped = tnp.mean((norms > clip_norm).astype(tnp.float32))
    return tree_util.tree_unflatten(treedef, out), clipped


def _log_add(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def rdp_sampled_gaussian(q: float, sigma: float, order: int) -> float:
    """The Renyi DP of one step of the sampled Gaussian mechanism at an integer order.

    ``log A / (order - 1)`` with ``A = sum_k C(order, k) (1-q)^(order-k) q^k
    exp((k^2 - k) / (2 sigma^2))`` (Mironov, Talwar and Zhang 2019, Sec. 3.3);
    for ``q = 1`` this is the Gaussian mechanism's ``order / (2 sigma^2)``.
    """
    if q == 0:
        return 0.0
    if sigma == 0:
        return math.inf
    if q == 1:  # no sampling: the Gaussian mechanism itself
        return order / (2 * sigma**2)
    log_a = -math.inf
    for k in range(order + 1):
        log_binom = math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
        log_q = k * math.log(q) + ((order - k) * math.log1p(-q) if order > k else 0.0)
        log_a = _log_add(log_a, log_binom + log_q + (k * k - k) / (2 * sigma**2))
    return log_a / (order - 1)


def epsilon(
    q: float, sigma: float, steps: int, delta: float, orders: range = range(2, 257)
) -> float:
    """The epsilon of an (epsilon, delta) guarantee after ``steps`` sampled Gaussian steps.

    RDP composes by adding over steps; the conversion is
    ``epsilon = min over orders of steps * rdp(order) + log(1 / delta) / (order - 1)``.
    """
    return min(
        steps * rdp_sampled_gaussian(q, sigma, a) + math.log(1 / delta) / (a - 1) for a in orders
    )


def run(s: Settings, log: Log) -> Result:
    """Train the CNN with DP-SGD; report accuracy and the privacy spent."""
    data = digits(s.data.test_fraction, s.seed, images=True)
    model = DigitsCNN(tuple(s.model.channels), data.classes)
    opt = make_optimizer(s.train)

    @tj.jit  # one compiled setup instead of many small eager operations
    def init(seed):
        key_init, key_noise = random.split(random.key(seed))
        params = model.init(key_init)
        return params, opt.init(params), key_noise

    params, opt_state, key_noise = init(np.uint32(s.seed))
    # Each example's loss and gradient, in one batched computation.
    per_sample = tj.vmap(tj.value_and_grad(example_loss_fn(model)), in_axes=(None, 0, 0))
    clip, sigma = s.dp.clip_norm, s.dp.noise_multiplier

    @tj.jit
    def private_step(carry, x, y, step):
        params, opt_state, clipped_sum = carry
        losses, grads = per_sample(params, x, y)
        private, clipped = clip_and_noise(grads, random.fold_in(key_noise, step), clip, sigma)
        updates, opt_state = opt.update(private, opt_state, params)
        carry = (optim.apply_updates(params, updates), opt_state, clipped_sum + clipped)
        return carry, tnp.mean(losses)

    indices = sampler(len(data.x_train), s.train.batch_size, s.seed)

    def batch(step):
        i = indices(step)
        return data.x_train[i], data.y_train[i], np.int32(step)

    carry = (params, opt_state, np.float32(0))
    stats = run_steps(private_step, carry, batch, s.train.steps, log)
    params, _, clipped_sum = stats.carry
    predict = tj.jit(lambda params, x: tnp.argmax(model(params, x), axis=-1))
    test_acc = accuracy(predict(params, data.x_test), data.y_test)
    q = min(s.train.batch_size, len(data.x_train)) / len(data.x_train)
    eps = epsilon(q, sigma, s.train.steps, s.dp.delta)
    clipped = float(clipped_sum) / s.train.steps
    epochs = s.train.steps * q
    return Result(
        losses=[float(x) for x in stats.losses],
        summary={
            "loss": final_loss(stats.losses),
            "test_accuracy": test_acc,
            "epsilon": eps,
            "steps": s.train.steps,
            "steps_per_s": stats.steps_per_s,
            "compile_s": stats.compile_s,
        },
        details={
            "delta": s.dp.delta,
            "sampling_rate": q,
            "epochs": epochs,
            "clipped_fraction": clipped,
        },
        report=[
            f"DP-SGD: clip norm C = {clip:g}, noise multiplier sigma = {sigma:g}, "
            f"sampling rate q = {q:.4f}, {epochs:.1f} epochs",
            f"  test accuracy {test_acc:.2%}; on average {clipped:.0%} of the examples in a "
            "batch had their gradient clipped",
            f"  privacy spent: ({eps:.2f}, {s.dp.delta:g})-DP (RDP accountant, integer orders)",
        ],
    )
