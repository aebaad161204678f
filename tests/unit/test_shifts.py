"""On-call shifts: days and hours in the recipient's own zone, overnight windows, weekends,
and daylight saving time moving with the wall clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pushoverd.shifts import on_shift, parse_shift, parse_zone

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


@pytest.mark.parametrize(("shift", "when", "covered"), [
    ("Mon-Fri 09:00-18:00", "2026-12-01 09:00", True),    # a Tuesday, at the start
    ("Mon-Fri 09:00-18:00", "2026-12-01 17:59", True),
    ("Mon-Fri 09:00-18:00", "2026-12-01 18:00", False),   # the end is not in the shift
    ("Mon-Fri 09:00-18:00", "2026-12-05 12:00", False),   # Saturday
    ("Sat,Sun 00:00-24:00", "2026-12-06 23:59", True),
    ("Fri-Mon 08:00-09:00", "2026-12-07 08:30", True),    # the range wraps the weekend
    ("Fri-Mon 08:00-09:00", "2026-12-02 08:30", False),   # Wednesday
    ("Fri 22:00-06:00", "2026-12-04 23:00", True),        # Friday night ...
    ("Fri 22:00-06:00", "2026-12-05 05:59", True),        # ... into Saturday morning
    ("Fri 22:00-06:00", "2026-12-05 22:30", False),       # but not Saturday night
    ("Fri 22:00-06:00", "2026-12-04 05:00", False),       # nor Friday morning
])
def test_a_shift_covers_its_days_and_hours(shift: str, when: str, covered: bool) -> None:
    assert on_shift((parse_shift(shift),), BERLIN, at(when)) is covered


def test_shifts_follow_the_wall_clock_across_daylight_saving_time() -> None:
    shift = (parse_shift("Sun 09:00-10:00"),)
    summer = at("2026-03-29 09:30")  # the Sunday clocks go forward in Berlin
    winter = at("2026-10-25 09:30")  # the Sunday they go back
    assert on_shift(shift, BERLIN, summer) and on_shift(shift, BERLIN, winter)
    assert not on_shift(shift, BERLIN, at("2026-03-29 08:30", ZoneInfo("UTC")))  # 10:30 local


def test_no_shifts_means_always_on_call() -> None:
    assert on_shift((), BERLIN, at("2026-12-05 03:00"))


@pytest.mark.parametrize(("text", "words"), [
    ("Funday 09:00-18:00", "'funday' is not a day"),
    ("Mon-Fri 9:00-18:00", "use days and hours"),
    ("Mon 09:00-25:00", "25:00 is not a time of day"),
    ("Mon 09:60-10:00", "09:60 is not a time of day"),
    ("Mon 09:00-09:00", "the window is empty"),
    ("09:00-18:00", "use days and hours"),
])
def test_a_shift_that_cannot_be_read_says_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_shift(text)


def test_time_zones_are_iana_names() -> None:
    assert parse_zone("Europe/Berlin") == BERLIN
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        parse_zone("Mars/Base")
