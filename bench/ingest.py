"""Ingest benchmark: how fast pushoverd acknowledges alerts durably and delivers them.

    /work/venv/bin/python bench/ingest.py [--requests N] [--concurrency C] [--rate R] ...

Phases (each server is its own subprocess on 127.0.0.1; the load generator is another process,
see ``loadgen.py``; every subprocess is killed on exit):

1. ceiling  - a bare aiohttp app that reads, ``json.loads`` and answers 204 (``servers.py``),
              loaded exactly like pushoverd: its requests/s is what Python + aiohttp allow.
2. durable  - pushoverd (SQLite, synchronous=FULL, one pushover handler made through the API,
              flood control off, no access log, log level ERROR to a file) under the same
              load while its worker drains to a fake Pushover: accepted alerts/s, ack p50/p99.
3. e2e      - the same run, followed to the fake Pushover: delivered/s, ack -> receipt latency,
              missing and duplicate deliveries; then a fresh daemon paced at ``--rate``/s.
4. rss      - a fresh daemon fed ``--rss-alerts`` alerts (JSON arrays of ``--rss-batch``
              alerts per POST, to go faster): its peak RSS (VmHWM) after the ingest and a
              ``--rss-drain-wait`` of delivering.

See bench/README.md for what each figure means and the figures measured on the dev box.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadGen, alert_message, capture_templates

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CAPTURES = Path("/work/shared/spec/kapacitor-captures/post_handler_bodies.jsonl")
FALLBACK_CAPTURES = REPO / "tests" / "data" / "post_handler_bodies.jsonl"
TOPIC = "cpu"
EVENTS_PATH = f"/kapacitor/v1/alerts/topics/{TOPIC}/events"
TOKEN = "a" * 30
USER = "u" * 30
# The handler from the Kapacitor capture api_topic_cpu_handler_pushover.txt.
HANDLER = {"id": "pushover-cpu", "kind": "pushover", "options": {
    "device": "mydevice", "sound": "siren", "title": "CPU Alert Title",
    "url": "http://example.com/dash?x=1&y=2", "url-title": "Open dashboard"}}

TARGET_RATIO = 0.7
TARGET_DELIVERED = 2000.0
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 150.0


# --- arguments ---------------------------------------------------------------------------------

def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line; defaults finish in about a minute on a 2-core box."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=10_000,
                   help="requests in the ceiling and durable runs (one alert each)")
    p.add_argument("--concurrency", type=int, default=32,
                   help="keep-alive connections in the closed-loop runs")
    p.add_argument("--rate", type=float, default=1000.0,
                   help="offered alerts/s in the paced end-to-end run")
    p.add_argument("--paced-seconds", type=float, default=10.0,
                   help="length of the paced run")
    p.add_argument("--rss-alerts", type=int, default=100_000,
                   help="alerts fed to a fresh daemon before reading its peak RSS (0: skip)")
    p.add_argument("--rss-batch", type=int, default=100,
                   help="alerts per JSON-array POST in the RSS phase")
    p.add_argument("--rss-drain-wait", type=float, default=5.0,
                   help="how long the RSS phase lets the worker drain before reading VmHWM")
    p.add_argument("--warmup", type=int, default=500,
                   help="requests sent (and drained) before each measured run")
    p.add_argument("--drain-timeout", type=float, default=60.0,
                   help="longest wait for the fake Pushover to receive every acked alert")
    p.add_argument("--same-id", action="store_true",
                   help="also run the durable phase with one alert id for every request")
    p.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"),
                   help="[pushoverd.store] synchronous")
    p.add_argument("--separate-process", default="true", choices=("true", "false"),
                   help="[pushoverd.delivery] separate-process: send from a child process")
    p.add_argument("--flood", default="off", choices=("off", "default"),
                   help="[pushoverd.flood]: off, or the default rule (10 a minute per handler: "
                        "a storm, most alerts held and summarised)")
    p.add_argument("--growth-events", type=int, default=100_000,
                   help="event ids in the topic for the second growth run")
    p.add_argument("--growth-requests", type=int, default=5_000,
                   help="single-alert requests measured in each growth run")
    p.add_argument("--phases", default="ceiling,durable,paced,rss",
                   help="comma-separated subset of ceiling,durable,paced,rss,growth")
    p.add_argument("--captures", type=Path,
                   default=CAPTURES if CAPTURES.exists() else FALLBACK_CAPTURES,
                   help="Kapacitor post-handler capture (JSON lines with a 'body')")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where databases and logs go (default: a fresh directory in $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--max-run-seconds", type=float, default=120.0,
                   help="a closed-loop run stops sending after this long")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="hard limit for the whole benchmark, in seconds")
    return p.parse_args(argv)


# --- small helpers -----------------------------------------------------------------------------

def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> str:
    """Seconds as milliseconds text."""
    return f"{seconds * 1000:.1f} ms"


def http(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """One request with the standard library; (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the daemon sends from a child process by default)."""
    tree, i = [pid], 0
    while i < len(tree):
        for task in Path(f"/proc/{tree[i]}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                tree += [int(c) for c in task.read_text().split()]
        i += 1
    return tree


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS in kB, summed over ``pid`` and its children (the sum of the peaks
    is an upper bound of the tree's peak)."""
    fields = {"VmHWM": 0, "VmRSS": 0}
    for member in process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in fields:
                fields[key] += int(value.split()[0])
    return fields


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (all their threads)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        after_name = stat.rsplit(")", 1)[1].split()
        total += (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")
    return total


def git_head() -> str:
    """The checked-out commit (read-only), or "?"."""
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def filesystem(path: Path) -> str:
    """The filesystem type ``path`` lives on (fsync cost depends on it)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        parts = line.split()
        mount = parts[1]
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, f"{parts[2]} on {parts[0]}"
    return kind


# --- subprocesses ------------------------------------------------------------------------------

class Children:
    """Every subprocess this run starts; all are stopped (then killed) on exit."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()

    def stop_all(self) -> None:
        for proc in reversed(self._procs):
            with contextlib.suppress(Exception):
                self.stop(proc)


def start_server(children: Children, kind: str,
                 *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``servers.py kind [args]`` in a subprocess; (process, base URL) once it listens."""
    proc = children.start([sys.executable, str(BENCH / "servers.py"), kind, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("port="):
        raise RuntimeError(f"{kind} server did not start")
    return proc, f"http://127.0.0.1:{line.removeprefix('port=')}"


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    """A pushoverd subprocess with its own data directory."""

    proc: subprocess.Popen[bytes]
    url: str
    folder: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"pushoverd exited with {self.proc.returncode}; see "
                               f"{self.folder / 'pushoverd.log'} and stderr.txt")

    def outbox(self) -> dict[str, int]:
        """Delivery counts by status, from ``GET /pushoverd/v1/status``."""
        status, body = http("GET", f"{self.url}/pushoverd/v1/status")
        return json.loads(body).get("outbox", {}) if status == 200 else {}

    def queued(self) -> int:
        """Deliveries not yet sent or dead-lettered."""
        counts = self.outbox()
        return sum(counts.get(s, 0) for s in ("pending", "sending", "failed"))

    def log_errors(self) -> int:
        path = self.folder / "pushoverd.log"
        return path.read_text().count("lvl=error") if path.exists() else 0


def daemon_config(folder: Path, port: int, pushover_url: str, synchronous: str,
                  separate: str, flood: str = "off") -> str:
    """The benchmark's kapacitor.conf."""
    return (
        f'data_dir = "{folder / "data"}"\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
        f'  shutdown-timeout = "2s"\n'
        f'[logging]\n  file = "{folder / "pushoverd.log"}"\n  level = "ERROR"\n'
        f'[pushover]\n  enabled = true\n  token = "{TOKEN}"\n  user-key = "{USER}"\n'
        f'  url = "{pushover_url}/1/messages.json"\n'
        f'[pushoverd.store]\n  synchronous = "{synchronous}"\n'
        f'[pushoverd.flood]\n  enabled = {"true" if flood == "default" else "false"}\n'
        f'[pushoverd.delivery]\n  separate-process = {separate}\n')


def start_daemon(children: Children, folder: Path, pushover_url: str,
                 synchronous: str, separate: str, flood: str = "off") -> Daemon:
    """pushoverd on a fresh data directory, with the pushover handler created via the API."""
    folder.mkdir(parents=True)
    port = free_port()
    config = folder / "kapacitor.conf"
    config.write_text(daemon_config(folder, port, pushover_url, synchronous, separate, flood))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "PUSHOVERD_"))}
    if env.get("PYTHONPATH"):  # the daemon runs in its own folder: keep relative entries valid
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    stderr = (folder / "stderr.txt").open("wb")
    proc = children.start([sys.executable, "-m", "pushoverd", "-config", str(config)],
                          env=env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=folder)
    stderr.close()
    daemon = Daemon(proc, f"http://127.0.0.1:{port}", folder)
    _wait_ping(daemon)
    status, body = http("POST", f"{daemon.url}/kapacitor/v1/alerts/topics/{TOPIC}/handlers",
                        HANDLER)
    if status != 200:
        raise RuntimeError(f"creating the handler failed: {status} {body[:200]!r}")
    return daemon


