"""The delivery model through the real daemon: both connections busy for one handler's
distinct alerts, and a recovery never overtaking its own alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


@pytest.fixture
def daemon(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    port = free_port()
    running = Daemon(write_config(tmp_path, fake.url, port), port).start()
    created = running.call("POST", HANDLERS, json={  # no flood limit: every alert is sent
        "id": "oncall", "kind": "pushover", "options": {"flood-rate": 0}})
    assert created.status_code == 200
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def alert(host: str, level: str) -> dict[str, object]:
    return {"id": f"cpu:host={host}", "level": level, "message": f"{host} is {level}"}


def test_one_handlers_distinct_alerts_use_both_connections_and_no_more(
        daemon: Daemon, fake: FakePushover) -> None:
    fake.hang_next(20, 0.05)  # a realistic round trip
    for n in range(20):
        assert daemon.post_alert("cpu", alert(f"h{n}", "CRITICAL")).status_code == 204
    fake.wait_for(20, timeout=20)
    assert fake.max_concurrent == 2
    assert fake.connection_count <= 2


def test_a_recovery_waits_for_its_alerts_retry(daemon: Daemon, fake: FakePushover) -> None:
    fake.fail_next(1, 503)
    assert daemon.post_alert("cpu", alert("a", "CRITICAL")).status_code == 204
    assert daemon.post_alert("cpu", alert("a", "OK")).status_code == 204
    assert daemon.post_alert("cpu", alert("b", "CRITICAL")).status_code == 204
    accepted = fake.wait_for(3, timeout=20)  # a's retry comes after Pushover's 5 s
    order = [r.form["message"] for r in accepted]
    assert order.index("a is CRITICAL") < order.index("a is OK")
    assert sorted(order) == ["a is CRITICAL", "a is OK", "b is CRITICAL"]
    # (Whether b overtakes a's retry depends on Pushover's 5 s pause, which holds b too.)
