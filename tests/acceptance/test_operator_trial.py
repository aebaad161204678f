"""Defects an operator's trial of the real daemon found, each replayed through its HTTP API."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.conftest import OTHER_USER, STRANGER
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


def alert(n: int) -> dict[str, object]:
    return {"id": f"cpu:host=h{n}", "level": "CRITICAL", "message": f"h{n} is CRITICAL",
            "time": "2026-11-23T07:00:00Z"}


def start(tmp_path: Path, fake: FakePushover) -> Daemon:
    """A daemon with one handler on topic cpu that sends to the configured user key."""
    port = free_port()
    running = Daemon(write_config(tmp_path, fake.url, port), port).start()
    created = running.call("POST", HANDLERS, json={"id": "default", "kind": "pushover"})
    assert created.status_code == 200, created.text
    return running


@pytest.fixture
def daemon(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    running = start(tmp_path, fake)
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def latest_delivery(daemon: Daemon) -> dict[str, object]:
    return daemon.call("GET", "/pushoverd/v1/deliveries?limit=1").json()["deliveries"][0]


def test_requeue_after_fixing_a_refused_user_key_sends_to_the_new_key(
        daemon: Daemon, fake: FakePushover) -> None:
    daemon.call("DELETE", f"{HANDLERS}/default")
    created = daemon.call("POST", HANDLERS, json={
        "id": "oncall", "kind": "pushover", "options": {"user-key": STRANGER}})
    assert created.status_code == 200
    assert daemon.post_alert("cpu", alert(1)).status_code == 204
    refused = daemon.wait_for_delivery(int(latest_delivery(daemon)["id"]), "dead")  # type: ignore[call-overload]
    assert "not a valid user" in str(refused["error"])
    assert daemon.post_alert("cpu", alert(2)).status_code == 204  # held back: no request
    daemon.wait_for_delivery(int(latest_delivery(daemon)["id"]), "dead")  # type: ignore[call-overload]
    assert len(fake.requests) == 1

    patched = daemon.call("PATCH", f"{HANDLERS}/oncall", json=[
        {"op": "replace", "path": "/options/user-key", "value": OTHER_USER}])
    assert patched.status_code == 200
    answer = daemon.call("POST", "/pushoverd/v1/deliveries/requeue?topic=cpu&handler=oncall")
    assert answer.json() == {"requeued": 2}

    accepted = fake.wait_for(2)
    assert [r.form["user"] for r in accepted] == [OTHER_USER, OTHER_USER]
    assert [r.form["message"] for r in accepted] == ["h1 is CRITICAL", "h2 is CRITICAL"]
    sent = daemon.wait_for_delivery(int(refused["id"]), "sent")  # type: ignore[call-overload]
    assert sent["created"] == refused["created"] and sent["requeued"] is not None
    assert daemon.post_alert("cpu", alert(3)).status_code == 204  # the new key is not held
    assert fake.wait_for(3)[-1].form["user"] == OTHER_USER


def test_a_429_without_a_usable_reset_is_retried_in_seconds_not_an_hour(
        daemon: Daemon, fake: FakePushover) -> None:
    fake.fail_next(1, 429, headers={"X-Limit-App-Reset": "0"})  # not in the future
    started = time.monotonic()
    assert daemon.post_alert("cpu", alert(1)).status_code == 204

    fake.wait_for(1, timeout=20)
    assert time.monotonic() - started < 15  # the ordinary backoff, about 5 s
    assert len(fake.limit_queries) == 1  # it asked Pushover for the real figures
    status = daemon.call("GET", "/pushoverd/v1/status").json()
    assert status["delivery"]["pushover"]["sending"] is True


def test_resume_says_try_now_after_a_rate_limit(daemon: Daemon, fake: FakePushover) -> None:
    reset = int(time.time()) + 3600
    fake.rate_limit(remaining=0, reset=reset)
    assert daemon.post_alert("cpu", alert(1)).status_code == 204
    deadline = time.monotonic() + 10
    while not (paused := daemon.call("GET", "/pushoverd/v1/status").json()
               ["delivery"]["pushover"])["paused_until"]:
        assert time.monotonic() < deadline, "never paused"
        time.sleep(0.05)
    assert "rate limited" in str(paused["pause_reason"])

    fake.rate_limit(remaining=100, reset=reset)  # the operator bought more messages
    answer = daemon.call("POST", "/pushoverd/v1/resume")
    assert answer.status_code == 200
    # every kind is resumed; the one waiting delivery is the rate-limited Pushover one
    assert (answer.json()["resumed"], answer.json()["retrying"]) == (["log", "post", "pushover"], 1)
    fake.wait_for(1, timeout=10)
    unknown = daemon.call("POST", "/pushoverd/v1/resume?kind=slack")
    assert unknown.status_code == 400 and "kind" in unknown.json()["error"]


def test_the_sender_child_is_ready_before_the_daemon_answers(daemon: Daemon,
                                                            fake: FakePushover) -> None:
    """Regression: the child was started by the first send, so the first alert waited for it."""
    log = daemon.log().splitlines()
    ready = next(i for i, line in enumerate(log) if "delivery process started" in line)
    listening = next(i for i, line in enumerate(log) if 'msg=listening' in line)
    assert ready < listening
    assert daemon.post_alert("cpu", alert(1)).status_code == 204
    fake.wait_for(1)
    assert sum("delivery process started" in line for line in daemon.log().splitlines()) == 1


def test_the_data_directory_and_database_are_private(daemon: Daemon, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "pushoverd.db").stat().st_mode) == 0o600
    assert httpx.get(f"{daemon.url}/kapacitor/v1/ping").status_code == 204
