"""The example jobs that ``tracejit run`` and ``examples/*.py`` run.

A job is a module with a frozen ``Settings`` dataclass (the keys its TOML
config may set, with types and defaults) and ``run(settings, log) ->
Result``. Configs name their job with ``job = "<name>"``::

    from tracejit import jobs
    cfg = jobs.load_config("training_loop")          # a shipped config, or a path
    result = jobs.run_job(cfg, steps=100)
    print(result.summary["test_accuracy"])
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from types import ModuleType

from tracejit.jobs import config as _config
from tracejit.jobs.config import ConfigError, JobConfig
from tracejit.jobs.data import JobError
from tracejit.jobs.runner import QUIET, Log, Result

__all__ = [
    "JOBS", "ConfigError", "JobConfig", "JobError", "Log", "Result", "job_module",
    "load_config", "run_job", "with_steps",
]  # fmt: skip

#: Job name -> the module implementing it.
JOBS = {
    "training_loop": "tracejit.jobs.training_loop",
    "per_sample_grads": "tracejit.jobs.per_sample_grads",
    "dp_sgd": "tracejit.jobs.dp_sgd",
    "ensembling": "tracejit.jobs.ensembling",
    "maml_sinusoid": "tracejit.jobs.maml_sinusoid",
    "jacobians_hessians": "tracejit.jobs.jacobians_hessians",
}


def job_module(name: str) -> ModuleType:
    """The module implementing job ``name`` (a key of ``JOBS``)."""
    return importlib.import_module(JOBS[name])


def load_config(spec: str | Path | None = None) -> JobConfig:
    """Load and check a config: a path, a shipped config's name, or None for the default.

    Raises:
      ConfigError: for a missing file or any invalid key or value (one-line message).
    """
    settings = {name: (lambda name=name: job_module(name).Settings) for name in JOBS}
    return _config.load(spec, settings)


def with_steps(settings: object, steps: int) -> object:
    """``settings`` with ``[train] steps`` replaced."""
    train = dataclasses.replace(settings.train, steps=steps)
    return dataclasses.replace(settings, train=train)


def run_job(cfg: JobConfig, *, steps: int | None = None, log: Log = QUIET) -> Result:
    """Run a loaded config's job (for ``steps`` training steps when given)."""
    settings = cfg.settings if steps is None else with_steps(cfg.settings, steps)
    return job_module(cfg.job).run(settings, log)
