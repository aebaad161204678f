"""SendingState: pauses for outages and rate limits, the 4xx breaker, and the status snapshot."""

from __future__ import annotations

import json

import httpx
import pytest

from pushoverd.delivery.retry import Action, Decision, RetryPolicy
from pushoverd.delivery.state import SendingState
from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)
from pushoverd.pushover import Message, PushoverClient, RateLimit

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
RESET = 1_751_328_000  # 2025-07-01T00:00:00Z
URL = "https://api.pushover.test/1/messages.json"
TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
REVOKED = PushoverRejected("application token is invalid", status=401)


def fail(state: SendingState, now: float, exc: PushoverError, attempts: int = 1) -> Decision:
    """Record a failed attempt as the worker does: decide, then tell the state."""
    decision = RetryPolicy(random=lambda: 0.5).decide(exc, attempts, created_at=now, now=now)
    state.on_failure(now, exc, decision)
    return decision


def reject(state: SendingState, *times: float) -> None:
    for t in times:
        fail(state, t, REVOKED)


def breaker(threshold: int = 3, window: float = 300.0, probe: float = 60.0) -> SendingState:
    return SendingState(breaker_threshold=threshold, breaker_window=window, probe_interval=probe)


# --- pauses ----------------------------------------------------------------------------------

def test_a_fresh_state_sends_and_reports_so() -> None:
    state = SendingState()
    assert state.may_send(T0) and state.wait_seconds(T0) is None
    assert state.snapshot(T0) == {
        "sending": True, "paused_until": None, "pause_reason": None,
        "breaker": {"open": False, "reason": None, "next_probe": None},
        "rate_limit": None, "last_success": None, "refused_user_keys": 0,
    }


def test_rate_limit_pauses_everything_until_the_reset_then_resumes() -> None:
    state = SendingState()
    limits = RateLimit(limit=10000, remaining=0, reset=RESET)
    exc = PushoverRateLimited("application has exceeded its monthly message limit",
                              reset=RESET, limits=limits)
    assert fail(state, T0, exc).action is Action.PAUSE
    assert not state.may_send(T0) and not state.may_send(RESET - 1)
    assert state.wait_seconds(T0) == RESET - T0
    snap = state.snapshot(T0)
    assert snap["sending"] is False
    assert snap["paused_until"] == "2025-07-01T00:00:00Z"
    assert snap["pause_reason"] == "rate limited by Pushover until 2025-07-01T00:00:00Z"
    assert snap["rate_limit"] == {"limit": 10000, "remaining": 0,
                                  "reset": "2025-07-01T00:00:00Z"}
    assert state.may_send(RESET) and state.wait_seconds(RESET) is None


def test_a_429_without_reset_pauses_an_hour_not_a_tight_loop() -> None:
    state = SendingState()
    fail(state, T0, PushoverRateLimited("over quota", reset=None))
    assert not state.may_send(T0 + 3599)
    assert state.wait_seconds(T0) == 3600.0


def test_an_outage_pauses_until_the_retry() -> None:
    state = SendingState()
    decision = fail(state, T0, PushoverTransientError("Pushover timeout (api): ReadTimeout"))
    assert decision.retry_at == T0 + 5
    assert not state.may_send(T0 + 4.9) and state.may_send(T0 + 5)
    assert state.snapshot(T0)["pause_reason"] == (
        "Pushover unavailable: Pushover timeout (api): ReadTimeout")


def test_a_rejection_alone_does_not_pause() -> None:
    state = breaker()
    assert fail(state, T0, REVOKED).action is Action.DEAD
    assert state.may_send(T0) and state.snapshot(T0)["sending"] is True


def test_a_shorter_retry_does_not_cut_a_longer_pause_short() -> None:
    # Two sends fail together; the pause must cover both retries, or a handler's later
    # deliveries would go out while its failed one still waits for its retry time.
    state = SendingState()
    fail(state, T0, PushoverTransientError("503"), attempts=3)  # retry at +20 s
    fail(state, T0, PushoverTransientError("503"), attempts=1)  # retry at +5 s
    assert not state.may_send(T0 + 19) and state.may_send(T0 + 20)


def test_an_outage_does_not_shorten_a_rate_limit_pause() -> None:
    state = SendingState()
    fail(state, T0, PushoverRateLimited("over quota", reset=RESET))
    fail(state, T0, PushoverTransientError("503"))
    assert not state.may_send(T0 + 3600)
    assert state.snapshot(T0)["pause_reason"].startswith("rate limited by Pushover")


def test_a_success_in_flight_does_not_lift_an_outage_pause_early() -> None:
    state = SendingState()
    fail(state, T0, PushoverTransientError("503"))  # another send's retry is due at +5 s
    state.on_success(T0 + 0.1, None)                 # a send that was already in flight
    assert not state.may_send(T0 + 1)
    assert state.may_send(T0 + 5)


def test_a_success_after_the_pause_clears_its_reason() -> None:
    state = SendingState()
    fail(state, T0, PushoverTransientError("503"))
    state.on_success(T0 + 6, None)
    snap = state.snapshot(T0 + 6)
    assert (snap["sending"], snap["paused_until"], snap["pause_reason"]) == (True, None, None)
    assert snap["last_success"] == "2025-06-15T15:06:46Z"


