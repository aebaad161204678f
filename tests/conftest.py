"""What every tier of the suite shares: the credentials and the fake Pushover.

The token and user key are the ones Kapacitor was driven with when tests/data was captured,
so the forms we send can be compared with Kapacitor's byte for byte. Import the constants as
``from tests.conftest import TOKEN, USER``.
"""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture
def fake() -> Iterator[FakePushover]:
    """A fake Pushover on 127.0.0.1 that knows TOKEN, USER and OTHER_USER."""
    with FakePushover(token=TOKEN, users={USER, OTHER_USER}) as server:
        yield server
