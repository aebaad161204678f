"""An alert as Kapacitor's ``post`` and ``log`` handlers write it: ``alert.Data`` through Go's
``json.NewEncoder(...).Encode``, byte for byte (compact, a trailing newline, Go's HTML-safe
string escaping, Go's float64 formatting, struct field order, sorted map keys).

The building block of the plumbing kinds: what they send or append is this text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pushoverd.models import Event
from pushoverd.timefmt import format_rfc3339nano

_ROW_KEYS = ("name", "tags", "columns", "values", "partial")
"""``models.Row``'s fields in declaration order, all ``omitempty``."""

_ESCAPED = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def alert_json(event: Event) -> bytes:
    """The encoded ``alert.Data`` of ``event`` (the topic service gives handlers the event
    with ``previous_level`` set to what their topic stored before it, as Kapacitor does)."""
    fields = (
        ("id", _string(event.id)), ("message", _string(event.message)),
        ("details", _string(event.details)), ("time", _string(format_rfc3339nano(event.time_ns))),
        ("duration", str(event.duration_ns)), ("level", _string(event.level.name)),
        ("data", _result(event.data)),
        ("previousLevel", _string(event.previous_level.name)),
        ("recoverable", "true" if event.recoverable else "false"))
    return ("{" + ",".join(f'"{k}":{v}' for k, v in fields) + "}\n").encode()


def _result(data: Any) -> str:
    """``models.Result``: ``series`` (null when absent), then ``error`` only when set."""
    series = data.get("series") if isinstance(data, Mapping) else None
    rows = "null" if not isinstance(series, list) else (
        "[" + ",".join(_row(r) for r in series if isinstance(r, Mapping)) + "]")
    error = data.get("error") if isinstance(data, Mapping) else None
    return '{"series":' + rows + (f',"error":{_string(str(error))}' if error else "") + "}"


def _row(row: Mapping[str, Any]) -> str:
    present = [(k, row[k]) for k in _ROW_KEYS if row.get(k)]
    return "{" + ",".join(f'"{k}":{_value(v)}' for k, v in present) + "}"


def _value(value: Any) -> str:
    """Any decoded JSON value as Go encodes the ``interface{}`` holding it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _float(float(value)) if abs(value) > 2**53 else str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_string(str(k))}:{_value(value[k])}"
                              for k in sorted(value, key=str)) + "}"
    return "[" + ",".join(_value(v) for v in value) + "]"


def _float(value: float) -> str:
    """Go's ``encoding/json`` float64: shortest digits, exponent form below 1e-6 and from
    1e21, with a one-digit negative exponent (``1e-7``)."""
    if not math.isfinite(value):
        return "null"  # Go refuses to encode it; Kapacitor never produces one
    if value == 0:
        return "0" if math.copysign(1, value) > 0 else "-0"
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(repr(value)).normalize(), "f")
    mantissa, exponent = repr(value).split("e")
    sign, digits = exponent[0], int(exponent[1:])
    return f"{mantissa}e+{digits:02d}" if sign == "+" else f"{mantissa}e-{digits}"


def _string(text: str) -> str:
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"
