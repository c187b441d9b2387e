"""Jacobians, Hessians and Hessian-vector products: each route, checked and timed.

The model is multinomial logistic regression on the digits set with all
parameters in one vector ``theta`` (64 x 10 weights + 10 biases = 650), so
Jacobians and Hessians are plain matrices:

- ``jacrev`` builds a Jacobian one row per VJP, ``jacfwd`` one column per JVP:
  for a *wide* function (650 inputs -> 10 outputs) reverse mode needs 10
  passes, forward mode 650; for a *tall* one (10 inputs -> 1438 outputs) it is
  the other way round.
- ``hessian`` is forward-over-reverse (``jacfwd(jacrev(f))``); reverse-over-
  reverse (``jacrev(jacrev(f))``) gives the same matrix.
- A Hessian-vector product never needs the Hessian: forward-over-reverse
  ``jvp(grad(f), (theta,), (v,))``, reverse-over-reverse
  ``grad(lambda t: vdot(grad(f)(t), v))`` or reverse-over-forward, at the cost
  of a few gradients.

Then Newton's method with conjugate gradients (each CG step one
Hessian-vector product, all inside one jit-compiled ``fori_loop``) minimises
the L2-regularised loss in a handful of steps: the job's loss curve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import tracejit as tj
import tracejit.numpy as tnp
from tracejit import lax, nn
from tracejit.jobs.config import section, setting
from tracejit.jobs.data import accuracy, digits
from tracejit.jobs.runner import Log, Result, final_loss, fmt_time, run_steps, table, time_call
from tracejit.jobs.sections import DigitsData


@dataclass(frozen=True)
class Newton:
    """``[train]``: Newton-CG steps, CG iterations per step, the L2 penalty."""

    steps: int = setting(8, lo=1)
    cg_iters: int = setting(30, lo=1)
    l2: float = setting(1e-2, lo=0.0, exclusive_lo=True)


@dataclass(frozen=True)
class Timing:
    """``[timing]``: timed calls of each route (the median is reported)."""

    repeats: int = setting(3, lo=1)


@dataclass(frozen=True)
class Settings:
    """The ``jacobians_hessians`` config."""

    seed: int = setting(0)
    data: DigitsData = section(DigitsData)
    train: Newton = section(Newton)
    timing: Timing = section(Timing)


def logits(theta: Any, x: Any, classes: int) -> Any:
    """``x @ W + b`` with ``W`` (features, classes) and ``b`` (classes,) read from ``theta``."""
    features = x.shape[-1]
    w = tnp.reshape(theta[: features * classes], (features, classes))
    return x @ w + theta[features * classes :]


def loss(theta: Any, x: Any, y: Any, classes: int, l2: float) -> Any:
    """Cross-entropy plus ``l2 / 2 * |theta|^2``."""
    return nn.cross_entropy(logits(theta, x, classes), y) + 0.5 * l2 * tnp.sum(theta * theta)


def hvp_routes(f: Callable[[Any], Any]) -> dict[str, Callable[[Any, Any], Any]]:
    """Three ways to compute ``H(theta) @ v`` for a scalar ``f(theta)``."""

    def fwd_over_rev(theta, v):
        return tj.jvp(tj.grad(f), (theta,), (v,))[1]

    def rev_over_rev(theta, v):
        return tj.grad(lambda t: tnp.vdot(tj.grad(f)(t), v))(theta)

    def rev_over_fwd(theta, v):
        return tj.grad(lambda t: tj.jvp(f, (t,), (v,))[1])(theta)

    return {
        "fwd-over-rev jvp(grad(f))": fwd_over_rev,
        "rev-over-rev grad(vdot(grad(f), v))": rev_over_rev,
        "rev-over-fwd grad(jvp(f))": rev_over_fwd,
    }


def conjugate_gradient(matvec: Callable[[Any], Any], b: Any, iters: int) -> Any:
    """Solve ``A x = b`` for a symmetric positive definite ``A`` given as ``matvec``,
    with ``iters`` conjugate-gradient steps from ``x = 0`` (a ``fori_loop``)."""

    def step(i, state):
        x, r, p, rr = state
        ap = matvec(p)
        alpha = rr / tnp.vdot(p, ap)
        x, r = x + alpha * p, r - alpha * ap
        rr_new = tnp.vdot(r, r)
        # Stop moving once the residual vanishes (avoids 0/0 in later steps).
        beta = tnp.where(rr > 0, rr_new / tnp.where(rr > 0, rr, 1.0), 0.0)
        return x, r, r + beta * p, rr_new

    x0 = tnp.zeros_like(b)
    return lax.fori_loop(0, iters, step, (x0, b, b, tnp.vdot(b, b)))[0]


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def run(s: Settings, log: Log) -> Result:
    """Time the Jacobian, Hessian and HVP routes, then run Newton-CG."""
    data = digits(s.data.test_fraction, s.seed, file=s.data.file)
    x, y, c = data.x_train, data.y_train, data.classes
    n_params = data.features * c + c
    rng = np.random.default_rng(s.seed)
    theta = (0.01 * rng.standard_normal(n_params)).astype(np.float32)
    v = rng.standard_normal(n_params).astype(np.float32)
    reps = s.timing.repeats
    rows, checks, details = [], {}, {}

    def timed(label, fn, *args):
        first, median = time_call(fn, *args, repeats=reps)
        rows.append((label, fmt_time(first), fmt_time(median)))
        details[label] = {"first_call_s": first, "median_s": median}
        return fn(*args)

    # Wide: the mean log-probability of each class, R^650 -> R^10.
    def wide(theta, x):
        return tnp.mean(nn.log_softmax(logits(theta, x, c)), axis=0)

    log.info("Jacobians of a wide and a tall function, each route")
    j_rev = timed(f"jacrev wide {c}x{n_params}", tj.jit(tj.jacrev(wide)), theta, x)
    j_fwd = timed(f"jacfwd wide {c}x{n_params}", tj.jit(tj.jacfwd(wide)), theta, x)
    checks["jacfwd == jacrev (wide)"] = _max_diff(j_rev, j_fwd)

    # Tall: each example's log-likelihood as a function of a shift of the biases, R^10 -> R^n.
    def tall(shift, theta, x, y):
        logp = nn.log_softmax(logits(theta, x, c) + shift)
        return tnp.sum(logp * nn.one_hot(y, c), axis=-1)

    shift = np.zeros(c, np.float32)
    t_fwd = timed(f"jacfwd tall {len(x)}x{c}", tj.jit(tj.jacfwd(tall)), shift, theta, x, y)
    t_rev = timed(f"jacrev tall {len(x)}x{c}", tj.jit(tj.jacrev(tall)), shift, theta, x, y)
    checks["jacfwd == jacrev (tall)"] = _max_diff(t_fwd, t_rev)

    def f(theta):
        return loss(theta, x, y, c, s.train.l2)

    log.info("Hessians and Hessian-vector products")
    h = timed(f"hessian (fwd-over-rev) {n_params}x{n_params}", tj.jit(tj.hessian(f)), theta)
    h_rr = timed(f"jacrev(jacrev) {n_params}x{n_params}", tj.jit(tj.jacrev(tj.jacrev(f))), theta)
    checks["hessian == jacrev(jacrev)"] = _max_diff(h, h_rr)
    hv_dense = np.asarray(h) @ v
    for label, route in hvp_routes(f).items():
        hv = timed(f"hvp {label}", tj.jit(route), theta, v)
        checks[f"hvp {label.split(' ')[0]} == H @ v"] = _max_diff(hv, hv_dense)

    # Newton-CG: theta <- theta - H^-1 g, solved with CG on Hessian-vector products.
    @tj.jit
    def newton_step(theta, x, y):
        def objective(t):
            return loss(t, x, y, c, s.train.l2)

        def hvp(u):  # forward-over-reverse: one jvp of the gradient
            return tj.jvp(tj.grad(objective), (theta,), (u,))[1]

        value, g = tj.value_and_grad(objective)(theta)
        return theta - conjugate_gradient(hvp, g, s.train.cg_iters), value

    stats = run_steps(
        newton_step,
        np.zeros(n_params, np.float32),
        lambda i: (x, y),
        s.train.steps,
        log,
        desc="newton-cg",
    )
    theta_star = stats.carry
    grad_norm = float(np.linalg.norm(np.asarray(tj.jit(tj.grad(f))(theta_star))))
    w = np.asarray(theta_star)[: data.features * c].reshape(data.features, c)
    b = np.asarray(theta_star)[data.features * c :]
    test_acc = accuracy(np.argmax(data.x_test @ w + b, -1), data.y_test)

    report = ["each route, jit-compiled (first call = trace + compile + run):"]
    report += table(("route", "first call", "then per call"), rows)
    report += ["agreement (max abs difference):"]
    report += [f"  {k}: {v:.2e}" for k, v in checks.items()]
    report += [
        f"Newton-CG ({s.train.cg_iters} CG steps each): loss "
        + " -> ".join(f"{v:.4f}" for v in stats.losses[:6])
        + (" ..." if len(stats.losses) > 6 else "")
        + f"; final |grad| = {grad_norm:.2e}, test accuracy {test_acc:.2%}"
    ]
    return Result(
        losses=[float(v) for v in stats.losses],
        summary={
            "loss": final_loss(stats.losses, window=1),
            "test_accuracy": test_acc,
            "grad_norm": grad_norm,
            "steps": s.train.steps,
            "steps_per_s": stats.steps_per_s,
            "compile_s": stats.compile_s,
        },
        details={"timings": details, "max_abs_diff": checks, "parameters": n_params},
        report=report,
    )
