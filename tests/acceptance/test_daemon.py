"""The daemon end to end: Kapacitor's post bodies in, Kapacitor's Pushover forms out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.conftest import TOKEN, USER
from tests.fakes.pushover import FakePushover

from pushoverd.timefmt import parse_rfc3339nano

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent.parent / "data"


def captured_bodies() -> list[str]:
    """What Kapacitor's post handler sent for INFO, WARNING, CRITICAL, OK."""
    lines = (DATA / "post_handler_topic_bodies.jsonl").read_text().splitlines()
    return [json.loads(line)["body"] for line in lines]


def captured_forms() -> list[dict[str, str]]:
    """What Kapacitor sent to Pushover for the same four alerts."""
    lines = (DATA / "pushover_form_topic_handler_levels.jsonl").read_text().splitlines()
    return [dict(parse_qsl(json.loads(line)["body"])) for line in lines]


@pytest.fixture
def daemon(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    load = tmp_path / "load"
    shutil.copytree(DATA / "load", load)
    port = free_port()
    running = Daemon(write_config(tmp_path, fake.url, port, load), port).start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def post(daemon: Daemon, topic: str, body: str) -> httpx.Response:
    return httpx.post(f"{daemon.url}/kapacitor/v1/alerts/topics/{topic}/events", content=body,
                      headers={"Content-Type": "application/json"})


def wait_until_sent(daemon: Daemon, count: int, timeout: float = 10.0) -> None:
    """Wait until ``count`` deliveries are recorded as sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(f"{daemon.url}/pushoverd/v1/deliveries?status=sent")
        if len(answer.json()["deliveries"]) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} deliveries recorded as sent")


def test_each_level_reaches_pushover_with_kapacitors_form_plus_the_alert_time(
        daemon: Daemon, fake: FakePushover) -> None:
    bodies = captured_bodies()
    for body in bodies:
        assert post(daemon, "cpu", body).status_code == 204

    received = fake.wait_for(4)

    alert_times = [parse_rfc3339nano(json.loads(body)["time"]) // 10**9 for body in bodies]
    expected = [{**form, "timestamp": str(t)}
                for form, t in zip(captured_forms(), alert_times, strict=True)]
    assert [r.form for r in received] == expected
    assert [r.form["priority"] for r in received] == ["-1", "0", "1", "-2"]


def test_topic_state_and_api_handlers_survive_a_restart(daemon: Daemon, fake: FakePushover) -> None:
    handler = {"id": "api-made", "kind": "pushover", "options": {"title": "from the API"}}
    created = httpx.post(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu/handlers", json=handler)
    assert created.status_code == 200
    critical = captured_bodies()[2]
    assert post(daemon, "cpu", critical).status_code == 204
    fake.wait_for(2)
    before = httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu").json()

    assert daemon.stop() == 0
    daemon.start()

    after = httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu").json()
    assert after == before
    assert after["level"] == "CRITICAL" and after["collected"] == 1
    shown = httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu/handlers/api-made").json()
    assert shown["options"] == {"title": "from the API"}
    assert post(daemon, "cpu", captured_bodies()[3]).status_code == 204
    titles = sorted(r.form["title"] for r in fake.wait_for(4)[2:])
    assert titles == ["CPU Alert Title", "from the API"]


def test_sigterm_stops_cleanly_and_no_secret_reaches_the_log(
        daemon: Daemon, fake: FakePushover) -> None:
    assert post(daemon, "cpu", captured_bodies()[0]).status_code == 204
    fake.wait_for(1)

    assert daemon.stop(signal.SIGTERM) == 0

    log = daemon.log()
    assert "http request" in log and "stopped" in log
    assert TOKEN not in log and USER not in log


def test_json_logs_are_one_object_a_line_and_follow_a_request_to_its_send(
        tmp_path: Path, fake: FakePushover) -> None:
    port = free_port()
    shutil.copytree(DATA / "load", tmp_path / "load")
    config = write_config(tmp_path, fake.url, port, load_dir=tmp_path / "load")
    config.write_text(config.read_text().replace('level = "DEBUG"',
                                                 'level = "DEBUG"\n  format = "json"'))
    daemon = Daemon(config, port).start()
    try:
        answer = post(daemon, "cpu", captured_bodies()[2])
        assert answer.status_code == 204
        fake.wait_for(1)
    finally:  # a graceful stop lets the send in flight finish and log
        assert daemon.stop(signal.SIGTERM) == 0
    text = daemon.log()
    assert TOKEN not in text and USER not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one object
    assert all({"ts", "lvl", "msg", "logger"} <= set(line) for line in lines)
    ours = [line["msg"] for line in lines if line.get("request-id") == answer.headers[
        "Request-Id"]]
    # The request's own line, the sender child's request to Pushover, the send's outcome.
    assert sorted(ours) == ["POST to 127.0.0.1 answered 200", "delivery 1 sent",
                            "http request"]


def test_bad_input_is_refused_and_nothing_is_stored(daemon: Daemon) -> None:
    answer = post(daemon, "cpu", '{"message": "no id or level"}')

    assert answer.status_code == 400
    assert "id" in answer.json()["error"]
    assert httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu").json()["collected"] == 0


def test_sighup_reloads_the_handler_files(daemon: Daemon, tmp_path: Path) -> None:
    handlers = tmp_path / "load" / "handlers"
    (handlers / "pushover-cpu.yaml").unlink()
    (handlers / "mem.yaml").write_text("id: mem-oncall\ntopic: mem\nkind: pushover\n")

    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cpu = httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/cpu/handlers").json()
        mem = httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/mem/handlers").json()
        if not cpu["handlers"] and mem["handlers"]:
            break
        time.sleep(0.05)
    assert cpu["handlers"] == []
    assert [h["id"] for h in mem["handlers"]] == ["mem-oncall"]


def test_an_outage_then_recovery_drains_the_backlog_in_arrival_order(
        daemon: Daemon, fake: FakePushover) -> None:
    fake.fail_next(1, status=503)
    bodies = captured_bodies()
    for body in bodies:
        assert post(daemon, "cpu", body).status_code == 204

    received = fake.wait_for(4, timeout=30.0)  # the first retry waits Pushover's 5 seconds

    assert fake.requests[0].status == 503
    assert [r.form["priority"] for r in received] == ["-1", "0", "1", "-2"]
    first_retry = fake.requests[1].at - fake.requests[0].at
    assert first_retry >= 4.0  # about 5 s with jitter, never a tight loop


def test_sigterm_lets_a_send_in_flight_finish_and_records_it(
        daemon: Daemon, fake: FakePushover) -> None:
    fake.hang_next(1, 1.5)
    assert post(daemon, "cpu", captured_bodies()[2]).status_code == 204
    deadline = time.monotonic() + 5
    while fake.max_concurrent == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until the send has reached Pushover, which is slow to answer
    assert fake.requests == []  # still in flight

    assert daemon.stop(signal.SIGTERM) == 0

    [received] = fake.requests
    assert received.status == 200
    daemon.start()
    sent = httpx.get(f"{daemon.url}/pushoverd/v1/deliveries?status=sent").json()["deliveries"]
    assert [d["event"] for d in sent] == ["cpu:host=serverA"]
    time.sleep(0.5)
    assert len(fake.requests) == 1  # recorded as sent: not sent again after the restart


def test_a_storm_becomes_a_few_notifications_and_one_summary(
        daemon: Daemon, fake: FakePushover) -> None:
    handler = {"id": "storm", "kind": "pushover",
               "options": {"title": "Storm", "flood-rate": 3, "flood-interval": "2s"}}
    assert httpx.post(f"{daemon.url}/kapacitor/v1/alerts/topics/dc/handlers",
                      json=handler).status_code == 200
    alerts = [{"id": f"host{n}", "level": "CRITICAL" if n % 3 else "WARNING",
               "message": f"host{n} is down"} for n in range(20)]
    assert post(daemon, "dc", json.dumps(alerts)).status_code == 204

    received = fake.wait_for(4, timeout=15.0)

    assert [r.form["message"] for r in received] == [
        "host0 is down", "host1 is down", "host2 is down",
        "17 more alerts on topic dc: 11 CRITICAL, 6 WARNING; latest: host19 is down"]
    assert received[3].form["priority"] == "1" and received[3].form["title"] == "Storm"
    held = httpx.get(f"{daemon.url}/pushoverd/v1/deliveries?status=coalesced&limit=100").json()
    assert len(held["deliveries"]) == 17  # every alert stays visible
    assert httpx.get(f"{daemon.url}/kapacitor/v1/alerts/topics/dc").json()["collected"] == 20


def test_killing_the_sender_child_loses_nothing(daemon: Daemon, fake: FakePushover) -> None:
    bodies = captured_bodies()
    assert post(daemon, "cpu", bodies[0]).status_code == 204
    wait_until_sent(daemon, 1)  # recorded, not just received: else it is rightly sent again
    assert daemon.proc is not None
    children = Path(f"/proc/{daemon.proc.pid}/task/{daemon.proc.pid}/children").read_text()
    [child] = [int(pid) for pid in children.split()  # the sender, not the resource tracker
               if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    os.kill(child, signal.SIGKILL)
    for body in bodies[1:]:
        assert post(daemon, "cpu", body).status_code == 204

    received = fake.wait_for(4, timeout=20.0)
    assert [r.form["priority"] for r in received] == ["-1", "0", "1", "-2"]
