"""``GET /metrics`` and ``GET /kapacitor/v1/debug/vars`` on the real daemon (its sender child
process on, as by default), parsed with prometheus_client's own parser and read by the real
``kapacitor`` CLI."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.acceptance.daemon import Daemon, free_port, kapacitor_tool, write_config
from tests.conftest import TOKEN, USER
from tests.fakes.pushover import FakePushover

KAPACITOR = kapacitor_tool("kapacitor")
HANDLER = {"id": "oncall", "kind": "pushover", "options": {}}
RESET = 1_900_000_000


def alert(event_id: str, level: str) -> dict[str, Any]:
    return {"id": event_id, "message": f"{event_id} is {level}", "level": level,
            "time": "2026-01-02T03:04:05Z", "duration": 0, "data": {"series": []}}


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon that has taken a few alerts on two topics and sent them, refused two requests,
    and had one send fail once (retried). Shared by this module's tests, which only read."""
    port, folder = free_port(), tmp_path_factory.mktemp("metrics")
    with FakePushover(token=TOKEN, users={USER}) as fake:
        daemon = Daemon(write_config(folder, fake.url, port,
                                     extra='  retry-initial = "100ms"\n'), port).start()
        try:
            make_busy(daemon, fake)
            yield daemon
        finally:
            daemon.stop()


def make_busy(daemon: Daemon, fake: FakePushover) -> None:
    """Two topics with a pushover handler each; four alerts, two refused requests; Pushover
    fails the first send (500) and the retry goes through."""
    for topic in ("cpu", "disk"):
        assert daemon.call("POST", f"/kapacitor/v1/alerts/topics/{topic}/handlers",
                           json=HANDLER).status_code == 200
    fake.rate_limit(remaining=500, reset=RESET, limit=7500)
    fake.fail_next(1, status=500)
    for topic, event_id, level in (("cpu", "web1", "CRITICAL"), ("cpu", "web2", "WARNING"),
                                   ("cpu", "web1", "OK"), ("disk", "db1", "CRITICAL")):
        assert daemon.post_alert(topic, alert(event_id, level)).status_code == 204
    assert daemon.post_alert("cpu", "{not json").status_code == 400
    assert daemon.call("GET", "/kapacitor/v1/alerts/topics/nope").status_code == 404
    fake.wait_for(4)
    wait(lambda: samples(daemon).get(("pushoverd_deliveries_total",
                                      (("kind", "pushover"), ("status", "sent")))) == 4)


