"""Real Kapacitor 1.5.7 as the oracle: one stream task sends a sequence of alerts to a topic
whose `post` handlers carry match expressions, and each task's `.message()` renders a
template; the alerts the tasks' `.post()` sent are then replayed through pushoverd's matching
and templates, which must pick the same alerts for each handler and print the same messages.

Needs `.kapacitor-bin/kapacitord` (README, "Testing against real Kapacitor"); skipped without.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from tests.acceptance.daemon import free_port, kapacitor_folder, kapacitor_tool
from tests.fakes.receiver import Receiver

from pushoverd.api.schemas import parse_alerts
from pushoverd.handlers.aggregate import AggregateKind
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.log import LogKind
from pushoverd.handlers.post import PostKind
from pushoverd.handlers.publish import PublishKind
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.handlers.templates import parse_template, template_values
from pushoverd.models import DeliveryFilter, HandlerSpec
from pushoverd.store.memory import MemoryStore
from pushoverd.topics.load import load_handler_files
from pushoverd.topics.service import TopicService

KAPACITORD = kapacitor_tool("kapacitord")
pytestmark = pytest.mark.skipif(
    KAPACITORD is None, reason="real kapacitord not in .kapacitor-bin/ or PATH (see README)")

MATCHES = [
    "changed()", "level() >= WARNING", "level() == CRITICAL OR level() == OK",
    "\"host\" == 'serverA' AND level() == CRITICAL", "\"host\" =~ /B$/", "\"host\" !~ /^server/",
    "!(level() == INFO)", "changed() AND level() != OK", "strHasPrefix(\"host\", 'serverB')",
    "name() == 'cpu'", "strToLower(\"host\") == 'servera' AND level() > INFO",
]
# Kapacitor 1.5.7 cannot evaluate its own documented duration(): every alert fails with
# 'Cannot call function "duration" with args ()' (the built-in conversion shadows it; 1.8
# renamed it alertDuration()). pushoverd evaluates both names as the docs say, on purpose.
BROKEN_IN_1_5_7 = ["duration() > 15s", "duration() == 0s"]
TEMPLATES = [
    ('{{ .ID }} {{ .Level }} on {{ index .Tags "host" }}: '
     '{{ index .Fields "value" | printf "%.1f" }} / {{ index .Fields "value" }}'
     '{{ if eq .Level "CRITICAL" }} PAGE{{ end }} for {{ .Duration }} ({{ .Group }})'),
    ('{{ if eq .Level "OK" }}recovered{{ else if eq .Level "CRITICAL" }}down{{ else }}degraded'
     '{{ end }}: {{ .Name }}'),
    '{{ printf "%s|%v|%d|%5.2f|%q|%x" .ID .Fields .Level (index .Fields "value") .Group .Name }}',
    '{{ index .Tags "missing" }}|{{ index .Fields "missing" }}|{{ .Tags }}|{{ len .Fields }}',
    '{{- .Level -}} {{ and .ID .Name }} {{ or "" .Group }} {{ not (eq .Level "OK") }} {{ .Time }}',
    ('{{ if and (gt (index .Fields "value") 20.0) (ne .Level "OK") }}hot{{ end }} '
     '{{ .Duration }} {{ printf "%d %s" 3 }}{{ printf "%v" 1 2 }}'),
]
TICK = """stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |alert()
        .message('%s')
        .info(lambda: "value" > 10)
        .warn(lambda: "value" > 20)
        .crit(lambda: "value" > 30)
        .topic('%s')
        .post('%s/task%d')
