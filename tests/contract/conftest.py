"""The store contract runs against every backend: add a backend by adding a parameter here.

``backend.make()`` builds a store over the backend's data, so a second store made from the same
backend sees what the first one wrote: that is how the suite plays a restart.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pushoverd.store.base import Store
from pushoverd.store.memory import MemoryData, MemoryStore
from pushoverd.store.sqlite import SQLiteStore

Clock = Callable[[], float]


@dataclass(frozen=True)
class Backend:
    """A store backend under test and how to make a store over its data."""

    name: str
    make: Callable[..., Store]


def _memory(tmp_path: Path) -> Backend:
    data = MemoryData()
    return Backend("memory", lambda clock=time.time: MemoryStore(data, clock=clock))


def _sqlite(tmp_path: Path) -> Backend:
    path = tmp_path / "data" / "pushoverd.db"
    return Backend("sqlite", lambda clock=time.time: SQLiteStore(path, clock=clock))


BACKENDS = {"memory": _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn."""
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """An open store of each backend."""
    s = backend.make()
    await s.open()
    yield s
    await s.close()
