"""The config override API on the real daemon: an override of the token and user key is used
by the next alert (sent from the delivery child process, the default), still applies after a
restart, and never shows in the API or the log; ``[config-override] enabled = false`` is 403."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, captured_post_bodies, free_port, write_config
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

NEW_TOKEN = "bQ7newTokenForTheOverrideApi30"
NEW_USER = "uQ7newUserKeyForTheOverride030"
PUSHOVER = "/kapacitor/v1/config/pushover/"


@pytest.fixture
def new_fake() -> Iterator[FakePushover]:
    """A Pushover that knows only the new token and user key: the file's are refused."""
    with FakePushover(token=NEW_TOKEN, users={NEW_USER}) as server:
        yield server


def wait_for_accepted(fake: FakePushover, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.accepted) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(fake.accepted)} messages accepted, not {count}: "
                                 f"{[r.status for r in fake.requests]}")
        time.sleep(0.05)


def alert(daemon: Daemon, index: int) -> None:
    answer = daemon.post_alert("cpu", captured_post_bodies()[index])
    assert answer.status_code == 204, answer.text


def test_overridden_credentials_are_used_at_once_and_after_a_restart(
        tmp_path: Path, new_fake: FakePushover) -> None:
    assert len(NEW_TOKEN) == len(NEW_USER) == 30
    port = free_port()
    config = write_config(tmp_path, new_fake.url, port)
    daemon = Daemon(config, port).start()
    try:
        created = daemon.call("POST", "/kapacitor/v1/alerts/topics/cpu/handlers",
                              json={"id": "phone", "kind": "pushover"})
        assert created.status_code == 200, created.text
        update = daemon.call("POST", PUSHOVER,
                             json={"set": {"token": NEW_TOKEN, "user-key": NEW_USER}})
        assert (update.status_code, update.content) == (204, b"")
        alert(daemon, 2)  # CRITICAL
        wait_for_accepted(new_fake, 1)
        form = new_fake.accepted[0].form
        assert (form["token"], form["user"]) == (NEW_TOKEN, NEW_USER)
        shown = daemon.call("GET", PUSHOVER)
        assert shown.json()["options"]["token"] is True
        assert NEW_TOKEN not in shown.text and NEW_USER not in shown.text
    finally:
        assert daemon.stop() == 0
    assert NEW_TOKEN not in daemon.log() and NEW_USER not in daemon.log()

    restarted = Daemon(config, port).start()
    try:
        alert(restarted, 3)  # OK: a recovery, sent
        wait_for_accepted(new_fake, 2)
        assert new_fake.accepted[1].form["token"] == NEW_TOKEN
        assert [r.status for r in new_fake.requests] == [200, 200]  # never the file's token
    finally:
        assert restarted.stop() == 0


def test_disabling_pushover_through_the_api_dead_letters_the_next_alert(
        tmp_path: Path, fake: FakePushover) -> None:
    port = free_port()
    daemon = Daemon(write_config(tmp_path, fake.url, port), port).start()
    try:
        daemon.call("POST", "/kapacitor/v1/alerts/topics/cpu/handlers",
                    json={"id": "phone", "kind": "pushover"})
        disable = daemon.call("POST", PUSHOVER, json={"set": {"enabled": False}})
        assert disable.status_code == 204
        alert(daemon, 2)
        [dead] = daemon.call("GET", "/pushoverd/v1/deliveries").json()["deliveries"]
        assert (dead["status"], dead["error"]) == ("dead", "service is not enabled")
        test = daemon.call("POST", "/kapacitor/v1/service-tests/pushover", json={})
        assert test.json() == {"success": False, "message": "service is not enabled"}
        assert daemon.call("POST", PUSHOVER, json={"delete": ["enabled"]}).status_code == 204
        alert(daemon, 3)
        wait_for_accepted(fake, 1)
    finally:
        daemon.stop()


def test_config_override_disabled_is_403(tmp_path: Path, fake: FakePushover) -> None:
    port = free_port()
    config = write_config(tmp_path, fake.url, port,
                          extra='[config-override]\n  enabled = false\n')
    daemon = Daemon(config, port).start()
    try:
        for method, path, body in (("GET", "/kapacitor/v1/config", None),
                                   ("GET", PUSHOVER, None),
                                   ("POST", PUSHOVER, {"set": {"token": NEW_TOKEN}})):
            answer = daemon.call(method, path, json=body)
            assert answer.status_code == 403
            assert answer.json()["error"] == "config override service is not enabled"
    finally:
        daemon.stop()
