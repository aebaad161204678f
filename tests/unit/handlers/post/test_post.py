"""The post kind: Kapacitor's options and checks, the body Kapacitor's post handler sends,
and a sender that retries what a receiver may take later and dead-letters what it refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from pushoverd.errors import DeliveryFailed, ValidationError
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.post import Endpoint, PostKind, PostSender
from pushoverd.handlers.post.kind import merged_headers, safe_url
from pushoverd.models import Event, HandlerSpec, Level

EVENT = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL")
URL = "https://hooks.example.com/alerts"


def spec(**options: object) -> HandlerSpec:
    return HandlerSpec("cpu", "relay", "post", options=dict(options))


def test_each_alert_is_one_request_with_kapacitors_body() -> None:
    handler = PostKind().compile(spec(url=URL, headers={"Authorization": "Bearer t"},
                                      timeout="5s"))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload == {"url": URL, "headers": {"Authorization": "Bearer t"}, "timeout": 5.0,
                           "verify": True, "body": alert_json(EVENT).decode()}


@pytest.mark.parametrize(("options", "error"), [
    ({}, "An appropriately formatted url must be specified if an endpoint is not specified"),
    ({"url": "ftp://x/y"}, "invalid url 'ftp://x/y': must be an http or https URL"),
    ({"url": "http://user:pw@/p?token=s"}, "invalid url 'http:///p'"),
    ({"endpoint": "recorder"}, 'unknown endpoint "recorder": no [[httppost]] section has'),
    ({"url": URL, "headers": {"X": 1}}, "'headers.X' "),
    ({"url": URL, "timeout": "soon"}, "'timeout' "),
    ({"url": URL, "bogus": 1}, "'' has invalid keys: bogus"),
    ({"url": URL, "timeout": "31s"}, "'timeout' must be at most 30s"),
    ({"url": URL, "timeout": True}, "'timeout' "),
    ({"url": URL, "timeout": 2**64}, "'timeout' is longer than a Go duration"),
])
def test_options_are_checked_when_the_handler_is_defined(options: dict[str, object],
                                                         error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PostKind().compile(spec(**options))
    assert error in str(refused.value)
    assert "pw" not in str(refused.value) and "token=s" not in str(refused.value)


def test_kapacitors_other_options_are_accepted() -> None:
    handler = PostKind().compile(spec(url=URL, **{"capture-response": True,
                                                  "skip-ssl-verification": True}))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["verify"] is False and out.payload["timeout"] == 30.0


def test_headers_are_a_secret_option() -> None:
    assert PostKind().secret_options == {"headers"}


def test_readdress_sends_a_requeued_body_to_the_current_url() -> None:
    handler = PostKind().compile(spec(url="http://new.example/x"))
    old = {"url": "http://old.example/x", "headers": {}, "timeout": 30.0, "verify": True,
           "body": "{}\n"}
    assert handler.readdress(old)["url"] == "http://new.example/x"
    assert handler.readdress(old)["body"] == "{}\n"


def test_messages_show_urls_without_credentials_or_query() -> None:
    assert safe_url("https://u:p@h.example:8443/a/b?key=s") == "https://h.example:8443/a/b"


def payload(**extra: Any) -> dict[str, Any]:
    return {"url": URL, "headers": {"X-Token": "t"}, "timeout": 2.0, "verify": True,
            "body": '{"id":"a"}\n', **extra}


@respx.mock
async def test_the_body_is_posted_as_json_with_the_handlers_headers() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    sender = PostSender()
    try:
        await sender.send(payload())
    finally:
        await sender.aclose()
    sent = route.calls.last.request
    assert sent.content == b'{"id":"a"}\n'
    assert (sent.headers["Content-Type"], sent.headers["X-Token"]) == ("application/json", "t")
    assert sender.status(0.0) == {"sent": 1}


@pytest.mark.parametrize(("answer", "retry"), [
    (httpx.Response(500), True), (httpx.Response(503), True), (httpx.Response(429), True),
    (httpx.Response(400), False), (httpx.Response(404), False),
    (httpx.ConnectError("refused"), True), (httpx.ReadTimeout("slow"), True),
])
@respx.mock
async def test_failures_are_retried_unless_the_receiver_refused_the_body(
        answer: httpx.Response | Exception, retry: bool) -> None:
    respx.post(URL).mock(side_effect=[answer])
    sender = PostSender()
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(payload(url=URL + "?key=secret"))
    finally:
        await sender.aclose()
    assert failed.value.retry is retry
    assert str(failed.value).startswith(f"POST {URL} ")
    assert "secret" not in str(failed.value)


# [[httppost]] endpoints -----------------------------------------------------------------------

ENDPOINTS = {"hooks": Endpoint("https://hooks.example.com/from-endpoint",
                               {"Authorization": "Basic dTpw", "X-Team": "ops"})}


def with_endpoints(endpoints: dict[str, Endpoint]) -> PostKind:
    return PostKind(endpoints=endpoints.get)


def test_an_endpoint_gives_its_url_and_headers_and_the_handlers_headers_win() -> None:
    handler = with_endpoints(ENDPOINTS).compile(spec(endpoint="hooks", headers={
        "x-team": "db", "X-Extra": "1"}))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["url"] == "https://hooks.example.com/from-endpoint"
    assert out.payload["headers"] == {"Authorization": "Basic dTpw", "x-team": "db",
                                      "X-Extra": "1"}
    assert out.payload["endpoint"] == "hooks"


def test_a_known_endpoint_wins_over_the_handlers_url_as_in_kapacitor() -> None:
    handler = with_endpoints(ENDPOINTS).compile(spec(endpoint="hooks", url=URL))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["url"] == "https://hooks.example.com/from-endpoint"


def test_an_unknown_endpoint_falls_back_to_the_handlers_url() -> None:
    handler = with_endpoints(ENDPOINTS).compile(spec(endpoint="nope", url=URL))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["url"] == URL and out.payload["headers"] == {}


def test_the_endpoint_is_read_when_an_alert_is_planned_not_when_defined() -> None:
    endpoints = dict(ENDPOINTS)
    handler = with_endpoints(endpoints).compile(spec(endpoint="hooks"))
    endpoints["hooks"] = Endpoint("https://moved.example.com/x", {})
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["url"] == "https://moved.example.com/x"
    del endpoints["hooks"]
    [gone] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert gone.payload["url"] == ""


async def test_a_delivery_whose_endpoint_was_removed_is_dead_lettered() -> None:
    sender = PostSender()
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send({"url": "", "endpoint": "hooks", "headers": {}, "body": "{}"})
        assert failed.value.retry is False
        assert 'endpoint "hooks" does not exist any more' in str(failed.value)
    finally:
        await sender.aclose()


def test_headers_merge_case_insensitively() -> None:
    assert merged_headers({"A": "1", "b": "2"}, {"a": "3"}) == {"b": "2", "a": "3"}
