"""A scripted integration: a real Sender (the protocol the delivery worker uses) that answers
from a script and records what it was given, standing in for a kind such as ``post``."""

from __future__ import annotations

from collections import deque
from typing import Any

from pushoverd.delivery.base import Sent

Outcome = Sent | Exception


class ScriptedSender:
    """Answers each send with the next scripted outcome (default: accepted, with a request id
    ``<name>-<n>``), and records every payload, every accepted one and every resume."""

    def __init__(self, name: str = "scripted") -> None:
        self.name = name
        self.script: deque[Outcome] = deque()
        self.payloads: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.resumed: list[float] = []

    async def start(self) -> None:
        """Nothing to start."""

    async def send(self, payload: dict[str, Any]) -> Sent:
        """The next scripted outcome, raised if it is an exception."""
        self.payloads.append(payload)
        outcome = self.script.popleft() if self.script else None
        if isinstance(outcome, Exception):
            raise outcome
        self.accepted.append(payload)
        return outcome or Sent(f"{self.name}-{len(self.accepted)}")

    def resume(self, now: float) -> None:
        """Record the operator's "try now"."""
        self.resumed.append(now)

    def status(self, now: float) -> dict[str, Any]:
        """How many it accepted."""
        return {"sent": len(self.accepted)}

    async def aclose(self) -> None:
        """Nothing to close."""

    @property
    def messages(self) -> list[str]:
        """The ``message`` of every payload given, in order."""
        return [p["message"] for p in self.payloads]
