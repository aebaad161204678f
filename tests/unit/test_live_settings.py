"""What the config API changes reaches the parts that use it without a restart: the pushover
kind and service test read ``enabled`` when asked, callbacks are keyed by the current token,
the in-process client sends with new credentials, endpoints resolve with basic auth, and the
log redacts secrets set at run time."""

from __future__ import annotations

import io
import logging

import httpx
import respx
from tests.conftest import TOKEN, USER

from pushoverd import logs
from pushoverd.app import build_kinds, endpoint_lookup
from pushoverd.config import Config
from pushoverd.handlers.pushover import LocalTransport, PushoverKind, PushoverServiceTest
from pushoverd.handlers.pushover.callback import Callbacks
from pushoverd.handlers.pushover.servicetest import ServiceTestOptions
from pushoverd.models import HandlerSpec
from pushoverd.pushover.client import PushoverClient
from pushoverd.settings import LiveSettings

URL = "https://api.pushover.net/1/messages.json"
OTHER_URL = "https://pushover.internal.example/1/messages.json"
NEW_TOKEN = "bQ7newTokenForTheOverrideApi30"


def live(**pushover: object) -> LiveSettings:
    return LiveSettings(Config.model_validate({"pushover": pushover}))


async def test_kind_and_service_test_read_enabled_when_asked() -> None:
    settings = live(enabled=False)
    kind = PushoverKind(settings.pushover_enabled)
    assert kind.disabled_reason == "service is not enabled"
    await settings.replace(Config.model_validate(
        {"pushover": {"enabled": True, "token": TOKEN, "user-key": USER}}))
    assert kind.disabled_reason is None
    test = PushoverServiceTest(LocalTransport(PushoverClient(URL, TOKEN, USER)),
                               settings.pushover_enabled)
    await settings.replace(Config())
    assert await test.run("pushover", ServiceTestOptions()) == (False, "service is not enabled")


async def test_listeners_hear_old_and_new() -> None:
    settings, heard = live(), []

    async def listener(old: Config, new: Config) -> None:
        heard.append((old.pushover.url, new.pushover.url))

    settings.on_change(listener)
    await settings.replace(Config.model_validate({"pushover": {"url": OTHER_URL}}))
    assert heard == [(URL, OTHER_URL)]


def test_callbacks_are_keyed_by_the_current_token() -> None:
    token = [TOKEN]
    callbacks = Callbacks("https://alerts.example.com", lambda: token[0])
    first = callbacks.url("cpu", "h", "e", "CRITICAL", 1)
    token[0] = NEW_TOKEN
    assert callbacks.url("cpu", "h", "e", "CRITICAL", 1) != first
    token[0] = ""
    assert callbacks.url("cpu", "h", "e", "CRITICAL", 1) == ""


@respx.mock
async def test_local_transport_sends_with_new_credentials() -> None:
    route = respx.post(OTHER_URL).mock(return_value=httpx.Response(200, json={"status": 1}))
    transport = LocalTransport(PushoverClient(URL, TOKEN, USER,
                                              transport=httpx.AsyncHTTPTransport()))
    try:
        await transport.reconfigure(OTHER_URL, NEW_TOKEN, USER)
        await transport.send({"message": "hi", "priority": 0})
    finally:
        await transport.aclose()
    assert f"token={NEW_TOKEN}" in route.calls.last.request.content.decode()


async def test_endpoints_resolve_with_basic_auth_and_follow_changes() -> None:
    settings = LiveSettings(Config.model_validate({"httppost": [
        {"endpoint": "hooks", "url": "http://hooks.example/a", "headers": {"X-A": "1"},
         "basic-auth": {"username": "u", "password": "p"}}]}))
    lookup = endpoint_lookup(settings)
    found = lookup("hooks")
    assert found is not None and found.url == "http://hooks.example/a"
    assert dict(found.headers) == {"Authorization": "Basic dTpw", "X-A": "1"}
    await settings.replace(Config())
    assert lookup("hooks") is None


async def test_post_handlers_compile_against_the_live_endpoints() -> None:
    settings = live()
    kinds = build_kinds(settings.config, settings)
    spec = HandlerSpec("cpu", "relay", "post", {"endpoint": "hooks"})
    await settings.replace(Config.model_validate(
        {"httppost": [{"endpoint": "hooks", "url": "http://hooks.example/a"}]}))
    assert kinds.compile(spec).spec is spec


def test_secrets_set_at_run_time_are_redacted_from_the_log() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.LogfmtFormatter([TOKEN]))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logs.redact_also([NEW_TOKEN])
        logging.getLogger("pushoverd.test").warning("old %s new %s", TOKEN, NEW_TOKEN)
    finally:
        root.removeHandler(handler)
    line = stream.getvalue()
    assert TOKEN not in line and NEW_TOKEN not in line and line.count("[REDACTED]") == 2
