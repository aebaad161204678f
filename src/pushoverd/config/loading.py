"""Finding the config file and loading it once: read, parse, apply the environment, validate,
resolve relative paths (against the file's directory; see the package docstring)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pushoverd.config.environment import apply_env
from pushoverd.config.problems import combine, problem_at, validation_problems
from pushoverd.config.schema import Config, is_model, list_item_model
from pushoverd.errors import ConfigError

__all__ = ["LoadedConfig", "find_config_path", "load", "resolve_paths"]

_STD_STREAMS = ("STDERR", "STDOUT")


@dataclass(frozen=True)
class LoadedConfig:
    """The result of :func:`load`: the config, the file it came from, and what was ignored."""

    config: Config
    path: str | None
    ignored: list[str]


def find_config_path(cli_path: str | None, env: Mapping[str, str]) -> str | None:
    """The config file to read: ``-config``, then ``$PUSHOVERD_CONFIG_PATH``, then
    ``$KAPACITOR_CONFIG_PATH``; ``None`` (built-in defaults) if none is set or it is /dev/null."""
    for candidate in (cli_path, env.get("PUSHOVERD_CONFIG_PATH"), env.get("KAPACITOR_CONFIG_PATH")):
        if candidate:
            return None if candidate == os.devnull else candidate
    return None


def load(path: str | None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read ``path`` (``None``: defaults only), apply ``env`` (default ``os.environ``), validate
    and resolve paths.

    Raises :class:`ConfigError`; its ``problems`` attribute lists one line per problem found (all
    of them, not just the first), and ``str()`` is those lines joined by newlines.
    """
    path = None if path in (None, "", os.devnull) else path
    text = _read(path) if path else ""
    raw = _parse(text, path)
    ignored = _ignored(raw, Config)
    env_keys, problems = apply_env(raw, os.environ if env is None else env)
    try:
        config = Config.model_validate(raw)
        problems += [problem_at(loc, message, text, path, env_keys)
                     for loc, message in config.cross_problems()]
    except PydanticValidationError as exc:
        problems += validation_problems(exc, text, path, env_keys)
    if problems:
        raise combine(problems)
    base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    return LoadedConfig(resolve_paths(config, base), path, ignored)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise combine([ConfigError(f"cannot read config file: {detail}", file=path)]) from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def _parse(text: str, path: str | None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else None
        detail = _TOML_POSITION.sub(f" (column {found.group(2)})" if found else "", message)
        raise combine([ConfigError(f"invalid TOML: {detail}", file=path, line=line)]) from None


def resolve_paths(config: Config, base_dir: str) -> Config:
    """``config`` with its relative paths made absolute against ``base_dir`` and an empty store
    path replaced by ``<data_dir>/pushoverd.db``."""
    data_dir = _resolve(base_dir, config.data_dir)
    store = config.pushoverd.store
    store_path = os.path.join(data_dir, "pushoverd.db")
    if store.path:
        store_path = _resolve(base_dir, store.path)
    log_file = config.logging.file
    if log_file not in _STD_STREAMS:
        log_file = _resolve(base_dir, log_file)
    http = config.http
    tls = {"https_certificate": _resolve(base_dir, http.https_certificate)}
    if http.https_private_key:
        tls["https_private_key"] = _resolve(base_dir, http.https_private_key)
    return config.model_copy(update={
        "data_dir": data_dir,
        "http": http.model_copy(update=tls),
        "logging": config.logging.model_copy(update={"file": log_file}),
        "load": config.load.model_copy(update={"dir": _resolve(base_dir, config.load.dir)}),
        "pushoverd": config.pushoverd.model_copy(
            update={"store": store.model_copy(update={"path": store_path})}),
    })


def _resolve(base_dir: str, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))


def _known_keys(model: type[BaseModel]) -> dict[str, str]:
    """TOML key (alias, or the attribute name) -> attribute name."""
    keys = {name: name for name in model.model_fields}
    keys.update({f.alias: name for name, f in model.model_fields.items() if f.alias})
    return keys


def _ignored(raw: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Names in ``raw`` that an ``extra="ignore"`` model drops, dotted, in file order."""
    if model.model_config.get("extra") != "ignore":
        return []
    known, names = _known_keys(model), []
    for key, value in raw.items():
        if key not in known:
            names.append(prefix + key)
            continue
        sub = model.model_fields[known[key]].annotation
        if is_model(sub) and isinstance(value, dict):
            names += _ignored(value, sub, f"{prefix}{key}.")
        item = list_item_model(sub)
        if item is not None and isinstance(value, list):  # [[httppost]]: each element's keys
            found = [n for v in value if isinstance(v, dict)
                     for n in _ignored(v, item, f"{prefix}{key}.")]
            names += list(dict.fromkeys(found))
    return names

