"""tracejit.optim: gradient-based optimizers in optax's shape.

An optimizer is an immutable object with ``init(params) -> state`` and
``update(grads, state, params=None) -> (updates, state)``; ``apply_updates``
adds the updates to the params. States are NamedTuples of arrays (pytrees),
so optimizers run under ``jit``, under ``vmap`` (one state per ensemble
member) and under ``grad`` (MAML differentiates through inner updates)::

    opt = tj.optim.adam(1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = tj.optim.apply_updates(params, updates)

The learning rate may be a float or a schedule ``lr(step) -> float`` of the
int32 step count (0 for the first update).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import tracejit.numpy as tnp
from tracejit import dtypes, tree_util
from tracejit.primitives.elementwise import convert_element_type
from tracejit.tracing import aval_of

LearningRate = float | Callable[[Any], Any]


class SgdState(NamedTuple):
    """``count``: updates done (int32); ``momentum``: the velocity tree (None without)."""

    count: Any
    momentum: Any


class AdamState(NamedTuple):
    """``count``: updates done (int32); ``mu``/``nu``: first/second moment trees."""

    count: Any
    mu: Any
    nu: Any


def _map(fn: Callable, tree: Any, *rest: Any) -> Any:
    return tree_util.tree_map(fn, tree, *rest)


def _zeros_like(tree: Any) -> Any:
    return _map(lambda p: tnp.zeros_like(p), tree)


def _scalar_like(value: Any, x: Any) -> Any:
    """A Python number as ``x``'s dtype; a traced/array value converted to it."""
    dtype = aval_of(x).dtype
    if isinstance(value, (int, float)):
        return np.asarray(value, dtype)[()]
    return convert_element_type(value, dtype)


def _lr(lr: LearningRate, count: Any) -> Any:
    return lr(count) if callable(lr) else lr


def _check(name: str, grads: Any, state: Any, fields: tuple[str, ...]) -> None:
    if not isinstance(state, tuple) or getattr(state, "_fields", None) != fields:
        raise TypeError(
            f"{name}.update: state must be the {name} state from init(params) (fields "
            f"{fields}), got {type(state).__name__}"
        )
    g_tree = tree_util.tree_structure(grads)
    for f in fields[1:]:
        sub = getattr(state, f)
        if sub is not None and tree_util.tree_structure(sub) != g_tree:
            raise ValueError(
                f"{name}.update: grads have structure {g_tree}, but the state's {f} has "
                f"{tree_util.tree_structure(sub)}; init the optimizer with params shaped "
                "like the grads"
            )


def _increment(count: Any) -> Any:
    return tnp.add(count, np.int32(1))


