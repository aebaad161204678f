"""Appending a ``log`` delivery's line to its file, off the event loop."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pushoverd.delivery.base import Sent
from pushoverd.errors import DeliveryFailed


class LogSender:
    """Appends lines; a file that cannot be opened or written is retried (the disk may be
    full or the folder not mounted yet), as any other outage."""

    def __init__(self) -> None:
        self._written = 0

    async def start(self) -> None:
        """Nothing to start."""

    async def send(self, payload: dict[str, Any]) -> Sent:
        """Append ``payload["line"]`` to ``payload["path"]`` in one write."""
        try:
            await asyncio.to_thread(_append, payload["path"], int(payload["mode"]),
                                    payload["line"].encode())
        except OSError as exc:
            raise DeliveryFailed(f"cannot append to {payload['path']}: {exc.strerror or exc}",
                                 retry=True) from None
        self._written += 1
        return Sent()

    def resume(self, now: float) -> None:
        """Nothing is held back."""

    def status(self, now: float) -> dict[str, Any]:
        """How many lines this process appended."""
        return {"written": self._written}

    async def aclose(self) -> None:
        """Nothing to close."""


def _append(path: str, mode: int, line: bytes) -> None:
    # O_APPEND makes one write land whole at the end even with other writers of the file.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        while line:
            line = line[os.write(fd, line):]
    finally:
        os.close(fd)