"""
AGGREGATE_NS = 200_000_000
URL_TEMPLATE = ("%s/url/{{ .Level }}/{{ .ID }}/{{ .PreviousLevel }}/{{ .Duration }}"
                "/{{ if .Recoverable }}r{{ end }}/{{ .Message | printf \"%%.9s\" }}")
POINTS = [("serverA", 5), ("serverA", 15), ("serverB", 22), ("serverA", 25), ("serverA", 35),
          ("serverA", 36), ("serverB", 35), ("serverA", 15), ("serverB", 5), ("serverA", 5),
          ("serverA", 1234567.5)]


@pytest.fixture(scope="module")
def kapacitor_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, str]]]:
    """What Kapacitor sent for POINTS: the task's posts and each handler's."""
    recorder = Receiver()
    folder, port = tmp_path_factory.mktemp("kapacitord"), free_port()
    config = folder / "kapacitor.conf"
    config.write_text(_config(folder, port))
    proc = subprocess.Popen([str(KAPACITORD), "-config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}/kapacitor/v1", timeout=5)
        _wait_until_up(api)
        _define(api, recorder.url, folder / "alerts.log")
        for n, (host, value) in enumerate(POINTS):
            line = f"cpu,host={host} value={value} {(1_700_000_000 + 10 * n) * 10**9}"
            api.post("/write?db=telegraf&rp=autogen", content=line).raise_for_status()
            time.sleep(0.05)  # one point at a time, as a stream sees them
        time.sleep(1.0)
        api.close()
        posted = [(path, body.decode()) for path, _, body in recorder.accepted()]
        logged = (folder / "alerts.log").read_text().splitlines(keepends=True)
        yield [*posted, *(("/log", line) for line in logged)]
    finally:
        proc.terminate()
        proc.wait(10)
        recorder.close()


def _config(folder: Path, port: int, load: Path | None = None) -> str:
    enabled = "true" if load else "false"
    return f"""hostname = "localhost"
data_dir = "{folder}"
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[replay]
  dir = "{folder}/replay"
[storage]
  boltdb = "{folder}/kapacitor.db"
[task]
  dir = "{folder}/tasks"
[load]
  enabled = {enabled}
  dir = "{load or folder}"
[[influxdb]]
  enabled = false
  name = "default"
  urls = ["http://127.0.0.1:1"]
[logging]
  file = "{folder}/kapacitord.log"
  level = "ERROR"
[reporting]
  enabled = false
[stats]
  enabled = false
