"""Emergencies and the display options: ``priorities``, ``retry``, ``expire``, ``ttl``,
``html`` and ``monospace``, refused at definition when Pushover could never take them, and
rendered so that a priority-2 notification carries what Pushover requires."""

from __future__ import annotations

from typing import Any

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import AlertHistory, Outgoing
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.pushover.kind import alert_tag
from pushoverd.models import (
    Delivery,
    DeliveryStatus,
    Event,
    HandlerSpec,
    HeldGroup,
    Level,
    ReceiptState,
)

CRITICAL = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL",
                 time_ns=1_700_000_000 * 10**9)


def compile_options(options: dict[str, Any]) -> Any:
    return PushoverKind(True).compile(HandlerSpec("cpu", "oncall", "pushover", options))


def render(options: dict[str, Any], event: Event = CRITICAL) -> dict[str, Any]:
    return compile_options(options).render("cpu", event)


@pytest.mark.parametrize(("options", "named", "words"), [
    ({"priorities": {"CRITICAL": 3}}, "'priorities'", "CRITICAL: 3 is not a Pushover priority"),
    ({"priorities": {"FATAL": 2}}, "'priorities'", "'FATAL' is not a level"),
    ({"priorities": {"OK": True}}, "'priorities'", "not a Pushover priority"),
    ({"priorities": ["CRITICAL"]}, "'priorities'", "must be a map of levels"),
    ({"retry": 29}, "'retry'", "at least 30 seconds"),
    ({"retry": "10s"}, "'retry'", "at least 30 seconds"),
    ({"retry": "soon"}, "'retry'", "invalid duration 'soon'"),
    ({"retry": "30.5s"}, "'retry'", "not a whole number of seconds"),
    ({"expire": 10_801}, "'expire'", "between 1 and 10800"),
    ({"expire": "4h"}, "'expire'", "between 1 and 10800"),
    ({"ttl": 0}, "'ttl'", "positive"),
    ({"html": "yes"}, "'html'", "boolean"),
    ({"html": True, "monospace": True}, "", "cannot both be true"),
])
def test_options_pushover_could_never_take_are_refused_naming_them(
        options: dict[str, Any], named: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        compile_options(options)
    assert named in str(refused.value) and words in str(refused.value)


def test_durations_read_as_seconds_or_go_text() -> None:
    o = compile_options({"retry": "1m", "expire": 600, "ttl": "2h"}).options
    assert (o.retry, o.expire, o.ttl) == (60, 600, 7200)


def test_defaults_are_request_trackers_and_levels_map_as_kapacitors() -> None:
    o = compile_options({}).options
    assert (o.retry, o.expire, o.ttl, o.priorities) == (60, 300, None, {})
    assert render({})["priority"] == 1


def test_a_level_mapped_to_2_is_an_emergency_with_retry_expire_and_its_alert_tag() -> None:
    payload = render({"priorities": {"critical": 2, "OK": -1}, "retry": "45s", "ttl": 60})
    assert {k: payload[k] for k in ("priority", "retry", "expire", "tags")} == {
        "priority": 2, "retry": 45, "expire": 300, "tags": alert_tag("cpu", "oncall",
                                                                     "cpu:host=a")}
    assert "ttl" not in payload  # Pushover ignores it for emergencies


def test_other_levels_keep_their_priority_and_carry_the_ttl() -> None:
    ok = Event(id="cpu:host=a", level=Level.OK, message="a is OK")
    payload = render({"priorities": {"CRITICAL": 2, "OK": -1}, "ttl": 60}, ok)
    assert (payload["priority"], payload["ttl"]) == (-1, 60)
    assert not {"retry", "expire", "tags"} & set(payload)


def test_html_and_monospace_are_sent_when_asked() -> None:
    assert render({"html": True})["html"] is True
    assert render({"monospace": True})["monospace"] is True
    assert "html" not in render({})


def test_tags_are_url_safe_and_name_one_handler_and_alert() -> None:
    tag = alert_tag("cpu", "oncall", "cpu:host=a/../x?y")
    assert tag.isalnum() and tag == alert_tag("cpu", "oncall", "cpu:host=a/../x?y")
    assert tag != alert_tag("cpu", "other", "cpu:host=a/../x?y")


def held(*levels: Level, latest: dict[str, Any]) -> HeldGroup:
    last = Delivery(id=9, topic="cpu", handler_id="oncall", kind="pushover",
                    event_id="cpu:host=z", level=levels[-1], payload=latest,
                    status=DeliveryStatus.COALESCED, attempts=0, created_at=1.0,
                    next_attempt_at=1.0, updated_at=1.0)
    counts: dict[Level, int] = {}
    for level in levels:
        counts[level] = counts.get(level, 0) + 1
    return HeldGroup("cpu", "oncall", len(levels), counts, 1.0, last)


def test_a_summary_covering_emergency_levels_is_itself_an_emergency() -> None:
    handler = compile_options({"priorities": {"CRITICAL": 2}, "expire": 900})
    summary = PushoverKind(True).summarize(
        held(Level.CRITICAL, Level.WARNING, latest={"message": "z is WARNING", "priority": 0,
                                                     "title": "CPU"}), handler)
    assert (summary["priority"], summary["retry"], summary["expire"]) == (2, 60, 900)
    assert summary["tags"] == alert_tag("cpu", "oncall", "cpu:host=z")
    assert summary["title"] == "CPU"
    assert summary["message"].startswith("2 more alerts on topic cpu: 1 CRITICAL, 1 WARNING")


def test_a_summary_below_emergency_carries_no_emergency_fields() -> None:
    latest = {"message": "z is CRITICAL", "priority": 2, "retry": 60, "expire": 300,
              "tags": "pdold"}
    summary = PushoverKind(True).summarize(held(Level.CRITICAL, latest=latest), None)
    assert summary["priority"] == 1  # the handler is gone: Kapacitor's priorities
    assert not {"retry", "expire", "tags"} & set(summary)


# --- an emergency through its alert's life ---------------------------------------------------

EMERGENCY_OPTIONS = {"priorities": {"CRITICAL": 2}}
NOW = 1_750_000_000.0


def sent_before(level: Level, priority: int, status: DeliveryStatus = DeliveryStatus.SENT,
                receipt: ReceiptState | None = ReceiptState.OUTSTANDING) -> Delivery:
    """The handler's last notification about the alert."""
    return Delivery(id=7, topic="cpu", handler_id="oncall", kind="pushover",
                    event_id="cpu:host=a", level=level,
                    payload={"message": "before", "priority": priority}, status=status,
                    attempts=1, created_at=1.0, next_attempt_at=1.0, updated_at=1.0,
                    receipt_state=receipt, acknowledged_by="gzne…zokz" if receipt is
                    ReceiptState.ACKNOWLEDGED else None)


OPEN = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SENDING)


