"""Emergencies through the real daemon: a level mapped to priority 2 goes out with retry,
expire and its alert's tag, as Pushover requires, and its receipt is kept on the delivery."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.conftest import OTHER_USER, USER
from tests.fakes.pushover import FakePushover

from pushoverd.handlers.pushover.kind import alert_tag

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


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


EMERGENCY_HANDLER = {"id": "oncall", "kind": "pushover",
                     "options": {"priorities": {"CRITICAL": 2}, "flood-rate": 0}}


def critical(level: str = "CRITICAL") -> dict[str, object]:
    return {"id": "cpu:host=a", "level": level, "message": f"a is {level}"}


def deliveries(daemon: Daemon) -> list[dict[str, object]]:
    shown = daemon.call("GET", "/pushoverd/v1/deliveries?handler=oncall").json()
    return list(reversed(shown["deliveries"]))  # oldest first


def until(check: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return result


@pytest.fixture
def on_call(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    port = free_port()
    config = write_config(tmp_path, fake.url, port,
                          extra='[pushoverd.receipts]\n  poll-interval = "5s"\n')
    running = Daemon(config, port).start()
    assert running.call("POST", HANDLERS, json=EMERGENCY_HANDLER).status_code == 200
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def test_an_acknowledgement_is_found_by_polling_the_receipt(
        on_call: Daemon, fake: FakePushover) -> None:
    assert on_call.post_alert("cpu", critical()).status_code == 204
    [sent] = fake.wait_for(1)
    receipt = until(lambda: deliveries(on_call)[0]["receipt"])
    fake.acknowledge(str(receipt), OTHER_USER, "iphone")
    acked = until(lambda: (d := deliveries(on_call)[0])["receipt_state"] == "acknowledged"
                  and d)
    assert isinstance(acked, dict)
    assert acked["acknowledged_by"] == f"{OTHER_USER[:4]}…{OTHER_USER[-4:]}"
    assert acked["acknowledged_by_device"] == "iphone" and acked["acknowledged_at"]
    assert OTHER_USER not in on_call.log()
    status = on_call.call("GET", "/pushoverd/v1/status").json()
    assert status["emergencies"]["outstanding"] == 0
    # A repeat of the acknowledged alert at the same level rings nobody again.
    assert on_call.post_alert("cpu", critical()).status_code == 204
    repeat = until(lambda: len(deliveries(on_call)) == 2 and deliveries(on_call)[1])
    assert isinstance(repeat, dict) and repeat["status"] == "suppressed"
    assert "acknowledged" in str(repeat["error"]) and len(fake.accepted) == 1
    assert sent.form["priority"] == "2"


def test_a_recovery_cancels_the_ringing_emergency_before_it_notifies(
        on_call: Daemon, fake: FakePushover) -> None:
    assert on_call.post_alert("cpu", critical()).status_code == 204
    fake.wait_for(1)
    assert on_call.post_alert("cpu", critical()).status_code == 204  # still ringing
    assert on_call.post_alert("cpu", critical("OK")).status_code == 204
    fake.wait_for(2)

    paths = [r.path for r in fake.requests if not r.path.startswith("/1/receipts/")
             or "cancel_by_tag" in r.path]
    tag = alert_tag("cpu", "oncall", "cpu:host=a")
    assert paths == ["/1/messages.json", f"/1/receipts/cancel_by_tag/{tag}.json",
                     "/1/messages.json"]
    assert fake.cancelled_tags == [tag]
    assert [r.form["priority"] for r in fake.accepted] == ["2", "-2"]
    emergency, repeat, cancel, recovery = until(
        lambda: (ds := deliveries(on_call)) and ds[0]["receipt_state"] == "cancelled" and ds)
    assert (emergency["cancelled"], repeat["status"], cancel["status"], recovery["status"]) == (
        True, "suppressed", "sent", "sent")
    assert "still ringing" in str(repeat["error"])


def test_a_crash_between_the_emergency_and_its_recovery_still_cancels_after_restart(
        on_call: Daemon, fake: FakePushover) -> None:
    assert on_call.post_alert("cpu", critical()).status_code == 204
    fake.wait_for(1)
    until(lambda: deliveries(on_call)[0]["status"] == "sent")
    on_call.stop(signal.SIGKILL)
    on_call.start()
    assert on_call.post_alert("cpu", critical("OK")).status_code == 204
    fake.wait_for(2)
    assert fake.cancelled_tags == [alert_tag("cpu", "oncall", "cpu:host=a")]
    assert next(iter(fake.receipts.values()))["cancelled"] is True


@pytest.fixture
def with_callbacks(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    port = free_port()
    extra = f'[pushoverd]\n  public-url = "http://127.0.0.1:{port}"\n'
    config = write_config(tmp_path, fake.url, port)
    # [pushoverd] must come before its sub-tables in TOML; write_config ends with them.
    config.write_text(config.read_text().replace("[pushoverd.delivery]", extra +
                                                  "[pushoverd.delivery]"))
    running = Daemon(config, port).start()
    assert running.call("POST", HANDLERS, json=EMERGENCY_HANDLER).status_code == 200
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()


def test_an_acknowledgement_callback_is_believed_only_with_its_own_token(
        with_callbacks: Daemon, fake: FakePushover) -> None:
    daemon = with_callbacks
    assert daemon.post_alert("cpu", critical()).status_code == 204
    [sent] = fake.wait_for(1)
    assert sent.form["callback"].startswith(f"{daemon.url}/pushoverd/v1/callback/")
    [receipt] = fake.receipts

    forged = daemon.call("POST", "/pushoverd/v1/callback/" + "0" * 40,
                         data={"receipt": receipt, "acknowledged": "1"})
    assert forged.status_code == 404 and forged.json()["error"] == "unknown callback"
    assert deliveries(daemon)[0]["receipt_state"] == "outstanding"

    fake.acknowledge(receipt, OTHER_USER, "iphone")
    assert fake.call_back(receipt) == 200
    shown = deliveries(daemon)[0]
    assert (shown["receipt_state"], shown["acknowledged_by_device"]) == ("acknowledged", "iphone")
    assert "callback" not in shown["notification"]  # its token is not shown
    assert fake.call_back(receipt) == 200  # a repeat is harmless


def test_an_unanswered_emergency_escalates_and_acknowledgement_stops_the_rest(
        tmp_path: Path, fake: FakePushover) -> None:
    port = free_port()
    extra = ('[pushoverd.receipts]\n  poll-interval = "5s"\n'
             f'[pushoverd.recipients.alice]\n  user-key = "{USER}"\n  device = "phone"\n'
             f'[pushoverd.recipients.bob]\n  user-key = "{OTHER_USER}"\n')
    daemon = Daemon(write_config(tmp_path, fake.url, port, extra=extra), port).start()
    try:
        created = daemon.call("POST", HANDLERS, json={
            "id": "oncall", "kind": "pushover", "options": {
                "priorities": {"CRITICAL": 2}, "recipients": ["alice"],
                "escalate-after": "2s", "escalate-to": ["bob"], "flood-rate": 0}})
        assert created.status_code == 200, created.text
        assert daemon.post_alert("cpu", critical()).status_code == 204
        first, passed_on = fake.wait_for(2, timeout=20)  # bob's comes after 2 s unanswered
        assert (first.form["user"], first.form["device"]) == (USER, "phone")
        assert (passed_on.form["user"], passed_on.form["priority"]) == (OTHER_USER, "2")
        assert passed_on.at - first.at >= 2.0
        to_bob = daemon.call("GET", "/pushoverd/v1/deliveries?recipient=bob").json()
        assert to_bob["deliveries"][0]["recipient_note"].startswith("escalated:")

        receipt = next(r for r, s in fake.receipts.items() if not s["acknowledged"])
        fake.acknowledge(receipt, OTHER_USER)
        until(lambda: daemon.call("GET", "/pushoverd/v1/deliveries?acknowledged=true")
              .json()["deliveries"], timeout=15)
        time.sleep(1.0)
        assert len(fake.accepted) == 2  # nobody further is rung
        unanswered = daemon.call("GET", "/pushoverd/v1/deliveries?acknowledged=false").json()
        assert len(unanswered["deliveries"]) == 1
        bad = daemon.call("GET", "/pushoverd/v1/deliveries?acknowledged=maybe")
        assert bad.status_code == 400 and "acknowledged" in bad.json()["error"]
    finally:
        daemon.stop()
