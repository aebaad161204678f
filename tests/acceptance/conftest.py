"""The real daemon for acceptance tests: started on a free port with the test config (the
fake Pushover as its API), stopped afterwards unless the test already stopped it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.acceptance.daemon import Daemon, free_port, write_config
from tests.fakes.pushover import FakePushover


@pytest.fixture
def daemon(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    """A running daemon over ``tmp_path`` sending to ``fake``."""
    port = free_port()
    running = Daemon(write_config(tmp_path, fake.url, port), port).start()
    yield running
    if running.proc and running.proc.poll() is None:
        running.stop()
