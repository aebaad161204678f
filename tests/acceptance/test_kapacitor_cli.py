"""The real ``kapacitor`` CLI's wire traffic, replayed against pushoverd.

``tests/data/cli/`` holds what the Kapacitor 1.5.7 CLI sent to a real kapacitord (and what that
answered), copied from the live captures. Every request is sent again, byte for byte (request
line, headers in their order, ``Host`` and ``Accept-Encoding: gzip`` included, body), over a
raw socket so no client adds or decodes anything. Each reply must give the CLI what it needs:
the same status, ``Content-Type: application/json; charset=utf-8``, a gzip body when gzip was
asked for, and the same JSON.

The state each command saw is rebuilt first: handlers through the CLI's own define requests,
alerts through pushoverd's ingest endpoint with the bodies Kapacitor's ``post`` handler sent.

Deliberate differences, asserted as our behaviour (see :func:`expected`):

* a ``post`` handler's ``headers`` read ``[REDACTED]`` (they usually carry a token);
* error bodies carry ``message`` next to ``error`` (1.5.7 sent only ``error``);
* events are listed by level (highest first), then ID; 1.5.7's order came from its broken
  sort (spec §5.1).
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from tests.wiring import wire

from pushoverd.store.sqlite import SQLiteStore

DATA = Path(__file__).parent.parent / "data" / "cli"
JSON_TYPE = "application/json; charset=utf-8"
LEVELS = {"OK": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3}


def records(name: str) -> list[dict[str, Any]]:
    """The requests (with 1.5.7's replies) of one CLI capture."""
    path = DATA / (name if name.endswith(".jsonl") else f"{name}.requests.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def post_bodies(name: str, path: str) -> list[str]:
    """The alert bodies Kapacitor POSTed to ``path`` (``/topic-post``: topic handler on
    ``cpu``; ``/x``: the task's own ``.post()``, whose topic is ``main:cpu_alert:alert2``)."""
    return [r["body"] for r in map(json.loads, (DATA / name).read_text().splitlines())
            if r["path"] == path]


# A raw HTTP/1.1 exchange ----------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes

    def json(self) -> Any:
        """The body as JSON, gunzipped if it came gzipped."""
        body = gzip.decompress(self.raw) if self.headers["Content-Encoding"] == "gzip" else self.raw
        return json.loads(body)


def _exchange(port: int, method: str, target: str, headers: list[list[str]],
              body: bytes) -> Reply:
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            return Reply(response.status, response.headers, response.read())
        finally:
            response.close()


class Pushoverd:
    """pushoverd's HTTP API in this process, over a fresh SQLite store."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def send(self, method: str, target: str, headers: list[list[str]],
                   body: str = "") -> Reply:
        """Send exactly these bytes; nothing is added or decoded."""
        return await asyncio.to_thread(_exchange, self.port, method, target, headers,
                                       body.encode())

    async def ingest(self, topic: str, bodies: list[str]) -> None:
        """Post alerts to our ingest endpoint, as a Kapacitor ``post`` handler would."""
        for body in bodies:
            headers = [["Host", f"127.0.0.1:{self.port}"], ["User-Agent", "Go-http-client/1.1"],
                       ["Content-Length", str(len(body.encode()))],
                       ["Content-Type", "application/json"]]
            reply = await self.send("POST", f"/kapacitor/v1/alerts/topics/{topic}/events",
                                    headers, body)
            assert reply.status == 204, reply.raw


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Pushoverd]:
    store = SQLiteStore(tmp_path / "pushoverd.db")
    await store.open()
    server = TestServer((await wire(store)).app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Pushoverd(server.port)
    finally:
        await server.close()
        await store.close()


# What pushoverd must answer -------------------------------------------------------------------

@dataclass
class Expected:
    status: int
    body: Any  # parsed JSON, or None for no body
    exact: str | None  # 1.5.7's bytes, when our body must be the very same bytes


def expected(record: dict[str, Any]) -> Expected:
    """1.5.7's reply to ``record``, adjusted for our deliberate differences only."""
    status, text = record["status"], record["resp_body"]
    if not text:
        return Expected(status, None, None)
    body = json.loads(text)
    exact: str | None = text
    if "events" in body:
        ordered = sorted(body["events"], key=lambda e: (-LEVELS[e["state"]["level"]], e["id"]))
        exact = text if ordered == body["events"] else None
        body["events"] = ordered
    if "error" in body:
        exact = None  # ours also has "message"
    return Expected(status, body, exact)


async def replay(daemon: Pushoverd, name: str) -> list[Any]:
    """Send every request of a CLI capture and check each reply; our decoded bodies."""
    answers = []
    for record in records(name):
        want = expected(record)
        where = f"{name}: {record['method']} {record['path']}"
        got = await daemon.send(record["method"], record["path"], record["req_headers"],
                                record["req_body"])
        assert got.status == want.status, (where, got.raw)
        assert got.headers["Content-Type"] == JSON_TYPE, where
        assert got.headers["X-Kapacitor-Version"] == "1.5.7", where
        if want.body is None:
            assert got.raw == b"", where
            answers.append(None)
            continue
        assert "gzip" in dict(record["req_headers"])["Accept-Encoding"]
        assert got.headers["Content-Encoding"] == "gzip", where
        body = got.json()
        if "error" in want.body:
            assert body == {"error": want.body["error"], "message": want.body["error"]}, where
        else:
            assert body == want.body, where
        if want.exact is not None:
            assert gzip.decompress(got.raw).decode() == want.exact, where
        answers.append(body)
    return answers


# The state each command saw, rebuilt ----------------------------------------------------------

async def defined(daemon: Pushoverd) -> None:
    """Handlers ``pushover-cpu`` (and ``post-cpu``, refused) defined, then re-defined."""
    await replay(daemon, "cli_first_define_list_show.jsonl")
    await replay(daemon, "cli_define_topic_handler_update")


async def alerting(daemon: Pushoverd) -> None:
    """serverA OK→INFO→WARNING→CRITICAL→OK→CRITICAL→CRITICAL and serverB WARNING (7 alerts),
    on ``cpu`` and on the task's own topic, as in the capture."""
    await defined(daemon)
    for path, topic in (("/topic-post", "cpu"), ("/x", "main:cpu_alert:alert2")):
        for name in ("post_handler_bodies.jsonl",
                     "post_handler_bodies_repeat_critical_and_second_host.jsonl"):
            await daemon.ingest(topic, post_bodies(name, path))


async def with_json_handler(daemon: Pushoverd) -> None:
    await alerting(daemon)
    await replay(daemon, "cli_define_topic_handler_json")


async def with_tmp_handler(daemon: Pushoverd) -> None:
    """Plus ``tmp-h3``, created through the API with no options (api_handler_create_*)."""
    await with_json_handler(daemon)
    body = '{"id":"tmp-h3","topic":"elsewhere","kind":"pushover"}'
    reply = await daemon.send("POST", "/kapacitor/v1/alerts/topics/cpu/handlers", [
        ["Host", "127.0.0.1"], ["Content-Length", str(len(body))],
        ["Content-Type", "application/json"]], body)
    assert reply.status == 200, reply.raw


async def later(daemon: Pushoverd) -> None:
    """After the handler deletes, serverA CRITICAL once more (value 37 at t+70s): 8 collected."""
    await alerting(daemon)
    last = json.loads(post_bodies("post_handler_bodies_repeat_critical_and_second_host.jsonl",
                                  "/topic-post")[1])
    assert last["id"] == "cpu:host=serverA" and last["level"] == "CRITICAL"
    last.update(time="2023-11-14T22:14:30Z", duration=20_000_000_000, previousLevel="CRITICAL")
    last["data"]["series"][0]["values"] = [["2023-11-14T22:14:30Z", 37]]
    await daemon.ingest("cpu", [json.dumps(last)])


async def cpu_deleted(daemon: Pushoverd) -> None:
    await later(daemon)
    await replay(daemon, "cli_delete_topics_cpu")


async def fresh(daemon: Pushoverd) -> None:
    """Nothing defined yet."""


Setup = Callable[[Pushoverd], Any]

COMMANDS: list[tuple[str, Setup]] = [
    # define-topic-handler (create: GET 404 then POST), list topics and topic-handlers,
    # show-topic and show-topic-handler on a fresh daemon
    ("cli_first_define_list_show.jsonl", fresh),
    ("cli_define_topic_handler_update", lambda d: replay(d, "cli_first_define_list_show.jsonl")),
    ("cli_define_topic_handler_json", alerting),
    ("cli_list_topics", alerting),
    ("cli_list_topics_pattern", alerting),
    ("cli_list_topic_handlers", alerting),
    ("cli_list_topic_handlers_pattern", alerting),
    ("cli_list_topic_handlers_unknown_topic", later),
    ("cli_show_topic", alerting),
    ("cli_show_topic_unknown", alerting),
    ("cli_show_topic_handler", alerting),
    ("cli_show_topic_handler_unknown", alerting),
    ("cli_delete_topic_handlers", with_tmp_handler),
    ("cli_delete_topic_handlers_glob", with_json_handler),
    ("cli_delete_topic_handlers_unknown", with_json_handler),
    ("cli_delete_topics_unknown", with_json_handler),
    ("cli_delete_topics_cpu", later),
    ("cli_list_topic_handlers_after_topic_delete", cpu_deleted),
]


@pytest.mark.parametrize(("capture", "setup"), COMMANDS, ids=[c for c, _ in COMMANDS])
async def test_cli_requests_get_the_replies_the_cli_needs(
        daemon: Pushoverd, capture: str, setup: Setup) -> None:
    await setup(daemon)
    await replay(daemon, capture)


async def test_deleted_topic_is_gone_but_its_handler_specs_stay_listed(
        daemon: Pushoverd) -> None:
    # As in 1.5.7 (NOTE_topic_delete_quirk.txt): after `delete topics cpu` the CLI lists no
    # topic, yet GET .../cpu/handlers still shows the specs.
    await cpu_deleted(daemon)
    reply = await daemon.send("GET", "/kapacitor/v1/alerts/topics/cpu/handlers?pattern=", [
        ["Host", "127.0.0.1"], ["User-Agent", "KapacitorClient"], ["Accept-Encoding", "gzip"]])
    assert reply.status == 200
    assert [h["id"] for h in reply.json()["handlers"]] == ["post-cpu", "pushover-cpu"]


# What the CLI prints, rebuilt from our JSON -------------------------------------------------

def go_compact(value: Any) -> str:
    """Go's json.Marshal: compact, map keys sorted, ``<>&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def print_topics(answers: list[Any], args: list[str]) -> list[str]:
    topics = [t for a in answers for t in a["topics"]]
    w = max([2, *(len(t["id"]) for t in topics)])
    return [f"{'ID':<{w}} {'Level':<9} {'Collected':>9}",
            *(f"{t['id']:<{w}} {t['level']:<9} {t['collected']:>9}" for t in topics)]


def print_topic_handlers(answers: list[Any], args: list[str]) -> list[str]:
    rows = [(a["topic"], h["id"], h["kind"]) for a in answers[1:] for h in a["handlers"]]
    w = max([10, *(len(i) for _, i, _ in rows)])
    return [f"{t:<10} {i:<{w}} {k:<10} " for t, i, k in [("Topic", "ID", "Kind"), *rows]]


def print_topic_handler(answers: list[Any], args: list[str]) -> list[str]:
    (h,) = answers
    if "error" in h:
        return [h["error"]]
    return [f"ID: {h['id']}", f"Topic: {args[-2]}", f"Kind: {h['kind']}", f"Match: {h['match']}",
            f"Options: {go_compact(h['options'])}"]


def print_error(answers: list[Any], args: list[str]) -> list[str]:
    return [answers[-1]["error"]]


PRINTED: list[tuple[str, Setup, Callable[[list[Any], list[str]], list[str]]]] = [
    ("cli_list_topics", alerting, print_topics),
    ("cli_list_topics_pattern", alerting, print_topics),
    ("cli_list_topic_handlers", alerting, print_topic_handlers),
    ("cli_list_topic_handlers_pattern", alerting, print_topic_handlers),
    ("cli_list_topic_handlers_unknown_topic", later, print_topic_handlers),
    ("cli_list_topic_handlers_after_topic_delete", cpu_deleted, print_topic_handlers),
    ("cli_show_topic_handler", alerting, print_topic_handler),
    ("cli_show_topic_handler_unknown", alerting, print_topic_handler),
    ("cli_show_topic_unknown", alerting, print_error),
]


@pytest.mark.parametrize(("capture", "setup", "render"), PRINTED, ids=[c for c, _, _ in PRINTED])
async def test_cli_would_print_what_it_printed_against_kapacitor(
        daemon: Pushoverd, capture: str, setup: Setup,
        render: Callable[[list[Any], list[str]], list[str]]) -> None:
    await setup(daemon)
    command, *printed, _exit_status = (DATA / f"{capture}.stdout.txt").read_text().splitlines()
    assert render(await replay(daemon, capture), command.split()) == printed
