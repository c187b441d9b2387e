"""A finished job's outputs: the printed summary, metrics.json and loss.png."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from tracejit.jobs.config import JobConfig, to_dict
from tracejit.jobs.runner import Result

_LABELS = {"steps_per_s": "steps/s", "compile_s": "compile (s)"}


def default_out_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<name>-<timestamp>``, made unique with a suffix if it exists already."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(root) / f"{name}-{stamp}"
    n = 1
    while out.exists():
        out = Path(root) / f"{name}-{stamp}-{n}"
        n += 1
    return out


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and 1e-3 <= abs(value) < 1e5:
            return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.2f}"
        return f"{value:.4g}"
    return str(value)


def summary_lines(cfg: JobConfig, result: Result) -> list[str]:
    """The final summary: a header, the headline numbers, then the job's report."""
    title = f"{cfg.name} ({cfg.job})" if cfg.name != cfg.job else cfg.name
    lines = [f"== {title}" + (f": {cfg.description}" if cfg.description else "")]
    width = max(len(_LABELS.get(k, k)) for k in result.summary)
    for key, value in result.summary.items():
        lines.append(f"  {_LABELS.get(key, key).ljust(width)}  {_fmt(value)}")
    return lines + result.report


def _json_safe(x: object) -> object:
    """NaN/inf (not JSON) become None; containers recurse."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def write_outputs(cfg: JobConfig, result: Result, out: Path) -> list[Path]:
    """Write ``metrics.json`` (and ``loss.png`` where matplotlib is installed) under ``out``.

    Returns:
      The paths written.
    """
    out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "config": cfg.name, "config_file": str(cfg.path), "job": cfg.job,
        "description": cfg.description, "settings": to_dict(cfg.settings),
        "summary": result.summary, "details": result.details, "losses": result.losses,
    }  # fmt: skip
    path = out / "metrics.json"
    path.write_text(json.dumps(_json_safe(metrics), indent=2) + "\n", encoding="utf-8")
    written = [path]
    png = plot_losses(result.losses, out / "loss.png", title=cfg.name)
    if png is not None:
        written.append(png)
    return written


def plot_losses(losses: list[float], path: Path, title: str) -> Path | None:
    """A loss-curve PNG, or None when matplotlib is missing or there is nothing to plot."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    if not losses:
        return None
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)  # attaches a non-interactive canvas: no global pyplot state
    ax = fig.add_subplot()
    steps = np.arange(1, len(losses) + 1)
    window = max(1, len(losses) // 50)
    if window > 1:  # the raw curve faintly, a moving average on top
        ax.plot(steps, losses, linewidth=0.8, alpha=0.3, color="C0")
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :], smooth, linewidth=1.5, color="C0", label=f"mean of {window} steps"
        )
        ax.legend()
    else:
        ax.plot(steps, losses, linewidth=1.5, marker="o" if len(losses) <= 20 else None)
    if all(v > 0 for v in losses if math.isfinite(v)):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path
