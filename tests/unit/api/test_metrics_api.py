"""``/metrics`` and ``/kapacitor/v1/debug/vars`` in-process: alerts counted by topic and level,
refusals by a reason from a fixed set, and the expvar page in Go's layout."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from tests.wiring import wire

from pushoverd.api.debugvars import Identity, render
from pushoverd.metrics import Metrics
from pushoverd.store.sqlite import SQLiteStore

TOPICS = "/kapacitor/v1/alerts/topics"
ME = Identity("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
              "alerts.example")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    store = SQLiteStore(tmp_path / "db")
    await store.open()
    try:
        wired = await wire(store, observed=(Metrics(), ME))
        async with TestClient(TestServer(wired.app, host="127.0.0.1")) as c:
            yield c
    finally:
        await store.close()


async def values(client: TestClient[Any, Any], name: str) -> dict[tuple[tuple[str, str], ...],
                                                                   float]:
    reply = await client.get("/metrics")
    assert reply.status == 200
    text = await reply.text()
    return {tuple(sorted(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples if s.name == name}


def alert(event_id: str, level: str) -> dict[str, Any]:
    return {"id": event_id, "message": "m", "level": level, "time": "2026-01-02T03:04:05Z"}


async def test_alerts_are_counted_by_topic_and_level_once_stored(
        client: TestClient[Any, Any]) -> None:
    batch = [alert("a", "CRITICAL"), alert("b", "CRITICAL"), alert("a", "OK")]
    assert (await client.post(f"{TOPICS}/cpu/events", data=json.dumps(batch))).status == 204
    counted = await values(client, "pushoverd_alerts_received_total")
    assert counted == {(("level", "CRITICAL"), ("topic", "cpu")): 2,
                       (("level", "OK"), ("topic", "cpu")): 1}


@pytest.mark.parametrize(("method", "path", "body", "reason"), [
    ("POST", f"{TOPICS}/cpu/events", "{nope", "invalid_alert"),
    ("POST", f"{TOPICS}/bad topic!/events", "{}", "invalid_alert"),
    ("POST", f"{TOPICS}/cpu/handlers", '{"id": "x", "kind": "nope"}', "invalid_handler"),
    ("POST", f"{TOPICS}/cpu/handlers", "{nope", "invalid_handler"),
    ("GET", f"{TOPICS}?min-level=LOUD", None, "invalid_query"),
    ("GET", f"{TOPICS}/missing", None, "not_found"),
    ("GET", "/no/such/route", None, "not_found"),
    ("GET", "/pushoverd/v1/deliveries?limit=-3", None, "invalid_query"),
])
async def test_refusals_are_counted_by_reason(client: TestClient[Any, Any], method: str,
                                              path: str, body: str | None, reason: str) -> None:
    reply = await client.request(method, path, data=body)
    assert 400 <= reply.status < 500
    counted = await values(client, "pushoverd_bad_requests_total")
    assert counted == {(("reason", reason),): 1}


async def test_the_texts_of_refusals_never_become_labels(client: TestClient[Any, Any]) -> None:
    await client.post(f"{TOPICS}/cpu/events", data='{"id": "secret-alert-id", "level": 7}')
    text = await (await client.get("/metrics")).text()
    assert "secret-alert-id" not in text


async def test_debug_vars_has_each_topics_collected_count(client: TestClient[Any, Any]) -> None:
    await client.post(f"{TOPICS}/cpu/events", data=json.dumps([alert("a", "OK")] * 2))
    reply = await client.get("/kapacitor/v1/debug/vars")
    assert reply.status == 200 and reply.headers["X-Kapacitor-Version"] == "1.5.7"
    body = json.loads(await reply.text())
    assert (body["cluster_id"], body["server_id"], body["host"]) == (
        ME.cluster_id, ME.server_id, ME.host)
    [topic] = [s for s in body["kapacitor"].values() if s["name"] == "topics"]
    assert topic == {"name": "topics", "values": {"collected": 2},
                     "tags": {"id": "cpu", "cluster_id": ME.cluster_id,
                              "server_id": ME.server_id, "host": ME.host}}
    [ingest] = [s for s in body["kapacitor"].values() if s["name"] == "ingest"]
    assert ingest["values"]["alerts_received"] == 2
    # The v1preview alias answers too, as for every Kapacitor route.
    assert (await client.get("/kapacitor/v1preview/debug/vars")).status == 200


def test_render_is_gos_expvar_layout() -> None:
    assert render({"b": [1, "x"], "a": {"k": 1}}) == b'{\n"a": {"k": 1},\n"b": [1, "x"]\n}\n'
