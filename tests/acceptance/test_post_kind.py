"""The ``post`` kind through the real daemon: pushoverd as a durable relay. The captured
Kapacitor bodies posted to a topic reach the receiver byte for byte, as Kapacitor's post
handler sends them; a receiver that answers 503 gets them later, in order."""

from __future__ import annotations

import time

import pytest
from tests.acceptance.daemon import Daemon, captured_post_bodies
from tests.fakes.receiver import Receiver

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


def wait_for(receiver: Receiver, count: int,
             timeout: float = 15.0) -> list[tuple[str, dict[str, str], bytes]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(got := receiver.accepted()) >= count:
            return got
        time.sleep(0.05)
    pytest.fail(f"the receiver accepted {len(receiver.accepted())} of {count} in {timeout} s")


@pytest.mark.parametrize("fail_first", [0, 1])  # a retry waits at least 5 s
def test_alerts_are_relayed_as_kapacitor_posts_them(daemon: Daemon, fail_first: int) -> None:
    receiver = Receiver(fail_first=fail_first)
    try:
        created = daemon.call("POST", HANDLERS, json={
            "id": "relay", "kind": "post",
            "options": {"url": f"{receiver.url}/hook?key=s3cret",
                        "headers": {"Authorization": "Bearer s3cret"}}})
        assert created.status_code == 200, created.text
        assert created.json()["options"]["headers"] == "[REDACTED]"
        bodies = captured_post_bodies()
        for body in bodies:
            assert daemon.post_alert("cpu", body).status_code == 204
        got = wait_for(receiver, len(bodies))
        assert [b.decode() for _, _, b in got] == bodies  # same bytes, same order
        assert all(h["Content-Type"] == "application/json" and
                   h["Authorization"] == "Bearer s3cret" for _, h, _ in got)
        assert len(receiver.received) == len(bodies) + fail_first
    finally:
        receiver.close()
    assert "s3cret" not in daemon.log()
