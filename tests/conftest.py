"""Test setup: ``tests/`` on sys.path (for ``from checks import ...``) and XLA
compiler flags that make compiling the suite's many tiny programs cheap.

Most of the suite's time is XLA compiling small programs (every eager op on a
new shape, every jit). For programs this small, LLVM optimisation and the
MLIR fusion emitters cost far more than they save, so the tests compile with
``-O0``, the classic elemental fusion emitter and no parallel codegen split:
about half the compile CPU time. Both sides of every comparison (tracejit and
the JAX oracle) run under the same flags. Set ``TRACEJIT_TEST_DEFAULT_XLA=1``
to run the suite with XLA's default flags; a flag already in ``XLA_FLAGS`` is
never overridden. The environment is set before JAX creates its CPU client
(which reads ``XLA_FLAGS``), and subprocesses (CLI, examples) inherit it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

_FAST_COMPILE_FLAGS = {
    "xla_backend_optimization_level": "0",
    "xla_cpu_use_fusion_emitters": "false",
    "xla_cpu_parallel_codegen_split_count": "1",
}


def _set_fast_compile_flags() -> None:
    if os.environ.get("TRACEJIT_TEST_DEFAULT_XLA", "") not in ("", "0"):
        return
    flags = os.environ.get("XLA_FLAGS", "")
    extra = [f"--{k}={v}" for k, v in _FAST_COMPILE_FLAGS.items() if f"--{k}=" not in flags]
    if extra:
        os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()


_set_fast_compile_flags()
