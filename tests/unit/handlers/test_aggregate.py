"""The aggregate kind: Kapacitor's options, and the one event it makes of those it held,
field for field as Kapacitor's aggregate handler builds it (TestServer_Alert_Aggregate)."""

from __future__ import annotations

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.aggregate import AggregateKind
from pushoverd.models import Event, HandlerSpec, Level

MS = 1_000_000


def spec(**options: object) -> HandlerSpec:
    return HandlerSpec("agg", "agg", "aggregate", options=dict(options))


def point(t_ms: int, level: Level = Level.CRITICAL, duration_ms: int = 0) -> Event:
    series = [{"name": "alert", "columns": ["time", "value"], "values": [[t_ms, 1]]}]
    return Event(id="id", level=level, message="message", details="details",
                 time_ns=t_ms * MS, duration_ns=duration_ms * MS, data={"series": series})


def test_the_aggregate_of_three_points_is_kapacitors() -> None:
    handler = AggregateKind().compile(spec(id="id-agg", interval=100 * MS, topic="tcp"))
    events = [point(0), point(1, duration_ms=1), point(2, duration_ms=2)]
    made = handler.aggregate(events)
    assert (made.id, made.message, made.details) == (
        "id-agg", "Received 3 events in the last 100ms.", "message\nmessage\nmessage")
    assert (made.level, made.time_ns, made.duration_ns, made.recoverable) == (
        Level.CRITICAL, 2 * MS, 2 * MS, False)
    assert made.data == {"series": [s for e in events for s in e.data["series"]]}
    assert handler.targets == ("tcp",) and handler.interval == 0.1
    assert handler.forward(events[0]).hold


def test_level_time_and_duration_are_each_the_highest_held() -> None:
    handler = AggregateKind().compile(spec(id="x", interval="1m", topic="t"))
    made = handler.aggregate([point(9, Level.INFO, 1), point(3, Level.WARNING, 7),
                              point(5, Level.OK)])
    assert (made.level, made.time_ns, made.duration_ns) == (Level.WARNING, 9 * MS, 7 * MS)


def test_events_without_series_make_an_aggregate_with_null_series() -> None:
    handler = AggregateKind().compile(spec(id="x", interval=10**9, topic="t"))
    made = handler.aggregate([Event(id="a", level=Level.INFO, message="m")])
    assert made.data == {"series": None}  # as Go encodes a nil slice


def test_the_message_is_a_template_over_count_and_interval() -> None:
    handler = AggregateKind().compile(spec(
        id="x", interval="90s", topic="t",
        message="{{ .Count }} alerts in {{ .Interval }}{{ if gt .Count 1 }}!{{ end }}"))
    assert handler.aggregate([point(0), point(1)]).message == "2 alerts in 1m30s!"
    assert handler.aggregate([point(0)]).message == "1 alerts in 1m30s"


@pytest.mark.parametrize(("options", "error"), [
    ({"interval": 10**9, "topic": "t"}, "'id' must be given"),
    ({"id": "x", "interval": 10**9}, "'topic': '' is not a topic ID"),
    ({"id": "x", "interval": 10**9, "topic": "a b"}, "'topic': 'a b' is not a topic ID"),
    ({"id": "x", "topic": "t"}, "'interval' must be at least 10ms, got 0s"),
    ({"id": "x", "topic": "t", "interval": 1000}, "'interval' must be at least 10ms, got 1µs"),
    ({"id": "x", "topic": "t", "interval": "soon"}, "invalid duration 'soon'"),
    ({"id": "x", "topic": "t", "interval": True}, "'interval' must be a duration"),
    ({"id": "x", "topic": "t", "interval": 2**63}, "'interval' is longer than a Go duration"),
    ({"id": "x", "topic": "t", "interval": "3000000h"}, "'interval' is longer than a Go"),
    ({"id": "x", "topic": "t", "interval": float("inf")}, "'interval' must be a duration"),
    ({"id": "x", "topic": "t", "interval": 10**9, "message": "{{ .Level }}"},
     "'message' is not a valid template: unknown field .Level (use one of .Count, .Interval)"),
    ({"id": "x", "topic": "t", "interval": 10**9, "every": 1}, "'' has invalid keys: every"),
])
def test_options_are_refused_with_the_reason(options: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AggregateKind().compile(spec(**options))
    assert error in str(refused.value)


def test_a_json_number_interval_is_read_as_go_reads_a_float64_into_a_duration() -> None:
    handler = AggregateKind().compile(spec(id="x", topic="t", interval=1e9 + 0.9))
    assert handler.options.interval == 10**9 and handler.interval == 1.0


def test_a_badly_typed_option_is_reported_as_kapacitor_reports_it() -> None:
    with pytest.raises(ValidationError, match=r"^failed to decode options into "
                       r"\*alert.AggregateHandlerConfig: 1 error\(s\) decoding"):
        AggregateKind().compile(spec(id=5, topic="t", interval=10**9))
