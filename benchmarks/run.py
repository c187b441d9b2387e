"""Run the benchmark suite and print tracejit next to JAX (and torch.func).

    python benchmarks/run.py [--only W4] [--quick] [--json out.json]

(``tracejit bench`` runs the same.) Medians per call after warm-up, systems
interleaved round by round in this one process; ratio = system / JAX.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from harness import JaxPhases, block, first_call_seconds, measure  # noqa: E402
from workloads import WORKLOADS, Variant, scaling_systems  # noqa: E402

from tracejit.transforms import memo  # noqa: E402

_JAX_PHASES = JaxPhases()


def _fmt_time(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f}us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f}ms"
    return f"{seconds:.2f}s"


def _first_call(name: str, factory) -> tuple[float, dict[str, float], Any]:
    # Every sample starts cold for every system: JAX's tracing and compilation caches
    # (keyed on module-level functions such as the loss, which would let a second
    # sample reuse the first one's work) and tracejit's memoised derivatives.
    jax.clear_caches()
    memo.clear()
    gc.collect()  # no collection of earlier workloads' garbage inside the timed call
    if name == "jax":
        with _JAX_PHASES:
            seconds, step = first_call_seconds(lambda: factory()[0])
        return seconds, dict(_JAX_PHASES.seconds), step
    holder: list = []

    def make():
        step, jitted = factory()
        holder.append(jitted)
        return step

    seconds, step = first_call_seconds(make)
    jitted = holder[0]
    phases = jitted.phases.as_dict() if jitted is not None and jitted.phases else {}
    return seconds, phases, step


def run_variant(variant: Variant, quick: bool) -> dict[str, Any]:
    # First calls: a fresh function per sample, systems interleaved; the median
    # sample is reported (a single compile varies by +-20% on a shared machine).
    steps: dict[str, Any] = {}
    samples: dict[str, list] = {name: [] for name in variant.systems}
    for _ in range(1 if quick else 3):
        for name, factory in variant.systems.items():
            seconds, phases, step = _first_call(name, factory)
            steps[name] = step
            samples[name].append({"seconds": seconds, "phases": phases})
    first = {name: sorted(s, key=lambda r: r["seconds"])[len(s) // 2]
             for name, s in samples.items()}
    # Size rounds so each takes ~0.4 s (0.02 s with --quick; at least 3 calls), from
    # one timed call after a warm one (clearing caches for a cold first call of one
    # system may have dropped another's compiled program).
    for step in steps.values():
        block(step())
    start = time.perf_counter()
    block(steps["jax"]())
    one = max(time.perf_counter() - start, 1e-6)
    calls = max(3, min(100 if quick else 2000, int((0.02 if quick else 0.4) / one)))
    rounds = 3 if quick else 7
    # --quick is a smoke run (CI): contended rounds are flagged, not retried.
    timings = measure(steps, calls, rounds, attempts=1 if quick else 3)
    jax_median = timings["jax"].median
    rows = {}
    for name, timing in timings.items():
        rows[name] = {
            "median_s": timing.median,
            "spread": timing.spread,
            "ratio_vs_jax": timing.median / jax_median,
            "contended": timing.contended,
            "first_call_s": first[name]["seconds"],
            "first_call_ratio_vs_jax": first[name]["seconds"] / first["jax"]["seconds"],
            "phases_s": first[name]["phases"],
        }
    return {"workload": variant.label, "calls_per_round": calls, "rounds": rounds, "rows": rows}


def print_result(result: dict[str, Any]) -> None:
    rounds, calls = result["rounds"], result["calls_per_round"]
    print(f"\n{result['workload']}  ({rounds} rounds x {calls} calls)")
    for name, row in result["rows"].items():
        flag = "  CONTENDED" if row["contended"] else ""
        phases = " ".join(f"{k}={_fmt_time(v)}" for k, v in row["phases_s"].items() if v)
        print(
            f"  {name:<11} median {_fmt_time(row['median_s']):>9}  ±{row['spread'] * 100:4.1f}%"
            f"  ratio {row['ratio_vs_jax']:5.2f}  first call {_fmt_time(row['first_call_s']):>8}"
            f" ({row['first_call_ratio_vs_jax']:4.2f}x){flag}  {phases}"
        )


def run_scaling(quick: bool, depths: tuple[int, int] = (16, 32)) -> dict[str, Any]:
    """W9: trace + transform time of an MLP gradient at depth d and 2d (target: the
    doubled program costs at most 2.2x). Median of repeated traces, nothing compiled."""
    reps = 9 if quick else 21
    rows: dict[str, dict[str, float]] = {}
    for depth in depths:
        for name, fn in scaling_systems(depth).items():
            fn()  # warm the caches that are not per-trace (imports, rule tables)
            times = []
            for _ in range(reps):
                memo.clear()  # measure the transforms, not a cached derivative
                gc.collect()  # and not collections of earlier workloads' garbage:
                gc.disable()  # their cost grows with the heap, not with this program
                try:
                    start = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - start)
                finally:
                    gc.enable()
            times.sort()
            rows.setdefault(name, {})[f"depth_{depth}_s"] = times[len(times) // 2]
    for row in rows.values():
        row["growth"] = row[f"depth_{depths[1]}_s"] / row[f"depth_{depths[0]}_s"]
    return {"workload": f"W9 trace+transform of grad, MLP depth {depths[0]} -> {depths[1]}",
            "reps": reps, "scaling": rows}


def print_scaling(result: dict[str, Any]) -> None:
    print(f"\n{result['workload']}  (median of {result['reps']})")
    for name, row in result["scaling"].items():
        times = "  ".join(f"{k[:-2].replace('_', ' ')} {_fmt_time(v):>8}"
                          for k, v in row.items() if k.endswith("_s"))
        print(f"  {name:<11} {times}  growth x{row['growth']:.2f}")


def warm_up() -> None:
    """Pay each system's one-time start-up costs (first XLA compile, first trace,
    rule tables) before any first call is timed, so that the first workload's
    first-call time is not charged with them."""
    import jax
    import jax.numpy as jnp

    import tracejit as tj
    import tracejit.numpy as tnp

    x = np.ones((4, 3), np.float32)
    loss_tj = lambda w: tnp.sum(tnp.tanh(x @ w) ** 2)  # noqa: E731
    loss_jax = lambda w: jnp.sum(jnp.tanh(x @ w) ** 2)  # noqa: E731
    w = np.ones((3, 2), np.float32)
    tj.jit(tj.vmap(tj.grad(loss_tj), in_axes=0))(np.stack([w, w])).block_until_ready()
    jax.jit(jax.vmap(jax.grad(loss_jax), in_axes=0))(np.stack([w, w])).block_until_ready()


def machine() -> str:
    import jax

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.system()}, Python {platform.python_version()}, jax {jax.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracejit bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only workloads whose id or name contains this")
    parser.add_argument("--quick", action="store_true",
                        help="few calls per round, contended rounds flagged not retried (CI)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    warm_up()
    results = []
    for wid, build in WORKLOADS.items():
        for variant in build():
            if args.only and args.only.lower() not in f"{wid} {variant.label}".lower():
                continue
            result = run_variant(variant, args.quick)
            print_result(result)
            results.append(result)
    if not args.only or args.only.lower() in "w9 scaling trace":
        result = run_scaling(args.quick)
        print_scaling(result)
        results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