def history(last: Delivery | None) -> AlertHistory:
    """``last`` as the store reports it: also unfinished while open or followed up."""
    unfinished = last is not None and (last.status in OPEN
                                       or last.receipt_state is ReceiptState.OUTSTANDING)
    return AlertHistory(last, (last,) if unfinished and last else ())


def plan(last: Delivery | None, level: Level = Level.CRITICAL) -> list[Outgoing]:
    event = Event(id="cpu:host=a", level=level, message=f"a is {level.name}")
    return compile_options(EMERGENCY_OPTIONS).plan("cpu", event, history(last), NOW)


TAG = alert_tag("cpu", "oncall", "cpu:host=a")
RINGING = [
    sent_before(Level.CRITICAL, 2),
    sent_before(Level.CRITICAL, 2, DeliveryStatus.PENDING, None),  # not even sent yet
    sent_before(Level.CRITICAL, 2, DeliveryStatus.FAILED, None),
]


def shape(planned: list[Outgoing]) -> list[tuple[str, bool]]:
    return [("cancel" if o.control else "suppressed" if o.suppressed else "send", o.control)
            for o in planned]


@pytest.mark.parametrize("last", [None, sent_before(Level.OK, -2),
                                  sent_before(Level.CRITICAL, 2, receipt=ReceiptState.EXPIRED),
                                  sent_before(Level.CRITICAL, 2,
                                              receipt=ReceiptState.CANCELLED),
                                  sent_before(Level.CRITICAL, 2, DeliveryStatus.DEAD, None)])
def test_an_emergency_starts_when_none_stands_for_its_alert(last: Delivery | None) -> None:
    [out] = plan(last)
    assert (out.suppressed, out.control, out.payload["priority"]) == (None, False, 2)


@pytest.mark.parametrize("last", RINGING)
def test_a_repeat_of_a_ringing_emergency_is_suppressed_with_the_reason(last: Delivery) -> None:
    [out] = plan(last)
    assert out.suppressed == ("not sent: the emergency for this alert at CRITICAL "
                              "(delivery 7) is still ringing")


def test_a_repeat_after_the_emergency_was_acknowledged_is_suppressed_too() -> None:
    [out] = plan(sent_before(Level.CRITICAL, 2, receipt=ReceiptState.ACKNOWLEDGED))
    assert out.suppressed is not None and "acknowledged by gzne…zokz" in out.suppressed


@pytest.mark.parametrize("last", RINGING)
def test_a_recovery_first_cancels_the_ringing_emergency(last: Delivery) -> None:
    cancel, recovery = plan(last, Level.OK)
    assert (cancel.control, cancel.payload["cancel"]) == (True, TAG)
    assert (recovery.control, recovery.suppressed, recovery.payload["priority"]) == (
        False, None, -2)


def test_a_recovery_after_an_acknowledged_emergency_needs_no_cancel() -> None:
    [recovery] = plan(sent_before(Level.CRITICAL, 2, receipt=ReceiptState.ACKNOWLEDGED),
                      Level.OK)
    assert recovery.payload["priority"] == -2 and not recovery.control


def test_a_change_of_emergency_level_cancels_and_starts_afresh() -> None:
    handler = compile_options({"priorities": {"CRITICAL": 2, "WARNING": 2}})
    event = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL")
    cancel, fresh = handler.plan("cpu", event, history(sent_before(Level.WARNING, 2)), NOW)
    assert cancel.control and fresh.payload["priority"] == 2 and not fresh.suppressed


def test_a_recovery_cancels_when_any_emergency_of_the_alert_still_rings() -> None:
    """Regression: the last notification was an acknowledged escalation, while the first
    recipient's emergency still rang; the recovery did not cancel it."""
    acked = sent_before(Level.CRITICAL, 2, receipt=ReceiptState.ACKNOWLEDGED)
    still_ringing = sent_before(Level.CRITICAL, 2)
    event = Event(id="cpu:host=a", level=Level.OK, message="a is OK")
    cancel, recovery = compile_options(EMERGENCY_OPTIONS).plan(
        "cpu", event, AlertHistory(acked, (still_ringing,)), NOW)
    assert cancel.control and recovery.payload["priority"] == -2
