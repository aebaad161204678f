"""Emergencies through the real daemon: a level mapped to priority 2 goes out with retry,
expire and its alert's tag, as Pushover requires, and its receipt is kept on the delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.fakes.pushover import FakePushover

from pushoverd.handlers.pushover.kind import alert_tag

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


@pytest.fixture
def daemon(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    port = free_port()
    running = Daemon(write_config(tmp_path, fake.url, port), port).start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def test_a_critical_alert_mapped_to_priority_2_is_an_emergency_with_a_receipt(
        daemon: Daemon, fake: FakePushover) -> None:
    created = daemon.call("POST", HANDLERS, json={
        "id": "oncall", "kind": "pushover",
        "options": {"priorities": {"CRITICAL": 2}, "retry": "1m", "expire": "10m",
                    "ttl": 3600}})
    assert created.status_code == 200, created.text
    for level in ("CRITICAL", "OK"):
        body = {"id": "cpu:host=a", "level": level, "message": f"a is {level}"}
        assert daemon.post_alert("cpu", body).status_code == 204

    emergency, recovery = fake.wait_for(2)
    assert {k: emergency.form[k] for k in ("priority", "retry", "expire", "tags")} == {
        "priority": "2", "retry": "60", "expire": "600",
        "tags": alert_tag("cpu", "oncall", "cpu:host=a")}
    assert "ttl" not in emergency.form
    assert (recovery.form["priority"], recovery.form["ttl"]) == ("-2", "3600")
    shown = daemon.call("GET", "/pushoverd/v1/deliveries?handler=oncall").json()["deliveries"]
    by_level = {d["level"]: d for d in shown}
    assert len(by_level["CRITICAL"]["receipt"]) == 30
    assert by_level["CRITICAL"]["notification"]["retry"] == 60
    assert by_level["OK"]["receipt"] is None


def test_an_emergency_option_pushover_would_refuse_is_a_400_naming_it(daemon: Daemon) -> None:
    answer = daemon.call("POST", HANDLERS, json={
        "id": "oncall", "kind": "pushover", "options": {"priorities": {"CRITICAL": 2},
                                                        "retry": 10}})
    assert answer.status_code == 400
    assert "'retry'" in answer.json()["error"] and "at least 30 seconds" in answer.json()["error"]
