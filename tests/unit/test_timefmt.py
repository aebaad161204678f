"""Go's duration text and RFC3339Nano, both ways, as Kapacitor writes and reads them."""

from __future__ import annotations

import re

import pytest

from pushoverd.timefmt import (
    ZERO_TIME_NS,
    format_go_duration,
    format_rfc3339nano,
    parse_go_duration,
    parse_rfc3339nano,
)

NS = 1_000_000_000
MAX_DURATION = 2**63 - 1  # Go's time.Duration is an int64


# Go duration text ---------------------------------------------------------------------------

@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1, "1ns"), (999, "999ns"),
    (1_000, "1µs"), (1_500, "1.5µs"),
    (1_000_000, "1ms"), (1_500_000, "1.5ms"), (2_000_000, "2ms"), (999_999_999, "999.999999ms"),
    (NS, "1s"), (10 * NS, "10s"), (30 * NS, "30s"), (90 * NS, "1m30s"), (300 * NS, "5m0s"),
    (3600 * NS, "1h0m0s"), (3600 * NS + 1, "1h0m0.000000001s"), (NS + NS // 2, "1.5s"),
    (-1_500, "-1.5µs"), (-90 * NS, "-1m30s"),
])
def test_duration_is_formatted_like_go_duration_string(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (1, "1ns"), (1_500, "1.5µs"), (1_500_000, "1.5ms"), (90 * NS, "1m30s"),
    (300 * NS, "5m0s"), (3600 * NS + 1, "1h0m0.000000001s"), (-90 * NS, "-1m30s"),
])
def test_formatted_durations_parse_back(ns: int, text: str) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("5m", 300 * NS), ("1h30m", 5400 * NS), ("1.5h", 5400 * NS), (".5s", NS // 2),
    ("1.s", NS), ("1us", 1_000), ("1μs", 1_000), ("2ms", 2_000_000), ("+5s", 5 * NS),
    ("1m1m", 120 * NS), ("1.000000001s", NS + 1),
])
def test_go_duration_inputs_are_accepted(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "s", "1", "10", "1d", "1 s", "abc", "-", ".s", "1s2"])
def test_malformed_duration_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(("ns", "text"), [
    (3000 * 3600 * NS + 1, "3000h0m0.000000001s"),
    (MAX_DURATION, "2562047h47m16.854775807s"),
])
def test_long_durations_parse_back_to_the_nanosecond(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text
    assert parse_go_duration(text) == ns


# RFC3339Nano --------------------------------------------------------------------------------

@pytest.mark.parametrize(("ns", "text"), [
    (0, "1970-01-01T00:00:00Z"),
    (2_000_000, "1970-01-01T00:00:00.002Z"),
    (1_700_000_010 * NS, "2023-11-14T22:13:30Z"),
    (1_700_000_000 * NS + 123_456_789, "2023-11-14T22:13:20.123456789Z"),
    (1_700_000_000 * NS + 100, "2023-11-14T22:13:20.0000001Z"),
    (1_700_000_000 * NS + 500_000_000, "2023-11-14T22:13:20.5Z"),
    (-NS // 2, "1969-12-31T23:59:59.5Z"),
    (ZERO_TIME_NS, "0001-01-01T00:00:00Z"),
    (-62_167_219_200 * NS, "0000-01-01T00:00:00Z"),
    (-62_162_121_600 * NS, "0000-02-29T00:00:00Z"),  # year 0 is a leap year, as in Go
    (-30_610_224_000 * NS + 123_456_789, "1000-01-01T00:00:00.123456789Z"),
    (-(2**63) - 1, "1677-09-21T00:12:43.145224191Z"),
    (2**63, "2262-04-11T23:47:16.854775808Z"),
    (10_413_792_000 * NS, "2300-01-01T00:00:00Z"),
    (253_402_300_800 * NS - 1, "9999-12-31T23:59:59.999999999Z"),
])
def test_times_format_and_parse_like_go_rfc3339nano(ns: int, text: str) -> None:
    assert format_rfc3339nano(ns) == text
    assert parse_rfc3339nano(text) == ns


def test_go_zero_time_is_year_one_with_four_digits() -> None:
    assert ZERO_TIME_NS == -62_135_596_800 * NS
    assert parse_rfc3339nano("0001-01-01T00:00:00Z") == ZERO_TIME_NS


@pytest.mark.parametrize("text", [
    "2023-11-14T23:13:30+01:00", "2023-11-14T17:43:30-04:30", "2023-11-14T22:13:30+00:00",
    "2023-11-14T22:13:30.000Z",
])
def test_offsets_are_converted_to_utc(text: str) -> None:
    assert parse_rfc3339nano(text) == 1_700_000_010 * NS
    assert format_rfc3339nano(parse_rfc3339nano(text)) == "2023-11-14T22:13:30Z"


def test_nine_fractional_digits_are_kept_exactly() -> None:
    assert parse_rfc3339nano("2023-11-14T22:13:30.000000001Z") == 1_700_000_010 * NS + 1
    assert parse_rfc3339nano("2023-11-14T22:13:30.999999999Z") == 1_700_000_011 * NS - 1
    assert parse_rfc3339nano("2023-11-14T22:13:30.1Z") == 1_700_000_010 * NS + NS // 10


@pytest.mark.parametrize("text", [
    "", "nope", "2023-11-14", "2023-11-14T22:13:30", "2023-11-14T22:13:30.Z",
    "2023-11-14T22:13:30.1234567890Z", "2023-11-14T22:13:30+0100", "1700000000",
    "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "023-01-01T00:00:00Z",
])
def test_malformed_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid RFC3339 time"):
        parse_rfc3339nano(text)


@pytest.mark.parametrize(("text", "field"), [
    ("2023-13-01T00:00:00Z", "month"), ("2023-00-01T00:00:00Z", "month"),
    ("2023-01-32T00:00:00Z", "day"), ("2023-02-29T00:00:00Z", "day"),
    ("2023-04-31T00:00:00Z", "day"), ("2023-01-00T00:00:00Z", "day"),
    ("2023-01-01T24:00:00Z", "hour"), ("2023-01-01T00:60:00Z", "minute"),
    ("2023-01-01T00:00:60Z", "second"), ("2023-01-01T00:00:00+24:00", "zone offset hour"),
    ("2023-01-01T00:00:00-01:60", "zone offset minute"),
])
def test_out_of_range_fields_are_refused_by_name(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"time '{text}': {field} out of range")):
        parse_rfc3339nano(text)


@pytest.mark.parametrize("text", ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"])
def test_times_whose_utc_year_go_cannot_write_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"year outside of range \[0,9999\] in UTC"):
        parse_rfc3339nano(text)


def test_any_year_formats_without_overflow() -> None:
    # The API never stores these, but formatting must not be what fails.
    assert format_rfc3339nano(-62_167_219_200 * NS - 1) == "-0001-12-31T23:59:59.999999999Z"
    assert format_rfc3339nano(253_402_300_800 * NS) == "10000-01-01T00:00:00Z"