def _wait_ping(daemon: Daemon, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.alive()
        with contextlib.suppress(OSError):
            if http("GET", f"{daemon.url}/kapacitor/v1/ping", timeout=0.5)[0] == 204:
                return
        time.sleep(0.05)
    raise RuntimeError("pushoverd did not answer ping in time")


# --- the fake Pushover -------------------------------------------------------------------------

@dataclass
class FakePushover:
    """Client side of ``servers.py pushover``."""

    url: str

    def received(self) -> int:
        return int(json.loads(http("GET", f"{self.url}/_stats")[1])["received"])

    def receipts(self) -> dict[str, list[float]]:
        return json.loads(http("GET", f"{self.url}/_receipts", timeout=30)[1])

    def reset(self) -> None:
        http("POST", f"{self.url}/_reset")

    def wait_for(self, expected: int, timeout: float, daemon: Daemon,
                 stall: float = 15.0) -> tuple[int, float]:
        """Wait until ``expected`` messages arrived, time is up, or nothing came for
        ``stall`` s; (received, seconds waited)."""
        start = time.monotonic()
        last, last_change = -1, start
        while True:
            got, now = self.received(), time.monotonic()
            if got != last:
                last, last_change = got, now
            if got >= expected or now - start > timeout or now - last_change > stall:
                return got, now - start
            daemon.alive()
            time.sleep(0.1)


# --- load results ------------------------------------------------------------------------------

@dataclass
class Load:
    """What one load-generator job measured."""

    result: dict[str, Any]
    batch: int = 1
    ok: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.ok = [i for i, s in enumerate(self.result["status"]) if s == 204]

    @property
    def failed(self) -> int:
        return sum(1 for s in self.result["status"] if s not in (204, -1))

    @property
    def start(self) -> float:
        sent = [t for t, s in zip(self.result["sent"], self.result["status"], strict=True)
                if s != -1]
        return min(sent)

    @property
    def end(self) -> float:
        return max(self.result["acked"][i] for i in self.ok)

    def rate(self) -> float:
        """Acknowledged requests per second of the run."""
        return len(self.ok) / (self.end - self.start)

    def latencies(self, since: str = "sent") -> list[float]:
        """Ack latency of each acknowledged request, from when it was sent (or due)."""
        r = self.result
        return [r["acked"][i] - r[since][i] for i in self.ok]

    def acked_alerts(self) -> Iterator[tuple[int, float]]:
        """(alert number, ack time) of every acknowledged alert."""
        for i in self.ok:
            for k in range(self.batch):
                yield i * self.batch + k, self.result["acked"][i]


def job(kind: str, url: str, args: argparse.Namespace, tag: str, requests: int,
        concurrency: int, seconds: float, **extra: Any) -> dict[str, Any]:
    """A load-generator job description."""
    return {"kind": kind, "url": url, "captures": str(args.captures), "tag": tag,
            "requests": requests, "concurrency": concurrency, "seconds": seconds,
            "timeout": 30.0, **extra}


def run_load(gen: LoadGen, spec: dict[str, Any], pid: int) -> tuple[Load, float, float]:
    """Run one job; (load, server CPU seconds, client CPU seconds)."""
    cpu0 = proc_cpu(pid)
    result = gen.run(spec, timeout=spec["seconds"] + 60)
    return Load(result, spec.get("batch", 1)), proc_cpu(pid) - cpu0, result["client_cpu"]


def cpu_line(load: Load, server_cpu: float, client_cpu: float) -> str:
    """Who was busy: a generator near 100% of a core means the figure is client-bound."""
    span = load.end - load.start
    per_request = server_cpu / max(1, len(load.ok)) * 1e6
    return (f"CPU over the run: server {server_cpu / span:.0%} of a core "
            f"({per_request:,.0f} us per request), load generator {client_cpu / span:.0%} "
            f"of a core")


@dataclass
class Matched:
    """Acked alerts matched with the fake Pushover's receipts."""

    latencies: list[float]
    receipt_times: list[float]
    missing: int
    duplicates: int
    unexpected: int


def exactly_once_line(m: Matched, daemon: Daemon) -> tuple[str, int]:
    """The missing/duplicate report, and how many of those are real losses."""
    queued = daemon.queued() if m.missing else 0
    lost = max(0, m.missing - queued) + m.duplicates
    text = (f"exactly once: missing {m.missing}, duplicates {m.duplicates}, "
            f"unexpected {m.unexpected}")
    if queued:
        text += (f"; the outbox still holds {queued} undelivered (slow delivery, not loss: "
                 f"raise --drain-timeout to see them arrive)")
    return text, lost


def match(load: Load, templates: list[str], tag: str,
          receipts: dict[str, list[float]]) -> Matched:
    """Pair every acknowledged alert with its receipt(s) by message text."""
    latencies, times, missing, duplicates = [], [], 0, 0
    expected = set()
    for n, acked in load.acked_alerts():
        message = alert_message(templates, tag, n)
        expected.add(message)
        got = receipts.get(message, [])
        if not got:
            missing += 1
            continue
        duplicates += len(got) - 1
        latencies.append(got[0] - acked)
        times.append(got[0])
    unexpected = sum(len(v) for k, v in receipts.items() if k not in expected)
    return Matched(latencies, sorted(times), missing, duplicates, unexpected)


def delivered_rate(times: Sequence[float], start: float, end: float) -> float:
    """Receipts per second between ``start`` and ``end``."""
    inside = [t for t in times if start <= t <= end]
    return len(inside) / (end - start) if end > start else float("nan")


# --- phases ------------------------------------------------------------------------------------

@dataclass
class Bench:
    """Shared state of one benchmark run."""

    args: argparse.Namespace
    children: Children
    gen: LoadGen
    workdir: Path
    templates: list[str]
    fake: FakePushover | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def closed(self, url: str, tag: str, requests: int, pid: int, concurrency: int | None = None,
               batch: int = 1, same_id: bool = False) -> tuple[Load, float, float]:
        spec = job("closed", url + EVENTS_PATH, self.args, tag, requests,
                   concurrency or self.args.concurrency, self.args.max_run_seconds,
                   batch=batch, same_id=same_id)
        return run_load(self.gen, spec, pid)

    def daemon(self, name: str) -> Daemon:
        assert self.fake is not None
        return start_daemon(self.children, self.workdir / name, self.fake.url,
                            self.args.synchronous, self.args.separate_process, self.args.flood)

    def warm(self, daemon: Daemon, tag: str) -> None:
        """Warm up a daemon, let its worker drain, then clear the fake's receipts."""
        assert self.fake is not None
        self.fake.reset()
        if self.args.warmup:
            load, _, _ = self.closed(daemon.url, tag, self.args.warmup, daemon.pid)
            self.fake.wait_for(len(load.ok), self.args.drain_timeout, daemon)
        self.fake.reset()


def phase_ceiling(b: Bench) -> None:
    print("\n== 1. Ceiling: bare aiohttp app (read body, json.loads, 204) ==")
    proc, url = start_server(b.children, "ceiling")
    try:
        if b.args.warmup:
            b.closed(url, "w", b.args.warmup, proc.pid)
        load, server_cpu, client_cpu = b.closed(url, "c", b.args.requests, proc.pid)
    finally:
        b.children.stop(proc)
    lat = load.latencies()
    b.figures["ceiling"] = load.rate()
    b.figures["ceiling_cpu"] = server_cpu / len(load.ok)
    print(f"requests: {len(load.ok)} answered 204, {load.failed} failed, "
          f"in {load.end - load.start:.2f} s")
    print(f"ceiling: {load.rate():,.0f} requests/s   "
          f"(latency p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))})")
    print(cpu_line(load, server_cpu, client_cpu))
    if client_cpu / (load.end - load.start) > 0.85:
        print("note: the load generator is close to a full core, so this ceiling is partly "
              "client-bound; compare the CPU per request too")


def phase_durable(b: Bench, tag: str = "d", same_id: bool = False) -> None:
    title = "one alert id for every request" if same_id else "a distinct id per alert"
    print(f"\n== 2. pushoverd durable ingest (synchronous={b.args.synchronous}, {title}) ==")
    assert b.fake is not None
    daemon = b.daemon("same-id" if same_id else "durable")
    b.warm(daemon, "w")
    load, server_cpu, client_cpu = b.closed(daemon.url, "s" if same_id else tag,
                                            b.args.requests, daemon.pid, same_id=same_id)
    lat = load.latencies()
    key = "durable_same_id" if same_id else "durable"
    b.figures[key] = load.rate()
    b.figures[key + "_p99"] = percentile(lat, 99)
    b.figures[key + "_cpu"] = server_cpu / len(load.ok)
    print(f"requests: {len(load.ok)} acknowledged (204), {load.failed} failed, "
          f"in {load.end - load.start:.2f} s")
    print(f"durable ingest: {load.rate():,.0f} alerts/s   ack latency p50 "
          f"{ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))}")
    if "ceiling" in b.figures:
        print(f"ratio to ceiling: {load.rate() / b.figures['ceiling']:.2f} "
              f"(target >= {TARGET_RATIO}); server CPU per request "
              f"{b.figures[key + '_cpu'] / b.figures['ceiling_cpu']:.1f}x the ceiling's")
    print(cpu_line(load, server_cpu, client_cpu))
    if not same_id:
        follow_deliveries(b, daemon, load, tag)
    hwm = proc_status(daemon.pid)["VmHWM"]
    print(f"daemon peak RSS so far: {hwm / 1024:.1f} MB; error lines in its log: "
          f"{daemon.log_errors()}")
    b.children.stop(daemon.proc)


def follow_deliveries(b: Bench, daemon: Daemon, load: Load, tag: str) -> None:
    """Phase 3a: wait for the worker to drain the run, then match receipts to acks."""
    assert b.fake is not None
    print("\n== 3a. End to end, same run: ack -> fake Pushover receipt ==")
    acked = len(load.ok) * load.batch
    at_end = b.fake.received()
    got, waited = b.fake.wait_for(acked, b.args.drain_timeout, daemon)
    m = match(load, b.templates, tag, b.fake.receipts())
    print(f"delivered {got} of {acked} acknowledged alerts; {at_end} had arrived when the "
          f"load ended, the rest took {waited:.1f} s more")
    if m.receipt_times:
        first, last = m.receipt_times[0], m.receipt_times[-1]
        overall = (len(m.receipt_times) - 1) / (last - first) if last > first else float("nan")
        during = delivered_rate(m.receipt_times, load.start, load.end)
        drain = delivered_rate(m.receipt_times, load.end, last)
        b.figures["delivered"] = overall
        print(f"delivered/s: {overall:,.0f} sustained (first to last receipt); "
              f"{during:,.0f} while ingesting, {drain:,.0f} draining after the load")
        print(f"end-to-end latency (saturated, includes queueing behind the backlog): "
              f"p50 {ms(percentile(m.latencies, 50))}, p99 {ms(percentile(m.latencies, 99))}")
    text, lost = exactly_once_line(m, daemon)
    print(text)
    b.figures["lost"] = b.figures.get("lost", 0) + lost


def phase_paced(b: Bench) -> None:
    rate, seconds = b.args.rate, b.args.paced_seconds
    print(f"\n== 3b. End to end, paced: {rate:,.0f} alerts/s offered for {seconds:.0f} s ==")
    assert b.fake is not None
    daemon = b.daemon("paced")
    b.warm(daemon, "w")
    requests = int(rate * seconds)
    spec = job("paced", daemon.url + EVENTS_PATH, b.args, "p", requests, 256, seconds,
               rate=rate)
    load, server_cpu, client_cpu = run_load(b.gen, spec, daemon.pid)
    got, waited = b.fake.wait_for(len(load.ok), b.args.drain_timeout, daemon)
    m = match(load, b.templates, "p", b.fake.receipts())
    lat = load.latencies("due")
    b.figures["paced_p99"] = percentile(m.latencies, 99)
    print(f"requests: {len(load.ok)} of {requests} acknowledged, {load.failed} failed; "
          f"achieved {load.rate():,.0f} alerts/s")
    print(f"ack latency from the scheduled time: p50 {ms(percentile(lat, 50))}, "
          f"p99 {ms(percentile(lat, 99))}")
    print(f"end-to-end latency (ack -> receipt): p50 {ms(percentile(m.latencies, 50))}, "
          f"p99 {ms(percentile(m.latencies, 99))}, max {ms(max(m.latencies, default=0))}")
    print(f"delivered {got}; backlog drained {waited:.1f} s after the load ended")
    text, lost = exactly_once_line(m, daemon)
    print(text)
    print(cpu_line(load, server_cpu, client_cpu))
    b.figures["lost"] = b.figures.get("lost", 0) + lost
    b.children.stop(daemon.proc)


def phase_rss(b: Bench) -> None:
    alerts, batch = b.args.rss_alerts, max(1, b.args.rss_batch)
    requests = -(-alerts // batch)
    print(f"\n== 4. Memory: {requests * batch:,} alerts to a fresh daemon "
          f"(JSON arrays of {batch} alerts per POST, {min(8, b.args.concurrency)} connections) ==")
    assert b.fake is not None
    daemon = b.daemon("rss")
    b.fake.reset()
    start = proc_status(daemon.pid)
    load, _, _ = b.closed(daemon.url, "m", requests, daemon.pid,
                          concurrency=min(8, b.args.concurrency), batch=batch)
    after_ingest = proc_status(daemon.pid)
    acked = len(load.ok) * batch
    got, waited = b.fake.wait_for(acked, b.args.rss_drain_wait, daemon)
    end = proc_status(daemon.pid)
    b.figures["rss_mb"] = end["VmHWM"] / 1024
    b.figures["rss_delivered"] = (got, acked)
    print(f"ingested {acked:,} alerts in {load.end - load.start:.1f} s "
          f"({acked / (load.end - load.start):,.0f} alerts/s batched); {load.failed} failed")
    print(f"delivered {got:,} of them by {waited:.1f} s after ingest ended "
          f"(--rss-drain-wait {b.args.rss_drain_wait:g}); {daemon.queued():,} still queued")
    print(f"RSS: {start['VmRSS'] / 1024:.1f} MB at start, {after_ingest['VmRSS'] / 1024:.1f} MB "
          f"after ingest, {end['VmRSS'] / 1024:.1f} MB after delivery; "
          f"peak (VmHWM) {end['VmHWM'] / 1024:.1f} MB")
    b.children.stop(daemon.proc)


def phase_growth(b: Bench) -> None:
    small, large = 1_000, b.args.growth_events
    print(f"\n== 5. Topic growth: single-alert ingest with {small:,} and then {large:,} "
          "distinct event ids already in the topic ==")
    assert b.fake is not None
    daemon = b.daemon("growth")
    rates = []
    for have, tag in ((small, "g"), (large, "h")):
        prefill(daemon, have)
        b.warm(daemon, f"w{tag}")
        load, server_cpu, _ = b.closed(daemon.url, tag, b.args.growth_requests, daemon.pid)
        rates.append(load.rate())
        print(f"{have:,} events in the topic: {load.rate():,.0f} alerts/s, ack p99 "
              f"{ms(percentile(load.latencies(), 99))}, "
              f"{server_cpu / len(load.ok) * 1e6:,.0f} us CPU per alert")
    b.figures["growth_ratio"] = rates[1] / rates[0]
    print(f"ratio {large:,} / {small:,}: {rates[1] / rates[0]:.2f} (target >= 0.9)")
    b.children.stop(daemon.proc)


def prefill(daemon: Daemon, events: int, batch: int = 1_000) -> None:
    """Grow the topic to ``events`` distinct event ids (``cpu:host=pre<n>``), in arrays, with
    its handler away meanwhile, so that no delivery competes with the measured run."""
    handler = f"{daemon.url}/kapacitor/v1/alerts/topics/{TOPIC}/handlers"
    http("DELETE", f"{handler}/{HANDLER['id']}")
    for start in range(0, events, batch):
        body = [{"id": f"cpu:host=pre{n}", "level": "OK", "message": f"pre{n} is OK"}
                for n in range(start, min(events, start + batch))]
        status, reply = http("POST", f"{daemon.url}{EVENTS_PATH}", body, timeout=60)
        if status != 204:
            raise RuntimeError(f"prefill answered {status}: {reply[:200]!r}")
    status, reply = http("POST", handler, HANDLER)
    if status != 200:
        raise RuntimeError(f"re-creating the handler failed: {status} {reply[:200]!r}")


# --- report ------------------------------------------------------------------------------------

def print_header(args: argparse.Namespace, workdir: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    print("pushoverd ingest benchmark")
    print(f"machine: nproc={cpus} ({model}), {platform.system()} {platform.release()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"python {platform.python_version()} ({sys.executable}), "
          f"aiohttp {metadata.version('aiohttp')}, sqlite {__import__('sqlite3').sqlite_version}")
    print(f"pushoverd {metadata.version('pushoverd')} at commit {git_head()} "
          "(uncommitted edits in the tree are included)")
    print(f"work dir: {workdir} ({filesystem(workdir)})")
    print(f"settings: requests={args.requests} concurrency={args.concurrency} "
          f"rate={args.rate:g}/s paced-seconds={args.paced_seconds:g} "
          f"rss-alerts={args.rss_alerts} rss-batch={args.rss_batch} "
          f"rss-drain-wait={args.rss_drain_wait:g}s warmup={args.warmup} "
          f"drain-timeout={args.drain_timeout:g}s "
          f"synchronous={args.synchronous} separate-process={args.separate_process} "
          f"phases={args.phases}")
    print(f"bodies: {args.captures} (4 captured levels in turn, id cpu:host=<tag><n>)")


def summary(f: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append((name, value, target, "-" if ok is None else ("PASS" if ok else "MISS")))

    if "ceiling" in f:
        row("ceiling (bare aiohttp)", f"{f['ceiling']:,.0f} req/s", "-", None)
    if "durable" in f:
        ratio = f["durable"] / f["ceiling"] if "ceiling" in f else None
        row("durable ingest", f"{f['durable']:,.0f} alerts/s", "-", None)
        if ratio is not None:
            row("durable / ceiling", f"{ratio:.2f}", f">= {TARGET_RATIO}", ratio >= TARGET_RATIO)
            row("server CPU per request vs ceiling",
                f"{f['durable_cpu'] / f['ceiling_cpu']:.1f}x", "-", None)
        row("ack latency p99", ms(f["durable_p99"]), "-", None)
    if "durable_same_id" in f:
        row("durable ingest, one id", f"{f['durable_same_id']:,.0f} alerts/s", "-", None)
    if "delivered" in f:
        row("delivered end to end", f"{f['delivered']:,.0f} alerts/s",
            f">= {TARGET_DELIVERED:,.0f}/s", f["delivered"] >= TARGET_DELIVERED)
    if "paced_p99" in f:
        row("e2e p99 at paced rate", ms(f["paced_p99"]), f"< {TARGET_P99_MS:.0f} ms",
            f["paced_p99"] * 1000 < TARGET_P99_MS)
    if "lost" in f:
        row("lost + duplicated deliveries", str(f["lost"]), "0", f["lost"] == 0)
    if "rss_mb" in f:
        got, acked = f["rss_delivered"]
        row(f"peak RSS ({acked:,} alerts, {got:,} delivered)", f"{f['rss_mb']:.1f} MB",
            f"< {TARGET_RSS_MB:.0f} MB", f["rss_mb"] < TARGET_RSS_MB)
    if "growth_ratio" in f:
        row("ingest with 100x the events", f"{f['growth_ratio']:.2f} of the rate", ">= 0.9",
            f["growth_ratio"] >= 0.9)
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print("\n== Summary ==")
    for r in [("figure", "measured", "target", ""), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("the benchmark hit its --timeout")


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    phases = set(args.phases.split(","))
    if args.rss_alerts <= 0:
        phases.discard("rss")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pushoverd-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print_header(args, workdir)
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _alarm)
    signal.alarm(int(args.timeout))
    children, gen = Children(), LoadGen()
    finished = False
    try:
        b = Bench(args, children, gen, workdir, capture_templates(args.captures))
        if "ceiling" in phases:
            phase_ceiling(b)
        if phases & {"durable", "paced", "rss", "growth"}:
            b.fake = FakePushover(start_server(children, "pushover")[1])
        if "durable" in phases:
            phase_durable(b)
            if args.same_id:
                phase_durable(b, same_id=True)
        if "paced" in phases:
            phase_paced(b)
        if "rss" in phases:
            phase_rss(b)
        if "growth" in phases:
            phase_growth(b)
        summary(b.figures)
        finished = True
    finally:
        signal.alarm(0)
        gen.close()
        children.stop_all()
        if finished and not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not finished:
            print(f"\nfailed; logs and databases kept in {workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
