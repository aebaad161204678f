"""The HTTP API against a real SQLite store on 127.0.0.1: Kapacitor's alert-topic endpoints as
Kapacitor 1.5.7 answered them on the wire (kapacitor-captures/api_*.txt), our ingest endpoint,
and our /pushoverd/v1 outbox endpoints.

Where pushoverd differs from Kapacitor on purpose, the tests pin OUR behaviour: client mistakes
are 400/404/409 instead of 500, errors carry both ``error`` and ``message``, a deleted topic's
handlers stay listed and keep firing, topic level is the true maximum, events are sorted by
level then id, and ``collected`` survives a restart.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy
from tests.wiring import wire

from pushoverd.store.sqlite import SQLiteStore

DATA = Path(__file__).resolve().parents[2] / "data"
TOPICS = "/kapacitor/v1/alerts/topics"
CPU = f"{TOPICS}/cpu"
JSON_TYPE = "application/json; charset=utf-8"
SECRET_USER_KEY = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"

# The handler Kapacitor was driven with (kapacitor-captures/inputs/handler.yaml).
CPU_OPTIONS = {"device": "mydevice", "title": "CPU Alert Title",
               "url": "http://example.com/dash?x=1&y=2", "url-title": "Open dashboard",
               "sound": "siren"}
PUSHOVER_CPU = {"id": "pushover-cpu", "kind": "pushover", "options": CPU_OPTIONS}


def captured(name: str) -> str:
    """A body Kapacitor 1.5.7 sent, byte-exact from kapacitor-captures (tests/data/api/README.md).

    Read as bytes, so no newline is translated and none is added."""
    return (DATA / "api" / name).read_bytes().decode("utf-8")


def substituted(body: str, old: str, new: str) -> str:
    """``body`` with its one occurrence of ``old`` replaced by ``new``: a capture with one
    deliberate difference of ours."""
    if body.count(old) != 1:
        raise ValueError(f"expected {old!r} exactly once in the capture")
    return body.replace(old, new)


# Bodies Kapacitor 1.5.7 sent (each file is named after its capture).
TOPICS_EMPTY = captured("topics_list_empty.json")
TOPICS_PATTERN_C = captured("api_topics_list_pattern.json")
TOPICS_MIN_WARNING = captured("api_topics_list_minlevel_warning.json")
TOPIC_CPU = captured("api_topic_cpu.json")
# api_handler_put_ok.txt is the same body.
HANDLER_PUSHOVER_CPU = captured("api_topic_cpu_handler_pushover.json")
HANDLERS_PATTERN_PUSH = captured("api_topic_cpu_handlers_pattern.json")
HANDLERS_UNKNOWN_TOPIC = captured("api_topic_unknown_handlers.json")
HANDLER_TOPIC_MISMATCH = captured("api_handler_create_topic_mismatch.json")
# As the capture, except that a user key never appears in API output (ours, on purpose).
HANDLER_PATCHED = substituted(captured("api_handler_patch_ok.json"),
                              '"user-key": "patcheduserkey"', '"user-key": "[REDACTED]"')


def captured_post_bodies() -> list[bytes]:
    """What Kapacitor's ``post`` topic handler sent for INFO, WARNING, CRITICAL, OK."""
    lines = (DATA / "post_handler_bodies.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["body"].encode() for line in lines if line.strip()]


POSTED = captured_post_bodies()


# The server ---------------------------------------------------------------------------------

@dataclass
class Reply:
    """A reply, its body exactly as sent (after undoing any gzip)."""

    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def error(self) -> str:
        body = self.json
        assert body == {"error": body["error"], "message": body["error"]}
        return str(body["error"])


@dataclass
class Api:
    """pushoverd's web app on 127.0.0.1 over a real SQLite store."""

    client: TestClient[Any, Any]
    store: SQLiteStore

    async def call(self, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:
        data = body if body is None or isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        resp = await self.client.request(method, path, data=data, headers=headers)
        raw = await resp.read()
        return Reply(resp.status, resp.headers, raw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        reply = await self.call(method, path, body)
        assert reply.status in (200, 204), reply.raw
        return reply.json if reply.raw else None

    async def create(self, topic: str, spec: dict[str, Any]) -> Any:
        return await self.ok("POST", f"{TOPICS}/{topic}/handlers", spec)

    async def ingest(self, topic: str, body: Any) -> None:
        reply = await self.call("POST", f"{TOPICS}/{topic}/events", body)
        assert reply.status == 204, reply.raw

    async def deliveries(self, query: str = "") -> list[dict[str, Any]]:
        return list((await self.ok("GET", f"/pushoverd/v1/deliveries{query}"))["deliveries"])


@asynccontextmanager
async def serve(db: Path, extra: Sequence[web.RouteDef] = ()) -> AsyncIterator[Api]:
    """Wire store, topic service and web app as pushoverd.app does (plus ``extra`` routes);
    close everything after."""
    store = SQLiteStore(db)
    await store.open()
    try:
        wired = await wire(store)
        wired.app.add_routes(extra)
        async with TestClient(TestServer(wired.app, host="127.0.0.1")) as client:
            yield Api(client, store)
    finally:
        await store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pushoverd.db"


@pytest.fixture
async def api(db: Path) -> AsyncIterator[Api]:
    async with serve(db) as running:
        yield running


async def ingest_captured(api: Api) -> None:
    for body in POSTED:
        await api.ingest("cpu", body)


def alert(event_id: str, level: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "message": f"{event_id} is {level}", "level": level,
            "time": "2023-11-14T22:14:20Z", **fields}


# Conventions every reply follows ------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_ping_is_204_with_the_version_header_and_a_json_content_type(
        api: Api, method: str) -> None:
    reply = await api.call(method, "/kapacitor/v1/ping")
    assert reply.status == 204
    assert reply.raw == b""
    assert reply.headers["X-Kapacitor-Version"] == "1.5.7"
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert reply.headers["Request-Id"]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", TOPICS, 200), ("GET", f"{TOPICS}/nope", 404), ("GET", f"{TOPICS}?min-level=x", 400),
    ("DELETE", f"{TOPICS}/nope", 204),
])
async def test_every_reply_carries_kapacitors_headers(api: Api, method: str, path: str,
                                                      status: int) -> None:
    reply = await api.call(method, path)
    assert reply.status == status
    assert reply.headers["X-Kapacitor-Version"] == "1.5.7"
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert reply.headers["Request-Id"]


async def test_request_ids_differ_between_replies(api: Api) -> None:
    first, second = await api.get(TOPICS), await api.get(TOPICS)
    assert first.headers["Request-Id"] != second.headers["Request-Id"]


async def test_error_body_is_pretty_printed_with_error_and_message(api: Api) -> None:
    reply = await api.get(f"{TOPICS}/nope")
    assert reply.status == 404
    assert reply.raw == (b'{\n    "error": "unknown topic: \\"nope\\"",\n'
                         b'    "message": "unknown topic: \\"nope\\""\n}')


