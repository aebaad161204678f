"""PushoverClient against respx routes: the request sent and how every answer is classified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl

import aiohttp
import httpx
import pytest
import respx
from httpx_aiohttp import AiohttpTransport
from tests.conftest import OTHER_USER, TOKEN, USER

from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)
from pushoverd.pushover import Message, PushoverClient, RateLimit, SendResult, redact

URL = "https://api.pushover.test/1/messages.json"
LIMIT_HEADERS = {"X-Limit-App-Limit": "10000", "X-Limit-App-Remaining": "7496",
                 "X-Limit-App-Reset": "1393653600"}
BAD_USER = "user identifier is not a valid user, group, or subscribed user key"


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(using=None, assert_all_called=False)


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[PushoverClient]:
    transport = httpx.MockTransport(router.async_handler)
    async with PushoverClient(URL, TOKEN, USER, transport=transport) as c:
        yield c


def answer(router: respx.MockRouter, status: int, **kwargs: object) -> respx.Route:
    return router.post(URL).mock(return_value=httpx.Response(status, **kwargs))


async def test_success_returns_request_id_info_and_limits(client: PushoverClient,
                                                          router: respx.MockRouter) -> None:
    answer(router, 200, headers=LIMIT_HEADERS,
           json={"status": 1, "request": "req-1", "info": "no active devices to send to"})
    result = await client.send(Message("hi"))
    assert result == SendResult(request_id="req-1", info="no active devices to send to",
                                receipt=None, status_code=200,
                                limits=RateLimit(limit=10000, remaining=7496, reset=1393653600))


async def test_emergency_receipt_is_kept(client: PushoverClient,
                                         router: respx.MockRouter) -> None:
    answer(router, 200, json={"status": 1, "request": "r", "receipt": "R" * 30})
    result = await client.send(Message("hi"))
    assert result.receipt == "R" * 30
    assert result.limits is None


async def test_non_json_2xx_is_still_a_success(client: PushoverClient,
                                               router: respx.MockRouter) -> None:
    answer(router, 200, text="<html>ok</html>")
    result = await client.send(Message("hi"))
    assert (result.status_code, result.request_id, result.info) == (200, None, None)


async def test_quota_spent_on_a_2xx_is_still_a_success(client: PushoverClient,
                                                       router: respx.MockRouter) -> None:
    answer(router, 200, json={"status": 1, "request": "r"},
           headers={**LIMIT_HEADERS, "X-Limit-App-Remaining": "0"})
    result = await client.send(Message("hi"))
    assert result.limits is not None and result.limits.remaining == 0


async def test_request_is_a_sorted_form_with_the_expected_fields(
        client: PushoverClient, router: respx.MockRouter) -> None:
    route = answer(router, 200, json={"status": 1, "request": "r"})
    await client.send(Message("cpu is CRITICAL", priority=1, title="CPU", url_title="Open"))
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"].startswith("pushoverd/")
    assert parse_qsl(request.content.decode()) == [
        ("message", "cpu is CRITICAL"), ("priority", "1"), ("title", "CPU"),
        ("token", TOKEN), ("url_title", "Open"), ("user", USER)]


async def test_user_override_is_sent_instead_of_the_default(client: PushoverClient,
                                                            router: respx.MockRouter) -> None:
    route = answer(router, 200, json={"status": 1, "request": "r"})
    await client.send(Message("hi", user=OTHER_USER))
    assert dict(parse_qsl(route.calls.last.request.content.decode()))["user"] == OTHER_USER


async def test_400_is_rejected_with_the_invalid_param_and_kapacitor_text(
        client: PushoverClient, router: respx.MockRouter) -> None:
    answer(router, 400, headers=LIMIT_HEADERS, json={
        "user": "invalid", "errors": [BAD_USER, "message cannot be blank"], "status": 0,
        "request": "5042"})
    with pytest.raises(PushoverRejected) as caught:
        await client.send(Message("hi"))
    assert str(caught.value) == ("failed to understand Pushover response. code: 400 content: "
                                 f"{BAD_USER}, message cannot be blank")
    assert (caught.value.status, caught.value.param) == (400, "user")
    assert caught.value.limits == RateLimit(10000, 7496, 1393653600)


async def test_error_string_in_the_body_replaces_the_text(client: PushoverClient,
                                                          router: respx.MockRouter) -> None:
    answer(router, 403, json={"error": "application disabled", "errors": ["x"]})
    with pytest.raises(PushoverRejected, match=r"^application disabled$") as caught:
        await client.send(Message("hi"))
    assert caught.value.param is None


async def test_non_json_4xx_gives_a_short_clean_excerpt(client: PushoverClient,
                                                        router: respx.MockRouter) -> None:
    answer(router, 404, content=b"<html>\r\n<b>Not\x00Found</b>\n" + b"x" * 1000)
    with pytest.raises(PushoverRejected) as caught:
        await client.send(Message("hi"))
    text = str(caught.value)
    assert text.startswith("failed to understand Pushover response. code: 404 content: "
                           "<html> <b>Not Found</b> xxx")
    assert len(text) < 300
    assert "\n" not in text and "\x00" not in text
    assert caught.value.status == 404


async def test_429_is_rate_limited_until_the_reset(client: PushoverClient,
                                                   router: respx.MockRouter) -> None:
    answer(router, 429, headers={**LIMIT_HEADERS, "X-Limit-App-Remaining": "0"},
           json={"status": 0, "request": "r", "errors": ["over quota"]})
    with pytest.raises(PushoverRateLimited) as caught:
        await client.send(Message("hi"))
    assert caught.value.reset == 1393653600
    assert caught.value.status == 429
    assert "over quota" in str(caught.value)


async def test_429_without_headers_has_no_reset(client: PushoverClient,
                                                router: respx.MockRouter) -> None:
    answer(router, 429)
    with pytest.raises(PushoverRateLimited) as caught:
        await client.send(Message("hi"))
    assert caught.value.reset is None


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient(client: PushoverClient, router: respx.MockRouter,
                                status: int) -> None:
    answer(router, status, json={"status": 0, "errors": ["try later"]})
    with pytest.raises(PushoverTransientError, match=f"code: {status} content: try later"):
        await client.send(Message("hi"))


@pytest.mark.parametrize(("error", "kind"), [
    (httpx.ConnectTimeout("timed out"), "connect timeout"),
    (httpx.ReadTimeout("timed out"), "timeout"),
    (httpx.ConnectError("[Errno 111] Connection refused"), "connection failed"),
    (httpx.RemoteProtocolError("Server disconnected"), "connection closed"),
    (httpx.ReadError("reset by peer"), "read error"),
])
async def test_transport_failures_are_transient_and_name_the_host(
        client: PushoverClient, router: respx.MockRouter, error: Exception, kind: str) -> None:
    router.post(URL).mock(side_effect=error)
    with pytest.raises(PushoverTransientError) as caught:
        await client.send(Message("hi"))
    assert kind in str(caught.value)
    assert "api.pushover.test" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def aiohttp_failure(cause: Exception) -> httpx.ConnectTimeout:
    """What httpx-aiohttp raises for most aiohttp failures: a ConnectTimeout caused by it."""
    mapped = httpx.ConnectTimeout(str(cause))
    mapped.__cause__ = cause
    return mapped


@pytest.mark.parametrize(("error", "kind"), [
    (aiohttp_failure(aiohttp.ServerDisconnectedError()), "connection closed"),
    (aiohttp_failure(aiohttp.ServerTimeoutError("read")), "timeout"),
    (aiohttp_failure(aiohttp.ClientPayloadError("truncated")), "read error"),
])
async def test_failures_through_the_aiohttp_transport_are_named_by_their_cause(
        error: Exception, kind: str) -> None:
    class Failing(httpx.AsyncBaseTransport):  # respx would drop the exception's cause
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise error

    async with PushoverClient(URL, TOKEN, USER, transport=Failing()) as failing:
        with pytest.raises(PushoverTransientError) as caught:
            await failing.send(Message("hi"))
    assert f"Pushover {kind} (api.pushover.test)" in str(caught.value)


async def test_the_default_transport_is_aiohttps_pool_within_the_connection_cap() -> None:
    async with PushoverClient(URL, TOKEN, USER, max_connections=2) as c:
        transport = c._http._transport
        assert isinstance(transport, AiohttpTransport)
        assert transport.limits.max_connections == 2


def echoing(status: int, body: Callable[[str], dict[str, object]]) -> Callable[..., object]:
    """An upstream that echoes the whole form it received (token, user keys) in its answer."""
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body(request.content.decode()))
    return respond


def leak_in_transport_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"refused: {request.content.decode()}", request=request)


def text_echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(429, text=f"quota: {request.content.decode()}")


SECRET_PROVOCATIONS: list[Callable[[httpx.Request], object] | Exception] = [
    echoing(400, lambda form: {"errors": [form], "token": "invalid"}),
    echoing(401, lambda form: {"error": f"bad request {form}"}),
    echoing(500, lambda form: {"errors": form.split("&")}),
    text_echo,
    leak_in_transport_error,
    httpx.ReadTimeout("timed out"),
]


@pytest.mark.parametrize("provoke", SECRET_PROVOCATIONS)
@pytest.mark.parametrize("override", ["", OTHER_USER, f"{OTHER_USER},{USER}"])
async def test_secrets_never_appear_in_errors(client: PushoverClient,
                                              router: respx.MockRouter,
                                              provoke: Callable[..., object] | Exception,
                                              override: str) -> None:
    router.post(URL).mock(side_effect=provoke)
    with pytest.raises(PushoverError) as caught:
        await client.send(Message("hi", user=override))
    for shown in (str(caught.value), repr(caught.value), repr(client)):
        assert TOKEN not in shown and USER not in shown and OTHER_USER not in shown


async def test_debug_logs_hold_no_secrets(client: PushoverClient, router: respx.MockRouter,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="pushoverd.pushover")
    router.post(URL).mock(side_effect=[httpx.Response(200), httpx.ConnectError("no")])
    await client.send(Message("hi"))
    with pytest.raises(PushoverTransientError):
        await client.send(Message("hi"))
    assert caplog.records
    assert TOKEN not in caplog.text and USER not in caplog.text


async def test_never_more_than_two_requests_in_flight(client: PushoverClient,
                                                      router: respx.MockRouter) -> None:
    in_flight, peak, gate = 0, 0, asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await gate.wait()
        in_flight -= 1
        return httpx.Response(200, json={"status": 1, "request": "r"})

    router.post(URL).mock(side_effect=slow)
    sends = [asyncio.create_task(client.send(Message(f"m{i}"))) for i in range(10)]
    await asyncio.sleep(0.05)  # let every task reach the gate it can
    assert peak == 2
    gate.set()
    results = await asyncio.gather(*sends)
    assert len(results) == 10 and peak == 2


def test_rate_limit_headers_tolerate_garbage_and_absence() -> None:
    assert RateLimit.from_headers({}) is None
    assert RateLimit.from_headers({"x-limit-app-reset": "soon", "X-Limit-App-Limit": " 5 "}) \
        == RateLimit(limit=5, remaining=None, reset=None)


def test_redact_replaces_each_secret() -> None:
    assert redact(f"a {TOKEN} b {USER}", [TOKEN, USER, ""]) == "a [REDACTED] b [REDACTED]"
