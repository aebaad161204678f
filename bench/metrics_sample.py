"""A sample of ``/metrics`` after a short real run, for the README and closing notes.

    python bench/metrics_sample.py

Starts the real daemon (sender child on) against the tests' fake Pushover on 127.0.0.1, defines
two handlers, posts five alerts with the first send answered 503 (one retry), one unreadable
body and one bad query, waits for the deliveries, and prints the samples (comment and bucket
lines left out).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' daemon and fake

import httpx
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.conftest import TOKEN, USER
from tests.fakes.pushover import FakePushover

ALERTS = [("cpu", "CRITICAL"), ("cpu", "WARNING"), ("cpu", "OK"), ("disk", "CRITICAL"),
          ("disk", "OK")]


def main() -> None:
    """Run, scrape, print."""
    with FakePushover(token=TOKEN, users={USER}) as fake, \
            tempfile.TemporaryDirectory() as folder:
        port = free_port()
        daemon = Daemon(write_config(Path(folder), fake.url, port), port).start()
        try:
            for topic, handler in (("cpu", "oncall"), ("disk", "ops")):
                daemon.call("POST", f"/kapacitor/v1/alerts/topics/{topic}/handlers",
                            json={"id": handler, "kind": "pushover"})
            fake.fail_next(1, status=503)
            for topic, level in ALERTS:
                daemon.post_alert(topic, {"id": f"{topic}:host=a", "level": level,
                                          "message": f"{topic} {level}",
                                          "time": "2026-12-01T19:00:00Z"})
            daemon.post_alert("cpu", "{not json")
            daemon.call("GET", "/kapacitor/v1/alerts/topics?min-level=BOGUS")
            fake.wait_for(len(ALERTS), timeout=30)
            text = httpx.get(f"{daemon.url}/metrics").text
        finally:
            daemon.stop()
    print("\n".join(line for line in text.splitlines()
                    if not line.startswith("#") and "_bucket" not in line))


if __name__ == "__main__":
    main()