async def test_gzip_when_the_client_accepts_it(api: Api) -> None:
    await ingest_captured(api)
    plain = await api.get(CPU, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.raw.decode() == TOPIC_CPU
    async with (aiohttp.ClientSession(auto_decompress=False) as raw_session,
                raw_session.get(api.client.make_url(CPU),
                                headers={"Accept-Encoding": "gzip"}) as resp):
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["X-Kapacitor-Version"] == "1.5.7"
        assert gzip.decompress(await resp.read()) == plain.raw


async def test_cors_headers_answer_an_origin(api: Api) -> None:
    reply = await api.get(TOPICS, headers={"Origin": "https://chronograf.example"})
    assert reply.headers["Access-Control-Allow-Origin"] == "https://chronograf.example"
    assert reply.headers["Access-Control-Allow-Methods"] == "DELETE, GET, OPTIONS, POST, PATCH"
    assert reply.headers["Access-Control-Allow-Headers"] == (
        "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, X-CSRF-Token, "
        "X-HTTP-Method-Override")
    without = await api.get(TOPICS)
    assert "Access-Control-Allow-Origin" not in without.headers


async def test_cors_preflight_is_204_without_a_body(api: Api) -> None:
    reply = await api.call("OPTIONS", f"{CPU}/handlers/h",
                           headers={"Origin": "http://ui", "Access-Control-Request-Method": "PUT"})
    assert reply.status == 204
    assert reply.raw == b""
    assert reply.headers["Access-Control-Allow-Origin"] == "http://ui"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/kapacitor/v1/nosuch"), ("GET", "/nosuch"), ("GET", f"{TOPICS}/"),
    ("POST", TOPICS), ("PUT", "/kapacitor/v1/ping"), ("DELETE", TOPICS),
    ("PUT", CPU), ("PATCH", CPU), ("GET", f"{CPU}/handlers/"), ("GET", f"{CPU}/foo"),
    # Kapacitor deletes the topic for these; we refuse them.
    ("DELETE", f"{CPU}/events/cpu:host=serverA"), ("DELETE", f"{CPU}/foo"),
    ("DELETE", f"{CPU}/handlers"),
])
async def test_unknown_paths_and_wrong_methods_are_404_not_found(api: Api, method: str,
                                                                 path: str) -> None:
    await ingest_captured(api)
    reply = await api.call(method, path)
    assert reply.status == 404
    assert reply.error == "Not Found"
    assert reply.raw == b'{\n    "error": "Not Found",\n    "message": "Not Found"\n}'
    assert (await api.get(CPU)).status == 200  # nothing was deleted


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("boom at /var/lib/pushoverd/secret.db")


