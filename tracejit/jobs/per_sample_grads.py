"""Per-sample gradients of a CNN on the digits set: ``vmap(grad)`` against a loop.

The gradient of one example's loss, mapped over the batch::

    def example_loss(params, x, y):           # one image (1, 8, 8), one label
        return nn.cross_entropy(model(params, x[None]), y[None])

    per_sample = tj.jit(tj.vmap(tj.grad(example_loss), in_axes=(None, 0, 0)))

gives one gradient per example in a single compiled call; the alternative is a
Python loop calling ``tj.jit(tj.grad(example_loss))`` once per example. The
job trains the CNN, checks that both routes agree, times them, and looks at
what per-sample gradients show: misclassified examples have much larger
gradients than correct ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import nn, optim, random, tree_util
from tracejit.jobs.config import section, setting
from tracejit.jobs.data import accuracy, digits, sampler
from tracejit.jobs.models import DigitsCNN
from tracejit.jobs.runner import Log, Result, final_loss, fmt_time, run_steps, table, time_call
from tracejit.jobs.sections import CNNModel, ImageData, Train, make_optimizer


@dataclass(frozen=True)
class Compare:
    """``[compare]``: the batch whose per-sample gradients are computed both ways."""

    batch_size: int = setting(64, lo=1)
    repeats: int = setting(3, lo=1)


@dataclass(frozen=True)
class Settings:
    """The ``per_sample_grads`` config."""

    seed: int = setting(0)
    data: ImageData = section(ImageData)
    model: CNNModel = section(CNNModel)
    train: Train = section(Train)
    compare: Compare = section(Compare)


def example_loss_fn(model: DigitsCNN) -> Callable[[Any, Any, Any], Any]:
    """``loss(params, x, y)`` of one example: an image ``(1, 8, 8)`` and its label."""

    def example_loss(params, x, y):
        return nn.cross_entropy(model(params, x[None]), y[None])

    return example_loss


def per_sample_grads_fn(model: DigitsCNN) -> Callable[[Any, Any, Any], Any]:
    """``grads(params, xs, ys)``: one gradient pytree per example (leading batch axis)."""
    return tj.vmap(tj.grad(example_loss_fn(model)), in_axes=(None, 0, 0))


def grad_norms(grads: Any) -> np.ndarray:
    """The L2 norm of each example's whole gradient (all leaves): shape ``(batch,)``."""
    leaves = [np.asarray(g) for g in tree_util.tree_leaves(grads)]
    return np.sqrt(sum(np.sum(g.reshape(len(g), -1) ** 2, axis=1) for g in leaves))


def loop_grads(grad_one: Callable, params: Any, xs: Any, ys: Any) -> list:
    """Per-sample gradients the slow way: one compiled call per example."""
    return [grad_one(params, x, y) for x, y in zip(xs, ys, strict=True)]


def stack(trees: list) -> Any:
    """Pytrees stacked leaf by leaf along a new leading axis (NumPy, on the host)."""
    return tree_util.tree_map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees)


def chunked(fn: Callable, params: Any, xs: Any, ys: Any, size: int) -> list:
    """``fn(params, x, y)`` on chunks of ``size`` examples (the last one padded by
    repeating examples, so every call has the same shapes and one compilation serves)."""
    outs = []
    for start in range(0, len(xs), size):
        idx = np.arange(start, start + size) % len(xs)
        outs.append((min(size, len(xs) - start), fn(params, xs[idx], ys[idx])))
    return outs


def max_abs_diff(a: Any, b: Any) -> float:
    """The largest absolute difference between the leaves of two pytrees."""
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
        for x, y in zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b), strict=True)
    )


def run(s: Settings, log: Log) -> Result:
    """Train the CNN, then compare and time the two routes to per-sample gradients."""
    data = digits(s.data.test_fraction, s.seed, images=True)
    model = DigitsCNN(tuple(s.model.channels), data.classes)
    opt = make_optimizer(s.train)

    @tj.jit  # one compiled setup instead of many small eager operations
    def init(seed):
        params = model.init(random.key(seed))
        return params, opt.init(params)

    def batch_loss(params, x, y):
        return nn.cross_entropy(model(params, x), y)

    @tj.jit
    def train_step(carry, x, y):
        params, opt_state = carry
        loss, grads = tj.value_and_grad(batch_loss)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optim.apply_updates(params, updates), opt_state), loss

    indices = sampler(len(data.x_train), s.train.batch_size, s.seed)

    def batch(step):
        i = indices(step)
        return data.x_train[i], data.y_train[i]

    stats = run_steps(train_step, init(np.uint32(s.seed)), batch, s.train.steps, log)
    params, _ = stats.carry
    predict = tj.jit(lambda params, x: tnp.argmax(model(params, x), axis=-1))
    predicted = np.asarray(predict(params, data.x_test))
    test_acc = accuracy(predicted, data.y_test)

    # The two routes on the same test batch.
    n = min(s.compare.batch_size, len(data.x_test))
    xs, ys = data.x_test[:n], data.y_test[:n]
    vmapped = tj.jit(per_sample_grads_fn(model))
    grad_one = tj.jit(tj.grad(example_loss_fn(model)))
    log.info(f"per-sample gradients of {n} test examples: jit(vmap(grad)) vs a loop")
    vmap_first, vmap_s = time_call(vmapped, params, xs, ys, repeats=s.compare.repeats)
    loop_first, loop_s = time_call(loop_grads, grad_one, params, xs, ys, repeats=s.compare.repeats)
    g_vmap = vmapped(params, xs, ys)
    g_loop = stack(loop_grads(grad_one, params, xs, ys))
    diff = max_abs_diff(g_vmap, g_loop)

    # What they show: gradient norms of correctly and wrongly classified test examples.
    chunks = chunked(vmapped, params, data.x_test, data.y_test, n)
    norms = np.concatenate([grad_norms(g)[:k] for k, g in chunks])
    right = predicted == data.y_test
    med_right = float(np.median(norms[right]))
    med_wrong = float(np.median(norms[~right])) if (~right).any() else float("nan")

    n_params = sum(int(np.size(p)) for p in tree_util.tree_leaves(params))
    speedup = loop_s / vmap_s
    report = [f"per-sample gradients of {n} examples (CNN, {n_params:,} parameters each):"]
    report += table(
        ("route", "first call", "then per batch"),
        [
            ("jit(vmap(grad))", fmt_time(vmap_first), fmt_time(vmap_s)),
            (f"loop of jit(grad), {n} calls", fmt_time(loop_first), fmt_time(loop_s)),
        ],
    )
    report += [
        f"  vmap is {speedup:.1f}x faster; max |vmap - loop| = {diff:.2e}",
        f"median gradient norm over the {len(norms)} test examples: "
        f"{med_right:.3g} when classified right ({int(right.sum())}), "
        f"{med_wrong:.3g} when wrong ({int((~right).sum())})",
    ]
    return Result(
        losses=[float(x) for x in stats.losses],
        summary={
            "loss": final_loss(stats.losses),
            "test_accuracy": test_acc,
            "steps": s.train.steps,
            "steps_per_s": stats.steps_per_s,
            "compile_s": stats.compile_s,
            "vmap_speedup": speedup,
        },
        details={
            "vmap_s": vmap_s,
            "loop_s": loop_s,
            "vmap_first_call_s": vmap_first,
            "loop_first_call_s": loop_first,
            "max_abs_diff_vmap_loop": diff,
            "median_norm_right": med_right,
            "median_norm_wrong": med_wrong,
            "parameters": n_params,
        },
        report=report,
    )
