"""Handler options that can never work are refused when the handler is defined (HTTP 400
naming the option), not at send time; the refusal never echoes a user key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.conftest import OTHER_USER
from tests.wiring import wire

from pushoverd.store.sqlite import SQLiteStore

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    store = SQLiteStore(tmp_path / "pushoverd.db")
    await store.open()
    try:
        async with TestClient(TestServer((await wire(store)).app, host="127.0.0.1")) as c:
            yield c
    finally:
        await store.close()


@pytest.mark.parametrize(("options", "named", "words"), [
    ({"user-key": "short"}, "'user-key'", "must be a Pushover user or group key"),
    ({"user-key": "x" * 29}, "'user-key'", "30 letters and digits"),
    ({"user-key": f"{OTHER_USER},bad-key"}, "'user-key'", "30 letters and digits"),
    ({"device": "my phone"}, "'device'", "'my phone' is not a Pushover device name"),
    ({"device": "d" * 26}, "'device'", "up to 25 letters"),
])
async def test_an_option_that_can_never_work_is_a_400_naming_it(
        client: TestClient, options: dict[str, str], named: str, words: str) -> None:
    answer = await client.post(HANDLERS, json={"id": "h", "kind": "pushover",
                                               "options": options})
    body = await answer.json()
    assert answer.status == 400
    assert named in body["error"] and words in body["error"]
    assert options.get("user-key", "\0") not in body["error"]
    listed = await (await client.get(HANDLERS)).json()
    assert listed["handlers"] == []


async def test_a_patch_to_a_bad_key_is_refused_and_the_handler_kept(client: TestClient) -> None:
    created = await client.post(HANDLERS, json={"id": "h", "kind": "pushover",
                                                "options": {"user-key": OTHER_USER}})
    assert created.status == 200
    answer = await client.patch(f"{HANDLERS}/h", json=[
        {"op": "replace", "path": "/options/user-key", "value": "short"}])
    assert answer.status == 400 and "'user-key'" in (await answer.json())["error"]
    assert (await (await client.get(f"{HANDLERS}/h")).json())["options"] == {
        "user-key": "[REDACTED]"}


async def test_sound_names_beyond_the_built_in_ones_are_accepted(client: TestClient) -> None:
    answer = await client.post(HANDLERS, json={"id": "h", "kind": "pushover",
                                               "options": {"sound": "my_custom_sound"}})
    assert answer.status == 200
