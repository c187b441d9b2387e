"""Job configs: TOML files checked against each job's typed settings.

A config file names its job and sets that job's settings, grouped in tables::

    job = "training_loop"              # which job runs (tracejit.jobs.JOBS)
    description = "an MLP on digits"   # optional, printed in the header
    seed = 0

    [train]
    steps = 1500
    lr = 1e-3

A job declares its settings as frozen dataclasses whose fields carry types
and defaults (tables are nested dataclasses). Every key in the file is
checked against them: an unknown key, a value of the wrong type, a value out
of range, or a file that does not exist raises ``ConfigError``, whose message
is one line naming the file and the key. Keys a file leaves out keep their
defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NewType

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]

#: A setting that names a file; relative paths are relative to the config file.
FilePath = NewType("FilePath", str)

DEFAULT_CONFIG = "training_loop"


class ConfigError(ValueError):
    """A config file that cannot be used: its one-line message names the file and key."""

    def __init__(self, file: str | Path, key: str | None, message: str) -> None:
        self.file, self.key = str(file), key
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


def setting(
    default: Any, *, lo: float | None = None, hi: float | None = None, exclusive_lo: bool = False
) -> Any:
    """A dataclass field with a default and an optional allowed range ``[lo, hi]``.

    Args:
      default: the value used when the config file leaves the key out.
      lo: the smallest allowed value (or length, for a list); None for no bound.
      hi: the largest allowed value; None for no bound.
      exclusive_lo: ``lo`` itself is not allowed (for rates that must be > 0).
    """
    meta = {"lo": lo, "hi": hi, "exclusive_lo": exclusive_lo}
    if isinstance(default, (list, dict, set)):
        raise TypeError(f"setting: default {default!r} is mutable; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A dataclass field holding a table (a nested settings dataclass) with its defaults."""
    return dataclasses.field(default_factory=cls)


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """A loaded config: where it came from, which job it runs, and the job's settings."""

    name: str
    path: Path
    job: str
    description: str
    settings: Any


# --- finding config files -------------------------------------------------------------------


def shipped_dir() -> Path:
    """The directory of the configs shipped with the package (``tracejit/configs``)."""
    return Path(str(resources.files("tracejit") / "configs"))


def shipped_configs() -> list[str]:
    """The names (file stems) of the shipped configs, sorted."""
    return sorted(p.stem for p in shipped_dir().glob("*.toml"))


def resolve(spec: str | Path | None) -> Path:
    """The config file for ``spec``: a path, a shipped config's name, or None (the default).

    Raises:
      ConfigError: when ``spec`` is neither an existing file nor a shipped name.
    """
    if spec is None:
        spec = DEFAULT_CONFIG
    path = Path(spec)
    if path.is_file():
        return path
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    if path.parent == Path(".") and name in shipped_configs():
        return shipped_dir() / f"{name}.toml"
    if path.exists():
        raise ConfigError(spec, None, "is not a file; pass a TOML config file")
    known = ", ".join(shipped_configs())
    raise ConfigError(
        spec, None, f"no such file, nor a shipped config of that name (shipped: {known})"
    )


# --- checking values ------------------------------------------------------------------------


def _describe(value: Any) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "list",
        dict: "table",
    }.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is FilePath:
        return "a file path (string)"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}s"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


class _Ctx:
    """Where values come from, for error messages and relative paths."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(self.file, key, message)


def _coerce(tp: Any, value: Any, key: str, ctx: _Ctx) -> Any:
    """``value`` converted to ``tp``, or a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # X | None: TOML has no null, so it is X
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(tp, value, key, ctx)
    wrong = ctx.fail(key, f"expected {_type_name(tp)}, got {_describe(value)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise wrong
        return _build(tp, value, f"{key}.", ctx)
    if origin is Literal:
        choices = typing.get_args(tp)
        if not isinstance(value, str) or value not in choices:
            raise wrong
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise wrong
        item = typing.get_args(tp)[0]
        return tuple(_coerce(item, v, f"{key}[{i}]", ctx) for i, v in enumerate(value))
    if tp is FilePath:
        if not isinstance(value, str):
            raise wrong
        path = (ctx.file.parent / value).resolve()
        if not path.is_file():
            raise ctx.fail(key, f"file {value!r} not found (looked for {path})")
        return str(path)
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise wrong
        return value
    raise TypeError(f"config: unsupported setting type {tp!r} for {key}")


def _check_range(field: dataclasses.Field, value: Any, key: str, ctx: _Ctx) -> None:
    lo, hi = field.metadata.get("lo"), field.metadata.get("hi")
    strict = field.metadata.get("exclusive_lo", False)
    measured, what = (len(value), "length") if isinstance(value, tuple) else (value, "value")
    if lo is not None and (measured < lo or (strict and measured == lo)):
        bound = f"> {lo}" if strict else f">= {lo}"
        raise ctx.fail(key, f"{what} must be {bound}, got {value!r}")
    if hi is not None and measured > hi:
        raise ctx.fail(key, f"{what} must be <= {hi}, got {value!r}")


def _build(cls: type, table: dict, prefix: str, ctx: _Ctx) -> Any:
    """An instance of settings dataclass ``cls`` from a TOML table."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {prefix}{close[0]!r}? " if close else ""
            table_name = f"[{prefix[:-1]}]" if prefix else "the top level"
            raise ctx.fail(
                f"{prefix}{key}",
                f"unknown key; {hint}known keys in {table_name}: {', '.join(fields)}",
            )
    values = {}
    for name, field in fields.items():
        if name in table:
            values[name] = _coerce(hints[name], table[name], f"{prefix}{name}", ctx)
            _check_range(field, values[name], f"{prefix}{name}", ctx)
    return cls(**values)


# --- loading --------------------------------------------------------------------------------


def parse(
    text: str, file: str | Path, jobs: Mapping[str, Callable[[], type]]
) -> tuple[str, str, Any]:
    """Parse config text: returns ``(job name, description, settings)``.

    Args:
      text: the TOML text.
      file: where it came from (for messages and relative file paths).
      jobs: the job names, each with a function giving its settings dataclass
        (only the named job's is called).

    Raises:
      ConfigError: for invalid TOML, a missing or unknown job, or any invalid setting.
    """
    ctx = _Ctx(Path(file))
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ctx.fail(None, f"invalid TOML: {e}") from None
    job = table.pop("job", None)
    if job is None:
        raise ctx.fail("job", f"missing key; name the job to run, one of: {', '.join(jobs)}")
    if not isinstance(job, str) or job not in jobs:
        raise ctx.fail("job", f"expected one of {', '.join(jobs)}; got {_describe(job)}")
    description = table.pop("description", "")
    if not isinstance(description, str):
        raise ctx.fail("description", f"expected a string, got {_describe(description)}")
    return job, description, _build(jobs[job](), table, "", ctx)


def load(spec: str | Path | None, jobs: Mapping[str, Callable[[], type]]) -> JobConfig:
    """Find, read and check a config (see ``resolve`` and ``parse``).

    Raises:
      ConfigError: when the file is missing, unreadable or invalid.
    """
    path = resolve(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, None, f"cannot read: {e}") from None
    job, description, settings = parse(text, path, jobs)
    return JobConfig(path.stem, path, job, description, settings)


def to_dict(settings: Any) -> dict:
    """Settings as plain JSON-able data (tables as dicts, tuples as lists)."""
    return _jsonable(dataclasses.asdict(settings))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return [_jsonable(v) for v in x]
    return x