@dataclass(frozen=True)
class sgd:  # noqa: N801  (optax's spelling)
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = g + momentum * v``; the update is ``-lr * v``, or
    ``-lr * (g + momentum * v)`` with ``nesterov=True``.
    """

    lr: LearningRate
    momentum: float = 0.0
    nesterov: bool = False

    def init(self, params: Any) -> SgdState:
        """The initial state: step 0 and a zero velocity (None without momentum)."""
        velocity = _zeros_like(params) if self.momentum else None
        return SgdState(tnp.zeros((), dtypes.int32), velocity)

    def update(self, grads: Any, state: SgdState, params: Any = None) -> tuple[Any, SgdState]:
        """``(updates, new_state)`` for ``grads``; ``params`` are not needed."""
        _check("sgd", grads, state, SgdState._fields)
        lr = _lr(self.lr, state.count)
        direction, velocity = grads, None
        if self.momentum:
            m = self.momentum
            velocity = _map(
                lambda g, v: tnp.add(g, tnp.multiply(_scalar_like(m, v), v)), grads, state.momentum
            )
            if self.nesterov:
                direction = _map(
                    lambda g, v: tnp.add(g, tnp.multiply(_scalar_like(m, v), v)), grads, velocity
                )
            else:
                direction = velocity
        updates = _map(
            lambda d: tnp.multiply(_scalar_like(-1, d), tnp.multiply(_scalar_like(lr, d), d)),
            direction,
        )
        return updates, SgdState(_increment(state.count), velocity)


def _adam_moments(b1: float, b2: float, eps: float, grads: Any, state: AdamState):
    """New moments and the bias-corrected direction ``mu_hat / (sqrt(nu_hat) + eps)``."""
    count = _increment(state.count)
    mu = _map(
        lambda g, m: tnp.add(
            tnp.multiply(_scalar_like(b1, m), m), tnp.multiply(_scalar_like(1 - b1, g), g)
        ),
        grads,
        state.mu,
    )
    nu = _map(
        lambda g, v: tnp.add(
            tnp.multiply(_scalar_like(b2, v), v),
            tnp.multiply(_scalar_like(1 - b2, g), tnp.square(g)),
        ),
        grads,
        state.nu,
    )

    def direction(m, v):
        # Bias correction: the moments start at zero, so divide by 1 - b**t.
        t = convert_element_type(count, aval_of(m).dtype)
        m_hat = tnp.divide(m, tnp.subtract(_scalar_like(1, m), tnp.power(_scalar_like(b1, m), t)))
        v_hat = tnp.divide(v, tnp.subtract(_scalar_like(1, v), tnp.power(_scalar_like(b2, v), t)))
        return tnp.divide(m_hat, tnp.add(tnp.sqrt(v_hat), _scalar_like(eps, v)))

    return count, mu, nu, _map(direction, mu, nu)


@dataclass(frozen=True)
class adam:  # noqa: N801
    """Adam (Kingma & Ba, 2015) with optax's bias correction.

    ``mu = b1 mu + (1-b1) g``, ``nu = b2 nu + (1-b2) g²``, update
    ``-lr * mu_hat / (sqrt(nu_hat) + eps)`` with ``x_hat = x / (1 - b**t)``.
    """

    lr: LearningRate
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def init(self, params: Any) -> AdamState:
        """The initial state: step 0 and zero moments."""
        return AdamState(tnp.zeros((), dtypes.int32), _zeros_like(params), _zeros_like(params))

    def update(self, grads: Any, state: AdamState, params: Any = None) -> tuple[Any, AdamState]:
        """``(updates, new_state)`` for ``grads``; ``params`` are not needed."""
        _check("adam", grads, state, AdamState._fields)
        lr = _lr(self.lr, state.count)
        count, mu, nu, direction = _adam_moments(self.b1, self.b2, self.eps, grads, state)
        updates = _map(
            lambda d: tnp.multiply(_scalar_like(-1, d), tnp.multiply(_scalar_like(lr, d), d)),
            direction,
        )
        return updates, AdamState(count, mu, nu)


@dataclass(frozen=True)
class adamw:  # noqa: N801
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The update is ``-lr * (adam_direction + weight_decay * params)``.
    """

    lr: LearningRate
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 1e-4

    def init(self, params: Any) -> AdamState:
        """The initial state: step 0 and zero moments."""
        return AdamState(tnp.zeros((), dtypes.int32), _zeros_like(params), _zeros_like(params))

    def update(self, grads: Any, state: AdamState, params: Any = None) -> tuple[Any, AdamState]:
        """``(updates, new_state)``; ``params`` are required for the weight decay.

        Raises:
          ValueError: when ``params`` is None.
        """
        if params is None:
            raise ValueError(
                "adamw.update: params are required for weight decay; call "
                "update(grads, state, params)"
            )
        _check("adamw", grads, state, AdamState._fields)
        lr = _lr(self.lr, state.count)
        count, mu, nu, direction = _adam_moments(self.b1, self.b2, self.eps, grads, state)
        wd = self.weight_decay

        def step(d, p):
            decayed = tnp.add(d, tnp.multiply(_scalar_like(wd, d), p))
            return tnp.multiply(_scalar_like(-1, d), tnp.multiply(_scalar_like(lr, d), decayed))

        return _map(step, direction, params), AdamState(count, mu, nu)


def apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` leaf by leaf, keeping each param's dtype.

    Raises:
      ValueError: when the two trees differ in structure.
    """
    p_tree, u_tree = tree_util.tree_structure(params), tree_util.tree_structure(updates)
    if p_tree != u_tree:
        raise ValueError(f"apply_updates: params have structure {p_tree} but updates have {u_tree}")
    return _map(lambda p, u: convert_element_type(tnp.add(p, u), aval_of(p).dtype), params, updates)


__all__ = ["AdamState", "SgdState", "adam", "adamw", "apply_updates", "sgd"]
