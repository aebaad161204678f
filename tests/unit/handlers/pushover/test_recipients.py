"""Handlers send to named recipients on shift: each its own notification; everyone, saying
so, when nobody is on shift; unknown names are refused when the handler is defined."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import OTHER_USER, USER

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.pushover.directory import Recipient
from pushoverd.models import Event, HandlerSpec, Level
from pushoverd.shifts import parse_shift

BERLIN = ZoneInfo("Europe/Berlin")
DAY_SHIFT = (parse_shift("Mon-Fri 09:00-18:00"),)
NIGHT_SHIFT = (parse_shift("Mon-Sun 18:00-09:00"),)
DIRECTORY = {
    "alice": Recipient("alice", USER, "phone", DAY_SHIFT, BERLIN),
    "bob": Recipient("bob", OTHER_USER, "", NIGHT_SHIFT, BERLIN),
}
TUESDAY_NOON = datetime(2026, 12, 1, 12, tzinfo=BERLIN).timestamp()
TUESDAY_NIGHT = datetime(2026, 12, 1, 23, tzinfo=BERLIN).timestamp()
ALERT = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL")


def handler(options: dict[str, Any], directory: dict[str, Recipient] = DIRECTORY) -> Any:
    return PushoverKind(True, recipients=directory).compile(
        HandlerSpec("cpu", "oncall", "pushover", options))


def sent(options: dict[str, Any], at: float) -> list[dict[str, Any]]:
    return [o.payload for o in handler(options).plan("cpu", ALERT, AlertHistory(), at)]


def test_only_the_recipients_on_shift_are_notified_each_with_their_own() -> None:
    [noon] = sent({"recipients": ["alice", "bob"]}, TUESDAY_NOON)
    assert (noon["recipient"], noon["user"], noon["device"]) == ("alice", USER, "phone")
    [night] = sent({"recipients": ["alice", "bob"]}, TUESDAY_NIGHT)
    assert (night["recipient"], night["user"]) == ("bob", OTHER_USER)
    assert "device" not in night and "recipient_note" not in night


def test_when_nobody_is_on_shift_everyone_is_notified_and_the_delivery_says_so() -> None:
    weekend = datetime(2026, 12, 5, 12, tzinfo=BERLIN).timestamp()
    both = sent({"recipients": ["alice"]}, weekend)
    assert [p["recipient"] for p in both] == ["alice"]
    assert both[0]["recipient_note"] == "none of alice on shift: sent to all of them"


def test_a_raw_key_is_a_recipient_shown_masked() -> None:
    [payload] = sent({"recipients": [OTHER_USER]}, TUESDAY_NOON)
    assert (payload["user"], payload["recipient"]) == (OTHER_USER,
                                                       f"{OTHER_USER[:4]}…{OTHER_USER[-4:]}")


@pytest.mark.parametrize(("options", "words"), [
    ({"recipients": ["carol"]}, "'recipients' unknown recipient 'carol'"),
    ({"escalate-after": "5m", "escalate-to": ["carol"]}, "'escalate-to' unknown recipient"),
    ({"escalate-after": "5m"}, "'escalate-after' and 'escalate-to' go together"),
    ({"recipients": ["alice"], "user-key": USER}, "cannot both be set"),
    ({"escalate-after": "0s", "escalate-to": ["bob"]}, "must be a positive duration"),
])
def test_recipient_options_that_cannot_work_are_refused(options: dict[str, Any],
                                                        words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        handler(options)


def test_an_emergency_carries_its_escalation() -> None:
    options = {"recipients": ["alice"], "priorities": {"CRITICAL": 2},
               "escalate-after": "5m", "escalate-to": ["bob"]}
    [payload] = sent(options, TUESDAY_NOON)
    assert payload["escalate"] == {"after": 300, "to": ["bob"]}
    [not_urgent] = sent({**options, "priorities": {}}, TUESDAY_NOON)
    assert "escalate" not in not_urgent


def test_a_requeue_goes_to_the_recipients_current_key() -> None:
    [payload] = sent({"recipients": ["alice"]}, TUESDAY_NOON)
    changed = {**DIRECTORY, "alice": Recipient("alice", OTHER_USER, "", DAY_SHIFT, BERLIN)}
    readdressed = handler({"recipients": ["alice"]}, changed).readdress(payload)
    assert (readdressed["user"], readdressed["recipient"]) == (OTHER_USER, "alice")
