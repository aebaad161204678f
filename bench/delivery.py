"""Delivery benchmark: how close pushoverd gets to Pushover's real limit (2 connections).

    python bench/delivery.py [--phases rtt,instant,latency] [--separate-process true|false]

Phases, each on a fresh daemon and a fake Pushover (``servers.py pushover [DELAY]``), every
process on 127.0.0.1 and every loop bounded:

1. ``rtt``: the fake answers after ``--rtt`` (50 ms, a realistic round trip). ``--rtt-alerts``
   alerts with distinct ids, to one handler and then to four; notifications/s against the
   two-connection limit (2 / RTT), and the connections the fake saw.
2. ``instant``: the fake answers at once; one handler, ``--instant-alerts`` alerts; delivered/s,
   CPU microseconds per notification (daemon and its sender child together), loss, duplicates.
3. ``latency``: ``--rate`` alerts/s offered one POST at a time for ``--seconds``; ack-to-receipt
   p50/p99, and the first alert after start.

Alerts are posted as JSON arrays (ingest is not what is measured here), with flood control off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ingest import (
    TOPIC,
    Children,
    Daemon,
    FakePushover,
    http,
    proc_cpu,
    start_daemon,
    start_server,
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phases", default="rtt,instant,latency")
    p.add_argument("--rtt", type=float, default=0.05, help="the slow fake's answer delay, s")
    p.add_argument("--rtt-alerts", type=int, default=400)
    p.add_argument("--instant-alerts", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=100.0, help="alerts/s in the latency phase")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the latency phase")
    p.add_argument("--separate-process", choices=("true", "false"), default="true")
    p.add_argument("--timeout", type=float, default=120.0, help="longest wait per phase")
    return p.parse_args(argv)


def alerts(tag: str, count: int) -> list[dict[str, object]]:
    """``count`` CRITICAL alerts with distinct ids (and so distinct messages)."""
    return [{"id": f"cpu:host={tag}{n}", "level": "CRITICAL", "message": f"{tag}{n} is down",
             "time": "2026-12-01T00:00:00Z"} for n in range(count)]


def post_all(daemon: Daemon, body: list[dict[str, object]], batch: int = 500) -> None:
    """Post the alerts in arrays; every array must be acknowledged."""
    for start in range(0, len(body), batch):
        status, reply = http("POST", f"{daemon.url}/kapacitor/v1/alerts/topics/{TOPIC}/events",
                             body[start:start + batch], timeout=60)
        if status != 204:
            raise RuntimeError(f"ingest answered {status}: {reply[:200]!r}")


def add_handlers(daemon: Daemon, count: int) -> None:
    """Handlers beyond the one ``start_daemon`` made, on the same topic."""
    for n in range(1, count):
        spec = {"id": f"extra-{n}", "kind": "pushover", "options": {"title": f"copy {n}"}}
        status, _ = http("POST", f"{daemon.url}/kapacitor/v1/alerts/topics/{TOPIC}/handlers",
                         spec)
        if status != 200:
            raise RuntimeError(f"creating handler {n} failed: {status}")


def stats(fake: FakePushover) -> dict[str, int]:
    return json.loads(http("GET", f"{fake.url}/_stats")[1])


def receipt_span(fake: FakePushover, copies: int = 1) -> tuple[int, float, int]:
    """(receipts, seconds from first to last, duplicates), where each message is expected
    ``copies`` times (once per handler)."""
    receipts = fake.receipts()
    times = sorted(t for ts in receipts.values() for t in ts)
    dupes = sum(max(0, len(ts) - copies) for ts in receipts.values())
    return len(times), (times[-1] - times[0]) if len(times) > 1 else 0.0, dupes


def fresh(children: Children, root: Path, name: str, fake_args: Sequence[str],
          separate: str) -> tuple[Daemon, FakePushover]:
    _, url = start_server(children, "pushover", *fake_args)
    return start_daemon(children, root / name, url, "FULL", separate), FakePushover(url)


def phase_rtt(children: Children, root: Path, a: argparse.Namespace) -> None:
    limit = 2 / a.rtt
    print(f"\n== 1. Fake answering after {a.rtt * 1000:.0f} ms: the 2-connection limit is "
          f"{limit:.1f}/s ==")
    for handlers in (1, 4):
        daemon, fake = fresh(children, root, f"rtt{handlers}", [str(a.rtt)], a.separate_process)
        add_handlers(daemon, handlers)
        expected = a.rtt_alerts * handlers
        post_all(daemon, alerts("r", a.rtt_alerts))
        got, _ = fake.wait_for(expected, a.timeout, daemon)
        received, span, dupes = receipt_span(fake, copies=handlers)
        seen = stats(fake)
        rate = (received - 1) / span if span else 0.0
        print(f"{handlers} handler(s): {got} of {expected} delivered, {rate:.1f}/s "
              f"({rate / limit:.2f} of the limit); connections {seen['connections']}, "
              f"at most {seen['max_in_flight']} requests at once; duplicates {dupes}")
        children.stop(daemon.proc)


def phase_instant(children: Children, root: Path, a: argparse.Namespace) -> None:
    print(f"\n== 2. Fake answering at once: one handler, {a.instant_alerts} alerts ==")
    daemon, fake = fresh(children, root, "instant", [], a.separate_process)
    body = alerts("i", a.instant_alerts)
    cpu_before = proc_cpu(daemon.pid)
    post_all(daemon, body)
    got, _ = fake.wait_for(len(body), a.timeout, daemon)
    cpu = proc_cpu(daemon.pid) - cpu_before
    received, span, dupes = receipt_span(fake)
    missing = len(body) - len(fake.receipts())
    print(f"delivered {got} of {len(body)}: {(received - 1) / span:,.0f}/s first to last "
          f"receipt; missing {missing}, duplicates {dupes}")
    print(f"CPU per notification (daemon + sender child, ingest included): "
          f"{cpu / max(got, 1) * 1e6:,.0f} us")
    children.stop(daemon.proc)


def phase_latency(children: Children, root: Path, a: argparse.Namespace) -> None:
    print(f"\n== 3. {a.rate:.0f} alerts/s offered one at a time for {a.seconds:.0f} s ==")
    daemon, fake = fresh(children, root, "latency", [], a.separate_process)
    acks: dict[str, float] = {}
    count = int(a.rate * a.seconds)
    start = time.monotonic()
    for n, alert in enumerate(alerts("l", count)):
        time.sleep(max(0.0, start + n / a.rate - time.monotonic()))
        status, _ = http("POST", f"{daemon.url}/kapacitor/v1/alerts/topics/{TOPIC}/events",
                         alert)
        if status == 204:
            acks[str(alert["message"])] = time.monotonic()
    fake.wait_for(len(acks), a.timeout, daemon)
    receipts = fake.receipts()
    delays = sorted((receipts[m][0] - t) * 1000 for m, t in acks.items() if m in receipts)
    first = delays and (receipts[next(iter(acks))][0] - next(iter(acks.values()))) * 1000
    p99 = delays[int(len(delays) * 0.99) - 1] if delays else float("nan")
    print(f"{len(delays)} of {count} delivered; ack to receipt p50 "
          f"{statistics.median(delays):.1f} ms, p99 {p99:.1f} ms, max {delays[-1]:.1f} ms; "
          f"the first alert after start {first:.1f} ms")
    children.stop(daemon.proc)


def main(argv: Sequence[str]) -> int:
    a = parse_args(argv)
    phases = {"rtt": phase_rtt, "instant": phase_instant, "latency": phase_latency}
    children = Children()
    print(f"separate-process={a.separate_process}")
    try:
        with tempfile.TemporaryDirectory(prefix="pushoverd-delivery-") as folder:
            for name in a.phases.split(","):
                phases[name](children, Path(folder), a)
    finally:
        children.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
