"""Sending from a child process: results and errors cross over intact; a dead child is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.pushover import FakePushover

from pushoverd.delivery.remote import RemoteSender
from pushoverd.errors import PushoverRateLimited, PushoverRejected, PushoverTransientError
from pushoverd.pushover.message import Message

TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"


@pytest.fixture
def fake() -> Iterator[FakePushover]:
    with FakePushover(token=TOKEN, users={USER}) as server:
        yield server


@pytest.fixture
async def sender(fake: FakePushover) -> AsyncIterator[RemoteSender]:
    remote = RemoteSender(fake.url, TOKEN, USER, timeout=2.0, max_connections=2,
                          log_level="ERROR", log_file="STDERR", secrets=[TOKEN, USER])
    yield remote
    await remote.aclose()


def payload(text: str) -> dict[str, object]:
    return Message.build(message=text, priority=1, title="T", timestamp=1700000000).to_dict()


async def test_a_send_goes_out_from_the_child_with_the_stored_form(
        sender: RemoteSender, fake: FakePushover) -> None:
    result = await sender.send(payload("disk full"))

    [received] = fake.accepted
    assert received.form == {"message": "disk full", "priority": "1", "title": "T",
                             "timestamp": "1700000000", "token": TOKEN, "user": USER}
    assert result.request_id and result.status_code == 200
    assert result.limits is not None and result.limits.limit == 10000


async def test_pushovers_refusals_come_back_as_the_same_errors(
        sender: RemoteSender, fake: FakePushover) -> None:
    fake.fail_next(1, 400, body={"status": 0, "user": "invalid", "errors": ["bad user"]})
    with pytest.raises(PushoverRejected) as rejected:
        await sender.send(payload("a"))
    assert rejected.value.param == "user" and "bad user" in str(rejected.value)

    fake.fail_next(1, 429, headers={"X-Limit-App-Reset": "1900000000"})
    with pytest.raises(PushoverRateLimited) as limited:
        await sender.send(payload("b"))
    assert limited.value.reset == 1900000000

    fake.fail_next(1, 503)
    with pytest.raises(PushoverTransientError):
        await sender.send(payload("c"))


async def test_an_unreadable_payload_is_a_value_error(sender: RemoteSender) -> None:
    with pytest.raises(ValueError, match="message"):
        await sender.send({"priority": 1})


async def test_the_probe_validates_without_sending(
        sender: RemoteSender, fake: FakePushover) -> None:
    assert sender.can_validate
    await sender.validate()
    assert len(fake.validations) == 1 and fake.accepted == []


async def test_a_killed_child_fails_its_send_as_transient_and_is_replaced(
        sender: RemoteSender, fake: FakePushover) -> None:
    await sender.send(payload("first"))
    first_child = sender.pid
    assert first_child is not None
    fake.hang_next(1, 5.0)
    task = asyncio.ensure_future(sender.send(payload("in flight")))
    await asyncio.sleep(0.3)
    os.kill(first_child, signal.SIGKILL)

    with pytest.raises(PushoverTransientError, match="exited"):
        await task
    await sender.send(payload("after"))
    assert [r.form["message"] for r in fake.accepted][-1] == "after"
    assert sender.pid not in (None, first_child)
