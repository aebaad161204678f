"""``kapacitor service-tests pushover`` against us: Kapacitor's options, forms and answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.conftest import OTHER_USER
from tests.fakes.pushover import FakePushover
from tests.wiring import wire

from pushoverd.store.sqlite import SQLiteStore

DATA = Path(__file__).parent.parent.parent / "data"


def captured(name: str) -> list[dict[str, str]]:
    lines = (DATA / name).read_text().splitlines()
    return [dict(parse_qsl(json.loads(line)["body"], keep_blank_values=True)) for line in lines]


async def client_for(tmp_path: Path, url: str, enabled: bool = True) -> TestClient:
    store = SQLiteStore(tmp_path / "db")
    await store.open()
    app = (await wire(store, enabled=enabled, pushover_url=url, service_tests=True)).app

    async def close(_: object) -> None:
        await store.close()

    app.on_cleanup.append(close)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(tmp_path: Path, fake: FakePushover) -> AsyncIterator[TestClient]:
    api = await client_for(tmp_path, fake.url)
    yield api
    await api.close()


async def test_the_cli_sequence_sends_kapacitors_default_test_form(
        client: TestClient, fake: FakePushover) -> None:
    listed = await client.get("/kapacitor/v1/service-tests?pattern=pushover")
    href = (await listed.json())["services"][0]["link"]["href"]

    answer = await client.post(href, data=b"null\n")

    assert answer.status == 200
    assert await answer.read() == b'{"success":true,"message":""}\n'
    assert [r.form for r in fake.accepted] == captured("pushover_form_cli_service_tests.jsonl")


async def test_every_level_and_option_goes_out_as_kapacitor_sends_it(
        client: TestClient, fake: FakePushover) -> None:
    for level in ("OK", "INFO", "WARNING", "CRITICAL"):
        body = {"message": f"svc test {level}", "device": "dev1", "title": "T i t l e",
                "url": "http://example.com/a?b=c&d=e", "url-title": "Dash board",
                "sound": "siren", "level": level}
        answer = await client.post("/kapacitor/v1/service-tests/pushover", json=body)
        assert (await answer.json())["success"] is True

    assert [r.form for r in fake.accepted] == captured(
        "pushover_form_service_tests_all_levels.jsonl")


async def test_the_options_never_show_the_configured_user_key(client: TestClient) -> None:
    answer = await client.get("/kapacitor/v1/service-tests/pushover")

    assert await answer.read() == (
        b'{"link":{"rel":"self","href":"/kapacitor/v1/service-tests/pushover"},"name":"pushover",'
        b'"options":{"user-key":"","message":"test pushover message","device":"","title":"",'
        b'"url":"","url-title":"","sound":"","level":"CRITICAL"}}\n')


async def test_a_user_key_in_the_test_overrides_the_configured_one(
        client: TestClient, fake: FakePushover) -> None:
    body = {"user-key": OTHER_USER, "message": "hello", "level": "OK"}
    await client.post("/kapacitor/v1/service-tests/pushover", json=body)

    assert fake.accepted[0].form["user"] == OTHER_USER
    assert fake.accepted[0].form["priority"] == "-2"


async def test_pushovers_refusal_is_the_tests_message(
        client: TestClient, fake: FakePushover) -> None:
    fake.fail_next(1, status=400, body={
        "user": "invalid", "status": 0, "request": "5042",
        "errors": ["user identifier is not a valid user, group, or subscribed user key"]})

    answer = await client.post("/kapacitor/v1/service-tests/pushover", json={})

    assert answer.status == 200
    assert await answer.json() == {"success": False, "message": (
        "failed to understand Pushover response. code: 400 content: "
        "user identifier is not a valid user, group, or subscribed user key")}


async def test_a_disabled_service_says_so_and_sends_nothing(
        tmp_path: Path, fake: FakePushover) -> None:
    api = await client_for(tmp_path, fake.url, enabled=False)
    try:
        answer = await api.post("/kapacitor/v1/service-tests/pushover", json={})
        assert await answer.json() == {"success": False, "message": "service is not enabled"}
    finally:
        await api.close()
    assert fake.requests == []


@pytest.mark.parametrize(("body", "error"), [
    (b"", "failed to decode JSON body:EOF"),
    (b"{bad", "failed to decode JSON body:"),
    (b'{"message": 5}', "'message' must be a string"),
])
async def test_a_bad_body_is_a_400(client: TestClient, body: bytes, error: str) -> None:
    answer = await client.post("/kapacitor/v1/service-tests/pushover", data=body)

    assert answer.status == 400
    assert error in (await answer.json())["error"]


async def test_an_unknown_service_is_a_404(client: TestClient) -> None:
    for method in ("GET", "POST"):
        answer = await client.request(method, "/kapacitor/v1/service-tests/nope", data=b"{}")
        assert answer.status == 404
        assert (await answer.json())["error"] == 'service "nope" not found'


async def test_a_blank_message_is_refused_without_a_request(
        client: TestClient, fake: FakePushover) -> None:
    answer = await client.post("/kapacitor/v1/service-tests/pushover", json={"message": " "})

    assert (await answer.json())["success"] is False
    assert fake.requests == []
