"""Environment overrides (``KAPACITOR_*``, ``PUSHOVERD_*``), written into the parsed TOML before
validation, as Kapacitor applies them.

Arrays of tables take a zero-based index after the section (``KAPACITOR_HTTPPOST_0_URL``)
and apply only to elements the file already has; a table-valued key takes the map key after
its name, case preserved (``KAPACITOR_HTTPPOST_0_HEADERS_Authorization``), as in Kapacitor.

A value is parsed as Go's ``strconv`` would (``ParseBool``, ``ParseInt(v, 0, …)``) into what TOML
would have given for its key, so validation treats both sources alike; an empty value is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pushoverd.config.schema import Config, is_model, is_secret, list_item_model
from pushoverd.errors import ConfigError

__all__ = ["apply_env"]


@dataclass(frozen=True)
class _EnvTarget:
    """One key the models know and the variable that overrides it; ``kind`` is its type."""

    var: str
    loc: tuple[str | int, ...]
    kind: object
    secret: bool


def _env_targets(model: type[BaseModel], loc: tuple[str, ...] = (),
                 prefix: str = "KAPACITOR_") -> Iterator[_EnvTarget]:
    """Every key the models know, with the environment variable that overrides it."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if is_model(field.annotation):
            child = "PUSHOVERD_" if key == "pushoverd" and not loc else f"{prefix}{_env(key)}_"
            yield from _env_targets(field.annotation, (*loc, key), child)
        elif list_item_model(field.annotation) is None:
            yield _EnvTarget(prefix + _env(key), (*loc, key), field.annotation, is_secret(field))


def _element_targets(raw: Mapping[str, Any], env: Mapping[str, str]) -> Iterator[_EnvTarget]:
    """The variables of the array-of-tables elements the file has (``KAPACITOR_HTTPPOST_0_*``)."""
    for name, field in Config.model_fields.items():
        item, key = list_item_model(field.annotation), field.alias or name
        elements = raw.get(key)
        if item is None or not isinstance(elements, list):
            continue
        for index, element in enumerate(elements):
            if not isinstance(element, dict):
                continue
            prefix = f"KAPACITOR_{_env(key)}_{index}_"
            for target in _env_targets(item, (), prefix):
                if getattr(target.kind, "__origin__", None) is dict:
                    yield from _map_targets(env, f"{target.var}_", (key, index, *target.loc))
                else:
                    yield _EnvTarget(target.var, (key, index, *target.loc), target.kind,
                                     target.secret)


def _map_targets(env: Mapping[str, str], prefix: str,
                 loc: tuple[str | int, ...]) -> Iterator[_EnvTarget]:
    """One target per variable named ``<prefix><map key>``; the map key keeps its case."""
    for var in sorted(env):
        if var.startswith(prefix) and len(var) > len(prefix):
            yield _EnvTarget(var, (*loc, var[len(prefix):]), str, False)


def _env(key: str) -> str:
    return key.upper().replace("-", "_")


def apply_env(raw: dict[str, Any], env: Mapping[str, str]
              ) -> tuple[dict[tuple[str, ...], str], list[ConfigError]]:
    """Write the set variables into ``raw``; return ``{loc: variable}`` (an element's index
    as text, as in pydantic's error locations) and the bad values."""
    applied: dict[tuple[str, ...], str] = {}
    problems: list[ConfigError] = []
    for target in [*_env_targets(Config), *_element_targets(raw, env)]:
        value = env.get(target.var, "")
        if not value:  # as in Kapacitor, an empty value cannot override anything
            continue
        try:
            _set(raw, target.loc, _convert(target, value))
            applied[tuple(map(str, target.loc))] = target.var
        except ValueError as exc:
            problems.append(ConfigError(str(exc), key=target.var))
    return applied, problems


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _convert(target: _EnvTarget, value: str) -> object:
    """Turn an environment value into what TOML would have given for that key."""
    shown = "the value" if target.secret else repr(value)
    if target.kind is bool:
        if value in _TRUE | _FALSE:
            return value in _TRUE
        raise ValueError(f"cannot parse {shown} as a boolean")
    if target.kind is int:
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f"cannot parse {shown} as an integer") from None
    if target.kind is float and re.fullmatch(r"[0-9]+", value):
        return int(value)  # a duration given as integer nanoseconds
    return value


def _set(raw: dict[str, Any], loc: tuple[str | int, ...], value: object) -> None:
    table: Any = raw
    for key in loc[:-1]:
        table = table[key] if isinstance(key, int) else table.setdefault(key, {})
        if not isinstance(table, dict | list):
            return  # the file has a non-table here; validation reports it
    table[loc[-1]] = value

