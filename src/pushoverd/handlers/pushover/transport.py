"""How Pushover requests are made: from this process, or from a child (``remote.py``).

Both carry stored payloads (``Message.to_dict()``) and raise the client's ``PushoverError``
subclasses; the integration above them decides what a failure means for the outbox.
"""

from __future__ import annotations

from typing import Any, Protocol

from pushoverd.pushover.client import PushoverClient, RateLimit, ReceiptStatus, SendResult
from pushoverd.pushover.message import Message


class Transport(Protocol):
    """The Pushover requests the daemon makes, over its (at most 2) connections."""

    can_validate: bool

    async def start(self) -> None:
        """Be ready to send before the first alert arrives."""

    async def send(self, payload: dict[str, Any]) -> SendResult:
        """Send one stored message exactly as it was stored."""

    async def validate(self) -> SendResult:
        """Check the token and default user key without sending anything."""

    async def limits(self) -> RateLimit | None:
        """The application's quota figures (``apps/limits.json``)."""

    async def receipt(self, receipt: str) -> ReceiptStatus:
        """An emergency's receipt (``receipts/<receipt>.json``)."""

    async def cancel_by_tag(self, tag: str) -> int:
        """Stop the repeats of the emergencies carrying ``tag``; how many."""

    async def reconfigure(self, url: str, token: str, user_key: str) -> None:
        """Send with another URL, token and default user key from now on (the config API)."""

    async def aclose(self) -> None:
        """Let requests in flight finish, then close the connections."""


class LocalTransport:
    """Requests made by a client in this process."""

    def __init__(self, client: PushoverClient) -> None:
        self._client = client
        self.can_validate = client.can_validate

    async def start(self) -> None:
        """Nothing to start: the client connects on its first request."""

    async def send(self, payload: dict[str, Any]) -> SendResult:
        """Send one stored message."""
        return await self._client.send(Message.from_dict(payload))

    async def validate(self) -> SendResult:
        """Check the credentials (``users/validate.json``)."""
        return await self._client.validate()

    async def limits(self) -> RateLimit | None:
        """The quota figures."""
        return await self._client.limits()

    async def receipt(self, receipt: str) -> ReceiptStatus:
        """An emergency's receipt."""
        return await self._client.receipt(receipt)

    async def cancel_by_tag(self, tag: str) -> int:
        """Cancel the emergencies carrying ``tag``."""
        return await self._client.cancel_by_tag(tag)

    async def reconfigure(self, url: str, token: str, user_key: str) -> None:
        """The client sends with the new credentials from its next request on."""
        self._client.reconfigure(url, token, user_key)
        self.can_validate = self._client.can_validate

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.aclose()
