"""PushoverSender: every answer Pushover can give, turned into what the outbox must do.

One section per row of sender.py's table (2xx, transient, 429 with and without a usable reset,
other 4xx), then the holds (the open breaker and its probe, refused keys, a spent quota),
``resume`` and ``status``. Requests go through a real PushoverClient on respx routes, so the
statuses and headers are Pushover's own; the clock is passed in, so every time is exact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from tests.conftest import TOKEN, USER

from pushoverd.delivery.base import Sent
from pushoverd.errors import DeliveryFailed, PushoverError, PushoverTransientError
from pushoverd.handlers.pushover import LocalTransport, PushoverSender
from pushoverd.handlers.pushover.breaker import Breaker
from pushoverd.pushover import Message, PushoverClient, RateLimit, SendResult

HOST = "api.pushover.test"
URL = f"https://{HOST}/1/messages.json"
OWN_KEY = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"  # a handler's own user-key
T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
RESET = 1_751_328_000  # 2025-07-01T00:00:00Z
RESET_TEXT = "2025-07-01T00:00:00Z"
BAD_USER = "user identifier is not a valid user, group, or subscribed user key"
REFUSED = {"status": 0, "request": "r", "errors": ["nope"]}
OVER_QUOTA = {"status": 0, "request": "r",
              "errors": ["application has exceeded its monthly message limit"]}
PAYLOAD: dict[str, Any] = Message.build("disk full", priority=1).to_dict()
OWN_PAYLOAD: dict[str, Any] = Message.build("disk full", priority=1, user=OWN_KEY).to_dict()


def limit_headers(remaining: int | None = 7496, reset: object = RESET) -> dict[str, str]:
    headers = {"X-Limit-App-Limit": "10000", "X-Limit-App-Reset": str(reset)}
    return headers | ({} if remaining is None else {"X-Limit-App-Remaining": str(remaining)})


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """A sender on respx routes, its clock and its breaker (3 rejections open it)."""

    router: respx.MockRouter
    clock: Clock
    sender: PushoverSender
    url: str = URL

    def answer(self, status: int, json: Any = None, headers: dict[str, str] | None = None,
               ) -> respx.Route:
        body = json if json is not None else (
            {"status": 1, "request": "req-1"} if status < 300 else REFUSED)
        return self.router.post(self.url).mock(
            return_value=httpx.Response(status, json=body, headers=headers))

    def limits_answer(self, status: int = 200, **body: Any) -> respx.Route:
        return self.router.get(host=HOST, path="/1/apps/limits.json").mock(
            return_value=httpx.Response(status, json={"status": 1, "request": "l", **body}))

    def validate_answer(self, status: int = 200, json: Any = None) -> respx.Route:
        body = json if json is not None else {"status": 1, "group": 0, "request": "v"}
        return self.router.post(host=HOST, path="/1/users/validate.json").mock(
            return_value=httpx.Response(status, json=body))

    @property
    def messages_sent(self) -> int:
        return sum(1 for call in self.router.calls if str(call.request.url) == self.url)

    async def verdict(self, payload: dict[str, Any] = PAYLOAD) -> DeliveryFailed:
        with pytest.raises(DeliveryFailed) as failed:
            await self.sender.send(payload)
        return failed.value

    async def open_breaker(self) -> None:
        self.answer(401, json={"status": 0, "request": "r", "token": "invalid",
                               "errors": ["application token is invalid"]})
        for _ in range(3):
            await self.verdict()
        assert self.sender.breaker.open


class ScriptedTransport:
    """A Transport whose sends answer with the scripted results or errors, in order."""

    can_validate = True

    def __init__(self, *outcomes: SendResult | Exception,
                 start_error: Exception | None = None) -> None:
        self.outcomes = list(outcomes)
        self.start_error = start_error
        self.started = self.closed = False

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.started = True

    async def send(self, payload: dict[str, Any]) -> SendResult:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def validate(self) -> SendResult:
        return SendResult("v", None, None, 200, None)

    async def limits(self) -> RateLimit | None:
        raise PushoverTransientError("no limits here")

    async def aclose(self) -> None:
        self.closed = True


def make_client(router: respx.MockRouter, url: str = URL) -> PushoverClient:
    return PushoverClient(url, TOKEN, USER, transport=httpx.MockTransport(router.async_handler))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    router = respx.MockRouter(using=None, assert_all_called=False)
    clock = Clock()
    client = make_client(router)
    sender = PushoverSender(LocalTransport(client), Breaker(threshold=3, window=300.0,
                                                            probe_interval=60.0), clock=clock)
    yield Rig(router, clock, sender)
    await sender.aclose()


@pytest.fixture
async def proxied() -> AsyncIterator[Rig]:
    """A sender whose messages URL is not ``.../messages.json`` (a proxy): it cannot call
    users/validate or apps/limits, so its breaker probe is a send."""
    router = respx.MockRouter(using=None, assert_all_called=False)
    clock = Clock()
    url = "https://proxy.test/pushover"
    client = make_client(router, url)
    sender = PushoverSender(LocalTransport(client), Breaker(threshold=3, probe_interval=60.0),
                            clock=clock)
    yield Rig(router, clock, sender, url)
    await sender.aclose()


# --- 2xx: sent; the request id, any info and the quota kept ------------------------------------

@pytest.mark.parametrize("status", [200, 202])
async def test_2xx_is_sent_with_pushovers_request_id_info_and_quota(rig: Rig, status: int) -> None:
    route = rig.answer(status, headers=limit_headers(),
                       json={"status": 1, "request": "req-1", "info": "no active devices"})
    assert await rig.sender.send(PAYLOAD) == Sent("req-1", "no active devices")
    form = dict(parse_qsl(route.calls.last.request.content.decode()))
    assert form == {"token": TOKEN, "user": USER, "message": "disk full", "priority": "1"}
    assert rig.sender.limits == RateLimit(10000, 7496, RESET)
    assert rig.sender.last_success_at == T0


async def test_the_last_quota_figures_are_kept_from_successes_and_failures(rig: Rig) -> None:
    rig.answer(200, headers=limit_headers(7496))
    await rig.sender.send(PAYLOAD)
    rig.answer(200)  # an answer without the headers keeps the last figures
    await rig.sender.send(PAYLOAD)
    assert rig.sender.status(T0)["rate_limit"] == {
        "limit": 10000, "remaining": 7496, "reset": RESET_TEXT}
    rig.answer(503, headers=limit_headers(7000))
    await rig.verdict()
    assert rig.sender.limits == RateLimit(10000, 7000, RESET)
    rig.answer(400, headers=limit_headers(6999))
    await rig.verdict()
    assert rig.sender.limits == RateLimit(10000, 6999, RESET)


async def test_an_unreadable_stored_payload_is_not_a_delivery_failure(rig: Rig) -> None:
    # The worker dead-letters it as an invalid payload; nothing is sent.
    with pytest.raises(ValueError, match="message"):
        await rig.sender.send({"priority": 1})
    assert rig.router.calls.call_count == 0


# --- connection error, timeout, 5xx: retry with backoff; pause Pushover for 5 s ----------------

@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_with_backoff_and_pauses_pushover_5_seconds(rig: Rig,
                                                                         status: int) -> None:
    rig.answer(status)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)
    assert str(failed) == f"failed to understand Pushover response. code: {status} content: nope"


@pytest.mark.parametrize("error", [
    httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout,
    httpx.PoolTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError,
], ids=lambda e: e.__name__)
async def test_a_transport_failure_is_retried_with_a_5_second_pause(
        rig: Rig, error: type[httpx.TransportError]) -> None:
    rig.router.post(URL).mock(side_effect=error("boom"))
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)
    assert str(failed).startswith("Pushover ") and error.__name__ in str(failed)


async def test_an_unclassified_pushover_error_is_retried_not_dropped() -> None:
    # Changed from the old policy (which dead-lettered a bare PushoverError): the sender
    # treats anything that is neither a 429 nor a 4xx as Pushover's side, as the client
    # does for the statuses it does not expect.
    transport = ScriptedTransport(PushoverError("something unclassified"))
    sender = PushoverSender(transport, clock=Clock())
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(PAYLOAD)
    assert (failed.value.retry, failed.value.retry_at, failed.value.pause_until) == (
        True, None, T0 + 5.0)


# --- 429 with a usable reset: retry at the reset; pause Pushover until then -------------------

@pytest.mark.parametrize("reset", [RESET, int(T0) + 1, int(T0) + 32 * 86_400],
                         ids=["next-month", "in-a-second", "32-days"])
async def test_429_with_a_usable_reset_waits_for_it(rig: Rig, reset: int) -> None:
    rig.answer(429, json=OVER_QUOTA, headers=limit_headers(0, reset))
    limits = rig.limits_answer(limit=10000, remaining=0, reset=RESET)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, reset, reset)
    assert str(failed).startswith("failed to understand Pushover response. code: 429 content: "
                                  "application has exceeded its monthly message limit "
                                  "(rate limited until ")
    assert not limits.called  # the answer said when: nothing to ask


async def test_429_until_next_month_names_the_reset(rig: Rig) -> None:
    rig.answer(429, json=OVER_QUOTA, headers=limit_headers(0, RESET))
    assert str(await rig.verdict()).endswith(f"(rate limited until {RESET_TEXT})")
    assert rig.sender.status(T0)["rate_limit"] == {"limit": 10000, "remaining": 0,
                                                  "reset": RESET_TEXT}


# --- 429 without a usable reset: ask apps/limits.json; else retry with backoff --------------

NO_USABLE_RESET = {
    "absent": None, "zero": "0", "garbage": "soon", "past": str(int(T0) - 60),
    "now": str(int(T0)), "beyond-32-days": str(int(T0) + 33 * 86_400)}


@pytest.mark.parametrize("header", NO_USABLE_RESET.values(), ids=NO_USABLE_RESET.keys())
async def test_429_without_a_usable_reset_and_quota_left_backs_off(rig: Rig,
                                                                   header: str | None) -> None:
    # The defect this fixes: such a 429 paused all sending for an hour.
    rig.answer(429, json=OVER_QUOTA,
               headers=None if header is None else {"X-Limit-App-Reset": header})
    limits = rig.limits_answer(limit=10000, remaining=120, reset=RESET)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)
    assert str(failed).endswith("(no usable reset time: retrying with backoff)")
    [query] = limits.calls
    assert query.request.url.params["token"] == TOKEN
    assert rig.sender.limits == RateLimit(10000, 120, RESET)  # what limits.json said


@pytest.mark.parametrize("header", NO_USABLE_RESET.values(), ids=NO_USABLE_RESET.keys())
async def test_429_without_a_usable_reset_waits_for_the_reset_limits_json_reports(
        rig: Rig, header: str | None) -> None:
    rig.answer(429, json=OVER_QUOTA,
               headers=None if header is None else {"X-Limit-App-Reset": header})
    rig.limits_answer(limit=10000, remaining=0, reset=RESET)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, RESET, RESET)
    assert str(failed).endswith(f"(rate limited until {RESET_TEXT})")


@pytest.mark.parametrize("figures", [
    {"limit": 10000, "remaining": 0, "reset": int(T0) - 1},   # spent, but the reset is past
    {"limit": 10000, "remaining": 0},                         # spent, no reset given
    {"limit": 10000, "remaining": 0, "reset": "soon"},        # not a number
], ids=["stale-reset", "no-reset", "garbage-reset"])
async def test_429_backs_off_when_limits_json_gives_no_usable_reset_either(
        rig: Rig, figures: dict[str, Any]) -> None:
    rig.answer(429, json=OVER_QUOTA, headers={"X-Limit-App-Reset": "0"})
    rig.limits_answer(**figures)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)


async def test_429_backs_off_when_limits_json_cannot_be_read(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.answer(429, json=OVER_QUOTA, headers={"X-Limit-App-Reset": "0"})
    rig.router.get(host=HOST, path="/1/apps/limits.json").mock(
        side_effect=httpx.ConnectError("boom"))
    with caplog.at_level(logging.WARNING, logger="pushoverd"):
        failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)
    assert any("could not read Pushover's quota figures" in r.getMessage()
               for r in caplog.records)


async def test_429_behind_a_proxy_url_backs_off_without_asking(proxied: Rig) -> None:
    proxied.answer(429, json=OVER_QUOTA)
    failed = await proxied.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, None, T0 + 5.0)
    assert proxied.router.calls.call_count == 1


async def test_429s_do_not_count_towards_the_breaker(rig: Rig) -> None:
    rig.answer(429, json=OVER_QUOTA, headers={"X-Limit-App-Reset": "0"})
    rig.limits_answer(limit=10000, remaining=5, reset=RESET)
    for _ in range(5):
        await rig.verdict()
    rig.answer(503)
    for _ in range(5):
        await rig.verdict()
    assert not rig.sender.breaker.open


# --- other 4xx: dead; counts toward the breaker; a refused own key is held 10 minutes ---------

@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
async def test_4xx_is_dead_at_once_with_pushovers_errors(rig: Rig, status: int) -> None:
    rig.answer(status)
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (False, None, None)
    assert str(failed) == f"failed to understand Pushover response. code: {status} content: nope"


async def test_a_burst_of_4xx_opens_the_breaker_and_pauses_until_the_probe(rig: Rig) -> None:
    rig.answer(401)
    rig.clock.now = T0
    assert (await rig.verdict()).pause_until is None
    rig.clock.now = T0 + 100
    assert (await rig.verdict()).pause_until is None
    rig.clock.now = T0 + 299
    third = await rig.verdict()
    assert (third.retry, third.pause_until) == (False, T0 + 299 + 60.0)
    assert rig.sender.breaker.open


async def test_a_handlers_refused_user_key_is_held_back_for_ten_minutes(rig: Rig) -> None:
    rejected = rig.answer(400, json={"status": 0, "request": "r", "user": "invalid",
                                     "errors": [BAD_USER]})
    first = await rig.verdict(OWN_PAYLOAD)
    assert first.retry is False and BAD_USER in str(first)
    rig.clock.now = T0 + 599
    held = await rig.verdict(OWN_PAYLOAD)
    assert (held.retry, held.retry_at, held.pause_until) == (False, None, None)
    assert str(held).startswith("not sent: Pushover refused this handler's user key")
    assert OWN_KEY not in str(held)
    assert rejected.call_count == 1 and rig.sender.status(T0 + 599)["refused_user_keys"] == 1
    # Deliveries to other keys still go; and after the hold the key is tried again.
    rig.answer(200)
    await rig.sender.send(PAYLOAD)
    rig.clock.now = T0 + 600
    await rig.sender.send(OWN_PAYLOAD)
    assert rig.messages_sent == 3


async def test_a_refused_default_key_is_left_to_the_breaker(rig: Rig) -> None:
    # No user in the payload: the configured key was refused; holding it back would silently
    # drop every alert, so the breaker decides.
    route = rig.answer(400, json={"status": 0, "request": "r", "user": "invalid",
                                  "errors": [BAD_USER]})
    await rig.verdict(PAYLOAD)
    await rig.verdict(PAYLOAD)
    assert route.call_count == 2 and rig.sender.status(T0)["refused_user_keys"] == 0


async def test_a_token_refusal_does_not_hold_the_handlers_key(rig: Rig) -> None:
    route = rig.answer(401, json={"status": 0, "request": "r", "token": "invalid",
                                  "errors": ["application token is invalid"]})
    await rig.verdict(OWN_PAYLOAD)
    await rig.verdict(OWN_PAYLOAD)
    assert route.call_count == 2


# --- the open breaker: nothing sent; a probe per interval -------------------------------------

async def test_an_open_breaker_holds_every_send_until_the_probe(rig: Rig) -> None:
    await rig.open_breaker()
    calls = rig.router.calls.call_count
    rig.clock.now = T0 + 59.9
    held = await rig.verdict()
    assert (held.retry, held.retry_at, held.pause_until) == (True, T0 + 60.0, T0 + 60.0)
    assert str(held).startswith("not sent: 3 requests rejected by Pushover within 300s")
    assert rig.router.calls.call_count == calls


async def test_the_probe_checks_the_credentials_then_sends(rig: Rig) -> None:
    await rig.open_breaker()
    messages = rig.messages_sent
    validate = rig.validate_answer()
    rig.answer(200)
    rig.clock.now = T0 + 60
    assert await rig.sender.send(PAYLOAD) == Sent("req-1", None)
    form = dict(parse_qsl(validate.calls.last.request.content.decode()))
    assert form == {"token": TOKEN, "user": USER}
    assert rig.messages_sent == messages + 1 and not rig.sender.breaker.open
    assert rig.sender.status(T0 + 60)["breaker"] == {"open": False, "reason": None,
                                                     "next_probe": None}


async def test_a_failed_probe_spends_no_message_and_waits_for_the_next(rig: Rig) -> None:
    await rig.open_breaker()
    messages = rig.messages_sent
    rig.validate_answer(401, json={"status": 0, "request": "v", "token": "invalid",
                                   "errors": ["application token is invalid"]})
    rig.clock.now = T0 + 60
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, T0 + 120, T0 + 120)
    assert str(failed).startswith("not sent: breaker probe failed: ")
    assert rig.messages_sent == messages and rig.sender.breaker.open
    rig.clock.now = T0 + 119.9
    assert (await rig.verdict()).retry_at == T0 + 120  # held, no second probe
    assert len(rig.router.calls) == messages + 1


async def test_behind_a_proxy_url_the_probe_is_the_send(proxied: Rig) -> None:
    await proxied.open_breaker()
    proxied.answer(200)
    proxied.clock.now = T0 + 60
    assert await proxied.sender.send(PAYLOAD) == Sent("req-1", None)
    assert not proxied.sender.breaker.open


async def test_an_outage_during_the_probe_keeps_the_breaker_and_the_probe_interval(
        rig: Rig) -> None:
    # The probe decides when sending resumes; an outage meanwhile does not bring it forward.
    await rig.open_breaker()
    rig.validate_answer()
    rig.answer(503)
    rig.clock.now = T0 + 60
    failed = await rig.verdict()
    assert (failed.retry, failed.pause_until) == (True, T0 + 65)
    assert not rig.sender.breaker.open  # the credentials were accepted


async def test_an_outage_during_a_send_probe_holds_until_the_next_probe(proxied: Rig) -> None:
    # Behind a proxy the send is the probe, and a 503 proves nothing about the credentials.
    await proxied.open_breaker()
    proxied.answer(503)
    proxied.clock.now = T0 + 60
    assert (await proxied.verdict()).pause_until == T0 + 65
    assert proxied.sender.breaker.open
    proxied.clock.now = T0 + 66
    held = await proxied.verdict()
    assert (held.retry_at, held.pause_until) == (T0 + 120, T0 + 120)


# --- a spent quota is not tried again before its reset ----------------------------------------

@pytest.mark.parametrize(("remaining", "reset", "held"), [
    (0, RESET, True),
    (0, int(T0) - 1, False),  # the reset has passed: the figures are stale
    (0, None, False),
    (1, RESET, False),
    (None, RESET, False),
])
async def test_a_success_with_no_quota_left_holds_sends_until_the_reset(
        rig: Rig, remaining: int | None, reset: int | None, held: bool) -> None:
    headers = {"X-Limit-App-Limit": "10000"}
    headers |= {} if remaining is None else {"X-Limit-App-Remaining": str(remaining)}
    headers |= {} if reset is None else {"X-Limit-App-Reset": str(reset)}
    route = rig.answer(200, headers=headers)
    await rig.sender.send(PAYLOAD)
    rig.clock.now = T0 + 60
    if not held:
        await rig.sender.send(PAYLOAD)
        assert route.call_count == 2
        return
    failed = await rig.verdict()
    assert (failed.retry, failed.retry_at, failed.pause_until) == (True, RESET, RESET)
    assert str(failed) == f"not sent: Pushover message quota exhausted until {RESET_TEXT}"
    assert route.call_count == 1
    rig.clock.now = RESET
    await rig.sender.send(PAYLOAD)
    assert route.call_count == 2


# --- resume: probe at once, release held keys, retry a spent quota ---------------------------

async def test_resume_probes_an_open_breaker_at_once(rig: Rig) -> None:
    await rig.open_breaker()
    validate = rig.validate_answer()
    rig.answer(200)
    rig.clock.now = T0 + 1  # long before the probe interval
    rig.sender.resume(rig.clock())
    await rig.sender.send(PAYLOAD)
    assert validate.call_count == 1 and not rig.sender.breaker.open


async def test_resume_releases_refused_keys(rig: Rig) -> None:
    rig.answer(400, json={"status": 0, "request": "r", "user": "invalid", "errors": [BAD_USER]})
    await rig.verdict(OWN_PAYLOAD)
    rig.sender.resume(T0)
    assert rig.sender.status(T0)["refused_user_keys"] == 0
    rig.answer(200)
    await rig.sender.send(OWN_PAYLOAD)
    assert rig.messages_sent == 2


async def test_resume_tries_a_spent_quota_again(rig: Rig) -> None:
    rig.answer(200, headers=limit_headers(0, RESET))
    await rig.sender.send(PAYLOAD)
    await rig.verdict()  # held
    rig.sender.resume(T0)
    assert rig.sender.limits == RateLimit(10000, None, RESET)
    rig.answer(200, headers=limit_headers(4999, RESET))  # the operator raised the quota
    await rig.sender.send(PAYLOAD)
    assert rig.sender.limits == RateLimit(10000, 4999, RESET)


async def test_resume_with_nothing_held_changes_nothing(rig: Rig) -> None:
    before = rig.sender.status(T0)
    rig.sender.resume(T0)
    assert rig.sender.status(T0) == before and rig.sender.limits is None


# --- status -----------------------------------------------------------------------------------

async def test_a_fresh_sender_reports_nothing_held(rig: Rig) -> None:
    assert rig.sender.status(T0) == {
        "breaker": {"open": False, "reason": None, "next_probe": None},
        "rate_limit": None, "last_success": None, "refused_user_keys": 0,
    }


async def test_status_after_a_success_and_an_open_breaker(rig: Rig) -> None:
    rig.answer(200, headers=limit_headers(7496))
    await rig.sender.send(PAYLOAD)
    rig.clock.now = T0 + 6
    await rig.open_breaker()
    status = rig.sender.status(T0 + 6)
    assert status["last_success"] == "2025-06-15T15:06:40Z"
    assert status["breaker"]["open"] is True
    assert status["breaker"]["next_probe"] == "2025-06-15T15:07:46Z"  # T0 + 6 + 60
    assert status["rate_limit"] == {"limit": 10000, "remaining": 7496, "reset": RESET_TEXT}


async def test_status_carries_no_secrets(rig: Rig) -> None:
    # A 401 whose body echoes the token and the keys, through the real client.
    echo = {"status": 0, "request": "r", "token": "invalid", "user": "invalid",
            "errors": [f"application token {TOKEN} is invalid for user {USER} or {OWN_KEY}"]}
    rig.answer(401, json=echo)
    for _ in range(3):
        failed = await rig.verdict(OWN_PAYLOAD)
        assert TOKEN not in str(failed) and USER not in str(failed) and OWN_KEY not in str(failed)
    text = json.dumps(rig.sender.status(T0))
    assert rig.sender.breaker.open and "[REDACTED]" in text
    assert TOKEN not in text and USER not in text and OWN_KEY not in text


# --- the transport's life ---------------------------------------------------------------------

async def test_start_and_aclose_reach_the_transport() -> None:
    transport = ScriptedTransport(SendResult("req-9", "queued", None, 200, None))
    sender = PushoverSender(transport, clock=Clock())
    await sender.start()
    assert transport.started and await sender.send(PAYLOAD) == Sent("req-9", "queued")
    await sender.aclose()
    assert transport.closed


async def test_a_transport_that_cannot_start_is_logged_and_the_first_send_tries_again(
        caplog: pytest.LogCaptureFixture) -> None:
    # Alerts are still stored and acknowledged; the daemon must not refuse to start for it.
    transport = ScriptedTransport(SendResult("req-1", None, None, 200, None),
                                  start_error=PushoverTransientError("child did not answer"))
    sender = PushoverSender(transport, clock=Clock())
    with caplog.at_level(logging.ERROR, logger="pushoverd"):
        await sender.start()
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "child did not answer" in record.getMessage()
    assert await sender.send(PAYLOAD) == Sent("req-1", None)
