"""An ensemble of MLPs trained and evaluated at once with ``vmap``.

Every member has its own initialization, its own optimizer state and its own
stream of minibatches; ``vmap`` over all three turns one member's training
step into the whole ensemble's, compiled once::

    params = tj.vmap(model.init)(random.split(key, members))   # stacked params
    opt_state = tj.vmap(opt.init)(params)
    ensemble_step = tj.jit(tj.vmap(train_step))                 # x, y: (members, batch, ...)

Evaluation maps over the members only (``in_axes=(0, None)``: every member
sees the same test set); the ensemble predicts with the mean of the members'
softmax probabilities.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import tracejit as tj
from tracejit import nn, optim, random, tree_util
from tracejit.jobs.config import section, setting
from tracejit.jobs.data import accuracy, digits, sampler
from tracejit.jobs.models import mlp
from tracejit.jobs.runner import (
    Log,
    Result,
    block,
    final_loss,
    fmt_time,
    run_steps,
    table,
    time_call,
)
from tracejit.jobs.sections import DigitsData, MLPModel, Train, make_optimizer


@dataclass(frozen=True)
class Ensemble:
    """``[ensemble]``: how many members train side by side."""

    members: int = setting(10, lo=1)


@dataclass(frozen=True)
class Settings:
    """The ``ensembling`` config."""

    seed: int = setting(0)
    data: DigitsData = section(DigitsData)
    model: MLPModel = section(MLPModel)
    train: Train = section(Train)
    ensemble: Ensemble = section(Ensemble)


def member(tree: Any, i: int) -> Any:
    """Member ``i`` of a stacked pytree (NumPy indexing on the host)."""
    return tree_util.tree_map(lambda leaf: np.asarray(leaf)[i], tree)


def run(s: Settings, log: Log) -> Result:
    """Train ``members`` MLPs at once; report each one's accuracy and the ensemble's."""
    data = digits(s.data.test_fraction, s.seed, file=s.data.file)
    model = mlp(data.features, s.model.hidden, data.classes, s.model.activation)
    opt = make_optimizer(s.train)
    m = s.ensemble.members

    def loss_fn(params, x, y):
        return nn.cross_entropy(model(params, x), y)

    def train_step(carry, x, y):  # one member's step
        params, opt_state = carry
        loss, grads = tj.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optim.apply_updates(params, updates), opt_state), loss

    ensemble_step = tj.jit(tj.vmap(train_step))

    @tj.jit  # one compiled setup instead of many small eager operations
    def init(seed):
        params = tj.vmap(model.init)(random.split(random.key(seed), m))
        return params, tj.vmap(opt.init)(params)

    carry = init(np.uint32(s.seed))
    streams = [sampler(len(data.x_train), s.train.batch_size, s.seed * 1000 + i) for i in range(m)]

    def batch(step):  # each member draws its own minibatch: x (members, batch, features)
        idx = np.stack([stream(step) for stream in streams])
        return data.x_train[idx], data.y_train[idx]

    log.info(f"{m} MLPs {model.sizes} trained at once with vmap")
    stats = run_steps(ensemble_step, carry, batch, s.train.steps, log)
    params = stats.carry[0]

    # Evaluate: every member on the same test set, in one call.
    logits = np.asarray(tj.jit(tj.vmap(model, in_axes=(0, None)))(params, data.x_test))
    member_acc = [accuracy(np.argmax(z, -1), data.y_test) for z in logits]
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)  # softmax of each member
    ensemble_acc = accuracy(np.argmax(probs.mean(0), -1), data.y_test)

    # The same numbers member by member: vmap must agree with a loop.
    one = tj.jit(model)
    loop_logits = np.stack([np.asarray(one(member(params, i), data.x_test)) for i in range(m)])
    eval_diff = float(np.max(np.abs(loop_logits - logits)))

    # Time one vmapped ensemble step against the members' steps one after another.
    xb, yb = batch(s.train.steps)
    _, vmap_s = time_call(ensemble_step, stats.carry, xb, yb)
    single_step = tj.jit(train_step)
    members = [member(stats.carry, i) for i in range(m)]
    block(single_step(members[0], xb[0], yb[0]))  # compile
    t0 = time.perf_counter()
    block([single_step(c, xb[i], yb[i]) for i, c in enumerate(members)])
    loop_s = time.perf_counter() - t0

    rows = [(f"member {i}", f"{a:.2%}") for i, a in enumerate(member_acc)]
    rows.append(("ensemble (mean of softmax)", f"{ensemble_acc:.2%}"))
    report = [f"{m} MLPs {model.sizes}, test accuracy:"] + table(("model", "accuracy"), rows)
    report += [
        f"  members: mean {np.mean(member_acc):.2%}, best {max(member_acc):.2%}; the ensemble "
        f"gains {100 * (ensemble_acc - np.mean(member_acc)):+.2f} points over the mean member",
        f"  evaluation: max |vmap - loop| over the logits = {eval_diff:.2e}",
        f"  one training step of all {m} members: {fmt_time(vmap_s)} with vmap, "
        f"{fmt_time(loop_s)} one member at a time",
    ]
    mean_curve = stats.losses.mean(axis=1)
    return Result(
        losses=[float(x) for x in mean_curve],
        summary={
            "loss": final_loss(mean_curve),
            "test_accuracy": ensemble_acc,
            "mean_member_accuracy": float(np.mean(member_acc)),
            "steps": s.train.steps,
            "steps_per_s": stats.steps_per_s,
            "compile_s": stats.compile_s,
        },
        details={
            "member_accuracy": member_acc,
            "max_abs_diff_vmap_loop": eval_diff,
            "member_final_loss": [float(x) for x in stats.losses[-10:].mean(axis=0)],
            "vmap_step_s": vmap_s,
            "loop_step_s": loop_s,
        },
        report=report,
    )