"""


def _wait_until_up(api: httpx.Client) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if api.get("/ping").status_code == 204:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("kapacitord did not start within 20 s")


def _define(api: httpx.Client, recorder: str, log: Path) -> None:
    to_file = {"id": "to-file", "kind": "log", "options": {"path": str(log)}}
    for topic, spec in [*_plumbing(recorder), ("cpu", to_file)]:
        created = api.post(f"/alerts/topics/{topic}/handlers", json=spec)
        assert created.status_code == 200, created.text
    for n, match in enumerate(MATCHES + BROKEN_IN_1_5_7):
        created = api.post("/alerts/topics/cpu/handlers", json={
            "id": f"m{n}", "kind": "post", "match": match,
            "options": {"url": f"{recorder}/m{n}"}})
        assert created.status_code == 200, created.text
    for n, template in enumerate(TEMPLATES):
        task = api.post("/tasks", json={
            "id": f"cpu_alert{n}", "type": "stream", "status": "enabled",
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": TICK % (template.replace("'", "\\'"), "cpu" if n == 0 else f"t{n}",
                              recorder, n)})
        assert task.status_code == 200, task.text


def _plumbing(recorder: str) -> list[tuple[str, dict[str, object]]]:
    """cpu publishes its warnings and worse to pub, and is aggregated into agg (one event
    every 200 ms, interval in integer nanoseconds); pub and agg post what they get; cpu also
    posts each alert to a URL made by a template."""
    return [
        ("cpu", {"id": "url", "kind": "post", "options": {"url": URL_TEMPLATE % recorder}}),
        ("cpu", {"id": "pub", "kind": "publish", "match": "level() >= WARNING",
                 "options": {"topics": ["pub"]}}),
        ("cpu", {"id": "agg", "kind": "aggregate",
                 "options": {"id": "agg-id", "interval": AGGREGATE_NS, "topic": "agg"}}),
        ("pub", {"id": "post", "kind": "post", "options": {"url": f"{recorder}/pub"}}),
        ("agg", {"id": "post", "kind": "post", "options": {"url": f"{recorder}/agg"}}),
    ]


def _sent(run: list[tuple[str, str]], path: str) -> list[tuple[str, str]]:
    return [(b["id"], b["level"]) for p, b in ((p, json.loads(t)) for p, t in run) if p == path]


async def test_every_match_picks_the_alerts_kapacitor_picked(
        kapacitor_run: list[tuple[str, str]]) -> None:
    alerts = [body for path, body in kapacitor_run if path == "/task0"]
    assert len(alerts) == 10, kapacitor_run
    store = MemoryStore()
    await store.open()
    service = TopicService(store, KindRegistry([PushoverKind(True)]))
    await service.start()
    for n, match in enumerate(MATCHES):
        await service.create_handler(HandlerSpec("cpu", f"m{n}", "pushover", match=match))
    for body in alerts:
        await service.collect("cpu", parse_alerts(body.encode()))
    deliveries = sorted(await store.deliveries(DeliveryFilter()), key=lambda d: d.id)
    for n, match in enumerate(MATCHES):
        ours = [(d.event_id, d.level.name) for d in deliveries if d.handler_id == f"m{n}"]
        assert ours == _sent(kapacitor_run, f"/m{n}"), match


@pytest.mark.parametrize("n", range(len(TEMPLATES)))
def test_the_message_template_renders_what_kapacitor_rendered(
        kapacitor_run: list[tuple[str, str]], n: int) -> None:
    template = parse_template(TEMPLATES[n], "message")
    alerts = [json.loads(body) for path, body in kapacitor_run if path == f"/task{n}"]
    assert len(alerts) == 10
    for body in alerts:
        [event] = parse_alerts(json.dumps(body).encode())
        assert template.render(template_values(event)) == body["message"]


def test_kapacitor_1_5_7_never_matches_its_duration_function(
        kapacitor_run: list[tuple[str, str]]) -> None:
    first = len(MATCHES)
    for n, _ in enumerate(BROKEN_IN_1_5_7, start=first):
        assert _sent(kapacitor_run, f"/m{n}") == []


def test_every_body_kapacitor_posted_is_what_pushoverd_would_write(
        kapacitor_run: list[tuple[str, str]]) -> None:
    """The tasks' and the handlers' bodies: parse, re-encode, compare bytes (post/log kinds)."""
    assert len(kapacitor_run) > 60
    for _, body in kapacitor_run:
        [event] = parse_alerts(body.encode())
        assert alert_json(event) == body.encode()


def test_the_log_kind_writes_the_lines_kapacitors_log_handler_wrote(
        kapacitor_run: list[tuple[str, str]]) -> None:
    """The topic's alerts in pushoverd's log handler: the same file, line for line."""
    logged = [line for path, line in kapacitor_run if path == "/log"]
    assert len(logged) == 10
    handler = LogKind().compile(HandlerSpec("cpu", "to-file", "log", options={"path": "/x"}))
    ours = [handler.plan("cpu", event, AlertHistory(), 0.0)[0].payload["line"]
            for body in logged for event in parse_alerts(body.encode())]
    sent = [body for path, body in kapacitor_run if path == "/task0"]
    assert ours == logged == [alert_json(parse_alerts(b.encode())[0]).decode() for b in sent]


async def plumbing_service() -> tuple[MemoryStore, TopicService]:
    """pushoverd with the same plumbing handlers as the kapacitord run."""
    store = MemoryStore()
    await store.open()
    kinds = KindRegistry([PostKind()], plumbing=[PublishKind(), AggregateKind()])
    service = TopicService(store, kinds)
    await service.start()
    for topic, spec in _plumbing("http://127.0.0.1:9"):
        await service.create_handler(HandlerSpec(
            topic, str(spec["id"]), str(spec["kind"]), spec["options"],  # type: ignore[arg-type]
            str(spec.get("match", ""))))
    return store, service


async def posted_on(store: MemoryStore, topic: str) -> list[str]:
    found = await store.deliveries(DeliveryFilter(topic=topic, limit=1000))
    return [d.payload["body"] for d in sorted(found, key=lambda d: d.id)]


async def test_published_alerts_are_posted_as_kapacitor_posted_them(
        kapacitor_run: list[tuple[str, str]]) -> None:
    """Byte for byte, previousLevel included: the published topic keeps its own history."""
    store, service = await plumbing_service()
    alerts = [body for path, body in kapacitor_run if path == "/task0"]
    for body in alerts:
        await service.collect("cpu", parse_alerts(body.encode()))
    theirs = [body for path, body in kapacitor_run if path == "/pub"]
    assert len(theirs) == sum('"level":"WARNING"' in b or '"level":"CRITICAL"' in b
                              for b in alerts) == 6
    ours = await posted_on(store, "pub")
    assert ours == theirs


async def test_each_aggregate_is_the_one_kapacitor_made_of_the_same_alerts(
        kapacitor_run: list[tuple[str, str]]) -> None:
    """Kapacitor's ticks fell where they fell; its messages say how many alerts each
    aggregate took, so pushoverd is given the same runs and must post the same bytes."""
    theirs = [body for path, body in kapacitor_run if path == "/agg"]
    counts = [int(json.loads(b)["message"].split()[1]) for b in theirs]
    alerts = [body for path, body in kapacitor_run if path == "/task0"]
    assert len(theirs) >= 2 and sum(counts) == len(alerts), theirs
    store, service = await plumbing_service()
    for count in counts:
        for body in alerts[:count]:
            await service.collect("cpu", parse_alerts(body.encode()))
        alerts = alerts[count:]
        assert await service.flush_aggregate("cpu", "agg")
    assert await posted_on(store, "agg") == theirs


async def test_the_kapacitor_folder_loads_into_both_daemons_unchanged(tmp_path: Path) -> None:
    """tests/data/kapacitor-folder (match, templates, every plumbing kind): kapacitord's load
    service and pushoverd's define the same handlers from it."""
    load = kapacitor_folder(tmp_path / "load", "http://127.0.0.1:9", tmp_path / "cpu.log")
    port = free_port()
    config = tmp_path / "kapacitor.conf"
    config.write_text(_config(tmp_path, port, load))
    proc = subprocess.Popen([str(KAPACITORD), "-config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/kapacitor/v1", timeout=5) as api:
            _wait_until_up(api)
            theirs = {(t, h["id"]): (h["kind"], h["match"], h["options"])
                      for t in ("cpu", "ops", "digest")
                      for h in api.get(f"/alerts/topics/{t}/handlers").json()["handlers"]}
    finally:
        proc.terminate()
        proc.wait(10)
    store = MemoryStore()
    await store.open()
    service = TopicService(store, KindRegistry(
        [PushoverKind(True), LogKind(), PostKind()], plumbing=[PublishKind(), AggregateKind()]))
    await service.start()
    assert await load_handler_files(service, load) == []
    ours = {(s.topic, s.id): (s.kind, s.match, s.options)
            for s, _ in await store.load_handlers()}
    assert len(ours) == 5
    assert ours == theirs


async def test_a_templated_post_url_is_rendered_as_kapacitor_rendered_it(
        kapacitor_run: list[tuple[str, str]]) -> None:
    theirs = [path for path, _ in kapacitor_run if path.startswith("/url/")]
    assert len(theirs) == 10, theirs
    store, service = await plumbing_service()
    for body in (b for p, b in kapacitor_run if p == "/task0"):
        await service.collect("cpu", parse_alerts(body.encode()))
    found = await store.deliveries(DeliveryFilter(topic="cpu", handler_id="url", limit=100))
    ours = [d.payload["url"].removeprefix("http://127.0.0.1:9")
            for d in sorted(found, key=lambda d: d.id)]
    assert [unquote(p) for p in ours] == [unquote(p) for p in theirs]
