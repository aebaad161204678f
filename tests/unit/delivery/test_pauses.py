"""Pauses: per kind, they only lengthen, end by themselves or when lifted; the worker waits for
the first kind that may send again. Times are passed in, so every row is exact."""

from __future__ import annotations

import logging

import pytest

from pushoverd.delivery.pauses import Pause, Pauses

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
RESET = 1_751_328_000.0  # 2025-07-01T00:00:00Z


def test_fresh_pauses_let_every_kind_send_and_report_so() -> None:
    pauses = Pauses()
    assert pauses.may_send("pushover", T0) and pauses.current("pushover", T0) is None
    assert pauses.wait_seconds(["pushover", "post"], T0) is None
    assert pauses.snapshot("pushover", T0) == {
        "sending": True, "paused_until": None, "pause_reason": None}


def test_a_pause_holds_its_kind_until_it_ends_then_expires(
        caplog: pytest.LogCaptureFixture) -> None:
    pauses = Pauses()
    with caplog.at_level(logging.WARNING, logger="pushoverd"):
        pauses.pause("pushover", RESET, "rate limited until 2025-07-01T00:00:00Z")
    assert not pauses.may_send("pushover", T0) and not pauses.may_send("pushover", RESET - 1)
    assert pauses.current("pushover", T0) == Pause(RESET, "rate limited until 2025-07-01T00:00:00Z")
    assert pauses.wait_seconds(["pushover"], T0) == RESET - T0
    assert pauses.snapshot("pushover", T0) == {
        "sending": False, "paused_until": "2025-07-01T00:00:00Z",
        "pause_reason": "rate limited until 2025-07-01T00:00:00Z"}
    [record] = caplog.records
    assert record.getMessage() == ("pausing pushover deliveries until 2025-07-01T00:00:00Z: "
                                   "rate limited until 2025-07-01T00:00:00Z")
    # At its end it is gone, reason and all.
    assert pauses.may_send("pushover", RESET) and pauses.wait_seconds(["pushover"], RESET) is None
    assert pauses.snapshot("pushover", RESET) == {
        "sending": True, "paused_until": None, "pause_reason": None}


def test_a_shorter_pause_does_not_cut_a_longer_one_short() -> None:
    # Two sends fail together; the pause must cover both retries, or a handler's later
    # deliveries would go out while its failed one still waits for its retry time.
    pauses = Pauses()
    pauses.pause("pushover", T0 + 20, "503 (retry at +20 s)")
    pauses.pause("pushover", T0 + 5, "503 (retry at +5 s)")
    assert pauses.snapshot("pushover", T0)["pause_reason"] == "503 (retry at +20 s)"
    assert not pauses.may_send("pushover", T0 + 19) and pauses.may_send("pushover", T0 + 20)


def test_an_outage_does_not_shorten_a_rate_limit_pause() -> None:
    pauses = Pauses()
    pauses.pause("pushover", RESET, "rate limited")
    pauses.pause("pushover", T0 + 5, "Pushover unavailable")
    assert not pauses.may_send("pushover", T0 + 3600)
    assert pauses.snapshot("pushover", T0)["pause_reason"] == "rate limited"


def test_a_longer_pause_replaces_a_shorter_one_with_its_reason() -> None:
    pauses = Pauses()
    pauses.pause("pushover", T0 + 5, "Pushover unavailable")
    pauses.pause("pushover", RESET, "rate limited")
    assert pauses.current("pushover", T0) == Pause(RESET, "rate limited")


def test_pauses_are_per_kind() -> None:
    pauses = Pauses()
    pauses.pause("pushover", RESET, "rate limited")
    assert not pauses.may_send("pushover", T0) and pauses.may_send("post", T0)
    assert pauses.snapshot("post", T0)["sending"] is True


@pytest.mark.parametrize(("ends", "wait"), [
    ({}, None),                                        # nothing paused
    ({"pushover": T0 + 30}, None),                     # post may send now
    ({"pushover": T0 + 30, "post": T0 + 10}, 10.0),    # the first to end
    ({"pushover": T0 + 30, "post": T0 - 1}, None),     # post's pause is over
])
def test_wait_seconds_is_until_the_first_kind_may_send(ends: dict[str, float],
                                                       wait: float | None) -> None:
    pauses = Pauses()
    for kind, until in ends.items():
        pauses.pause(kind, until, "paused")
    assert pauses.wait_seconds(["post", "pushover"], T0) == wait


def test_wait_seconds_with_no_kinds_waits_for_nothing() -> None:
    assert Pauses().wait_seconds([], T0) is None


def test_lift_ends_a_pause_now_and_says_whether_there_was_one() -> None:
    pauses = Pauses()
    pauses.pause("pushover", RESET, "rate limited")
    pauses.pause("post", RESET, "down")
    assert pauses.lift("pushover") is True
    assert pauses.may_send("pushover", T0) and not pauses.may_send("post", T0)
    assert pauses.lift("pushover") is False
    # Lifted, a kind may be paused again by its next failure, even for a shorter time.
    pauses.pause("pushover", T0 + 5, "Pushover unavailable")
    assert pauses.current("pushover", T0) == Pause(T0 + 5, "Pushover unavailable")
