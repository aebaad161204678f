"""The log kind: Kapacitor's options and checks, one line per alert (repeats too), lines
appended whole, and a file that cannot be written is a retryable failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from tests.conftest import umask

from pushoverd.errors import DeliveryFailed, ValidationError
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.log import LogKind, LogSender
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import Event, HandlerSpec, Level
from pushoverd.topics.flood import FloodRule
from pushoverd.topics.service import compile_spec

EVENT = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL")


def spec(**options: object) -> HandlerSpec:
    return HandlerSpec("cpu", "to-file", "log", options=dict(options))


def test_each_alert_is_one_line_of_kapacitors_alert_json() -> None:
    handler = LogKind().compile(spec(path="/var/log/alerts.log"))
    [out] = handler.plan("cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload == {"path": "/var/log/alerts.log", "mode": 0o600,
                           "line": alert_json(EVENT).decode()}
    assert not out.suppressed


@pytest.mark.parametrize(("options", "error"), [
    ({}, "log path must be absolute:  is not absolute"),
    ({"path": "x.log"}, "log path must be absolute: x.log is not absolute"),
    ({"path": "/x", "mode": 0o400}, "invalid file mode -r--------, must be user writable"),
    ({"path": "/x", "mode": "0644"}, "'mode' "),
    ({"path": 5}, "'path' "),
    ({"path": "/x", "bogus": 1}, "'' has invalid keys: bogus"),
])
def test_options_are_checked_as_kapacitor_checks_them(options: dict[str, object],
                                                      error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        LogKind().compile(spec(**options))
    assert error in str(refused.value)


def test_the_default_flood_rule_is_for_phones_not_files() -> None:
    kinds, default = KindRegistry([LogKind(), PushoverKind(True)]), FloodRule(10, 60.0)
    log_route = compile_spec(kinds, spec(path="/x"), flood=default)
    push_route = compile_spec(kinds, HandlerSpec("cpu", "p", "pushover"), flood=default)
    assert log_route.flood.rate == 0 and push_route.flood == default
    own = compile_spec(kinds, spec(path="/x", **{"flood-rate": 5}), flood=default)
    assert own.flood.rate == 5


def test_readdress_sends_a_requeued_line_to_the_current_file() -> None:
    handler = LogKind().compile(spec(path="/new.log", mode=0o640))
    assert handler.readdress({"path": "/old.log", "mode": 0o600, "line": "x\n"}) == {
        "path": "/new.log", "mode": 0o640, "line": "x\n"}


async def test_lines_are_appended_and_a_new_file_gets_the_mode(tmp_path: Path) -> None:
    path, sender = tmp_path / "a.log", LogSender()
    for line in ("one\n", "two\n"):
        await sender.send({"path": str(path), "mode": 0o640, "line": line})
    assert path.read_text() == "one\ntwo\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 & ~umask()
    assert sender.status(0.0) == {"written": 2}


async def test_a_file_that_cannot_be_written_is_retried(tmp_path: Path) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await LogSender().send({"path": str(tmp_path / "missing" / "a.log"), "mode": 0o600,
                                "line": "x\n"})
    assert failed.value.retry
    assert "cannot append to" in str(failed.value)
