"""The benchmark workloads W1-W8, each written in tracejit, JAX and torch.func.

Every workload variant maps a system name to a factory; the factory builds the
(jitted) function and returns ``(step, jitted)`` where ``step()`` runs one
call on fixed data and ``jitted`` is tracejit's ``Jitted`` (for phase timings)
or ``None``. float32, fixed seeds, synthetic data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import tracejit as tj
import tracejit.numpy as tnp

try:  # torch.func is optional
    import torch
    import torch.func as tf
except ImportError:  # pragma: no cover - depends on the machine
    torch = None
    tf = None

Factory = Callable[[], tuple[Callable[[], Any], Any]]


@dataclass
class Variant:
    workload: str
    name: str
    systems: dict[str, Factory]

    @property
    def label(self) -> str:
        return f"{self.workload} {self.name}".strip()


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _mlp_params(sizes: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = _rng(seed)
    return [
        ((rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32),
         np.zeros(b, np.float32))
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


# --- the same model in three systems --------------------------------------------------


def _mlp(np_, relu, params, x):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = relu(h)
    return h


def _xent(np_, logits, onehot):
    m = np_.max(logits, axis=-1, keepdims=True)
    logz = np_.log(np_.sum(np_.exp(logits - m), axis=-1, keepdims=True)) + m
    return -np_.mean(np_.sum((logits - logz) * onehot, axis=-1))


def tj_loss(p, x, y):
    return _xent(tnp, _mlp(tnp, lambda h: tnp.maximum(h, 0.0), p, x), y)


def jax_loss(p, x, y):
    return _xent(jnp, _mlp(jnp, lambda h: jnp.maximum(h, 0.0), p, x), y)


def torch_loss(p, x, y):
    logits = _mlp(torch, torch.relu, p, x)
    return -(torch.log_softmax(logits, -1) * y).sum(-1).mean()


def _to_torch(tree):
    return jax.tree_util.tree_map(lambda a: torch.from_numpy(np.asarray(a).copy()), tree)


def _data(batch: int, din: int, dout: int, seed: int = 1):
    rng = _rng(seed)
    x = rng.normal(size=(batch, din)).astype(np.float32)
    y = np.eye(dout, dtype=np.float32)[rng.integers(0, dout, batch)]
    return x, y


def _sgd(tree_map, params, grads, lr=0.01):
    return tree_map(lambda w, g: w - lr * g, params, grads)


# --- W1 ---------------------------------------------------------------------------------


def w1() -> list[Variant]:
    params = _mlp_params([784, 512, 512, 10])
    x, y = _data(256, 784, 10)

    def tj_f():
        step = tj.jit(lambda p, x, y: _sgd(jax.tree_util.tree_map, p, tj.grad(tj_loss)(p, x, y)))
        return (lambda: step(params, x, y)), step

    def jax_f():
        step = jax.jit(lambda p, x, y: _sgd(jax.tree_util.tree_map, p, jax.grad(jax_loss)(p, x, y)))
        return (lambda: step(params, x, y)), None

    def torch_f():
        p, tx, ty = _to_torch(params), torch.from_numpy(x), torch.from_numpy(y)
        g = tf.grad(torch_loss)
        return (lambda: [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in
                         zip(p, g(p, tx, ty))]), None

    return [Variant("W1", "mlp train step", _systems(tj_f, jax_f, torch_f))]


def _systems(tj_f, jax_f, torch_f=None) -> dict[str, Factory]:
    systems = {"tracejit": tj_f, "jax": jax_f}
    if torch is not None and torch_f is not None:
        systems["torch.func"] = torch_f
    return systems


# --- W2 ---------------------------------------------------------------------------------


def w2() -> list[Variant]:
    params = _mlp_params([784, 128, 10])
    x, y = _data(64, 784, 10)
    one = lambda loss: (lambda p, a, b: loss(p, a[None], b[None]))

    def tj_f():
        f = tj.jit(tj.vmap(tj.grad(one(tj_loss)), in_axes=(None, 0, 0)))
        return (lambda: f(params, x, y)), f

    def jax_f():
        f = jax.jit(jax.vmap(jax.grad(one(jax_loss)), in_axes=(None, 0, 0)))
        return (lambda: f(params, x, y)), None

    def torch_f():
        p, tx, ty = _to_torch(params), torch.from_numpy(x), torch.from_numpy(y)
        f = tf.vmap(tf.grad(one(torch_loss)), in_dims=(None, 0, 0))
        return (lambda: f(p, tx, ty)), None

    def tj_loop():
        g = tj.jit(tj.grad(one(tj_loss)))
        return (lambda: [g(params, x[i], y[i]) for i in range(64)]), g

    def jax_loop():
        g = jax.jit(jax.grad(one(jax_loss)))
        return (lambda: [g(params, x[i], y[i]) for i in range(64)]), None

    return [Variant("W2", "per-sample grads vmap", _systems(tj_f, jax_f, torch_f)),
            Variant("W2", "per-sample grads loop", _systems(tj_loop, jax_loop))]


# --- W3 ---------------------------------------------------------------------------------


def w3() -> list[Variant]:
    members = [_mlp_params([784, 128, 10], seed=s) for s in range(10)]
    stacked = jax.tree_util.tree_map(lambda *a: np.stack(a), *members)
    x, y = _data(64, 784, 10)
    xs = np.stack([_data(64, 784, 10, seed=s)[0] for s in range(10)])
    ys = np.stack([_data(64, 784, 10, seed=s)[1] for s in range(10)])
    relu_tj, relu_jax = (lambda h: tnp.maximum(h, 0.0)), (lambda h: jnp.maximum(h, 0.0))
    variants = []
    for name, in_axes, args in [("shared batch", (0, None), (stacked, x)),
                                ("own batches", (0, 0), (stacked, xs))]:
        def tj_f(in_axes=in_axes, args=args):
            f = tj.jit(tj.vmap(lambda p, a: _mlp(tnp, relu_tj, p, a), in_axes=in_axes))
            return (lambda: f(*args)), f

        def jax_f(in_axes=in_axes, args=args):
            f = jax.jit(jax.vmap(lambda p, a: _mlp(jnp, relu_jax, p, a), in_axes=in_axes))
            return (lambda: f(*args)), None

        def torch_f(in_axes=in_axes, args=args):
            targs = _to_torch(args)
            f = tf.vmap(lambda p, a: _mlp(torch, torch.relu, p, a), in_dims=in_axes)
            return (lambda: f(*targs)), None

        variants.append(Variant("W3", f"ensemble fwd {name}", _systems(tj_f, jax_f, torch_f)))

    def tj_step():
        step = lambda p, a, b: _sgd(jax.tree_util.tree_map, p, tj.grad(tj_loss)(p, a, b))
        f = tj.jit(tj.vmap(step))
        return (lambda: f(stacked, xs, ys)), f

    def jax_step():
        step = lambda p, a, b: _sgd(jax.tree_util.tree_map, p, jax.grad(jax_loss)(p, a, b))
        f = jax.jit(jax.vmap(step))
        return (lambda: f(stacked, xs, ys)), None

    variants.append(Variant("W3", "ensemble train step", _systems(tj_step, jax_step)))
    return variants


# --- W4 ---------------------------------------------------------------------------------


def _maml_data():
    rng = _rng(4)
    amp = rng.uniform(0.1, 5.0, (25, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, np.pi, (25, 1, 1)).astype(np.float32)
    xs = rng.uniform(-5, 5, (25, 20, 1)).astype(np.float32)
    ys = (amp * np.sin(xs + phase)).astype(np.float32)
    return xs[:, :10], ys[:, :10], xs[:, 10:], ys[:, 10:]


def _maml(np_, relu, grad, fori, steps, use_fori):
    def mse(p, x, y):
        return np_.mean((_mlp(np_, relu, p, x) - y) ** 2)

    def adapt(p, x, y):
        sgd = lambda q: jax.tree_util.tree_map(lambda w, g: w - 0.01 * g, q, grad(mse)(q, x, y))
        if use_fori:
            return fori(0, steps, lambda i, q: sgd(q), p)
        for _ in range(steps):
            p = sgd(p)
        return p

    def task_loss(p, xs, ys, xq, yq):
        return mse(adapt(p, xs, ys), xq, yq)

    return mse, task_loss


def w4() -> list[Variant]:
    params = _mlp_params([1, 40, 40, 1], seed=5)
    data = _maml_data()
    variants = []
    for steps in (1, 5):
        for use_fori in (False, True):
            def tj_f(steps=steps, use_fori=use_fori):
                _, task = _maml(tnp, lambda h: tnp.maximum(h, 0.0), tj.grad,
                                tj.lax.fori_loop, steps, use_fori)
                outer = lambda p, *d: tnp.mean(tj.vmap(task, in_axes=(None, 0, 0, 0, 0))(p, *d))
                f = tj.jit(tj.grad(outer))
                return (lambda: f(params, *data)), f

            def jax_f(steps=steps, use_fori=use_fori):
                _, task = _maml(jnp, lambda h: jnp.maximum(h, 0.0), jax.grad,
                                jax.lax.fori_loop, steps, use_fori)
                outer = lambda p, *d: jnp.mean(jax.vmap(task, in_axes=(None, 0, 0, 0, 0))(p, *d))
                f = jax.jit(jax.grad(outer))
                return (lambda: f(params, *data)), None

            def torch_f(steps=steps):
                _, task = _maml(torch, torch.relu, tf.grad, None, steps, False)
                tp, td = _to_torch(params), _to_torch(data)
                outer = lambda p, *d: tf.vmap(task, in_dims=(None, 0, 0, 0, 0))(p, *d).mean()
                f = tf.grad(outer)
                return (lambda: f(tp, *td)), None

            loop = "fori_loop" if use_fori else "python loop"
            systems = _systems(tj_f, jax_f, None if use_fori else torch_f)
            variants.append(Variant("W4", f"maml {steps} step {loop}", systems))
    return variants


# --- W5, W6 ------------------------------------------------------------------------------


def w5() -> list[Variant]:
    rng = _rng(6)
    w1_, w2_ = (rng.normal(size=(256, 256)) / 16).astype(np.float32), (
        rng.normal(size=(256, 256)) / 16).astype(np.float32)
    x, v = rng.normal(size=256).astype(np.float32), rng.normal(size=256).astype(np.float32)
    f_tj = lambda x: tnp.sum(tnp.tanh(w2_ @ tnp.tanh(w1_ @ x)))
    f_jax = lambda x: jnp.sum(jnp.tanh(w2_ @ jnp.tanh(w1_ @ x)))
    tw1, tw2 = torch.from_numpy(w1_) if torch else None, torch.from_numpy(w2_) if torch else None
    f_torch = lambda x: torch.tanh(tw2 @ torch.tanh(tw1 @ x)).sum()

    def tj_h():
        f = tj.jit(tj.jacfwd(tj.jacrev(f_tj)))
        return (lambda: f(x)), f

    def jax_h():
        f = jax.jit(jax.jacfwd(jax.jacrev(f_jax)))
        return (lambda: f(x)), None

    def torch_h():
        f, tx = tf.jacfwd(tf.jacrev(f_torch)), torch.from_numpy(x)
        return (lambda: f(tx)), None

    def tj_hvp():
        f = tj.jit(lambda x, v: tj.jvp(tj.grad(f_tj), (x,), (v,))[1])
        return (lambda: f(x, v)), f

    def jax_hvp():
        f = jax.jit(lambda x, v: jax.jvp(jax.grad(f_jax), (x,), (v,))[1])
        return (lambda: f(x, v)), None

    def torch_hvp():
        tx, tv = torch.from_numpy(x), torch.from_numpy(v)
        return (lambda: tf.jvp(tf.grad(f_torch), (tx,), (tv,))[1]), None

    return [Variant("W5", "hessian jacfwd(jacrev)", _systems(tj_h, jax_h, torch_h)),
            Variant("W5", "hvp jvp(grad)", _systems(tj_hvp, jax_hvp, torch_hvp))]


def w6() -> list[Variant]:
    rng = _rng(7)
    w = (rng.normal(size=(256, 256)) / 16).astype(np.float32)
    b = rng.normal(size=256).astype(np.float32)
    xs = rng.normal(size=(64, 256)).astype(np.float32)
    variants = []
    for mode in ("jacrev", "jacfwd"):
        def tj_f(mode=mode):
            jac = getattr(tj, mode)(lambda x: tnp.tanh(w @ x + b))
            f = tj.jit(tj.vmap(jac))
            return (lambda: f(xs)), f

        def jax_f(mode=mode):
            f = jax.jit(jax.vmap(getattr(jax, mode)(lambda x: jnp.tanh(w @ x + b))))
            return (lambda: f(xs)), None

        def torch_f(mode=mode):
            tw, tb, txs = torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(xs)
            f = tf.vmap(getattr(tf, mode)(lambda x: torch.tanh(tw @ x + tb)))
            return (lambda: f(txs)), None

        variants.append(Variant("W6", f"vmap({mode})", _systems(tj_f, jax_f, torch_f)))
    return variants


# --- W7, W8 -------------------------------------------------------------------------------


def w7() -> list[Variant]:
    variants = []
    for name, value in [("scalar", jnp.float32(1.0)), ("(8,)", jnp.ones(8, jnp.float32))]:
        def tj_f(value=value):
            f = tj.jit(lambda x: x + 1)
            return (lambda: f(value)), f

        def jax_f(value=value):
            f = jax.jit(lambda x: x + 1)
            return (lambda: f(value)), None

        def torch_f(value=value):
            t = torch.from_numpy(np.asarray(value).copy())
            return (lambda: t + 1), None

        variants.append(Variant("W7", f"dispatch x+1 {name}", _systems(tj_f, jax_f, torch_f)))
    return variants


def w8() -> list[Variant]:
    x = jnp.float32(0.3)

    def tj_f():
        g = tj.grad(tj.grad(tnp.sin))
        return (lambda: g(x)), None

    def jax_f():
        g = jax.grad(jax.grad(jnp.sin))
        return (lambda: g(x)), None

    def torch_f():
        g, t = tf.grad(tf.grad(torch.sin)), torch.tensor(0.3)
        return (lambda: g(t)), None

    return [Variant("W8", "eager grad(grad(sin))", _systems(tj_f, jax_f, torch_f))]


WORKLOADS: dict[str, Callable[[], list[Variant]]] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6, "W7": w7, "W8": w8,
}


# --- W9: trace + transform cost against program size ------------------------------------


def deep_mlp_loss(np_, depth: int, width: int = 64):
    """An MLP loss with ``depth`` tanh layers of ``width`` units, and its arguments."""
    params = _mlp_params([width] * (depth + 1), seed=9)
    x = _rng(9).normal(size=(8, width)).astype(np.float32)

    def loss(p, x):
        h = x
        for w, b in p:
            h = np_.tanh(h @ w + b)
        return np_.mean(h**2)

    return loss, params, x


def scaling_systems(depth: int) -> dict[str, Callable[[], Any]]:
    """Per system, one trace + transform of the gradient of a ``depth``-layer MLP loss
    (tracejit: its IR; JAX: its jaxpr), nothing compiled."""
    tj_loss_d, params, x = deep_mlp_loss(tnp, depth)
    jax_loss_d, _, _ = deep_mlp_loss(jnp, depth)
    return {
        "tracejit": lambda: tj.make_ir(tj.grad(tj_loss_d))(params, x),
        "jax": lambda: jax.make_jaxpr(jax.grad(jax_loss_d))(params, x),
    }
