"""The command line and the job configs: every shipped config parses and runs a few
steps; invalid configs give a one-line error naming the file and key, exit code 2."""

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tracejit import cli, jobs
from tracejit.jobs import command, output, runner
from tracejit.jobs import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = config_mod.shipped_configs()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None  # loss.png needs it


def run_cli(*argv):
    return cli.main(["run", *map(str, argv)])


# --- the shipped configs --------------------------------------------------------------------


def test_top_level_configs_are_the_shipped_ones():
    top = {p.name: p.read_bytes() for p in (ROOT / "configs").glob("*.toml")}
    shipped = {p.name: p.read_bytes() for p in config_mod.shipped_dir().glob("*.toml")}
    assert sorted(top) == sorted(shipped)
    for name in top:
        assert top[name] == shipped[name], f"configs/{name} differs from tracejit/configs/{name}"


def test_one_config_per_job_and_the_default():
    assert {jobs.load_config(n).job for n in SHIPPED} == set(jobs.JOBS)
    assert SHIPPED == sorted(jobs.JOBS)  # each config is named after its job
    assert jobs.load_config(None).name == config_mod.DEFAULT_CONFIG == "training_loop"


def _flatten(table, prefix=""):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_parses_to_its_values(name):
    cfg = jobs.load_config(name)
    assert cfg.description and cfg.path.name == f"{name}.toml"
    assert isinstance(cfg.settings, jobs.job_module(cfg.job).Settings)
    written = dict(_flatten(config_mod.tomllib.loads(cfg.path.read_text())))
    parsed = dict(_flatten(config_mod.to_dict(cfg.settings)))
    for key, value in written.items():
        if key not in ("job", "description"):
            assert parsed[key] == value, key


@pytest.mark.parametrize("name", SHIPPED)
def test_smoke_run_each_config(name, tmp_path, capsys):
    assert run_cli(name, "--steps", 2, "--out", tmp_path, "--no-progress") == 0
    out = capsys.readouterr().out
    assert f"== {name}" in out and "steps/s" in out and "compile (s)" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"] == name and metrics["job"] == name
    assert len(metrics["losses"]) == 2 and all(np.isfinite(metrics["losses"]))
    summary = metrics["summary"]
    assert {"loss", "steps", "steps_per_s", "compile_s"} <= set(summary)
    assert summary["steps"] == 2 and summary["compile_s"] > 0 and summary["steps_per_s"] > 0
    assert metrics["settings"]["train"]["steps"] == 2
    png = tmp_path / "loss.png"
    assert png.read_bytes()[:8] == PNG_MAGIC if HAVE_MATPLOTLIB else not png.exists()


def test_default_config_and_default_out_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--steps", "3", "--no-progress"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("training_loop-")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["config"] == "training_loop" and len(metrics["losses"]) == 3
    assert f"wrote {Path('runs') / run_dir.name / 'metrics.json'}" in capsys.readouterr().out


def test_config_by_path_with_a_data_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.random((60, 5)).astype(np.float32)
    np.savez(tmp_path / "toy.npz", x=x, y=(x[:, 0] > 0.5).astype(np.int64))
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "toy.toml"
    path.write_text(
        'job = "training_loop"\n[data]\nfile = "../toy.npz"\n'
        "[model]\nhidden = [8]\n[train]\nsteps = 4\nbatch_size = 16\n"
    )
    assert run_cli(path, "--out", tmp_path / "out", "--no-progress") == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["config"] == "toy" and metrics["settings"]["model"]["hidden"] == [8]
    assert metrics["settings"]["data"]["file"] == str(tmp_path / "toy.npz")
    assert "(5, 8, 2)" in capsys.readouterr().out  # the MLP fits the file's shapes


