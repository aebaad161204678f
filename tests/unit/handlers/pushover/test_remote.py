"""RemoteTransport: Pushover requests made from a child process. Results and errors cross over
intact, ``start()`` has the child ready before the first alert, and a dead child is replaced."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.conftest import TOKEN, USER
from tests.fakes.pushover import FakePushover

from pushoverd import logs
from pushoverd.errors import PushoverRateLimited, PushoverRejected, PushoverTransientError
from pushoverd.handlers.pushover import RemoteTransport
from pushoverd.pushover import RateLimit
from pushoverd.pushover.message import Message


@pytest.fixture
async def transport(fake: FakePushover) -> AsyncIterator[RemoteTransport]:
    remote = RemoteTransport(fake.url, TOKEN, USER, timeout=2.0, max_connections=2,
                          log_level="ERROR", log_file="STDERR", secrets=[TOKEN, USER])
    yield remote
    await remote.aclose()


def payload(text: str) -> dict[str, object]:
    return Message.build(message=text, priority=1, title="T", timestamp=1700000000).to_dict()


async def test_a_send_goes_out_from_the_child_with_the_stored_form(
        transport: RemoteTransport, fake: FakePushover) -> None:
    result = await transport.send(payload("disk full"))

    [received] = fake.accepted
    assert received.form == {"message": "disk full", "priority": "1", "title": "T",
                             "timestamp": "1700000000", "token": TOKEN, "user": USER}
    assert result.request_id and result.status_code == 200
    assert result.limits is not None and result.limits.limit == 10000


async def test_pushovers_refusals_come_back_as_the_same_errors(
        transport: RemoteTransport, fake: FakePushover) -> None:
    fake.fail_next(1, 400, body={"status": 0, "user": "invalid", "errors": ["bad user"]})
    with pytest.raises(PushoverRejected) as rejected:
        await transport.send(payload("a"))
    assert rejected.value.param == "user" and "bad user" in str(rejected.value)

    fake.fail_next(1, 429, headers={"X-Limit-App-Reset": "1900000000"})
    with pytest.raises(PushoverRateLimited) as limited:
        await transport.send(payload("b"))
    assert limited.value.reset == 1900000000

    fake.fail_next(1, 503)
    with pytest.raises(PushoverTransientError):
        await transport.send(payload("c"))


async def test_an_unreadable_payload_is_a_value_error(transport: RemoteTransport) -> None:
    with pytest.raises(ValueError, match="message"):
        await transport.send({"priority": 1})


async def test_the_probe_validates_without_sending(
        transport: RemoteTransport, fake: FakePushover) -> None:
    assert transport.can_validate
    await transport.validate()
    assert len(fake.validations) == 1 and fake.accepted == []


async def test_a_killed_child_fails_its_send_as_transient_and_is_replaced(
        transport: RemoteTransport, fake: FakePushover) -> None:
    await transport.send(payload("first"))
    first_child = transport.pid
    assert first_child is not None
    fake.hang_next(1, 5.0)
    task = asyncio.ensure_future(transport.send(payload("in flight")))
    await asyncio.sleep(0.3)
    os.kill(first_child, signal.SIGKILL)

    with pytest.raises(PushoverTransientError, match="exited"):
        await task
    await transport.send(payload("after"))
    assert [r.form["message"] for r in fake.accepted][-1] == "after"
    assert transport.pid not in (None, first_child)


async def test_start_makes_the_child_ready_so_the_first_send_does_not_pay_the_spawn(
        transport: RemoteTransport, fake: FakePushover) -> None:
    assert transport.pid is None
    began = time.monotonic()
    await transport.start()
    starting = time.monotonic() - began
    child = transport.pid
    assert child is not None and fake.requests == []  # the ping stays between the processes
    os.kill(child, 0)  # alive (raises otherwise)

    began = time.monotonic()
    await transport.send(payload("disk full"))
    sending = time.monotonic() - began
    # The send went through the child already running, not a new one; and it cost less than
    # the spawn (starting Python and importing httpx) that start() paid for it.
    assert transport.pid == child and [r.form["message"] for r in fake.accepted] == ["disk full"]
    assert sending < starting


async def test_limits_are_read_through_the_child(
        transport: RemoteTransport, fake: FakePushover) -> None:
    fake.rate_limit(remaining=42, reset=1_900_000_000, limit=10000)
    assert await transport.limits() == RateLimit(limit=10000, remaining=42, reset=1_900_000_000)
    [query] = fake.limit_queries
    assert query.path == "/1/apps/limits.json" and fake.accepted == []


async def test_a_refused_limits_query_comes_back_as_the_same_error(
        transport: RemoteTransport, fake: FakePushover) -> None:
    fake.fail_next(1, 503)
    with pytest.raises(PushoverTransientError, match="503"):
        await transport.limits()


NEW_TOKEN = "bQ7newTokenForTheOverrideApi30"
NEW_USER = "uQ7newUserKeyForTheOverride030"


async def test_reconfigure_reaches_a_running_child(transport: RemoteTransport,
                                                   fake: FakePushover) -> None:
    await transport.start()
    pid = transport.pid
    await transport.reconfigure(fake.url, NEW_TOKEN, NEW_USER)
    fake.token, fake.users = NEW_TOKEN, {NEW_USER}
    await transport.send(payload("with the new credentials"))
    assert transport.pid == pid  # the same child, told over its socket
    form = fake.accepted[-1].form
    assert (form["token"], form["user"]) == (NEW_TOKEN, NEW_USER)


async def test_a_child_started_after_reconfigure_gets_the_new_credentials(
        transport: RemoteTransport, fake: FakePushover) -> None:
    await transport.reconfigure(fake.url, NEW_TOKEN, NEW_USER)  # no child yet
    fake.token, fake.users = NEW_TOKEN, {NEW_USER}
    await transport.send(payload("first send starts the child"))
    assert fake.accepted[-1].form["token"] == NEW_TOKEN


async def test_the_childs_log_lines_name_the_request_that_caused_the_send(
        fake: FakePushover, tmp_path: Path) -> None:
    log_file = tmp_path / "child.log"
    remote = RemoteTransport(fake.url, TOKEN, USER, timeout=2.0, max_connections=2,
                             log_level="DEBUG", log_file=str(log_file), secrets=[TOKEN, USER],
                             log_format="json")
    try:
        with logs.request_context("rid-42"):
            await remote.send(payload("disk full"))
        await remote.send(payload("no request"))
    finally:
        await remote.aclose()
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    answered = [x for x in lines if x["msg"].endswith("answered 200")]
    assert [x.get("request-id") for x in answered] == ["rid-42", None]
