"""The retry policy as a table: what becomes of a delivery after its integration's verdict.

The policy is pure: ``now`` and ``since`` are passed in, jitter comes from an injected
``random``, so every row here is exact. How Pushover's answers become verdicts
(``DeliveryFailed``) is the sender's business: tests/unit/handlers/pushover/test_sender.py.
"""

from __future__ import annotations

import pytest

from pushoverd.delivery.retry import MIN_RETRY_SECONDS, Action, Decision, RetryPolicy
from pushoverd.errors import DeliveryFailed

NOW = 1_750_000_000.0
CREATED = NOW - 60.0  # a minute-old delivery: far from the default 6 h max-age
BAD_USER = "user identifier is not a valid user, group, or subscribed user key"
ALMOST_ONE = 1.0 - 1e-12  # random.random() never returns 1.0
OUTAGE = DeliveryFailed("failed to understand Pushover response. code: 503 content: busy",
                        retry=True, pause_until=NOW + 5)


def policy(r: float = 0.5, **kw: float) -> RetryPolicy:
    """A policy whose jitter source always returns ``r`` (0.5 means no jitter)."""
    return RetryPolicy(random=lambda: r, **kw)


# --- the verdict decides the action ----------------------------------------------------------

@pytest.mark.parametrize(("failure", "action"), [
    (DeliveryFailed("503", retry=True), Action.RETRY),
    (DeliveryFailed("503", retry=True, pause_until=NOW + 5), Action.RETRY),
    (DeliveryFailed("over quota", retry=True, retry_at=NOW + 600), Action.RETRY),
    (DeliveryFailed(BAD_USER, retry=False), Action.DEAD),
    (DeliveryFailed("token invalid", retry=False, pause_until=NOW + 300), Action.DEAD),
    (DeliveryFailed("held", retry=False, retry_at=NOW + 600), Action.DEAD),
], ids=["retry", "retry-and-pause", "retry-at", "dead", "dead-and-pause", "dead-wins"])
def test_the_integrations_verdict_decides_retry_or_dead(failure: DeliveryFailed,
                                                        action: Action) -> None:
    assert policy().decide(failure, attempts=1, since=CREATED, now=NOW).action is action


def test_a_verdict_not_to_retry_is_dead_at_once_with_its_text() -> None:
    text = f"failed to understand Pushover response. code: 400 content: {BAD_USER}"
    decision = policy().decide(DeliveryFailed(text, retry=False), attempts=1, since=NOW, now=NOW)
    assert decision == Decision(Action.DEAD, text, None)


def test_the_pause_does_not_set_the_retry_time() -> None:
    # An outage pauses the kind for 5 s; the failed delivery itself backs off.
    decision = policy().decide(OUTAGE, attempts=3, since=CREATED, now=NOW)
    assert decision == Decision(Action.RETRY, str(OUTAGE), NOW + 20.0)


# --- delays ----------------------------------------------------------------------------------

@pytest.mark.parametrize("r", [0.0, 0.25, 0.5, 0.75, ALMOST_ONE])
@pytest.mark.parametrize("initial", [0.5, 1.0, 5.0])
def test_first_retry_waits_at_least_five_seconds(r: float, initial: float) -> None:
    # Pushover: "wait at least 5 seconds"; jitter must not undercut it, nor a small initial.
    decision = policy(r, initial=initial).decide(OUTAGE, attempts=1, since=CREATED, now=NOW)
    assert decision.retry_at is not None
    assert decision.retry_at - NOW >= MIN_RETRY_SECONDS


@pytest.mark.parametrize(("attempts", "delay"), [
    (1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 160.0), (7, 300.0),
    (8, 300.0), (50, 300.0),
])
def test_backoff_doubles_up_to_the_cap(attempts: int, delay: float) -> None:
    p = policy(0.5, initial=5.0, maximum=300.0)
    assert p.backoff(attempts) == delay
    decision = p.decide(OUTAGE, attempts, CREATED, NOW)
    assert (decision.action, decision.retry_at) == (Action.RETRY, NOW + delay)


