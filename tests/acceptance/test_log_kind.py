"""The ``log`` kind through the real daemon: the captured Kapacitor bodies posted to a topic
come out of its file as the very lines Kapacitor's log handler writes; a file that cannot be
written is retried, not lost."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, captured_post_bodies
from tests.conftest import umask

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


def wait_for_lines(path: Path, count: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(lines := path.read_text().splitlines(keepends=True)) >= count:
            return lines
        time.sleep(0.05)
    pytest.fail(f"{path} did not get {count} lines in {timeout} s")


def test_each_alert_is_appended_as_kapacitor_writes_it(daemon: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "alerts.log"
    created = daemon.call("POST", HANDLERS, json={
        "id": "to-file", "kind": "log", "options": {"path": str(path), "mode": 0o640}})
    assert created.status_code == 200, created.text
    bodies = captured_post_bodies()
    for body in bodies:
        assert daemon.post_alert("cpu", body).status_code == 204
    assert wait_for_lines(path, len(bodies)) == bodies
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 & ~umask()


def test_an_unwritable_file_is_retried_until_it_can_be_written(
        daemon: Daemon, tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    created = daemon.call("POST", HANDLERS, json={
        "id": "later", "kind": "log", "options": {"path": str(folder / "alerts.log")}})
    assert created.status_code == 200
    body = captured_post_bodies()[0]
    assert daemon.post_alert("cpu", body).status_code == 204
    time.sleep(0.5)
    [delivery] = daemon.call("GET", "/pushoverd/v1/deliveries?kind=log").json()["deliveries"]
    assert delivery["status"] == "failed"
    assert "cannot append to" in delivery["error"]
    folder.mkdir()
    requeued = daemon.call("POST", f"/pushoverd/v1/deliveries/{delivery['id']}/requeue")
    assert requeued.status_code == 200
    assert wait_for_lines(folder / "alerts.log", 1) == [body]


@pytest.mark.parametrize(("options", "error"), [
    ({"path": "relative.log"}, "log path must be absolute: relative.log is not absolute"),
    ({"path": "/tmp/x.log", "mode": 0o444}, "invalid file mode -r--r--r--, must be user writable"),
    ({"path": "/tmp/x.log", "level": "x"}, "'' has invalid keys: level"),
])
def test_bad_options_are_refused_with_kapacitors_words(daemon: Daemon, options: dict[str, object],
                                                       error: str) -> None:
    answer = daemon.call("POST", HANDLERS, json={"id": "h", "kind": "log", "options": options})
    assert answer.status_code == 400
    assert error in answer.json()["error"]