# --- quota -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("remaining", "reset", "paused"), [
    (0, RESET, True),
    (0, int(T0) - 1, False),  # the reset has passed: the figures are stale
    (0, None, False),
    (1, RESET, False),
    (None, RESET, False),
])
def test_success_with_no_quota_left_pauses_until_the_reset(
        remaining: int | None, reset: int | None, paused: bool) -> None:
    state = SendingState()
    limits = RateLimit(limit=10000, remaining=remaining, reset=reset)
    state.on_success(T0, limits)
    assert state.limits == limits
    assert state.may_send(T0 + 60) is not paused
    if paused:
        assert state.wait_seconds(T0) == RESET - T0
        assert state.snapshot(T0)["pause_reason"] == (
            "Pushover message quota exhausted until 2025-07-01T00:00:00Z")
        assert state.may_send(RESET)


def test_the_last_limits_are_kept_from_successes_and_failures() -> None:
    state = SendingState()
    state.on_success(T0, RateLimit(10000, 7496, RESET))
    state.on_success(T0 + 1, None)  # an answer without the headers keeps the last figures
    assert state.snapshot(T0 + 1)["rate_limit"] == {
        "limit": 10000, "remaining": 7496, "reset": "2025-07-01T00:00:00Z"}
    fail(state, T0 + 2, PushoverTransientError("503", limits=RateLimit(10000, 7000, RESET)))
    assert state.limits == RateLimit(10000, 7000, RESET)


# --- the breaker -----------------------------------------------------------------------------

def test_breaker_opens_at_the_threshold_within_the_window() -> None:
    state = breaker(threshold=3, window=300.0)
    reject(state, T0, T0 + 100)
    assert state.may_send(T0 + 100) and not state.breaker_open
    reject(state, T0 + 299)
    assert state.breaker_open and not state.may_send(T0 + 299)
    snap = state.snapshot(T0 + 299)
    assert snap["sending"] is False
    assert snap["breaker"]["open"] is True
    assert snap["breaker"]["reason"].startswith(
        "3 requests rejected by Pushover within 300s (last: application token is invalid)")
    assert snap["breaker"]["next_probe"] == "2025-06-15T15:12:39Z"  # T0 + 299 + 60


@pytest.mark.parametrize("times", [
    (T0, T0 + 200, T0 + 400),              # never 3 within 300 s
    (T0, T0 + 301, T0 + 602, T0 + 903),
    (T0, T0 + 1, T0 + 302),                # the first two age out before the third
])
def test_breaker_stays_closed_when_rejections_are_spread_out(times: tuple[float, ...]) -> None:
    state = breaker(threshold=3, window=300.0)
    reject(state, *times)
    assert not state.breaker_open and state.may_send(times[-1])


def test_transient_failures_and_rate_limits_do_not_count_towards_the_breaker() -> None:
    state = breaker(threshold=2)
    fail(state, T0, PushoverTransientError("503"))
    fail(state, T0, PushoverRateLimited("over quota", reset=RESET))
    fail(state, T0, PushoverTransientError("503"))
    assert not state.breaker_open


def test_open_breaker_lets_one_probe_through_per_interval() -> None:
    state = breaker(threshold=3, probe=60.0)
    reject(state, T0, T0, T0)
    assert state.wait_seconds(T0) == 60.0
    assert not state.may_send(T0 + 59.9)
    assert state.may_send(T0 + 60)
    state.on_attempt(T0 + 60)                      # the probe starts...
    assert not state.may_send(T0 + 60)             # ...and no second send follows it
    reject(state, T0 + 60.5)                       # the probe is rejected too
    assert state.breaker_open
    assert not state.may_send(T0 + 119.9) and state.may_send(T0 + 120)
    assert state.snapshot(T0 + 61)["breaker"]["next_probe"] == "2025-06-15T15:08:40Z"


def test_an_attempt_while_closed_schedules_no_probe() -> None:
    state = breaker()
    state.on_attempt(T0)
    assert state.may_send(T0) and state.snapshot(T0)["breaker"]["next_probe"] is None


def test_a_successful_probe_closes_the_breaker_and_forgets_old_rejections() -> None:
    state = breaker(threshold=3, window=300.0, probe=60.0)
    reject(state, T0, T0, T0)
    state.on_attempt(T0 + 60)
    state.on_success(T0 + 61, None)
    assert not state.breaker_open and state.may_send(T0 + 61)
    assert state.snapshot(T0 + 61)["breaker"] == {"open": False, "reason": None,
                                                  "next_probe": None}
    reject(state, T0 + 62)  # one more bad request is not a burst
    assert not state.breaker_open


def test_breaker_ignores_outage_pauses_while_open() -> None:
    # The probe decides when sending resumes; an outage pause set meanwhile does not add to it.
    state = breaker(threshold=1, probe=60.0)
    reject(state, T0)
    state.on_attempt(T0 + 60)
    fail(state, T0 + 61, PushoverTransientError("503"))
    assert not state.may_send(T0 + 119) and state.may_send(T0 + 120)


# --- no secrets ------------------------------------------------------------------------------

async def _rejection_from_the_wire() -> PushoverError:
    """A 401 whose body echoes the token and user key, through the real client."""
    body = {"status": 0, "request": "r", "token": "invalid",
            "errors": [f"application token {TOKEN} is invalid for user {USER}"]}
    transport = httpx.MockTransport(lambda req: httpx.Response(401, json=body))
    async with PushoverClient(URL, TOKEN, USER, transport=transport) as client:
        try:
            await client.send(Message("disk full"))
        except PushoverError as exc:
            return exc
    raise AssertionError("the 401 was accepted")


async def test_snapshot_carries_no_secrets() -> None:
    exc = await _rejection_from_the_wire()
    state = breaker(threshold=1)
    fail(state, T0, exc)
    fail(state, T0, PushoverTransientError(str(exc)))
    text = json.dumps(state.snapshot(T0))
    assert state.breaker_open and "[REDACTED]" in text
    assert TOKEN not in text and USER not in text
