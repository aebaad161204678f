"""What every tier of the suite shares: the credentials and the fake Pushover.

The token and user key are the ones Kapacitor was driven with when tests/data was captured,
so the forms we send can be compared with Kapacitor's byte for byte. Import the constants as
``from tests.conftest import TOKEN, USER``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from tests.fakes.pushover import FakePushover

TOKEN = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
"""The application token (30 characters, as Pushover's are)."""

USER = "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
"""The configured default user key."""

OTHER_USER = "gznej3rKEVAvPUxu9vvNnqpmZpokzF"
"""A second user key the fake knows (a handler's own ``user-key``)."""

STRANGER = "s7rangerKeyS7rangerKeyS7ranger"
"""A well-formed user key the fake does not know: Pushover refuses it."""

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T] | T], timeout: float = 3.0) -> T:
    """Poll ``check`` (plain or async) until it returns something truthy; AssertionError
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


@pytest.fixture
def fake() -> Iterator[FakePushover]:
    """A fake Pushover on 127.0.0.1 that knows TOKEN, USER and OTHER_USER."""
    with FakePushover(token=TOKEN, users={USER, OTHER_USER}) as server:
        yield server


def umask() -> int:
    """This process's umask (what a file created with a mode really gets)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
