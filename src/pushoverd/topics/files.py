"""Handler files: Kapacitor's ``<load dir>/handlers/*.{yaml,yml,json}`` topic-handler specs.

Each file is one spec (``id``, ``topic``, ``kind``, ``options``, ``match``). YAML is read the
way Kapacitor reads it (converted to JSON, keys matched case-insensitively, unknown keys
ignored). A file that fails is reported with its path, line and key, and the others load;
so is a second file for a handler that an earlier file defines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pushoverd.errors import HandlerFileError, PushoverdError
from pushoverd.models import HandlerSpec

EXTENSIONS = (".yaml", ".yml", ".json")
_REQUIRED = ("id", "topic", "kind")


@dataclass
class LoadResult:
    """The specs read from a folder, and one error per file that failed."""

    specs: list[tuple[HandlerSpec, str]] = field(default_factory=list)
    errors: list[HandlerFileError] = field(default_factory=list)

    @property
    def failed_paths(self) -> set[str]:
        """Paths of the files that could not be loaded."""
        return {e.path for e in self.errors}


def handler_dir(load_dir: str | Path) -> Path:
    """Where handler files live under the ``[load] dir``."""
    return Path(load_dir) / "handlers"


def load_dir(folder: str | Path) -> LoadResult:
    """Read every handler file in ``folder`` (sorted by name); a missing folder is empty.

    A file defining a handler (topic and id, case-sensitive as in Kapacitor) that a file
    earlier by name defines is an error: the first file keeps the handler.
    """
    result = LoadResult()
    path = Path(folder)
    if not path.is_dir():
        return result
    defined: dict[tuple[str, str], str] = {}
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        if file.suffix.lower() not in EXTENSIONS:
            continue
        try:
            spec = read_file(file)
            _claim(defined, spec, str(file))
        except HandlerFileError as exc:
            result.errors.append(exc)
        else:
            result.specs.append((spec, str(file)))
    return result


def _claim(defined: dict[tuple[str, str], str], spec: HandlerSpec, path: str) -> None:
    """Record that ``path`` defines ``spec``'s handler, unless another file already does."""
    first = defined.setdefault((spec.topic, spec.id), path)
    if first != path:
        # Kapacitor applies both in turn and the later silently replaces the earlier.
        raise HandlerFileError(
            path, f'handler "{spec.topic}/{spec.id}" is already defined in {first}',
            line=_line_of(_read_text(path), "id"), key="id")


def read_file(path: str | Path) -> HandlerSpec:
    """Parse one handler file into a spec; HandlerFileError names the file, line and key."""
    text = _read_text(path)
    data = _parse(str(path), text)
    if not isinstance(data, dict):
        raise HandlerFileError(str(path), "a handler file must hold one mapping "
                                          "(id, topic, kind, options, match)", line=1)
    fields = {str(k).lower(): v for k, v in data.items()}
    for key in _REQUIRED:
        if not isinstance(fields.get(key), str) or not fields[key]:
            raise HandlerFileError(str(path), "is required and must be a non-empty string",
                                   line=_line_of(text, key) or _first_line(text), key=key)
    return _spec(str(path), text, fields)


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HandlerFileError(str(path), f"cannot read: {exc}") from None


def _parse(path: str, text: str) -> Any:
    if path.lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise HandlerFileError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise HandlerFileError(path, f"invalid YAML: {problem}", line=line) from None


def _spec(path: str, text: str, fields: dict[str, Any]) -> HandlerSpec:
    options = fields.get("options")
    if options is not None and not isinstance(options, dict):
        raise HandlerFileError(path, "must be a mapping of option names to values",
                               line=_line_of(text, "options"), key="options")
    match = fields.get("match") or ""
    if not isinstance(match, str):
        raise HandlerFileError(path, "must be a string", line=_line_of(text, "match"), key="match")
    return HandlerSpec(topic=fields["topic"], id=fields["id"], kind=fields["kind"],
                       options=options, match=match)


def _line_of(text: str, key: str) -> int | None:
    """The line where ``key`` is written at the top level, if it can be found."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip().lstrip("{").lstrip()
        if stripped.lower().startswith((f"{key}:", f'"{key}"')):
            return number
    return None


def _first_line(text: str) -> int:
    """The line where the mapping starts: where a missing key is reported."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return 1


_OPTION_NAMED = re.compile(r"(?:^|\* |: )'([a-z][a-z0-9_-]*)'", re.MULTILINE)


def file_error(path: str, exc: PushoverdError) -> HandlerFileError:
    """A service-level refusal of a file's spec, reported against the file, its line and its
    key: ``options.<name>`` at that option's line when the refusal names one option."""
    message = str(exc)
    key = next((k for k in ("options", "match", "kind", "id", "topic") if k in message), None)
    try:
        text = _read_text(path)
    except HandlerFileError:  # gone or unreadable since it was parsed: no line then
        text = ""
    line = _line_of(text, key) if text and key else None
    option = _OPTION_NAMED.search(message) if key == "options" else None
    if option is not None:
        key = f"options.{option.group(1)}"
        line = _option_line(text, option.group(1), line) if text else line
    return HandlerFileError(path, message, line=line, key=key)


def _option_line(text: str, name: str, options_line: int | None) -> int | None:
    """The line of option ``name`` (written below ``options``), else the options line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number > (options_line or 0) and line.strip().strip('"').startswith(
                (f"{name}:", f'{name}":')):
            return number
    return options_line
