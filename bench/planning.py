"""What planning costs inside the ingest transaction: alerts collected through the real topic
service into a real SQLite store, with flood control off and on (its window is counted from
the stored deliveries, so it costs one bounded index read per handler and alert).

    python bench/planning.py [--alerts 20000] [--handlers 1] [--batch 100]

Prints alerts/s and CPU microseconds per alert for each setting. Bounded: one pass each.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import Event, HandlerSpec, Level
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.flood import FloodRule
from pushoverd.topics.service import TopicService


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(folder: Path, rule: FloodRule, alerts: int, handlers: int, batch: int) -> None:
    store = SQLiteStore(folder / "pushoverd.db", synchronous="NORMAL")
    await store.open()
    try:
        service = TopicService(store, KindRegistry([PushoverKind(True)]), flood=rule)
        await service.start()
        for n in range(handlers):
            await service.create_handler(HandlerSpec("cpu", f"h{n}", "pushover"))
        events = [Event(id=f"cpu:host=h{i}", level=Level.CRITICAL, message=f"h{i} is CRITICAL")
                  for i in range(batch)]
        started, cpu = time.perf_counter(), _cpu()
        for _ in range(alerts // batch):
            await service.collect("cpu", events)
        wall, used = time.perf_counter() - started, _cpu() - cpu
        label = "off" if rule.unlimited else f"{rule.rate} per {rule.interval:.0f}s"
        print(f"flood {label:>14}: {alerts / wall:8,.0f} alerts/s, "
              f"{used / alerts * 1e6:6.1f} us CPU per alert ({handlers} handler(s))")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--handlers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100, help="alerts per collect")
    args = parser.parse_args()
    for rule in (FloodRule(0, 60.0), FloodRule(10, 60.0), FloodRule(1000, 3600.0)):
        with tempfile.TemporaryDirectory() as folder:
            await run(Path(folder), rule, args.alerts, args.handlers, args.batch)


if __name__ == "__main__":
    asyncio.run(main())