def test_list(capsys):
    assert run_cli("--list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    assert any(line.endswith("(default)") and line.startswith("training_loop") for line in lines)


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    for name in cli.SUBCOMMANDS:
        module = __import__(name, fromlist=["NAME"])
        assert module.NAME in out and module.HELP in out
        assert callable(module.add_arguments) and callable(module.main)


# --- invalid configs: one line naming the file and the key, exit code 2 -------------------

BAD_CONFIGS = [
    # (TOML text, key named, what the message says)
    ('job = "training_loop"\nsede = 1', "sede", "unknown key; did you mean 'seed'?"),
    ('job = "training_loop"\n[train]\nlerning_rate = 0.1', "train.lerning_rate", "unknown key"),
    ('job = "training_loop"\n[optimizer]\nlr = 0.1', "optimizer", "unknown key"),
    ('job = "training_loop"\n[train]\nsteps = "10"', "train.steps",
     "expected an integer, got string '10'"),
    ('job = "training_loop"\n[train]\nsteps = true', "train.steps",
     "expected an integer, got boolean True"),
    ('job = "training_loop"\n[train]\nsteps = 1.5', "train.steps", "expected an integer"),
    ('job = "training_loop"\n[train]\nlr = "fast"', "train.lr", "expected a number"),
    ('job = "training_loop"\nseed = [1]', "seed", "expected an integer, got list"),
    ('job = "training_loop"\n[model]\nhidden = [8, "a"]', "model.hidden[1]",
     "expected an integer"),
    ('job = "training_loop"\n[model]\nhidden = 8', "model.hidden", "expected a list"),
    ('job = "training_loop"\n[train]\noptimizer = "rmsprop"', "train.optimizer",
     "expected one of 'adam', 'sgd'"),
    ('job = "training_loop"\ntrain = 3', "train", "expected a table, got integer 3"),
    ('job = "training_loop"\n[train]\nsteps = 0', "train.steps", "value must be >= 1"),
    ('job = "training_loop"\n[train]\nlr = 0', "train.lr", "value must be > 0.0"),
    ('job = "per_sample_grads"\n[model]\nchannels = [4, 8, 16]', "model.channels",
     "length must be <= 2"),
    ('job = "dp_sgd"\n[dp]\nclip_norm = -1.0', "dp.clip_norm", "value must be > 0.0"),
    ('job = "maml_sinusoid"\n[maml]\nfirst_order = "yes"', "maml.first_order",
     "expected a boolean"),
    ('job = "training_loop"\n[data]\nfile = "missing.npz"', "data.file",
     "file 'missing.npz' not found"),
    ('job = "training_loop"\n[data]\nfile = 3', "data.file", "expected a file path"),
    ("seed = 1", "job", "missing key"),
    ('job = "nope"', "job", "expected one of training_loop"),
    ("job = 3", "job", "got integer 3"),
    ('job = "training_loop"\ndescription = 1', "description", "expected a string"),
]  # fmt: skip


@pytest.mark.parametrize("text,key,message", BAD_CONFIGS)
def test_invalid_config_one_line_error(text, key, message, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(jobs.ConfigError, match="^" + f"{path}: {key}: ".replace("[", r"\[")):
        jobs.load_config(path)
    assert run_cli(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"tracejit run: error: {path}: {key}: ") and message in err
    assert not (tmp_path / "out").exists()


def test_invalid_toml_names_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text('job = "training_loop"\n[train\nsteps = 3\n')
    assert run_cli(path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: invalid TOML" in err and "line 2" in err


@pytest.mark.parametrize("spec", ["no_such_config", "no_such.toml", "dir/none.toml"])
def test_missing_config_file(spec, capsys):
    assert run_cli(spec) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"error: {spec}: no such file, nor a shipped config" in err and "training_loop" in err


def test_config_that_is_a_directory(tmp_path, capsys):
    assert run_cli(tmp_path) == 2
    assert f"{tmp_path}: is not a file" in capsys.readouterr().err


@pytest.mark.parametrize("arrays,message", [
    ({"x": np.zeros((4, 2))}, "needs arrays 'x' and 'y'"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(4)}, "y (n,) integer labels"),
    ({"x": np.zeros(4), "y": np.zeros(4, int)}, "x must be (n, features)"),
])  # fmt: skip
def test_unusable_data_file(arrays, message, tmp_path, capsys):
    np.savez(tmp_path / "d.npz", **arrays)
    path = tmp_path / "c.toml"
    path.write_text('job = "training_loop"\n[data]\nfile = "d.npz"\n')
    assert run_cli(path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'd.npz'}: data.file: " in err and message in err


def test_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert run_cli("training_loop", "--out", tmp_path / "f" / "run") == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("steps", ["0", "-3", "many"])
def test_bad_steps_is_a_usage_error(steps, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli("--steps", steps)
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_exit_code_and_no_traceback_from_a_real_process(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('job = "training_loop"\n[train]\nsteps = "x"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "tracejit.cli", "run", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"tracejit run: error: {path}: train.steps: expected an integer, got string 'x'"
    ]


# --- the pieces ---------------------------------------------------------------------------


def test_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setattr(runner, "tqdm", None)
    log = runner.Log(progress=True)
    stats = runner.run_steps(lambda c, x: (c + x, np.float32(c)), 0, lambda i: (i,), 5, log)
    assert stats.carry == 10 and list(stats.losses) == [0, 0, 1, 3, 6]
    log.info("hello")
    assert capsys.readouterr().out == "hello\n"


def test_progress_bar_on_a_terminal():
    class Tty:
        text = ""

        def isatty(self):
            return True

        def write(self, s):
            Tty.text += s

        def flush(self):
            pass

    def slow_step(carry, x):
        time.sleep(0.15)  # longer than tqdm's refresh interval, so each step is drawn
        return carry, np.float32(0.5)

    log = runner.Log(progress=True, stream=Tty())
    runner.run_steps(slow_step, 0, lambda i: (i,), 3, log, desc="fit")
    if runner.tqdm is None:  # tqdm is an optional extra: without it, no bar
        assert Tty.text == ""
    else:
        assert "fit (compiling)" in Tty.text
        assert "fit: " in Tty.text and "3/3" in Tty.text and "loss=0.5" in Tty.text


def test_no_png_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    assert output.plot_losses([1.0, 0.5], tmp_path / "l.png", "t") is None
    cfg = jobs.load_config("training_loop")
    result = runner.Result(losses=[1.0, float("nan")], summary={"loss": 1.0, "x": None})
    written = output.write_outputs(cfg, result, tmp_path)
    assert [p.name for p in written] == ["metrics.json"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["losses"] == [1.0, None] and metrics["summary"]["x"] is None


def test_summary_lines():
    cfg = jobs.load_config("training_loop")
    result = runner.Result(
        [1.0],
        {
            "loss": 0.01234,
            "test_accuracy": 0.9712,
            "steps": 3,
            "steps_per_s": 712.345,
            "compile_s": None,
        },
        report=["r"],
    )
    lines = output.summary_lines(cfg, result)
    assert lines[0] == f"== training_loop: {cfg.description}"
    assert lines[1:] == [
        "  loss           0.0123",
        "  test_accuracy  0.9712",
        "  steps          3",
        "  steps/s        712.35",
        "  compile (s)    n/a",
        "r",
    ]


def test_table_and_times():
    assert runner.table(("a", "bb"), [("xyz", 1)]) == ["  a    bb", "  ---  --", "  xyz  1"]
    assert [runner.fmt_time(t) for t in (2e-6, 0.0123, 2.5)] == ["2.0 us", "12.30 ms", "2.50 s"]


def test_example_main_has_no_config_argument(capsys):
    with pytest.raises(SystemExit) as e:
        command.example_main("training_loop", ["other_config"])
    assert e.value.code == 2
