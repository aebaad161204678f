"""The config override engine: Kapacitor's ``/kapacitor/v1/config`` semantics on a Config.

Pure functions, no I/O: the service above reads and writes the stored overrides and makes the
result live. Only two sections can be overridden, as in Kapacitor's ``override:`` tags:
``pushover`` (one element) and ``httppost`` (a list keyed by ``endpoint``).

An override (:class:`~pushoverd.models.ConfigOverride`) holds the options one element has
changed; applying it copies each option onto the element with Kapacitor's weak typing rules
and its error texts, then validates the whole element. ``delete`` drops options from the
override, so they revert to the file/env value; ``add`` stores a whole new element
(``create``) and ``remove`` drops an element's override (an element from the file then comes
back as the file has it, as in Kapacitor).

Shown options list every overridable key with its effective value; a secret is shown as a
boolean (whether it is set), and its name is listed in ``redacted``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from pushoverd.config.schema import (
    BasicAuthConfig,
    Config,
    HTTPPostConfig,
    PushoverConfig,
    is_model,
    is_secret,
)
from pushoverd.errors import ValidationError
from pushoverd.models import ConfigOverride

__all__ = [
    "SECTIONS",
    "ElementView",
    "OverrideError",
    "Section",
    "UpdateAction",
    "apply_overrides",
    "element_id",
    "parse_action",
    "sections",
    "updated_overrides",
]

_NAME = re.compile(r"^[-\w+]+$")


class OverrideError(ValidationError):
    """An override or update that cannot be applied (HTTP 400, Kapacitor's wording)."""


@dataclass(frozen=True)
class Section:
    """An overridable section: the Config field, its element model and element key."""

    name: str
    attr: str
    model: type[BaseModel]
    key: str | None = None
    """The option naming an element of a list section; None for a single-element section."""
    go_type: str = ""

    @property
    def redacted(self) -> list[str]:
        """The secret options, in field order (Kapacitor's ``redacted`` list)."""
        return [f.alias or n for n, f in self.model.model_fields.items() if _redacted(f)]


SECTIONS: dict[str, Section] = {
    "httppost": Section("httppost", "httppost", HTTPPostConfig, "endpoint", "httppost.Config"),
    "pushover": Section("pushover", "pushover", PushoverConfig, None, "pushover.Config"),
}
"""The sections the config API can change, by name (sorted, as Go encodes its map)."""


def _redacted(f: Any) -> bool:
    # A table holding a secret (basic-auth) is redacted whole, as Kapacitor's "redact" tag.
    return is_secret(f) or f.annotation is BasicAuthConfig


def element_id(section: str, element: str) -> str:
    """The stored ID of an element's override: ``pushover/``, ``httppost/<endpoint>``."""
    return f"{section}/{element}"


# --- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ElementView:
    """One element as the API shows it: its key ("" for a single element) and options."""

    key: str
    options: dict[str, Any]
    redacted: list[str] | None


def sections(config: Config) -> dict[str, list[ElementView]]:
    """Every overridable section's elements with redacted, sorted options."""
    return {name: [_view(s, e) for e in _elements(config, s)] for name, s in SECTIONS.items()}


def _elements(config: Config, section: Section) -> list[BaseModel]:
    value = getattr(config, section.attr)
    return list(value) if isinstance(value, list) else [value]


def _view(section: Section, element: BaseModel) -> ElementView:
    options: dict[str, Any] = {}
    for name, f in type(element).model_fields.items():
        value = getattr(element, name)
        if _redacted(f):
            value = _is_set(value)
        elif isinstance(value, dict):
            value = dict(sorted(value.items())) or None  # Go's nil map
        options[f.alias or name] = value
    key = str(options.get(section.key, "")) if section.key else ""
    return ElementView(key, dict(sorted(options.items())), section.redacted or None)


def _is_set(value: Any) -> bool:
    if isinstance(value, BaseModel):
        return any(_is_set(getattr(value, n)) for n in type(value).model_fields)
    return bool(value)


# --- applying --------------------------------------------------------------------------------

def apply_overrides(config: Config, overrides: Sequence[ConfigOverride]) -> Config:
    """``config`` with ``overrides`` applied in order; OverrideError names the first that
    cannot be (``failed to override configuration <id>: ...``)."""
    for override in overrides:
        try:
            config = _apply(config, override)
        except _Refused as exc:
            raise OverrideError(f"failed to override configuration {override.id}: {exc}") from None
    return config


class _Refused(Exception):
    """Why one override cannot be applied (wrapped with its ID by apply_overrides)."""


def _apply(config: Config, override: ConfigOverride) -> Config:
    section = SECTIONS.get(override.section)
    if section is None:  # Kapacitor reports the options first, as nothing used them
        if override.options:
            raise _Refused(f"unknown options {_names(override.options)} in section "
                           f"{override.section}")
        raise _Refused(f"unknown section {override.section}")
    if section.key is None:
        if override.element:
            raise _Refused(f"unknown options {_names(override.options)} in section "
                           f"{section.name}")
        updated = _set_options(section, getattr(config, section.attr), override.options)
        return config.model_copy(update={section.attr: updated})
    elements: list[Any] = list(getattr(config, section.attr))
    keys = [getattr(e, section.key) for e in elements]
    if override.create:
        if override.element in keys:
            raise OverrideError("failed to read sections from configuration object: section "
                                f'"{section.name}" has duplicate elements: "{override.element}"')
        elements.append(_set_options(section, None, override.options, create=True))
    else:
        if section.key in _lowered(override.options):
            raise _Refused(f"cannot override element key {section.key}")
        if override.element not in keys:
            raise _Refused(f"unknown options {_names(override.options)} in section "
                           f"{section.name}")
        index = keys.index(override.element)
        elements[index] = _set_options(section, elements[index], override.options)
    return config.model_copy(update={section.attr: elements})


def _names(options: Mapping[str, Any]) -> str:
    return "[" + " ".join(sorted(options)) + "]"


def _lowered(options: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in options.items()}


def _set_options(section: Section, current: BaseModel | None, options: Mapping[str, Any],
                 create: bool = False) -> BaseModel:
    """``current`` (or a new element) with ``options`` copied on, then validated."""
    model = section.model
    raw: dict[str, Any] = current.model_dump(by_alias=True) if current else {}
    given, used = {**_lowered(options), **options}, set()
    for name, f in model.model_fields.items():
        key = f.alias or name
        if key not in given:
            continue
        raw[key] = _copy(key, f.annotation, given[key], raw.get(key))
        used.add(key)
    unused = sorted(k for k in options if k not in used and str(k).lower() not in used)
    if unused:
        raise _Refused(f"unknown options [{' '.join(unused)}] in section {section.name}")
    try:
        return model.model_validate(raw)
    except PydanticError as exc:
        first = exc.errors()[0]
        raise _Refused(f"failed validation: {_reason(first)}") from None


def _reason(error: Any) -> str:
    text = str(error["msg"])
    return text.removeprefix("Value error, ") if error["type"] == "value_error" else text


_GO_KINDS = ((bool, "bool"), (str, "string"), (int, "float64"), (float, "float64"),
             (dict, "map"), (list, "slice"))


def _kind(value: Any) -> str:
    """The Go kind encoding/json decodes a JSON value into (``interface{}``)."""
    return next((name for t, name in _GO_KINDS if isinstance(value, t)), "invalid")


def _copy(name: str, annotation: Any, value: Any, current: Any) -> Any:
    """``value`` as the option's type, with Kapacitor's weak-copy errors."""
    try:
        return _weak(annotation, value, current)
    except _Refused as exc:
        raise _Refused(f"cannot set option {name}: {exc}") from None


def _weak(annotation: Any, value: Any, current: Any) -> Any:
    expected = _expected_kind(annotation)
    if _kind(value) != expected and not (expected == "struct" and _kind(value) == "map"):
        raise _Refused(f"wrong kind {_kind(value)}, expected value of kind {expected}: false")
    if expected == "map":
        for item in value.values():
            if not isinstance(item, str):
                raise _Refused(f"failed to copy map value: wrong kind {_kind(item)}, "
                               "expected value of kind string: false")
        return dict(value)
    if expected == "struct":
        return _decode_struct(annotation, value, current)
    return value


def _expected_kind(annotation: Any) -> str:
    if is_model(annotation):
        return "struct"
    if getattr(annotation, "__origin__", None) is dict:
        return "map"
    return {bool: "bool", str: "string"}.get(annotation, "invalid")


def _decode_struct(model: type[BaseModel], value: Mapping[str, Any], current: Any) -> Any:
    """Kapacitor's mapstructure decode of an object onto a table (basic-auth)."""
    known = {f.alias or n for n, f in model.model_fields.items()}
    problems = [f"'{k}' expected type 'string', got unconvertible type '{_kind(v)}'"
                for k, v in value.items() if k in known and not isinstance(v, str)]
    unknown = sorted(k for k in value if k not in known)
    if unknown:
        problems.append(f"'' has invalid keys: {', '.join(unknown)}")
    if problems:
        lines = "\n".join(f"* {p}" for p in problems)
        raise _Refused(f"failed to decode options into *httppost.BasicAuth: "
                       f"{len(problems)} error(s) decoding:\n\n{lines}")
    return {**(current or {}), **value}


# --- updates ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpdateAction:
    """A POST body on a config path: ``set``/``delete`` an element's options, or ``add``/
    ``remove`` elements of a list section."""

    section: str
    element: str
    has_element: bool
    set: dict[str, Any] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    add: dict[str, Any] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


def parse_action(section: str, element: str, has_element: bool, body: Any) -> UpdateAction:
    """The update action of a decoded JSON body (keys matched case-insensitively, unknown keys
    ignored, as Go decodes); OverrideError ``failed to decode JSON:...`` on a wrong shape."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise OverrideError(f"failed to decode JSON:json: cannot unmarshal {_json_kind(body)} "
                            "into Go value of type config.updateAction")
    parts = {str(k).lower(): v for k, v in body.items()}
    values: dict[str, Any] = {}
    for name, shape in (("set", dict), ("delete", list), ("add", dict), ("remove", list)):
        value = parts.get(name)
        if value is None:
            continue
        if not isinstance(value, shape) or (shape is list and not all(
                isinstance(v, str) for v in value)):
            target = "map[string]interface {}" if shape is dict else "[]string"
            raise OverrideError(f"failed to decode JSON:json: cannot unmarshal "
                                f"{_json_kind(value)} into Go struct field "
                                f"updateAction.{name} of type {target}")
        values[name] = value
    return UpdateAction(section, element, has_element, **values)


def _json_kind(value: Any) -> str:
    return {"map": "object", "slice": "array", "float64": "number", "bool": "bool",
            "string": "string"}.get(_kind(value), "null")


def updated_overrides(action: UpdateAction, stored: Sequence[ConfigOverride]
                      ) -> tuple[list[ConfigOverride], list[ConfigOverride], list[str]]:
    """What ``action`` makes of the ``stored`` overrides: (the overrides of its section after
    it, the overrides to store, the IDs to delete). OverrideError ``failed to apply update:``
    when the action itself is wrong."""
    try:
        return _updated(action, [o for o in stored if o.section == action.section])
    except _Refused as exc:
        raise OverrideError(f"failed to apply update: {exc}") from None


def _check(action: UpdateAction) -> None:
    problem = _invalid(action)
    if problem:
        raise _Refused(f"invalid update action: {problem}")


def _invalid(a: UpdateAction) -> str | None:
    if not a.section:
        return "must provide section name"
    if not _NAME.match(a.section):
        return f'invalid section name "{a.section}"'
    if a.element and not _NAME.match(a.element):
        return f'invalid element name "{a.element}"'
    if (a.set or a.delete) and (a.add or a.remove):
        return "cannot provide both set/delete and add/remove actions in the same update"
    if a.add and a.element:
        return "must not provide an element name when adding an a new override"
    if a.remove and a.element:
        return "must not provide element when removing an override"
    if not a.add and not a.remove and not a.has_element:
        return "element not specified, are you missing a trailing '/'?"
    return None


def _updated(action: UpdateAction, stored: list[ConfigOverride]
             ) -> tuple[list[ConfigOverride], list[ConfigOverride], list[str]]:
    _check(action)
    if action.remove:
        doomed = {element_id(action.section, name) for name in action.remove}
        return [o for o in stored if o.id not in doomed], [], sorted(doomed)
    element = _added_key(action) if action.add else action.element
    oid = element_id(action.section, element)
    existing = next((o for o in stored if o.id == oid), None)
    if action.add:
        if existing is not None:
            raise _Refused(f"cannot add new override, override already exists for {oid}")
        changed = ConfigOverride(oid, dict(action.add), create=True)
    else:
        options = dict(existing.options) if existing else {}
        options.update(action.set)
        for key in action.delete:
            options.pop(key, None)
        changed = ConfigOverride(oid, options, existing.create if existing else False)
    others = [o for o in stored if o.id != oid]
    return [*others, changed], [changed], []


def _added_key(action: UpdateAction) -> str:
    section = SECTIONS.get(action.section)
    if section is None:
        raise _Refused(f'unknown section "{action.section}"')
    if section.key is None:
        raise _Refused(f'section "{action.section}" is not a list, cannot add new element')
    value = action.add.get(section.key)
    if value is None:
        raise _Refused(f'missing key "{section.key}" in "add" map')
    if not isinstance(value, str):
        raise _Refused(f'expected "{section.key}" key to be a string, got {_kind(value)}')
    return value
