"""The retry policy as a table: how each failure maps to an action, and the delays it picks.

The policy is pure: ``now`` and ``created_at`` are passed in, jitter comes from an injected
``random``, so every row here is exact.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from pushoverd.delivery.retry import (
    MIN_RETRY_SECONDS,
    RATE_LIMIT_FALLBACK_SECONDS,
    Action,
    RetryPolicy,
)
from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)
from pushoverd.pushover import Message, PushoverClient

NOW = 1_750_000_000.0
CREATED = NOW - 60.0  # a minute-old delivery: far from the default 6 h max-age
URL = "https://api.pushover.test/1/messages.json"
TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
BAD_USER = "user identifier is not a valid user, group, or subscribed user key"
ALMOST_ONE = 1.0 - 1e-12  # random.random() never returns 1.0


def policy(r: float = 0.5, **kw: float) -> RetryPolicy:
    """A policy whose jitter source always returns ``r`` (0.5 means no jitter)."""
    return RetryPolicy(random=lambda: r, **kw)


# --- failure kind -> action ------------------------------------------------------------------

@pytest.mark.parametrize(("exc", "action"), [
    (PushoverTransientError("Pushover connection failed (api): ConnectError"), Action.RETRY),
    (PushoverTransientError("Pushover timeout (api): ReadTimeout"), Action.RETRY),
    (PushoverTransientError("code: 500 content: oops", status=500), Action.RETRY),
    (PushoverTransientError("code: 503 content: busy", status=503), Action.RETRY),
    (PushoverRejected(BAD_USER, status=400, param="user"), Action.DEAD),
    (PushoverRejected("application token is invalid", status=401), Action.DEAD),
    (PushoverRejected("not found", status=404), Action.DEAD),
    (PushoverRateLimited("over quota", reset=int(NOW) + 600), Action.PAUSE),
    (PushoverRateLimited("over quota", reset=None), Action.PAUSE),
    (PushoverError("something unclassified"), Action.DEAD),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.value)
def test_failure_kind_maps_to_action(exc: PushoverError, action: Action) -> None:
    assert policy().decide(exc, attempts=1, created_at=CREATED, now=NOW).action is action


async def _outcome(respond: Callable[[httpx.Request], httpx.Response]) -> Action | str:
    """Send through the real client; ``"sent"`` or the policy's action for its error."""
    async with PushoverClient(URL, TOKEN, USER,
                              transport=httpx.MockTransport(respond)) as client:
        try:
            await client.send(Message("disk full"))
        except PushoverError as exc:
            return policy().decide(exc, attempts=1, created_at=CREATED, now=NOW).action
    return "sent"


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "sent"), (202, "sent"),
    (400, Action.DEAD), (401, Action.DEAD), (403, Action.DEAD), (404, Action.DEAD),
    (413, Action.DEAD), (429, Action.PAUSE),
    (500, Action.RETRY), (502, Action.RETRY), (503, Action.RETRY), (504, Action.RETRY),
])
async def test_http_status_maps_to_outcome(status: int, outcome: Action | str) -> None:
    body = ({"status": 1, "request": "r"} if status < 300
            else {"status": 0, "request": "r", "errors": ["nope"]})
    assert await _outcome(lambda req: httpx.Response(status, json=body)) == outcome


@pytest.mark.parametrize("error", [
    httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout,
    httpx.PoolTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
], ids=lambda e: e.__name__)
async def test_transport_failure_is_retried(error: type[httpx.TransportError]) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    assert await _outcome(respond) is Action.RETRY


# --- delays ----------------------------------------------------------------------------------

@pytest.mark.parametrize("r", [0.0, 0.25, 0.5, 0.75, ALMOST_ONE])
@pytest.mark.parametrize("initial", [0.5, 1.0, 5.0])
def test_first_retry_waits_at_least_five_seconds(r: float, initial: float) -> None:
    # Pushover: "wait at least 5 seconds"; jitter must not undercut it, nor a small initial.
    decision = policy(r, initial=initial).decide(
        PushoverTransientError("503"), attempts=1, created_at=CREATED, now=NOW)
    assert decision.retry_at is not None
    assert decision.retry_at - NOW >= MIN_RETRY_SECONDS


@pytest.mark.parametrize(("attempts", "delay"), [
    (1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 160.0), (7, 300.0),
    (8, 300.0), (50, 300.0),
])
def test_backoff_doubles_up_to_the_cap(attempts: int, delay: float) -> None:
    p = policy(0.5, initial=5.0, maximum=300.0)
    assert p.backoff(attempts) == delay
    decision = p.decide(PushoverTransientError("503"), attempts, CREATED, NOW)
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
    exc = PushoverTransientError("Pushover timeout (api.pushover.net): ReadTimeout")
    decision = policy(max_age=3600.0).decide(exc, attempts, created_at=NOW - age, now=NOW)
    assert decision.action is action
    if action is Action.DEAD:
        assert decision.retry_at is None
        assert decision.error == (f"Pushover timeout (api.pushover.net): ReadTimeout "
                                  f"(gave up after {attempts} attempts)")


# --- 4xx and 429 -----------------------------------------------------------------------------

def test_rejection_is_dead_at_once_with_pushovers_text() -> None:
    text = f"failed to understand Pushover response. code: 400 content: {BAD_USER}"
    decision = policy().decide(PushoverRejected(text, status=400, param="user"),
                               attempts=1, created_at=NOW, now=NOW)
    assert (decision.action, decision.error, decision.retry_at) == (Action.DEAD, text, None)


@pytest.mark.parametrize(("reset", "retry_at"), [
    (int(NOW) + 86_400, NOW + 86_400),                   # the quota resets tomorrow
    (None, NOW + RATE_LIMIT_FALLBACK_SECONDS),           # no reset header
    (0, NOW + RATE_LIMIT_FALLBACK_SECONDS),              # garbage
    (int(NOW) - 10, NOW + RATE_LIMIT_FALLBACK_SECONDS),  # already past: do not spin
    (int(NOW), NOW + RATE_LIMIT_FALLBACK_SECONDS),
])
def test_rate_limit_pauses_until_the_reset(reset: int | None, retry_at: float) -> None:
    exc = PushoverRateLimited("application has exceeded its monthly message limit", reset=reset)
    decision = policy().decide(exc, attempts=3, created_at=NOW - 30 * 86_400, now=NOW)
    # A rate limit never kills a delivery, however old: nothing is lost.
    assert decision.action is Action.PAUSE
    assert decision.retry_at == retry_at
    assert decision.error == "application has exceeded its monthly message limit"
