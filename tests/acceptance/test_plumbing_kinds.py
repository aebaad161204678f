"""A folder of Kapacitor handler files (tests/data/kapacitor-folder: match expressions,
templates, pushover, log, publish, aggregate, post) through the real daemon: alerts published
on to another topic are aggregated every 100 ms (the interval in integer nanoseconds, as
Kapacitor decodes it) and the aggregate is posted on; what an aggregate held survives
kill -9; a file that would close a publish loop is refused. The oracle loads the same folder
into kapacitord."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, free_port, kapacitor_folder, write_config
from tests.fakes.pushover import FakePushover
from tests.fakes.receiver import Receiver

pytestmark = pytest.mark.e2e

MS = 1_000_000


def handler_files(folder: Path, receiver: Receiver, interval_ns: int) -> Path:
    """tests/data/kapacitor-folder: cpu publishes its warnings on to ops, ops aggregates them
    into digest, digest posts to the receiver (with the aggregate's ``interval`` set)."""
    load = kapacitor_folder(folder / "load", receiver.url, folder / "cpu.log")
    digest = load / "handlers" / "ops-digest.yaml"
    digest.write_text(digest.read_text().replace("100000000", str(interval_ns)))
    return load


def point(t_ms: int, level: str = "CRITICAL") -> dict[str, object]:
    return {"id": "id", "message": "message", "details": "details",
            "time": f"1970-01-01T00:00:00.{t_ms:03d}Z", "duration": t_ms * MS,
            "level": level, "data": {"series": [{
                "name": "alert", "tags": {"host": "serverA"}, "columns": ["time", "value"],
                "values": [[f"1970-01-01T00:00:00.{t_ms:03d}Z", 1]]}]},
            "previousLevel": "OK", "recoverable": True}


def start(tmp_path: Path, fake: FakePushover, load: Path) -> Daemon:
    port = free_port()
    return Daemon(write_config(tmp_path, fake.url, port, load_dir=load), port).start()


def wait_for(receiver: Receiver, count: int, timeout: float = 15.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(got := receiver.accepted()) >= count:
            return [body for _, _, body in got]
        time.sleep(0.05)
    pytest.fail(f"the receiver accepted {len(receiver.accepted())} of {count} in {timeout} s")


def test_published_alerts_are_aggregated_as_kapacitor_does_and_posted_on(
        tmp_path: Path, fake: FakePushover) -> None:
    receiver = Receiver()
    daemon = start(tmp_path, fake, handler_files(tmp_path, receiver, 100 * MS))
    try:
        listed = daemon.call("GET", "/kapacitor/v1/alerts/topics/ops/handlers").json()
        assert [h["kind"] for h in listed["handlers"]] == ["aggregate"]
        alerts = [point(0), point(1), point(2), point(3, "INFO")]  # INFO stays on cpu
        # One request, so that no tick can fall between them.
        answer = daemon.call("POST", "/kapacitor/v1/alerts/topics/cpu/events", json=alerts)
        assert answer.status_code == 204
        [body] = wait_for(receiver, 1)
        posted = json.loads(body)
        assert receiver.accepted()[0][1]["X-Source"] == "pushoverd"
        assert {k: posted[k] for k in ("id", "message", "details", "time", "duration",
                                       "level", "recoverable")} == {
            "id": "ops-digest", "message": "Received 3 events in the last 100ms.",
            "details": "message\nmessage\nmessage", "time": "1970-01-01T00:00:00.002Z",
            "duration": 2 * MS, "level": "CRITICAL", "recoverable": False}
        assert posted["data"]["series"] == [a["data"]["series"][0] for a in alerts[:3]]

        # The events API shows it as Kapacitor's does (kapacitor-test-vectors.md V5).
        events = daemon.call("GET", "/kapacitor/v1/alerts/topics/digest/events").json()
        assert events["events"][0]["state"] == {
            "message": "Received 3 events in the last 100ms.",
            "details": "message\nmessage\nmessage", "time": "1970-01-01T00:00:00.002Z",
            "duration": "2ms", "level": "CRITICAL"}
        assert daemon.call("GET", "/kapacitor/v1/alerts/topics/ops").json()["collected"] == 3
        time.sleep(0.3)
        assert len(receiver.accepted()) == 1  # no aggregate of nothing

        # On cpu itself: the phones got serverA's warnings and worse, titled by template;
        # the file has each change of level.
        titles = [r.form["title"] for r in fake.wait_for(3)]
        assert titles == ["CRITICAL on serverA"] * 3
        lines = (tmp_path / "cpu.log").read_text().splitlines()
        assert [json.loads(x)["level"] for x in lines] == ["CRITICAL", "INFO"]
    finally:
        receiver.close()
        daemon.stop()


def test_what_an_aggregate_held_survives_kill_minus_9(tmp_path: Path,
                                                      fake: FakePushover) -> None:
    receiver = Receiver()
    load = handler_files(tmp_path, receiver, 3_000 * MS)
    daemon = start(tmp_path, fake, load)
    try:
        answer = daemon.call("POST", "/kapacitor/v1/alerts/topics/cpu/events",
                             json=[point(0), point(1)])
        assert answer.status_code == 204
        daemon.stop(signal.SIGKILL)  # well before the 3 s tick
        assert receiver.accepted() == []
        daemon = start(tmp_path, fake, load)
        [body] = wait_for(receiver, 1)
        assert json.loads(body)["message"] == "Received 2 events in the last 3s."
    finally:
        receiver.close()
        daemon.stop()


def test_a_publish_loop_in_the_handler_files_is_refused_naming_the_file(
        tmp_path: Path, fake: FakePushover) -> None:
    receiver = Receiver()
    load = handler_files(tmp_path, receiver, 100 * MS)
    (load / "handlers" / "digest-loop.yaml").write_text(
        "id: back\ntopic: digest\nkind: publish\noptions:\n  topics: [cpu]\n")
    daemon = start(tmp_path, fake, load)
    try:
        # Files load in name order, so the last of the loop, ops-digest.yaml, closes it.
        assert daemon.call("GET", "/kapacitor/v1/alerts/topics/ops/handlers").json()[
            "handlers"] == []
        [line] = [x for x in daemon.log().splitlines() if "handler file skipped" in x]
        assert "ops-digest.yaml:8: options.topic:" in line
        assert "'topic' in options would make a loop: ops -> digest -> cpu -> ops" in line
    finally:
        receiver.close()
        daemon.stop()
