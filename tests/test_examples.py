"""Every example runs end to end in reduced form (few steps) and its claim holds: the loss
falls, accuracy beats chance, vmap agrees with a loop. MAML's outer gradient equals an
independent JAX implementation of the same meta-step on the same data."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tracejit as tj
from tracejit import jobs, random
from tracejit.jobs import dp_sgd, jacobians_hessians, maml_sinusoid

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name, steps, out):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--steps", str(steps), "--no-progress", "--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["steps"] == steps and len(metrics["losses"]) == steps
    return result


def loss_falls(losses, window=5):
    return np.mean(losses[:window]) > 1.2 * np.mean(losses[-window:])


def test_one_example_per_job():
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(jobs.JOBS)


def test_training_loop_reaches_95_percent(tmp_path, capsys):
    r = run_example("training_loop", 400, tmp_path)
    assert r.summary["test_accuracy"] >= 0.95 and loss_falls(r.losses)
    assert "test accuracy" in capsys.readouterr().out


def test_per_sample_grads_vmap_equals_loop(tmp_path, capsys):
    r = run_example("per_sample_grads", 40, tmp_path)
    assert loss_falls(r.losses) and r.summary["test_accuracy"] > 0.3  # chance: 0.1
    assert r.details["max_abs_diff_vmap_loop"] < 1e-4
    assert r.summary["vmap_speedup"] > 0  # timings are shown, not asserted: CI machines vary
    assert "jit(vmap(grad))" in capsys.readouterr().out


def test_dp_sgd_learns_under_privacy(tmp_path):
    r = run_example("dp_sgd", 60, tmp_path)
    assert loss_falls(r.losses) and r.summary["test_accuracy"] > 0.3
    assert 0 < r.summary["epsilon"] < math.inf and 0 <= r.details["clipped_fraction"] <= 1


def test_ensembling_members_and_vmap_equals_loop(tmp_path, capsys):
    r = run_example("ensembling", 60, tmp_path)
    assert loss_falls(r.losses)
    assert len(r.details["member_accuracy"]) == 10
    assert min(r.details["member_accuracy"]) > 0.3 and r.summary["test_accuracy"] > 0.3
    assert r.details["max_abs_diff_vmap_loop"] < 1e-4
    assert "ensemble (mean of softmax)" in capsys.readouterr().out


def test_maml_adaptation_lowers_the_error(tmp_path):
    r = run_example("maml_sinusoid", 1000, tmp_path)
    assert loss_falls(r.losses, window=20)
    assert r.summary["mse_after"] < 0.9 * r.summary["mse_before"]


def test_jacobians_hessians_routes_agree(tmp_path, capsys):
    r = run_example("jacobians_hessians", 3, tmp_path)
    assert r.losses[0] > r.losses[1] > r.losses[2]  # Newton steps
    checks = r.details["max_abs_diff"]
    assert len(checks) == 6 and max(checks.values()) < 1e-4, checks
    assert r.summary["test_accuracy"] > 0.5
    out = capsys.readouterr().out
    assert "jacrev wide" in out and "hessian (fwd-over-rev)" in out


def test_an_example_runs_as_a_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "training_loop.py"), "--steps", "3", "--no-progress"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "test_accuracy" in proc.stdout and list(tmp_path.iterdir()) == []


# --- MAML against an independent JAX implementation --------------------------------------


def jax_mlp(params, x):
    for i, layer in enumerate(params):
        x = x @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            x = jax.nn.relu(x)
    return x


def jax_meta_loss(params, tasks, inner_lr, inner_steps, first_order):
    def task_loss(xs, ys, xq, yq):
        def inner(i, p):
            g = jax.grad(lambda p: jnp.mean((jax_mlp(p, xs) - ys) ** 2))(p)
            if first_order:
                g = jax.lax.stop_gradient(g)
            return jax.tree_util.tree_map(lambda w, gw: w - inner_lr * gw, p, g)

        adapted = jax.lax.fori_loop(0, inner_steps, inner, params)
        return jnp.mean((jax_mlp(adapted, xq) - yq) ** 2)

    return jnp.mean(jax.vmap(task_loss)(*tasks))


@pytest.mark.parametrize("inner_steps,first_order", [(3, False), (2, True)])
def test_maml_outer_gradient_equals_jax(inner_steps, first_order):
    model = maml_sinusoid.make_model((16, 16))
    params = tj.jit(lambda k: model.init(k))(random.key(3))
    tasks = maml_sinusoid.sample_tasks(np.random.default_rng(0), 5, 10, 7)
    lr = 0.05

    def tj_meta(p):
        return maml_sinusoid.meta_loss(model, p, tasks, lr, inner_steps, first_order)

    loss, grads = tj.jit(tj.value_and_grad(tj_meta))(params)
    jax_params = jax.tree_util.tree_map(jnp.asarray, params)
    jax_step = jax.jit(jax.value_and_grad(jax_meta_loss), static_argnums=(2, 3, 4))
    want_loss, want = jax_step(jax_params, tuple(tasks), lr, inner_steps, first_order)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    leaves = jax.tree_util.tree_leaves
    for got, ref in zip(leaves(grads), leaves(want), strict=True):
        np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-5 * np.abs(ref).max())
    # The check has teeth: first- and second-order meta-gradients differ on this data.
    _, other = jax_step(jax_params, tuple(tasks), lr, inner_steps, not first_order)
    gap = max(float(jnp.abs(a - b).max()) for a, b in zip(leaves(want), leaves(other)))
    assert gap > 1e-3


# --- the pieces the jobs are made of ---------------------------------------------------------


def test_clip_and_noise_without_noise_is_the_mean_clipped_gradient():
    rng = np.random.default_rng(0)
    grads = {
        "a": rng.normal(size=(6, 3, 2)).astype(np.float32),
        "b": (rng.normal(size=(6, 4)) * [[0.01], [1], [5], [0.1], [2], [3]]).astype(np.float32),
    }
    private, clipped = tj.jit(dp_sgd.clip_and_noise, static_argnums=(2, 3))(
        grads, random.key(0), 1.5, 0.0
    )
    flat = np.concatenate([grads["a"].reshape(6, -1), grads["b"]], axis=1)
    norms = np.linalg.norm(flat, axis=1)
    scale = np.minimum(1, 1.5 / norms)
    assert np.linalg.norm(flat * scale[:, None], axis=1).max() <= 1.5 + 1e-5
    for k in grads:
        want = np.mean(grads[k] * scale.reshape(-1, *[1] * (grads[k].ndim - 1)), axis=0)
        np.testing.assert_allclose(private[k], want, rtol=1e-5, atol=1e-7)
    assert float(clipped) == pytest.approx(np.mean(norms > 1.5))


def test_clip_and_noise_adds_gaussian_noise_of_std_sigma_c():
    grads = {"w": np.zeros((4, 100, 50), np.float32)}
    private, _ = tj.jit(dp_sgd.clip_and_noise, static_argnums=(2, 3))(
        grads, random.key(1), 2.0, 1.5
    )
    noise = np.asarray(private["w"]) * 4  # undo the mean over the batch of 4
    assert abs(noise.mean()) < 0.1 and noise.std() == pytest.approx(3.0, rel=0.05)


def rdp_by_integration(q, sigma, order):
    """Renyi divergence of (1-q) N(0, s^2) + q N(1, s^2) from N(0, s^2), integrated numerically
    in log space: the integrand mu0 * (mu / mu0)^order peaks near z = order."""
    z = np.linspace(-30 * sigma, order + 30 * sigma, 400_001)
    log_mu0 = -(z**2) / (2 * sigma**2) - 0.5 * np.log(2 * np.pi * sigma**2)
    log_ratio = np.logaddexp(np.log1p(-q), np.log(q) + (2 * z - 1) / (2 * sigma**2))
    log_f = log_mu0 + order * log_ratio
    peak = log_f.max()
    return (peak + np.log(np.trapezoid(np.exp(log_f - peak), z))) / (order - 1)


@pytest.mark.parametrize(
    "q,sigma,order", [(0.05, 1.0, 2), (0.05, 1.2, 8), (0.2, 2.0, 16), (0.01, 0.8, 32)]
)
def test_rdp_of_the_sampled_gaussian(q, sigma, order):
    got = dp_sgd.rdp_sampled_gaussian(q, sigma, order)
    assert got == pytest.approx(rdp_by_integration(q, sigma, order), rel=1e-6)


def test_privacy_accounting():
    # q = 1 is the Gaussian mechanism: RDP alpha / (2 sigma^2).
    assert dp_sgd.rdp_sampled_gaussian(1.0, 2.0, 5) == pytest.approx(5 / 8)
    eps = dp_sgd.epsilon(0.05, 1.2, 400, 1e-5)
    assert dp_sgd.epsilon(0.05, 1.2, 800, 1e-5) > eps > dp_sgd.epsilon(0.05, 2.0, 400, 1e-5)
    assert dp_sgd.epsilon(0.05, 1.2, 400, 1e-3) < eps
    assert dp_sgd.epsilon(0.05, 0.0, 1, 1e-5) == math.inf


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 12))
    a = (m @ m.T + 12 * np.eye(12)).astype(np.float32)
    b = rng.normal(size=12).astype(np.float32)
    x = tj.jit(lambda b: jacobians_hessians.conjugate_gradient(lambda u: a @ u, b, 12))(b)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-4, atol=1e-5)


def test_hvp_routes_match_jax():
    rng = np.random.default_rng(0)
    x = rng.random((20, 5)).astype(np.float32)
    y = rng.integers(0, 3, 20).astype(np.int32)
    theta = (0.3 * rng.normal(size=18)).astype(np.float32)
    v = rng.normal(size=18).astype(np.float32)

    def f(t):
        return jacobians_hessians.loss(t, x, y, 3, 0.1)

    def jax_f(t):
        logits = x @ t[:15].reshape(5, 3) + t[15:]
        nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1).mean()
        return nll + 0.05 * jnp.sum(t * t)

    want = jax.jvp(jax.grad(jax_f), (theta,), (v,))[1]
    for name, route in jacobians_hessians.hvp_routes(f).items():
        np.testing.assert_allclose(
            tj.jit(route)(theta, v), want, rtol=1e-4, atol=1e-6, err_msg=name
        )