@pytest.mark.parametrize(("r", "attempts", "delay"), [
    (0.0, 3, 16.0),          # base 20 s, jitter 20 % down
    (ALMOST_ONE, 3, 24.0),   # ... and (just under) 20 % up
    (0.25, 3, 18.0),
    (0.0, 2, 8.0),
    (0.0, 1, 5.0),           # 4 s would undercut Pushover's 5 s
    (ALMOST_ONE, 1, 6.0),
])
def test_jitter_is_bounded(r: float, attempts: int, delay: float) -> None:
    assert policy(r, initial=5.0, jitter=0.2).backoff(attempts) == pytest.approx(delay)


@pytest.mark.parametrize("r", [0.0, 0.5, 0.9, ALMOST_ONE])
@pytest.mark.parametrize("attempts", [6, 7, 8, 20, 64, 2000])
def test_retry_max_caps_the_delay_jitter_included(r: float, attempts: int) -> None:
    p = policy(r, initial=5.0, maximum=300.0, jitter=0.2)
    assert MIN_RETRY_SECONDS <= p.backoff(attempts) <= 300.0


def test_a_retry_max_below_five_seconds_still_waits_five() -> None:
    assert policy(ALMOST_ONE, initial=1.0, maximum=2.0).backoff(3) == MIN_RETRY_SECONDS


# --- max-age ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("age", "attempts", "action"), [
    (0.0, 1, Action.RETRY),
    (3600.0 - 5.0, 1, Action.RETRY),     # retry lands exactly at max-age: still allowed
    (3600.0 - 4.0, 1, Action.DEAD),      # retry would land past max-age
    (3600.0 - 20.0, 3, Action.RETRY),
    (3600.0 - 19.0, 3, Action.DEAD),
    (7200.0, 1, Action.DEAD),
])
def test_max_age_ends_retries(age: float, attempts: int, action: Action) -> None:
    failure = DeliveryFailed("Pushover timeout (api.pushover.net): ReadTimeout", retry=True)
    decision = policy(max_age=3600.0).decide(failure, attempts, since=NOW - age, now=NOW)
    assert decision.action is action
    if action is Action.DEAD:
        assert decision.retry_at is None
        assert decision.error == (f"Pushover timeout (api.pushover.net): ReadTimeout "
                                  f"(gave up after {attempts} attempts)")
    else:
        assert decision.error == "Pushover timeout (api.pushover.net): ReadTimeout"


# --- a time to retry at (a quota reset) ------------------------------------------------------

@pytest.mark.parametrize(("retry_at", "expected"), [
    (NOW + 86_400, NOW + 86_400),   # the quota resets tomorrow: wait for it exactly
    (NOW + 1, NOW + 1),             # even sooner than the 5 s minimum: the integration knows
    (NOW, NOW),
    (NOW - 10, NOW),                # already past: retry now rather than in the past
])
def test_a_retry_at_is_kept_and_never_in_the_past(retry_at: float, expected: float) -> None:
    failure = DeliveryFailed("application has exceeded its monthly message limit", retry=True,
                             retry_at=retry_at, pause_until=retry_at)
    decision = policy().decide(failure, attempts=3, since=NOW - 30 * 86_400, now=NOW)
    # Waiting for a reset never kills a delivery, however old: nothing is lost.
    assert decision == Decision(Action.RETRY,
                                "application has exceeded its monthly message limit", expected)


def test_a_retry_at_beyond_max_age_is_still_kept() -> None:
    failure = DeliveryFailed("over quota", retry=True, retry_at=NOW + 20 * 86_400)
    decision = policy(max_age=3600.0).decide(failure, attempts=50, since=CREATED, now=NOW)
    assert (decision.action, decision.retry_at) == (Action.RETRY, NOW + 20 * 86_400)
