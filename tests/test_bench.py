"""`tracejit bench --quick` runs in CI: every workload prints a row for every system.

No timings are asserted (the CI machine is shared and noisy); the structure of the
benchmark programs is guarded by tests/test_benchmark_ir.py instead.
"""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import workloads as W  # noqa: E402


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tracejit.cli", "bench", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    print(proc.stdout)  # the table, in the CI log
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_quick_bench_prints_every_row(quick_run):
    stdout, results = quick_run
    labels = [v.label for build in W.WORKLOADS.values() for v in build()]
    systems = {v.label: list(v.systems) for build in W.WORKLOADS.values() for v in build()}
    assert stdout.startswith("machine: ")
    by_label = {r["workload"]: r for r in results["results"] if "rows" in r}
    assert list(by_label) == labels
    for label in labels:
        assert label in stdout
        assert list(by_label[label]["rows"]) == systems[label], label
        for name, row in by_label[label]["rows"].items():
            assert row["median_s"] > 0 and row["first_call_s"] > 0, (label, name)
            assert re.search(rf"{re.escape(name)}\s+median", stdout)
    # first-call phases of tracejit's jitted programs reach the table
    w1 = by_label["W1 mlp train step"]["rows"]["tracejit"]["phases_s"]
    assert w1["compile"] > 0 and w1["trace"] > 0
    assert "W9 trace+transform" in stdout
    scaling = [r for r in results["results"] if "scaling" in r][0]["scaling"]
    assert set(scaling) == {"tracejit", "jax"}


def test_bench_rejects_an_unknown_option():
    proc = subprocess.run([sys.executable, "-m", "tracejit.cli", "bench", "--fast"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and "--fast" in proc.stderr
