"""The 4xx breaker: a burst of rejections within the window opens it, one probe per interval,
a successful probe closes it and forgets the burst. Times are passed in, so every row is exact.
"""

from __future__ import annotations

import logging

import pytest

from pushoverd.handlers.pushover.breaker import Breaker

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
REVOKED = "application token is invalid"


def breaker(threshold: int = 3, window: float = 300.0, probe: float = 60.0) -> Breaker:
    return Breaker(threshold=threshold, window=window, probe_interval=probe)


def reject(b: Breaker, *times: float) -> None:
    for t in times:
        b.reject(t, REVOKED)


def test_a_fresh_breaker_is_closed_and_reports_so() -> None:
    assert Breaker().snapshot() == {"open": False, "reason": None, "next_probe": None}
    assert (Breaker().threshold, Breaker().window, Breaker().probe_interval) == (10, 300.0, 300.0)


def test_breaker_opens_at_the_threshold_within_the_window(
        caplog: pytest.LogCaptureFixture) -> None:
    b = breaker(threshold=3, window=300.0)
    reject(b, T0, T0 + 100)
    assert not b.open
    with caplog.at_level(logging.ERROR, logger="pushoverd"):
        reject(b, T0 + 299)
    assert b.open and b.probe_at == T0 + 299 + 60
    assert b.reason is not None and b.reason.startswith(
        "3 requests rejected by Pushover within 300s (last: application token is invalid)")
    assert b.snapshot() == {"open": True, "reason": b.reason,
                            "next_probe": "2025-06-15T15:12:39Z"}  # T0 + 299 + 60
    [record] = caplog.records
    assert record.levelno == logging.ERROR and b.reason in record.getMessage()


@pytest.mark.parametrize("times", [
    (T0, T0 + 200, T0 + 400),              # never 3 within 300 s
    (T0, T0 + 301, T0 + 602, T0 + 903),
    (T0, T0 + 1, T0 + 302),                # the first two age out before the third
])
def test_breaker_stays_closed_when_rejections_are_spread_out(times: tuple[float, ...]) -> None:
    b = breaker(threshold=3, window=300.0)
    reject(b, *times)
    assert not b.open and b.snapshot()["next_probe"] is None


def test_open_breaker_lets_one_probe_through_per_interval() -> None:
    b = breaker(threshold=3, probe=60.0)
    reject(b, T0, T0, T0)
    assert not b.probe_due(T0) and not b.probe_due(T0 + 59.9)
    assert b.probe_due(T0 + 60)                   # the probe goes...
    assert not b.probe_due(T0 + 60)               # ...and no second one follows it
    reject(b, T0 + 60.5)                          # the probe is rejected too
    assert b.open and b.probe_at == T0 + 120      # a rejection does not push the probe out
    assert not b.probe_due(T0 + 119.9) and b.probe_due(T0 + 120)
    assert b.snapshot()["next_probe"] == "2025-06-15T15:09:40Z"  # T0 + 120 + 60


def test_a_successful_probe_closes_the_breaker_and_forgets_old_rejections() -> None:
    b = breaker(threshold=3, window=300.0, probe=60.0)
    reject(b, T0, T0, T0)
    assert b.probe_due(T0 + 60)
    b.close()
    assert not b.open
    assert b.snapshot() == {"open": False, "reason": None, "next_probe": None}
    reject(b, T0 + 62)  # one more bad request is not a burst
    assert not b.open


def test_successes_while_closed_do_not_reset_the_count() -> None:
    # Only an open breaker's burst is forgotten: good requests between bad ones (one handler's
    # wrong key among many good ones) must not hide a burst from Pushover's IP block.
    b = breaker(threshold=3, window=300.0)
    reject(b, T0)
    b.close()
    reject(b, T0 + 1)
    b.close()
    reject(b, T0 + 2)
    assert b.open


def test_rejections_while_open_do_not_reopen_or_reword_it() -> None:
    b = breaker(threshold=2)
    reject(b, T0, T0 + 1)
    reason, probe_at = b.reason, b.probe_at
    b.reject(T0 + 2, "another error")
    assert (b.reason, b.probe_at) == (reason, probe_at)
