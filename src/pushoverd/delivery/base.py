"""What the delivery worker needs of an integration: send one stored payload, or say why not.

The worker knows no integration: each handler kind has a :class:`Sender`, found by the
delivery's ``kind``. A sender raises :class:`~pushoverd.errors.DeliveryFailed` to say whether to
retry and whether to pause its kind; any other exception from ``send`` means the stored payload
itself cannot be sent (it is dead-lettered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Sent:
    """An accepted notification: the service's reference for it, any notice it gave, and a
    receipt to follow it up by (an emergency's)."""

    request_id: str | None = None
    info: str | None = None
    receipt: str | None = None


class Sender(Protocol):
    """One integration's delivery side, as the daemon uses it."""

    async def start(self) -> None:
        """Get ready to send (open connections, start helper processes)."""

    async def send(self, payload: dict[str, Any]) -> Sent:
        """Deliver one rendered payload; raise DeliveryFailed when it was not delivered."""

    def resume(self, now: float) -> None:
        """An operator asked to try again now: forget holds and probe at once."""

    def status(self, now: float) -> dict[str, Any]:
        """The integration's own state for the status endpoint (no secrets)."""

    async def aclose(self) -> None:
        """Let sends in flight finish and release connections."""