async def test_an_unexpected_exception_is_a_json_500_that_names_only_the_request_id(
        db: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with serve(db, [web.get("/crash", crash)]) as api:
        reply = await api.get("/crash")
        assert (await api.get(TOPICS)).status == 200  # the daemon carries on
    request_id = reply.headers["Request-Id"]
    assert reply.status == 500
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert reply.error == f"internal error (request id {request_id})"
    assert b"boom" not in reply.raw and b"Traceback" not in reply.raw
    [logged] = [r for r in caplog.records if r.exc_info]
    assert (logged.name, logged.levelno) == ("pushoverd.api.http", logging.ERROR)
    assert request_id in logged.getMessage() and "GET /crash" in logged.getMessage()
    assert logged.exc_info is not None and logged.exc_info[0] is RuntimeError


def refuse(exc: web.HTTPException) -> web.RouteDef:
    async def handler(request: web.Request) -> web.Response:
        raise exc
    return web.get("/refuse", handler)


@pytest.mark.parametrize(("exc", "status", "message"), [
    (web.HTTPBadRequest(text="bad request line"), 400, "bad request line"),
    (web.HTTPTooManyRequests(), 429, "429: Too Many Requests"),
    (web.HTTPServiceUnavailable(), 503, "503: Service Unavailable"),
])
async def test_aiohttps_own_errors_keep_their_status_with_a_json_body(
        db: Path, exc: web.HTTPException, status: int, message: str) -> None:
    async with serve(db, [refuse(exc)]) as api:
        reply = await api.get("/refuse")
    assert (reply.status, reply.error) == (status, message)
    assert reply.headers["Content-Type"] == JSON_TYPE
    assert reply.headers["X-Kapacitor-Version"] == "1.5.7"


async def test_a_body_over_the_size_limit_is_413_with_a_json_body(api: Api) -> None:
    body = io.BytesIO(b"[" + b" " * (16 * 1024 * 1024) + b"]")
    async with api.client.post(f"{CPU}/events", data=body) as resp:
        reply = Reply(resp.status, resp.headers, await resp.read())
    assert reply.status == 413
    assert reply.error.startswith("request body too large: ")
    assert (await api.get(CPU)).status == 404


async def test_a_garbled_gzip_body_is_400_with_a_json_body(api: Api) -> None:
    reply = await api.call("POST", f"{CPU}/events", b"not gzip at all",
                           headers={"Content-Encoding": "gzip"})
    assert (reply.status, reply.error) == (
        400, "invalid request body: Can not decode content-encoding: gzip")
    assert (await api.get(CPU)).status == 404


async def test_v1preview_is_an_alias_of_v1(api: Api) -> None:
    preview = "/kapacitor/v1preview/alerts/topics"
    created = await api.call("POST", f"{preview}/cpu/handlers", PUSHOVER_CPU)
    assert (created.status, created.raw.decode()) == (200, HANDLER_PUSHOVER_CPU)
    await api.ingest("cpu", POSTED[0])
    topic = await api.get(f"{preview}/cpu")
    assert topic.json["link"]["href"] == CPU  # links stay canonical
    assert (await api.get("/kapacitor/v1preview/ping")).status == 204
    assert [h["id"] for h in (await api.get(f"{CPU}/handlers")).json["handlers"]] == [
        "pushover-cpu"]


# GET /alerts/topics --------------------------------------------------------------------------

async def test_topics_list_is_empty_at_first(api: Api) -> None:
    reply = await api.get(TOPICS)
    assert reply.status == 200
    assert reply.raw.decode() == TOPICS_EMPTY


async def test_topics_list_filtered_by_pattern_matches_the_capture(api: Api) -> None:
    await ingest_captured(api)
    await api.ingest("mem", alert("mem:host=serverA", "CRITICAL"))
    assert (await api.get(f"{TOPICS}?pattern=c*")).raw.decode() == TOPICS_PATTERN_C


async def test_topics_list_self_link_echoes_the_request_with_gos_escaping(api: Api) -> None:
    reply = await api.get(f"{TOPICS}?min-level=OK&pattern=")
    assert reply.json["link"] == {"rel": "self", "href": f"{TOPICS}?min-level=OK&pattern="}
    assert b'"href": "/kapacitor/v1/alerts/topics?min-level=OK\\u0026pattern="' in reply.raw
    assert b"&" not in reply.raw


async def test_topics_are_sorted_by_id(api: Api) -> None:
    for topic in ("system", "misc", "main:task:alert2", "test"):
        await api.create(topic, {"id": "h", "kind": "pushover"})
    reply = await api.get(TOPICS)
    assert [t["id"] for t in reply.json["topics"]] == ["main:task:alert2", "misc", "system",
                                                       "test"]


async def test_min_level_keeps_topics_at_or_above_it(api: Api) -> None:
    await ingest_captured(api)  # cpu ends OK
    assert (await api.get(f"{TOPICS}?min-level=WARNING")).raw.decode() == TOPICS_MIN_WARNING
    await api.ingest("disk", alert("disk:host=a", "WARNING"))
    await api.ingest("mem", alert("mem:host=a", "CRITICAL"))

    async def ids(query: str) -> list[str]:
        return [t["id"] for t in (await api.get(f"{TOPICS}?{query}")).json["topics"]]

    assert await ids("min-level=OK") == ["cpu", "disk", "mem"]
    assert await ids("min-level=WARNING") == ["disk", "mem"]
    assert await ids("min-level=CRIT") == ["mem"]  # Kapacitor's prefix quirk
    assert await ids("min-level=warn&pattern=m*") == ["mem"]


async def test_topic_level_is_the_highest_level_among_its_events(api: Api) -> None:
    # Kapacitor's sort bug shows WARNING here and drops the topic from min-level=CRITICAL.
    await api.ingest("cpu", [alert("b", "CRITICAL"), alert("a", "WARNING")])
    assert (await api.get(CPU)).json["level"] == "CRITICAL"
    listed = (await api.get(f"{TOPICS}?min-level=CRITICAL")).json["topics"]
    assert [t["id"] for t in listed] == ["cpu"]


async def test_bad_min_level_is_400_naming_it_upper_cased(api: Api) -> None:
    reply = await api.get(f"{TOPICS}?min-level=foo")
    assert (reply.status, reply.error) == (400, "unknown alert level 'FOO'")


@pytest.mark.parametrize("pattern", ["[", "a[", "[]", "%5Cx%5C"])
async def test_bad_pattern_is_400(api: Api, pattern: str) -> None:
    reply = await api.get(f"{TOPICS}?pattern={pattern}")
    assert (reply.status, reply.error) == (400, "invalid pattern: syntax error in pattern")


# GET /alerts/topics/{t} ------------------------------------------------------------------------

async def test_topic_after_the_captured_alerts_matches_the_capture(api: Api) -> None:
    await ingest_captured(api)
    reply = await api.get(CPU)
    assert reply.status == 200
    assert reply.raw.decode() == TOPIC_CPU


async def test_unknown_topic_is_404(api: Api) -> None:
    reply = await api.get(f"{TOPICS}/nosuchtopic")
    assert (reply.status, reply.error) == (404, 'unknown topic: "nosuchtopic"')


async def test_registering_a_handler_creates_its_topic_at_ok_with_nothing_collected(
        api: Api) -> None:
    await api.create("misc", {"id": "testAlertHandler", "kind": "pushover"})
    topic = (await api.get(f"{TOPICS}/misc")).json
    assert topic == {
        "link": {"rel": "self", "href": f"{TOPICS}/misc"}, "id": "misc", "level": "OK",
        "collected": 0, "events-link": {"rel": "events", "href": f"{TOPICS}/misc/events"},
        "handlers-link": {"rel": "handlers", "href": f"{TOPICS}/misc/handlers"}}
    assert (await api.get(TOPICS)).json["topics"] == [topic]
    assert (await api.get(f"{TOPICS}/misc/events")).json["events"] == []


# Events -----------------------------------------------------------------------------------------

def captured_ok_event() -> dict[str, Any]:
    """GET /alerts/topics/cpu/events/cpu:host=serverA after the four captured alerts."""
    details = json.loads(POSTED[-1])["details"]
    return {
        "link": {"rel": "self", "href": f"{CPU}/events/cpu:host=serverA"},
        "id": "cpu:host=serverA",
        "state": {"message": "cpu:host=serverA is OK", "details": details,
                  "time": "2023-11-14T22:14:00Z", "duration": "30s", "level": "OK"},
    }


async def test_events_list_matches_the_capture_and_ok_events_stay_listed(api: Api) -> None:
    await ingest_captured(api)
    reply = await api.get(f"{CPU}/events")
    assert reply.status == 200
    assert reply.json == {"link": {"rel": "self", "href": f"{CPU}/events"}, "topic": "cpu",
                          "events": [captured_ok_event()]}
    # Go's escaping of the HTML-escaped details, byte for byte: &#34; becomes \u0026#34;
    assert b'"details": "{\\u0026#34;Name\\u0026#34;:\\u0026#34;cpu\\u0026#34;,' in reply.raw
    assert b'"duration": "30s"' in reply.raw


async def test_one_event_matches_the_capture(api: Api) -> None:
    await ingest_captured(api)
    reply = await api.get(f"{CPU}/events/cpu:host=serverA")
    assert reply.status == 200
    assert reply.json == captured_ok_event()
    keys = [k for k in ("link", "id", "state", "message", "details", "time", "duration", "level")]
    positions = [reply.raw.index(f'"{k}"'.encode()) for k in keys]
    assert positions == sorted(positions)  # Go's field order


# Event ids are free text; each link's last segment must name its event again.
ODD_EVENT_IDS = {
    "../../etc/passwd": "..%2F..%2Fetc%2Fpasswd", "50%": "50%25", "q?x#y": "q%3Fx%23y",
    "a b": "a%20b", "x;y,z": "x%3By%2Cz", "..": "%2E%2E", ".": "%2E", "5€": "5%E2%82%AC",
    "%2F": "%252F", "cpu:host=a&b=c+d@e$": "cpu:host=a&b=c+d@e$", "café": "café",
}


def as_sent(href: str) -> yarl.URL:
    """An href as clients send it: verbatim (no dot segments resolved, no escape decoded),
    letters beyond ASCII UTF-8 percent-encoded, as every client does for a path."""
    return yarl.URL(quote(href, safe="/%:=&+@$"), encoded=True)


async def test_event_links_escape_the_id_and_lead_back_to_that_event(api: Api) -> None:
    await api.ingest("cpu", [alert(event_id, "INFO") for event_id in ODD_EVENT_IDS])
    events = (await api.get(f"{CPU}/events")).json["events"]
    links = {e["id"]: e["link"]["href"] for e in events}
    assert links == {event_id: f"{CPU}/events/{escaped}"
                     for event_id, escaped in ODD_EVENT_IDS.items()}
    for event_id, href in links.items():
        async with api.client.get(as_sent(href)) as resp:
            body = await resp.json()
        assert (resp.status, body["id"], body["link"]["href"]) == (200, event_id, href)


async def test_topic_and_handler_links_keep_letters_as_kapacitors_cli_needs_them(
        api: Api) -> None:
    # The Go client sets url.Path = href, so "caf%C3%A9" would reach us as "caf%25C3%25A9".
    await api.create("café", {"id": "über", "kind": "pushover"})
    await api.ingest("café", alert("ça", "INFO"))
    topic = (await api.get(f"{TOPICS}/café")).json
    assert (topic["link"]["href"], topic["events-link"]["href"],
            topic["handlers-link"]["href"]) == (
        f"{TOPICS}/café", f"{TOPICS}/café/events", f"{TOPICS}/café/handlers")
    [handler] = (await api.get(topic["handlers-link"]["href"])).json["handlers"]
    assert handler["link"]["href"] == f"{TOPICS}/café/handlers/über"
    assert (await api.get(handler["link"]["href"])).json["id"] == "über"
    [event] = (await api.get(topic["events-link"]["href"])).json["events"]
    assert event["link"]["href"] == f"{TOPICS}/café/events/ça"


async def test_unknown_event_is_404(api: Api) -> None:
    await ingest_captured(api)
    reply = await api.get(f"{CPU}/events/nope")
    assert (reply.status, reply.error) == (404, 'unknown event "nope" in topic "cpu"')


async def test_events_of_an_unknown_topic_are_404(api: Api) -> None:
    reply = await api.get(f"{TOPICS}/nosuchtopic/events")
    assert (reply.status, reply.error) == (
        404, 'failed to get topic events: unknown topic "nosuchtopic"')


async def test_events_are_sorted_by_level_then_id_and_filtered_by_min_level(api: Api) -> None:
    await api.ingest("cpu", [alert("d", "OK"), alert("c", "WARNING"), alert("b", "CRITICAL"),
                             alert("a", "WARNING"), alert("e", "INFO")])

    async def ids(query: str = "") -> list[str]:
        reply = await api.get(f"{CPU}/events{query}")
        assert reply.json["link"]["href"] == f"{CPU}/events"  # never a query string
        return [e["id"] for e in reply.json["events"]]

    assert await ids() == ["b", "a", "c", "e", "d"]
    assert await ids("?min-level=OK") == ["b", "a", "c", "e", "d"]
    assert await ids("?min-level=WARNING") == ["b", "a", "c"]
    assert await ids("?min-level=CRIT") == ["b"]


async def test_events_while_critical_match_the_captures(api: Api) -> None:
    # api_topic_cpu_events_while_critical.txt and ..._minlevel_crit_while_critical.txt
    await api.ingest("cpu", alert("cpu:host=serverB", "WARNING", duration=0))
    await api.ingest("cpu", alert("cpu:host=serverA", "CRITICAL", duration=10_000_000_000))
    events = (await api.get(f"{CPU}/events")).json["events"]
    assert [(e["id"], e["state"]["level"], e["state"]["duration"]) for e in events] == [
        ("cpu:host=serverA", "CRITICAL", "10s"), ("cpu:host=serverB", "WARNING", "0s")]
    critical = (await api.get(f"{CPU}/events?min-level=CRITICAL")).json["events"]
    assert [e["id"] for e in critical] == ["cpu:host=serverA"]
    assert (await api.get(CPU)).json["level"] == "CRITICAL"


async def test_event_duration_is_go_text_and_time_is_rfc3339nano(api: Api) -> None:
    # kapacitor-test-vectors.md V5
    await api.ingest("tcp", {"id": "id-agg", "message": "Received 3 events in the last 100ms.",
                             "details": "message\nmessage\nmessage", "level": "CRITICAL",
                             "time": "1970-01-01T00:00:00.002Z", "duration": 2_000_000})
    state = (await api.get(f"{TOPICS}/tcp/events/id-agg")).json["state"]
    assert state == {"message": "Received 3 events in the last 100ms.",
                     "details": "message\nmessage\nmessage", "time": "1970-01-01T00:00:00.002Z",
                     "duration": "2ms", "level": "CRITICAL"}


async def test_bad_min_level_on_events_is_400(api: Api) -> None:
    await ingest_captured(api)
    reply = await api.get(f"{CPU}/events?min-level=K")
    assert (reply.status, reply.error) == (400, "unknown alert level 'K'")


# Handlers: list and get -----------------------------------------------------------------------

async def test_handlers_list_with_pattern_matches_the_capture(api: Api) -> None:
    await api.create("cpu", {"id": "zz-other", "kind": "pushover"})
    await api.create("cpu", PUSHOVER_CPU)
    await api.create("cpu", {"id": "aa-other", "kind": "pushover"})
    reply = await api.get(f"{CPU}/handlers?pattern=push*")
    assert reply.raw.decode() == HANDLERS_PATTERN_PUSH


async def test_handlers_are_listed_sorted_by_id(api: Api) -> None:
    for handler_id in ("pushover-cpu", "b", "a.1", "Z"):
        await api.create("cpu", {"id": handler_id, "kind": "pushover"})
    await api.create("mem", {"id": "mem-only", "kind": "pushover"})
    reply = await api.get(f"{CPU}/handlers?pattern=")
    assert reply.json["link"]["href"] == f"{CPU}/handlers?pattern="
    assert reply.json["topic"] == "cpu"
    assert [h["id"] for h in reply.json["handlers"]] == ["Z", "a.1", "b", "pushover-cpu"]


async def test_handlers_of_an_unknown_topic_are_an_empty_list(api: Api) -> None:
    reply = await api.get(f"{TOPICS}/nosuchtopic/handlers")
    assert reply.status == 200
    assert reply.raw.decode() == HANDLERS_UNKNOWN_TOPIC


async def test_handlers_list_refuses_a_bad_pattern(api: Api) -> None:
    reply = await api.get(f"{CPU}/handlers?pattern=[")
    assert (reply.status, reply.error) == (400, "invalid pattern: syntax error in pattern")


async def test_one_handler_matches_the_capture(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.get(f"{CPU}/handlers/pushover-cpu")
    assert reply.raw.decode() == HANDLER_PUSHOVER_CPU


async def test_unknown_handler_is_404(api: Api) -> None:
    reply = await api.get(f"{CPU}/handlers/nosuchhandler")
    assert (reply.status, reply.error) == (404, 'unknown handler: "nosuchhandler"')


async def test_handler_ids_are_per_topic(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    assert (await api.get(f"{TOPICS}/mem/handlers/pushover-cpu")).status == 404
    await api.create("mem", {**PUSHOVER_CPU, "options": None})
    assert (await api.get(f"{TOPICS}/mem/handlers/pushover-cpu")).json["options"] is None


# Handlers: create -----------------------------------------------------------------------------

async def test_create_answers_200_with_the_handler_and_options_sorted(api: Api) -> None:
    unsorted = {"sound": "siren", "url-title": "Open dashboard", "device": "mydevice",
                "url": "http://example.com/dash?x=1&y=2", "title": "CPU Alert Title"}
    reply = await api.call("POST", f"{CPU}/handlers",
                           {"topic": "", "id": "pushover-cpu", "kind": "pushover",
                            "options": unsorted, "match": ""})
    assert reply.status == 200
    assert reply.raw.decode() == HANDLER_PUSHOVER_CPU
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw == reply.raw


async def test_create_takes_the_topic_from_the_url_and_echoes_null_options(api: Api) -> None:
    reply = await api.call("POST", f"{CPU}/handlers",
                           {"topic": "mem", "id": "tmp-h3", "kind": "pushover"})
    assert (reply.status, reply.raw.decode()) == (200, HANDLER_TOPIC_MISMATCH)
    assert (await api.get(f"{TOPICS}/mem")).status == 404
    assert [h["id"] for h in (await api.get(f"{CPU}/handlers")).json["handlers"]] == ["tmp-h3"]


async def test_create_matches_keys_case_insensitively_like_go(api: Api) -> None:
    reply = await api.call("POST", f"{CPU}/handlers",
                           {"ID": "pushover-cpu", "Kind": "pushover", "OPTIONS": CPU_OPTIONS,
                            "unknown": "ignored"})
    assert (reply.status, reply.raw.decode()) == (200, HANDLER_PUSHOVER_CPU)


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{bad", 400, "invalid handler json: "),
    (b"[1, 2]", 400, "invalid handler json: "),
    ({"kind": "pushover"}, 400,
     "invalid handler spec: handler ID must contain only letters, numbers, '-', '.' and '_'. \"\""),
    ({"id": "a b", "kind": "pushover"}, 400,
     "invalid handler spec: handler ID must contain only letters, numbers, '-', '.' and '_'. "
     "\"a b\""),
    ({"id": "a:b", "kind": "pushover"}, 400, "invalid handler spec: handler ID must contain"),
    ({"id": "h"}, 400, "invalid handler spec: handler Kind must not be empty"),
    ({"id": "h", "kind": "nosuchkind"}, 400,
     'failed to create handler: unsupported action kind "nosuchkind"'),
    ({"id": "h", "kind": "Pushover"}, 400,
     'failed to create handler: unsupported action kind "Pushover"'),
    ({"id": "h", "kind": "pushover", "options": {"nosuchoption": "x"}}, 400,
     "failed to create handler: failed to decode options into *pushover.HandlerConfig: "
     "1 error(s) decoding:\n\n* '' has invalid keys: nosuchoption"),
    ({"id": "h", "kind": "pushover", "options": {"sound": 1}}, 400,
     "failed to create handler: failed to decode options into *pushover.HandlerConfig: "
     "1 error(s) decoding:\n\n* 'sound' "),
    ({"id": "h", "kind": "pushover", "options": "siren"}, 400, "invalid handler json: "),
    # kapacitor-captures/api_handler_create_bad_match.txt (Kapacitor answers 500).
    ({"id": "h", "kind": "pushover", "match": "bogus ((("}, 400,
     "failed to create handler: invalid match expression: parser: "),
    ({"id": "h", "kind": "pushover", "match": "level() == FATAL"}, 400,
     'failed to create handler: unknown identifier "FATAL"'),
    ({"id": "h", "kind": "pushover", "options": {"title": "{{ .Host }}"}}, 400,
     "failed to create handler: invalid options: 'title' is not a valid template: "
     "unknown field .Host"),
    ({"id": "h", "kind": "pushover", "options": {"message": "{{ if .ID }}x"}}, 400,
     "failed to create handler: invalid options: 'message' is not a valid template: "
     "missing {{end}}"),
])
async def test_create_refuses_bad_specs_and_stores_nothing(api: Api, body: Any, status: int,
                                                           error: str) -> None:
    reply = await api.call("POST", f"{CPU}/handlers", body)
    assert reply.status == status
    assert reply.error.startswith(error)
    assert (await api.get(f"{CPU}/handlers")).json["handlers"] == []
    assert (await api.get(CPU)).status == 404  # not even the topic


async def test_create_refuses_a_duplicate_id_with_409(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("POST", f"{CPU}/handlers", {"id": "pushover-cpu", "kind": "pushover"})
    assert (reply.status, reply.error) == (
        409, 'failed to create handler: cannot register handler, '
             'handler with ID "pushover-cpu" already exists')
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PUSHOVER_CPU


# Handlers: PUT ---------------------------------------------------------------------------------

async def test_put_replaces_the_whole_spec(api: Api) -> None:
    await api.create("cpu", {"id": "pushover-cpu", "kind": "pushover",
                             "options": {"sound": "pushover", "user-key": SECRET_USER_KEY}})
    reply = await api.call("PUT", f"{CPU}/handlers/pushover-cpu",
                           {"topic": "", **PUSHOVER_CPU, "match": ""})
    assert (reply.status, reply.raw.decode()) == (200, HANDLER_PUSHOVER_CPU)
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PUSHOVER_CPU


async def test_put_with_another_id_renames_the_handler(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("PUT", f"{CPU}/handlers/pushover-cpu",
                           {"topic": "other", "id": "newid", "kind": "pushover"})
    assert reply.status == 200
    assert reply.json == {"link": {"rel": "self", "href": f"{CPU}/handlers/newid"},
                          "id": "newid", "kind": "pushover", "options": None, "match": ""}
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).status == 404
    assert [h["id"] for h in (await api.get(f"{CPU}/handlers")).json["handlers"]] == ["newid"]
    assert (await api.get(f"{TOPICS}/other/handlers")).json["handlers"] == []


async def test_put_of_an_unknown_handler_is_404_and_creates_nothing(api: Api) -> None:
    reply = await api.call("PUT", f"{CPU}/handlers/zzz", {"id": "zzz", "kind": "pushover"})
    assert (reply.status, reply.error) == (404, 'unknown handler: "zzz"')
    assert (await api.get(f"{CPU}/handlers")).json["handlers"] == []


async def test_put_refuses_to_rename_onto_an_existing_id(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    await api.create("cpu", {"id": "other", "kind": "pushover", "options": {"sound": "x"}})
    reply = await api.call("PUT", f"{CPU}/handlers/pushover-cpu",
                           {"id": "other", "kind": "pushover"})
    assert reply.status == 409
    assert 'handler with ID "other" already exists' in reply.error
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PUSHOVER_CPU
    assert (await api.get(f"{CPU}/handlers/other")).json["options"] == {"sound": "x"}


@pytest.mark.parametrize(("body", "error"), [
    (b"{bad", "failed to unmarshal JSON: "),
    ({"kind": "pushover"}, "invalid handler spec: handler ID must contain only letters"),
    ({"id": "pushover-cpu", "kind": "nosuchkind"},
     'failed to update handler: unsupported action kind "nosuchkind"'),
    ({"id": "pushover-cpu", "kind": "pushover", "options": {"bogus": "x"}},
     "failed to update handler: failed to decode options into *pushover.HandlerConfig: "),
])
async def test_put_refuses_bad_bodies_and_keeps_the_handler(api: Api, body: Any,
                                                            error: str) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("PUT", f"{CPU}/handlers/pushover-cpu", body)
    assert reply.status == 400
    assert reply.error.startswith(error)
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PUSHOVER_CPU


# Handlers: PATCH -------------------------------------------------------------------------------

async def test_patch_applies_a_json_patch_like_the_capture(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    patch = [{"op": "replace", "path": "/options/sound", "value": "pushover"},
             # The capture patched in "patcheduserkey", which Kapacitor takes and Pushover
             # would refuse at every send; pushoverd refuses it when defined, so a real key.
             {"op": "add", "path": "/options/user-key", "value": SECRET_USER_KEY}]
    reply = await api.call("PATCH", f"{CPU}/handlers/pushover-cpu", patch,
                           headers={"Content-Type": "application/json+patch"})
    assert (reply.status, reply.raw.decode()) == (200, HANDLER_PATCHED)
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PATCHED


async def test_a_redacted_user_key_sent_back_keeps_its_value(api: Api) -> None:
    await api.create("cpu", {**PUSHOVER_CPU,
                             "options": {**CPU_OPTIONS, "user-key": SECRET_USER_KEY}})
    shown = (await api.get(f"{CPU}/handlers/pushover-cpu")).json
    assert shown["options"]["user-key"] == "[REDACTED]"

    reply = await api.call("PUT", f"{CPU}/handlers/pushover-cpu",
                           {"id": "pushover-cpu", "kind": "pushover",
                            "options": {**shown["options"], "title": "renamed"}})

    assert reply.status == 200 and SECRET_USER_KEY not in reply.raw.decode()
    stored = {spec.id: spec for spec, _ in await api.store.load_handlers()}
    assert stored["pushover-cpu"].options["user-key"] == SECRET_USER_KEY
    assert stored["pushover-cpu"].options["title"] == "renamed"


async def test_creating_a_handler_with_the_redaction_placeholder_is_refused(api: Api) -> None:
    reply = await api.call("POST", f"{CPU}/handlers", {
        "id": "h", "kind": "pushover", "options": {"user-key": "[REDACTED]"}})
    assert reply.status == 400
    assert "placeholder" in reply.error


async def test_patching_the_id_renames_the_handler(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("PATCH", f"{CPU}/handlers/pushover-cpu",
                           [{"op": "replace", "path": "/id", "value": "renamed"}])
    assert reply.json["link"]["href"] == f"{CPU}/handlers/renamed"
    assert [h["id"] for h in (await api.get(f"{CPU}/handlers")).json["handlers"]] == ["renamed"]


@pytest.mark.parametrize(("patch", "error"), [
    ([{"op": "replace", "path": "/topic", "value": "mem"}],
     "failed to update handler: cannot change topic in update"),
    ([{"op": "remove", "path": "/topic"}],
     "failed to update handler: cannot change topic in update"),
    (b"{bad", "invalid patch json: "),
    ({"op": "replace"}, "failed to apply patch: "),
    ([{"op": "bogus", "path": "/id"}], "failed to apply patch: "),
    ([{"op": "remove", "path": "/nosuchkey"}], "failed to apply patch: "),
    ([{"op": "replace", "path": "/kind", "value": "nosuchkind"}],
     'failed to update handler: unsupported action kind "nosuchkind"'),
    ([{"op": "add", "path": "/options/bogus", "value": "x"}],
     "failed to update handler: failed to decode options into *pushover.HandlerConfig: "),
    ([{"op": "replace", "path": "/id", "value": ""}],
     "invalid handler spec: handler ID must contain only letters"),
])
async def test_patch_refuses_bad_patches_and_keeps_the_handler(api: Api, patch: Any,
                                                               error: str) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("PATCH", f"{CPU}/handlers/pushover-cpu", patch)
    assert reply.status == 400
    assert reply.error.startswith(error)
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).raw.decode() == HANDLER_PUSHOVER_CPU
    assert (await api.get(f"{TOPICS}/mem/handlers")).json["handlers"] == []


async def test_patch_adding_to_null_options_fails_to_apply(api: Api) -> None:
    await api.create("cpu", {"id": "h", "kind": "pushover"})
    reply = await api.call("PATCH", f"{CPU}/handlers/h",
                           [{"op": "add", "path": "/options/sound", "value": "siren"}])
    assert reply.status == 400
    assert reply.error.startswith("failed to apply patch: ")


async def test_patch_of_an_unknown_handler_is_404(api: Api) -> None:
    reply = await api.call("PATCH", f"{CPU}/handlers/zzz", [])
    assert (reply.status, reply.error) == (404, 'unknown handler: "zzz"')


# DELETE -------------------------------------------------------------------------------------------

async def test_delete_handler_is_204_and_keeps_the_topic(api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    reply = await api.call("DELETE", f"{CPU}/handlers/pushover-cpu")
    assert (reply.status, reply.raw, reply.headers["Content-Type"]) == (204, b"", JSON_TYPE)
    assert (await api.get(f"{CPU}/handlers/pushover-cpu")).status == 404
    assert (await api.get(f"{CPU}/handlers")).json["handlers"] == []
    assert (await api.get(CPU)).status == 200


async def test_deleting_an_unknown_handler_is_also_204(api: Api) -> None:
    assert (await api.call("DELETE", f"{CPU}/handlers/zzz")).status == 204
    assert (await api.call("DELETE", f"{TOPICS}/nosuchtopic/handlers/zzz")).status == 204


async def test_deleting_an_unknown_topic_is_204(api: Api) -> None:
    reply = await api.call("DELETE", f"{TOPICS}/nosuchtopic")
    assert (reply.status, reply.raw) == (204, b"")


async def test_delete_topic_drops_its_state_but_its_handlers_stay_and_keep_firing(
        api: Api) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    await ingest_captured(api)
    assert (await api.call("DELETE", CPU)).status == 204
    assert (await api.get(CPU)).status == 404
    assert (await api.get(f"{CPU}/events")).status == 404
    assert [t["id"] for t in (await api.get(TOPICS)).json["topics"]] == []
    assert (await api.get(f"{CPU}/handlers?pattern=push*")).raw.decode() == HANDLERS_PATTERN_PUSH

    before = len(await api.deliveries("?topic=cpu"))
    await api.ingest("cpu", alert("cpu:host=serverA", "CRITICAL"))  # re-creates the topic
    topic = (await api.get(CPU)).json
    assert (topic["level"], topic["collected"]) == ("CRITICAL", 1)
    assert [e["id"] for e in (await api.get(f"{CPU}/events")).json["events"]] == [
        "cpu:host=serverA"]
    assert len(await api.deliveries("?topic=cpu")) == before + 1  # unlike Kapacitor (#1939)


# Ingest -------------------------------------------------------------------------------------------

async def test_each_captured_post_body_is_stored_and_shapes_the_topic(api: Api) -> None:
    expected = [("INFO", "0s"), ("WARNING", "10s"), ("CRITICAL", "20s"), ("OK", "30s")]
    for count, (body, (level, duration)) in enumerate(zip(POSTED, expected, strict=True), 1):
        reply = await api.call("POST", f"{CPU}/events", body,
                               headers={"Content-Type": "application/json"})
        assert (reply.status, reply.raw) == (204, b"")
        topic = (await api.get(CPU)).json
        assert (topic["level"], topic["collected"]) == (level, count)
        [event] = (await api.get(f"{CPU}/events")).json["events"]
        assert (event["state"]["level"], event["state"]["duration"]) == (level, duration)
        assert event["state"]["message"] == f"cpu:host=serverA is {level}"


async def test_an_array_of_alerts_is_stored_in_one_request(api: Api) -> None:
    await api.ingest("cpu", [alert("cpu:host=serverA", "CRITICAL"),
                             alert("cpu:host=serverB", "WARNING")])
    topic = (await api.get(CPU)).json
    assert (topic["level"], topic["collected"]) == ("CRITICAL", 2)
    assert [e["id"] for e in (await api.get(f"{CPU}/events")).json["events"]] == [
        "cpu:host=serverA", "cpu:host=serverB"]


async def test_an_empty_array_is_accepted_and_stores_nothing(api: Api) -> None:
    await api.ingest("cpu", [])
    assert (await api.get(CPU)).status == 404


async def test_an_alert_without_a_time_is_timed_on_receipt(api: Api) -> None:
    await api.ingest("cpu", {"id": "a", "level": "INFO"})
    state = (await api.get(f"{CPU}/events/a")).json["state"]
    assert state["time"] >= "2024-"  # now, not Go's zero time
    assert (state["message"], state["details"], state["duration"]) == ("", "", "0s")


# Go's zero time (what Kapacitor sends for an alert with no time), years past either end of
# what int64 nanoseconds can hold (1677-2262), and nanoseconds far from the epoch.
GO_TIMES = [
    "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "1000-01-01T00:00:00Z",
    "1000-06-15T12:34:56.123456789Z", "1677-09-21T00:12:43.145224191Z",
    "1677-09-21T00:12:43.145224192Z", "1900-01-01T00:00:00.000000001Z",
    "2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775808Z",
    "2300-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
]


async def test_every_time_go_can_write_is_stored_and_shown_back_exactly(db: Path) -> None:
    async with serve(db) as first:
        await first.ingest("cpu", [alert(f"e{i}", "INFO", time=t) for i, t in enumerate(GO_TIMES)])
    async with serve(db) as second:  # read back from the database, not from memory
        for i, text in enumerate(GO_TIMES):
            state = (await second.get(f"{CPU}/events/e{i}")).json["state"]
            assert state["time"] == text


async def test_times_outside_1677_to_2262_render_notifications_and_the_zero_time_has_none(
        api: Api) -> None:
    await api.create("cpu", {"id": "plain", "kind": "pushover"})
    for event_id, text in (("zero", "0001-01-01T00:00:00Z"), ("old", "1900-01-01T00:00:00Z"),
                           ("far", "2300-01-01T00:00:00Z")):
        await api.ingest("cpu", alert(event_id, "CRITICAL", time=text))
    sent = {d["event"]: d["notification"].get("timestamp") for d in await api.deliveries()}
    # Outside 1970-2106 Pushover could not show (or might refuse) the time: it uses its own.
    assert sent == {"zero": None, "old": None, "far": None}


@pytest.mark.parametrize("text", [
    "2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z", "2023-01-32T00:00:00Z",
    "2023-02-29T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01T00:60:00Z",
    "2023-01-01T00:00:60Z", "2023-01-01T00:00:00+24:00", "2023-01-01T00:00:00+01:60",
    "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "0000-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
])
async def test_times_go_cannot_parse_or_write_are_400_naming_time(api: Api, text: str) -> None:
    reply = await api.call("POST", f"{CPU}/events", alert("a", "OK", time=text))
    assert reply.status == 400
    assert reply.error.startswith(f"invalid alert: time: invalid RFC3339 time '{text}'")
    assert (await api.get(CPU)).status == 404


@pytest.mark.parametrize(("body", "named"), [
    ({"level": "OK"}, "id"),
    ({"id": "", "level": "OK"}, "id"),
    ({"id": "a"}, "level"),
    ({"id": "a", "level": "SEVERE"}, "level: unknown alert level 'SEVERE'"),
    ({"id": "a", "level": 3}, "level"),
    ({"id": "a", "level": "OK", "time": "yesterday"}, "time"),
    ({"id": "a", "level": "OK", "time": 1700000000}, "time"),
    ({"id": "a", "level": "OK", "previousLevel": "BAD"}, "previousLevel"),
    ({"id": 5, "level": "OK"}, "id"),
    ({"id": "a", "level": "OK", "message": 5}, "message"),
    ({"id": "a", "level": "OK", "details": ["x"]}, "details"),
    ({"id": "a", "level": "OK", "duration": "soon"}, "duration"),
    ({"id": "a", "level": "OK", "duration": 1.5}, "duration"),
    ({"id": "a", "level": "OK", "duration": True}, "duration"),
    ({"id": "a", "level": "OK", "recoverable": "yes"}, "recoverable"),
    (b"nope", "invalid alert JSON"),
    (b"", "invalid alert JSON"),
    (b"5", "invalid alert"),
    ([{"id": "a", "level": "OK"}, {"id": "b", "level": "X"}], "[1]: level"),
    ([{"id": "a", "level": "OK"}, {"level": "OK"}], "[1]: id"),
    ([{"id": "a", "level": "OK"}, "x"], "[1]"),
])
async def test_invalid_alerts_are_400_naming_the_field_and_nothing_is_stored(
        api: Api, body: Any, named: str) -> None:
    await api.create("cpu", PUSHOVER_CPU)
    await api.ingest("cpu", alert("before", "WARNING"))
    before = ((await api.get(CPU)).raw, (await api.get(f"{CPU}/events")).raw,
              await api.deliveries())

    reply = await api.call("POST", f"{CPU}/events", body)
    assert reply.status == 400
    assert named in reply.error
    after = ((await api.get(CPU)).raw, (await api.get(f"{CPU}/events")).raw,
             await api.deliveries())
    assert after == before
    fresh = await api.call("POST", f"{TOPICS}/fresh/events", body)
    assert fresh.status == 400
    assert (await api.get(f"{TOPICS}/fresh")).status == 404


@pytest.mark.parametrize("topic", ["bad%20topic", "a+b", "a@b", "caf%C3%A9%2Fx"])
async def test_invalid_topic_id_is_400_and_nothing_is_stored(api: Api, topic: str) -> None:
    reply = await api.call("POST", f"{TOPICS}/{topic}/events", alert("a", "CRITICAL"))
    assert reply.status == 400
    assert "invalid topic ID" in reply.error
    assert (await api.get(TOPICS)).json["topics"] == []


async def test_unicode_and_colon_topic_ids_are_accepted(api: Api) -> None:
    for topic in ("main:cpu_alert:alert2", "café"):
        await api.ingest(topic, alert("a", "INFO"))
    assert [t["id"] for t in (await api.get(TOPICS)).json["topics"]] == [
        "café", "main:cpu_alert:alert2"]


# Deliveries caused by ingest ------------------------------------------------------------------

CAPTURED_NOTIFICATIONS = [  # newest first, as the deliveries list shows them
    ("OK", -2, 1_700_000_040), ("CRITICAL", 1, 1_700_000_030),
    ("WARNING", 0, 1_700_000_020), ("INFO", -1, 1_700_000_010),
]


async def test_ingest_enqueues_one_rendered_delivery_per_handler(api: Api) -> None:
    await api.create("cpu", {**PUSHOVER_CPU,
                             "options": {**CPU_OPTIONS, "user-key": SECRET_USER_KEY}})
    await api.create("cpu", {"id": "plain", "kind": "pushover"})
    await api.create("mem", {"id": "elsewhere", "kind": "pushover"})
    await ingest_captured(api)

    rich = await api.deliveries("?topic=cpu&handler=pushover-cpu")
    assert [(d["level"], d["priority"], d["notification"]) for d in rich] == [
        (level, priority, {"message": f"cpu:host=serverA is {level}", "priority": priority,
                           "title": "CPU Alert Title", "url": "http://example.com/dash?x=1&y=2",
                           "url_title": "Open dashboard", "device": "mydevice",
                           "sound": "siren", "timestamp": timestamp})
        for level, priority, timestamp in CAPTURED_NOTIFICATIONS]
    assert all((d["topic"], d["handler"], d["kind"], d["event"], d["status"], d["attempts"])
               == ("cpu", "pushover-cpu", "pushover", "cpu:host=serverA", "pending", 0)
               for d in rich)
    plain = await api.deliveries("?handler=plain")
    assert [d["notification"] for d in plain] == [
        {"message": f"cpu:host=serverA is {level}", "priority": priority, "timestamp": ts}
        for level, priority, ts in CAPTURED_NOTIFICATIONS]
    assert await api.deliveries("?topic=mem") == []
    assert len(await api.deliveries()) == 8


async def test_the_per_handler_user_key_is_used_but_never_shown(api: Api) -> None:
    await api.create("cpu", {**PUSHOVER_CPU,
                             "options": {**CPU_OPTIONS, "user-key": SECRET_USER_KEY}})
    await ingest_captured(api)
    [newest, *_] = await api.deliveries()
    stored = await api.store.delivery(newest["id"])
    assert stored is not None and stored.payload["user"] == SECRET_USER_KEY  # it is sent

    await api.store.mark_dead(newest["id"], "user key invalid", 0.0)
    paths = ["/pushoverd/v1/deliveries", f"/pushoverd/v1/deliveries/{newest['id']}",
             "/pushoverd/v1/deliveries?status=dead", "/pushoverd/v1/status", TOPICS, CPU,
             f"{CPU}/events", f"{CPU}/events/cpu:host=serverA"]
    for path in paths:
        reply = await api.get(path)
        assert reply.status == 200
        assert SECRET_USER_KEY.encode() not in reply.raw, path
    requeued = await api.call("POST", f"/pushoverd/v1/deliveries/{newest['id']}/requeue")
    assert SECRET_USER_KEY.encode() not in requeued.raw


# Restart ------------------------------------------------------------------------------------------

async def test_api_made_handlers_and_topic_state_survive_a_restart(db: Path) -> None:
    async with serve(db) as first:
        await first.create("cpu", {"id": "old-name", "kind": "pushover"})
        await first.ok("PUT", f"{CPU}/handlers/old-name", PUSHOVER_CPU)
        await first.create("misc", {"id": "testAlertHandler", "kind": "pushover"})
        await first.ok("PATCH", f"{TOPICS}/misc/handlers/testAlertHandler",
                       [{"op": "add", "path": "/options", "value": {"sound": "siren"}}])
        await ingest_captured(first)
        await first.ingest("cpu", alert("cpu:host=serverB", "WARNING"))
        paths = [TOPICS, CPU, f"{TOPICS}/misc", f"{CPU}/events", f"{CPU}/handlers",
                 f"{TOPICS}/misc/handlers", f"{CPU}/events/cpu:host=serverA"]
        before = [(await first.get(p)).raw for p in paths]
        deliveries = await first.deliveries()

    async with serve(db) as second:
        assert [(await second.get(p)).raw for p in paths] == before
        topic = (await second.get(CPU)).json
        assert (topic["level"], topic["collected"]) == ("WARNING", 5)  # collected is persisted
        assert await second.deliveries() == deliveries
        await second.ingest("cpu", alert("cpu:host=serverA", "CRITICAL"))
        [newest, *_] = await second.deliveries()
        assert (newest["handler"], newest["level"], newest["priority"]) == (
            "pushover-cpu", "CRITICAL", 1)


# /pushoverd/v1 ------------------------------------------------------------------------------------

@pytest.fixture
async def outbox(api: Api) -> Api:
    """cpu/pushover-cpu and cpu/plain got the four captured alerts; mem/h got one."""
    await api.create("cpu", PUSHOVER_CPU)
    await api.create("cpu", {"id": "plain", "kind": "pushover"})
    await api.create("mem", {"id": "h", "kind": "pushover"})
    await ingest_captured(api)
    await api.ingest("mem", alert("mem:host=a", "WARNING"))
    return api


async def test_deliveries_are_listed_newest_first_and_filtered(outbox: Api) -> None:
    everything = await outbox.deliveries()
    ids = [d["id"] for d in everything]
    assert len(ids) == 9
    assert ids == sorted(ids, reverse=True)
    assert [d["topic"] for d in await outbox.deliveries("?topic=mem")] == ["mem"]
    assert {d["handler"] for d in await outbox.deliveries("?handler=plain")} == {"plain"}
    assert len(await outbox.deliveries("?topic=cpu&handler=plain")) == 4
    assert len(await outbox.deliveries("?status=pending")) == 9
    assert await outbox.deliveries("?status=sent,dead") == []
    assert [d["id"] for d in await outbox.deliveries("?limit=2")] == ids[:2]
    assert [d["id"] for d in await outbox.deliveries(f"?before={ids[1]}&limit=3")] == ids[2:5]
    assert await outbox.deliveries("?since=2999-01-01T00:00:00Z") == []
    assert len(await outbox.deliveries("?since=2000-01-01T00:00:00Z")) == 9
    assert await outbox.deliveries("?until=2000-01-01T00:00:00Z") == []


async def test_a_delivery_shows_its_state(outbox: Api) -> None:
    [newest, *_] = await outbox.deliveries("?topic=mem")
    one = await outbox.ok("GET", f"/pushoverd/v1/deliveries/{newest['id']}")
    assert one == newest
    assert list(one) == ["id", "topic", "handler", "kind", "event", "level", "priority",
                         "recipient", "recipient_note",
                         "status", "attempts", "created", "updated", "next_attempt", "sent",
                         "requeued", "request", "receipt", "receipt_state",
                         "acknowledged_at", "acknowledged_by", "acknowledged_by_device",
                         "expired", "cancelled", "error", "info", "summary", "summarizes",
                         "origin", "notification"]
    assert (one["topic"], one["handler"], one["event"], one["level"], one["priority"],
            one["status"], one["sent"], one["error"]) == (
        "mem", "h", "mem:host=a", "WARNING", 0, "pending", None, None)
    assert one["created"].endswith("Z")


async def test_a_delivery_names_the_request_that_caused_it(api: Api) -> None:
    await api.create("mem", {"id": "h", "kind": "pushover"})
    posted = await api.call("POST", f"{TOPICS}/mem/events", alert("mem:host=a", "WARNING"))
    [delivery] = await api.deliveries()
    assert delivery["origin"] == posted.headers["Request-Id"]


@pytest.mark.parametrize(("query", "named"), [
    ("?status=bogus", "status"), ("?status=pending,nope", "status"),
    ("?since=yesterday", "since"), ("?until=12", "until"), ("?limit=-1", "limit"),
    ("?before=x", "before"),
])
async def test_bad_delivery_filters_are_400(outbox: Api, query: str, named: str) -> None:
    reply = await outbox.get(f"/pushoverd/v1/deliveries{query}")
    assert reply.status == 400
    assert reply.error.startswith(f"{named}: ")


async def test_unknown_delivery_is_404_and_a_bad_id_400(outbox: Api) -> None:
    missing = await outbox.get("/pushoverd/v1/deliveries/9999")
    assert (missing.status, missing.error) == (404, "unknown delivery 9999")
    assert (await outbox.get("/pushoverd/v1/deliveries/abc")).status == 400


async def test_a_dead_delivery_can_be_requeued_once(outbox: Api) -> None:
    [newest, *_] = await outbox.deliveries("?topic=mem")
    await outbox.store.mark_dead(newest["id"], "user key invalid", 1.0)
    dead = await outbox.ok("GET", f"/pushoverd/v1/deliveries/{newest['id']}")
    assert (dead["status"], dead["error"]) == ("dead", "user key invalid")

    requeue = f"/pushoverd/v1/deliveries/{newest['id']}/requeue"
    assert await outbox.ok("POST", requeue) == {"requeued": 1}
    again = await outbox.ok("GET", f"/pushoverd/v1/deliveries/{newest['id']}")
    assert (again["status"], again["attempts"]) == ("pending", 0)
    reply = await outbox.call("POST", requeue)
    assert (reply.status, reply.error) == (404, f"no dead or failed delivery {newest['id']}")


async def test_dead_deliveries_of_a_handler_are_requeued_together(outbox: Api) -> None:
    for d in await outbox.deliveries("?handler=plain"):
        await outbox.store.mark_dead(d["id"], "x", 1.0)
    await outbox.store.mark_dead((await outbox.deliveries("?topic=mem"))[0]["id"], "x", 1.0)
    path = "/pushoverd/v1/deliveries/requeue"
    assert await outbox.ok("POST", f"{path}?topic=cpu&handler=plain") == {"requeued": 4}
    assert [d["topic"] for d in await outbox.deliveries("?status=dead")] == ["mem"]
    missing = await outbox.call("POST", f"{path}?topic=cpu")
    assert (missing.status, missing.error) == (
        400, "topic and handler query parameters are required")


async def test_status_shows_the_outbox_and_the_sending_state(outbox: Api) -> None:
    [newest, *_] = await outbox.deliveries()
    await outbox.store.mark_dead(newest["id"], "x", 1.0)
    status = await outbox.ok("GET", "/pushoverd/v1/status")
    assert list(status) == ["outbox", "oldest_pending_age_seconds", "emergencies", "delivery"]
    assert status["emergencies"] == {"outstanding": 0, "oldest_sent": None}
    assert (status["outbox"]["pending"], status["outbox"]["dead"], status["outbox"]["sent"]) == (
        8, 1, 0)
    assert 0 <= status["oldest_pending_age_seconds"] < 60
    assert status["delivery"] == {"pushover": {
        "sending": True, "paused_until": None, "pause_reason": None,
        "breaker": {"open": False, "reason": None, "next_probe": None},
        "rate_limit": None, "last_success": None, "refused_user_keys": 0},
        "log": {"sending": True, "paused_until": None, "pause_reason": None, "written": 0},
        "post": {"sending": True, "paused_until": None, "pause_reason": None, "sent": 0}}


async def test_status_of_an_empty_outbox(api: Api) -> None:
    status = await api.ok("GET", "/pushoverd/v1/status")
    assert set(status["outbox"].values()) == {0}
    assert status["oldest_pending_age_seconds"] is None