def wait(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def scrape(daemon: Daemon) -> str:
    answer = daemon.call("GET", "/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return answer.text


def samples(daemon: Daemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, parsed by prometheus_client: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(scrape(daemon))
            for s in family.samples}


def test_metrics_scrape_cleanly_with_every_family(busy: Daemon) -> None:
    families = {f.name: f for f in text_string_to_metric_families(scrape(busy))}
    assert {"pushoverd_alerts_received", "pushoverd_bad_requests", "pushoverd_deliveries",
            "pushoverd_delivery_retries", "pushoverd_outbox_deliveries",
            "pushoverd_outbox_oldest_waiting_seconds", "pushoverd_delivery_paused",
            "pushoverd_pushover_request_duration_seconds", "pushoverd_pushover_responses",
            "pushoverd_pushover_breaker_open", "pushoverd_pushover_app_limit",
            "pushoverd_pushover_app_remaining", "pushoverd_pushover_app_reset_timestamp_seconds",
            "pushoverd_pushover_emergencies_outstanding", "pushoverd_pushover_acknowledgements",
            "pushoverd_store_commit_duration_seconds",
            "pushoverd_store_commit_group_size"} <= set(families)
    assert families["pushoverd_pushover_request_duration_seconds"].type == "histogram"


def test_the_counts_match_what_happened(busy: Daemon) -> None:
    got = samples(busy)

    def value(name: str, **labels: str) -> float | None:
        return got.get((name, tuple(sorted(labels.items()))))

    assert value("pushoverd_alerts_received_total", topic="cpu", level="CRITICAL") == 1
    assert value("pushoverd_alerts_received_total", topic="cpu", level="WARNING") == 1
    assert value("pushoverd_alerts_received_total", topic="cpu", level="OK") == 1
    assert value("pushoverd_alerts_received_total", topic="disk", level="CRITICAL") == 1
    assert value("pushoverd_bad_requests_total", reason="invalid_alert") == 1
    assert value("pushoverd_bad_requests_total", reason="not_found") == 1
    assert value("pushoverd_deliveries_total", kind="pushover", status="sent") == 4
    assert value("pushoverd_delivery_retries_total", kind="pushover") == 1
    assert value("pushoverd_outbox_deliveries", status="sent") == 4
    assert value("pushoverd_outbox_deliveries", status="pending") == 0
    assert value("pushoverd_outbox_oldest_waiting_seconds") == 0
    assert value("pushoverd_delivery_paused", kind="pushover") == 0
    assert value("pushoverd_pushover_breaker_open") == 0
    # Made by the sender child process, recorded by the daemon: 5 POSTs, one answered 500.
    assert value("pushoverd_pushover_responses_total", endpoint="messages", code="200") == 4
    assert value("pushoverd_pushover_responses_total", endpoint="messages", code="500") == 1
    assert value("pushoverd_pushover_request_duration_seconds_count", endpoint="messages") == 5
    assert value("pushoverd_pushover_app_limit") == 7500
    assert value("pushoverd_pushover_app_remaining") == 496
    assert value("pushoverd_pushover_app_reset_timestamp_seconds") == RESET
    assert value("pushoverd_pushover_emergencies_outstanding") == 0
    # The alerts' commits, and the sends' outcomes: some of them grouped.
    commits = value("pushoverd_store_commit_group_size_count") or 0
    assert commits >= 1
    assert value("pushoverd_store_commit_group_size_sum") >= commits
    assert value("pushoverd_store_commit_duration_seconds_count") == commits


def test_labels_carry_no_alert_ids_or_keys(busy: Daemon) -> None:
    text = scrape(busy)
    for secret in ("web1", "web2", "db1", TOKEN, USER):
        assert secret not in text


def test_debug_vars_is_kapacitors_expvar_page_with_our_counters(busy: Daemon) -> None:
    answer = busy.call("GET", "/kapacitor/v1/debug/vars")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    raw = answer.text
    assert raw.startswith('{\n"cluster_id": ') and raw.endswith("\n}\n")
    body = json.loads(raw)
    assert list(body) == sorted(body)  # expvar writes its variables in key order
    assert body["product"] == "kapacitor" and body["host"] == "localhost"
    assert body["num_tasks"] == 0 and isinstance(body["memstats"], dict)
    stats = list(body["kapacitor"].values())
    topics = {s["tags"]["id"]: s["values"] for s in stats if s["name"] == "topics"}
    assert topics == {"cpu": {"collected": 3}, "disk": {"collected": 1}}
    by_name = {(s["name"], s["tags"].get("kind")): s for s in stats}
    assert by_name[("ingest", None)]["values"]["alerts_received"] == 4
    assert by_name[("ingest", None)]["values"]["bad_requests"] == 2
    delivered = by_name[("deliveries", "pushover")]["values"]
    assert (delivered["sent"], delivered["dead"], delivered["retries"]) == (4, 0, 1)
    assert by_name[("outbox", None)]["values"]["sent"] == 4
    assert by_name[("pushover", None)]["values"]["requests"] == 5
    for stat in stats:
        assert {"cluster_id", "server_id", "host"} <= set(stat["tags"])
    again = busy.call("GET", "/kapacitor/v1/debug/vars").json()
    assert set(again["kapacitor"]) == set(body["kapacitor"])  # the ids stay put


@pytest.mark.skipif(KAPACITOR is None, reason="the kapacitor 1.5.7 CLI is not built in "
                    ".kapacitor-bin/ (see README, 'Testing against real Kapacitor')")
def test_the_kapacitor_cli_reads_debug_vars(busy: Daemon) -> None:
    def cli(*args: str) -> str:
        done = subprocess.run([str(KAPACITOR), "-url", busy.url, *args], capture_output=True,
                              text=True, timeout=20, check=True)
        return done.stdout

    assert json.loads(cli("vars"))["product"] == "kapacitor"
    general = cli("stats", "general")
    identity = httpx.get(f"{busy.url}/kapacitor/v1/debug/vars").json()
    assert f"ClusterID:                    {identity['cluster_id']}" in general
    assert "Host:                         localhost" in general
    assert "Platform:                     OSS" in general
    assert "Version:                      1.5.7" in general
