"""On-call shifts: ``"Mon-Fri 09:00-18:00"``, ``"Sat,Sun 00:00-24:00"``, ``"Mon 22:00-06:00"``.

A shift is a set of days and a time window on each of them, read in the recipient's own time
zone, so that daylight saving time moves with the wall clock. A window whose end is before its
start runs overnight: it belongs to the day it starts on (``"Fri 22:00-06:00"`` covers Friday
night into Saturday morning). ``24:00`` is the end of the day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SHIFT = re.compile(r"\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{2}:\d{2})\s*-\s*"
                    r"(?P<end>\d{2}:\d{2})\s*")


@dataclass(frozen=True, slots=True)
class Shift:
    """Days of the week (0 is Monday) and a window in minutes since midnight."""

    days: frozenset[int]
    start: int
    end: int

    def covers(self, local: datetime) -> bool:
        """Whether the wall-clock time ``local`` falls in this shift."""
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        # Overnight: the evening of a shift day, or the morning after one.
        yesterday = (local.weekday() - 1) % 7
        return ((local.weekday() in self.days and minute >= self.start)
                or (yesterday in self.days and minute < self.end))


def parse_shift(text: str) -> Shift:
    """Read a shift; ValueError saying what is wrong."""
    found = _SHIFT.fullmatch(text)
    if not found:
        raise ValueError(f"invalid shift {text!r}: use days and hours such as "
                         '"Mon-Fri 09:00-18:00"')
    start, end = _minutes(found["start"], text), _minutes(found["end"], text)
    if start == end or start == 24 * 60:
        raise ValueError(f"invalid shift {text!r}: the window is empty")
    return Shift(_days(found["days"], text), start, end)


def parse_zone(name: str) -> ZoneInfo:
    """An IANA time zone (``Europe/Berlin``); ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as "
                         '"Europe/Berlin" or "UTC"') from None


def on_shift(shifts: tuple[Shift, ...], zone: ZoneInfo, at: float) -> bool:
    """Whether the Unix time ``at`` falls in any of ``shifts`` (no shifts: always)."""
    if not shifts:
        return True
    local = datetime.fromtimestamp(at, zone)
    return any(shift.covers(local) for shift in shifts)


def _minutes(text: str, shift: str) -> int:
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"invalid shift {shift!r}: {text} is not a time of day")
    return hours * 60 + minutes


def _days(text: str, shift: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"invalid shift {shift!r}: {part!r} is not a day or a range of "
                             "days (Mon, Tue, ..., Sun)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        span = (b - a) % 7  # Fri-Mon wraps over the weekend
        days.update((a + n) % 7 for n in range(span + 1))
    return frozenset(days)
