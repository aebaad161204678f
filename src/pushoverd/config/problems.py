"""Turning what went wrong into :class:`ConfigError` lines that name the file, line and key.

Each problem becomes one line, ``<file>:<line> <table>.<key>: <message>``, or
``<VARIABLE>: <message>`` when the value came from the environment; :func:`combine` joins them so
the operator sees every problem at once, not just the first. Pydantic's messages are reworded
into the config file's terms (TOML key names, "must be"), and never include the input, which may
be a secret. Lines are found by scanning the text: tomllib does not report positions of values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from pushoverd.config.schema import Config, is_model, list_item_model
from pushoverd.errors import ConfigError

__all__ = ["combine", "problem_at", "validation_problems"]

_TYPE_MESSAGES = {
    "bool_type": "must be a boolean (true or false)",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "model_type": "must be a table",
    "dict_type": "must be a table",
    "extra_forbidden": "unknown key",
}


def validation_problems(exc: PydanticValidationError, text: str, path: str | None,
                        env_keys: Mapping[tuple[str, ...], str]) -> list[ConfigError]:
    """One ConfigError per pydantic error; ``env_keys`` maps the keys set from the environment
    to their variables, which are named instead of the file."""
    # Never include the input: it may be a secret.
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return [_problem(err, text, path, env_keys) for err in errors]


def problem_at(loc: tuple[str, ...], message: str, text: str, path: str | None,
               env_keys: Mapping[tuple[str, ...], str]) -> ConfigError:
    """A ConfigError for the TOML key path ``loc`` (a check made after validation)."""
    return _problem({"loc": loc, "type": "value_error", "msg": message}, text, path, env_keys)


def _problem(err: Mapping[str, Any], text: str, path: str | None,
             env_keys: Mapping[tuple[str, ...], str]) -> ConfigError:
    loc = _alias_loc(err["loc"])
    message = _TYPE_MESSAGES.get(err["type"]) or _reword(err["msg"])
    if loc in env_keys:
        return ConfigError(message, key=env_keys[loc])
    table_loc = tuple(p for p in loc if not p.isdigit())  # [[httppost]] elements: no index
    element = next((int(p) for p in loc if p.isdigit()), 0)
    return ConfigError(message, file=path, line=_find_line(text, table_loc, element),
                       key=".".join(loc) or None)


def _alias_loc(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The TOML keys of an error location (pydantic names defaults by attribute name)."""
    model: Any = Config
    keys = []
    for part in map(str, loc):
        item = list_item_model(model)
        if item is not None and part.isdigit():  # an element of an array of tables
            keys.append(part)
            model = item
            continue
        field = model.model_fields.get(part) if is_model(model) else None
        keys.append(field.alias or part if field else part)
        model = field.annotation if field else None
    return tuple(keys)


def _reword(message: str) -> str:
    return message.removeprefix("Value error, ").replace("Input should be", "must be")


def combine(problems: list[ConfigError]) -> ConfigError:
    """One ConfigError for all problems; ``.problems`` holds one line per problem."""
    if len(problems) == 1:
        error = problems[0]
    else:
        error = ConfigError("\n".join(str(p) for p in problems))
        error.file, error.line, error.key = problems[0].file, problems[0].line, problems[0].key
    error.problems = [str(p) for p in problems]  # type: ignore[attr-defined]
    return error


_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _find_line(text: str, loc: tuple[str, ...], element: int = 0) -> int | None:
    """Best effort: the line where ``loc`` is written, else its table's header line; in an
    array of tables, in its ``element``-th table."""
    if not text or not loc:
        return None
    for table, key in ((loc[:-1], loc[-1]), (loc, None), (loc[:-1], None)):
        line = _scan(text, ".".join(table), key, element)
        if line:
            return line
    return None


def _scan(text: str, table: str, key: str | None, element: int = 0) -> int | None:
    key_line = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""") if key else None
    current, seen = "", (0 if not table else -1)  # the root table has no header
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = re.sub(r"\s*\.\s*", ".", header.group(1))
            seen += current == table
            if key is None and current == table and seen >= element:
                return number
        elif key_line and current == table and seen >= element and key_line.match(line):
            return number
    return None

