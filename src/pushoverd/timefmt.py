"""Go's time and duration text formats, as Kapacitor reads and writes them.

Kapacitor's JSON carries times as RFC3339Nano strings (``2023-11-14T22:13:30Z``, trailing
fractional zeros dropped) and durations either as integer nanoseconds (the ``post`` body) or as
Go ``time.Duration.String()`` text (``"1m30s"``, the topic API and the config file). Times are
kept as integer nanoseconds since the Unix epoch so no precision is lost on the way through.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS = 1_000_000_000

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)

_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
    "s": _NS, "m": 60 * _NS, "h": 3600 * _NS,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")

ZERO_TIME_NS = -62135596800 * _NS
"""Go's zero ``time.Time`` (``0001-01-01T00:00:00Z``) in nanoseconds since the epoch."""


def parse_rfc3339nano(text: str) -> int:
    """Parse an RFC 3339 time with up to nine fractional digits into epoch nanoseconds."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"invalid RFC3339 time {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = int((m.group(7) or "").ljust(9, "0"))
    base = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    if m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        base -= offset if m.group(9) == "+" else -offset
    delta = base - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _NS + frac


def format_rfc3339nano(ns: int) -> str:
    """Format epoch nanoseconds the way Go's ``time.RFC3339Nano`` does for UTC times."""
    seconds, frac = divmod(ns, _NS)
    t = _EPOCH + timedelta(seconds=seconds)
    # strftime drops the zero padding of years below 1000 on glibc; Go always writes four digits.
    stamp = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if frac:
        stamp += "." + str(frac).rjust(9, "0").rstrip("0")
    return stamp + "Z"


def format_unix(ts: float, timespec: str = "seconds") -> str:
    """A Unix time as ISO 8601 in UTC with a ``Z`` (``2026-11-23T07:00:00Z``)."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")


def parse_go_duration(text: str) -> int:
    """Parse Go duration text (``"10s"``, ``"1h30m"``, ``"1.5ms"``) into nanoseconds."""
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0
    # Fractions keep every nanosecond exact, even past float precision (~104 days).
    pos, total = 0, Fraction(0)
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise ValueError(f"invalid duration {text!r}")
        total += Fraction(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"invalid duration {text!r}")
    return sign * round(total)


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(rest).rjust(digits, '0').rstrip('0')}"


def format_go_duration(ns: int) -> str:
    """Format nanoseconds as Go's ``time.Duration.String()`` does (``"0s"``, ``"1h0m0s"``)."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 1_000)}µs"
    if u < _NS:
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    minutes, rest = divmod(u, 60 * _NS)
    text = f"{_fraction(rest, _NS)}s"
    if minutes:
        hours, minutes = divmod(minutes, 60)
        text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return sign + text
