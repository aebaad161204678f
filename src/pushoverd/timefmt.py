"""Go's time and duration text formats, as Kapacitor reads and writes them.

Kapacitor's JSON carries times as RFC3339Nano strings (``2023-11-14T22:13:30Z``, trailing
fractional zeros dropped) and durations either as integer nanoseconds (the ``post`` body) or as
Go ``time.Duration.String()`` text (``"1m30s"``, the topic API and the config file). Times are
kept as integer nanoseconds since the Unix epoch so no precision is lost on the way through.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from fractions import Fraction

_NS = 1_000_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CYCLE_DAYS = 146_097
"""Days in 400 Gregorian years, after which the calendar repeats exactly."""

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

# 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z: the years Go's MarshalJSON writes.
_MIN_NS = -62_167_219_200 * _NS
_MAX_NS = 253_402_300_800 * _NS - 1


def parse_rfc3339nano(text: str) -> int:
    """Parse an RFC 3339 time with up to nine fractional digits into epoch nanoseconds.

    Every year Go parses (0000 to 9999) is accepted; a field out of range (month 13, day 32,
    hour 24, offset +25:00) is a ValueError naming that field.
    """
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"invalid RFC3339 time {text!r}")
    ns = _utc_seconds(text, m) * _NS + int((m.group(7) or "").ljust(9, "0"))
    if not _MIN_NS <= ns <= _MAX_NS:
        # Shown back in UTC, such a time would need a year Go cannot write either.
        raise ValueError(f"invalid RFC3339 time {text!r}: year outside of range [0,9999] in UTC")
    return ns


def _utc_seconds(text: str, m: re.Match[str]) -> int:
    """The matched time's whole seconds since the epoch, its fields checked."""
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    _check_ranges(text, (("month", month, 1, 12), ("hour", hour, 0, 23),
                         ("minute", minute, 0, 59), ("second", second, 0, 59)))
    try:
        days = _days_from_civil(year, month, day)
    except ValueError:  # day 0, day 32, or February 29 of a common year
        raise ValueError(f"invalid RFC3339 time {text!r}: day out of range") from None
    return days * 86400 + hour * 3600 + minute * 60 + second - _offset(text, m)


def _offset(text: str, m: re.Match[str]) -> int:
    """The zone offset in seconds east of UTC (0 for ``Z``)."""
    if not m.group(9):
        return 0
    hours, minutes = int(m.group(10)), int(m.group(11))
    _check_ranges(text, (("zone offset hour", hours, 0, 23),
                         ("zone offset minute", minutes, 0, 59)))
    seconds = hours * 3600 + minutes * 60
    return seconds if m.group(9) == "+" else -seconds


def _check_ranges(text: str, fields: tuple[tuple[str, int, int, int], ...]) -> None:
    for name, value, lowest, highest in fields:
        if not lowest <= value <= highest:
            raise ValueError(f"invalid RFC3339 time {text!r}: {name} out of range")


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date, for any year (0 included)."""
    # datetime stops at year 1, but the calendar repeats every 400 years: work in years
    # 1-400 and add whole cycles. date() refuses a day its month does not have.
    cycles, year_in_cycle = divmod(year - 1, 400)
    ordinal = date(year_in_cycle + 1, month, day).toordinal()
    return ordinal + cycles * _CYCLE_DAYS - _EPOCH_ORDINAL


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month, day) ``days`` after 1970-01-01, for any year."""
    cycles, rest = divmod(days + _EPOCH_ORDINAL - 1, _CYCLE_DAYS)
    d = date.fromordinal(rest + 1)
    return d.year + 400 * cycles, d.month, d.day


def format_rfc3339nano(ns: int) -> str:
    """Format epoch nanoseconds the way Go's ``time.RFC3339Nano`` does for UTC times.

    Any year works (Go writes at least four digits), so no stored time can fail to show.
    """
    seconds, frac = divmod(ns, _NS)
    days, seconds = divmod(seconds, 86400)
    year, month, day = _civil_from_days(days)
    hour, minute, second = seconds // 3600, seconds // 60 % 60, seconds % 60
    sign = "-" if year < 0 else ""
    stamp = f"{sign}{abs(year):04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
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
