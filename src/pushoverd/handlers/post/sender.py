"""POSTing a ``post`` delivery's body. Unlike Kapacitor's post handler it retries: a 5xx, a
429 or no answer is retried with the worker's backoff, any other 4xx is dead-lettered (the
receiver refused that body and will refuse it again)."""

from __future__ import annotations

from typing import Any

import httpx

from pushoverd.delivery.base import Sent
from pushoverd.errors import DeliveryFailed
from pushoverd.handlers.post.kind import safe_url

_HEADERS = {"Content-Type": "application/json", "User-Agent": "pushoverd"}


class PostSender:
    """Sends with one pooled client (and one more for receivers whose TLS is not verified)."""

    def __init__(self, max_connections: int = 8) -> None:
        limits = httpx.Limits(max_connections=max_connections)
        self._clients = {True: httpx.AsyncClient(limits=limits),
                         False: httpx.AsyncClient(limits=limits, verify=False)}
        self._sent = 0

    async def start(self) -> None:
        """Nothing to start (connections open on first use)."""

    async def send(self, payload: dict[str, Any]) -> Sent:
        """POST ``payload["body"]`` to ``payload["url"]``."""
        if not payload["url"]:  # its [[httppost]] endpoint was removed, with no url besides
            raise DeliveryFailed(f'endpoint "{payload.get("endpoint", "")}" does not exist '
                                 "any more and the handler has no url", retry=False)
        url, where = payload["url"], safe_url(payload["url"])
        client = self._clients[bool(payload.get("verify", True))]
        try:
            answer = await client.post(url, content=payload["body"].encode(),
                                       headers={**_HEADERS, **payload.get("headers", {})},
                                       timeout=float(payload.get("timeout", 30.0)))
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            # A templated url rendered into something no retry can post to.
            raise DeliveryFailed(f"POST {where}: invalid url: {exc}", retry=False) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"POST {where} failed: {type(exc).__name__}",
                                 retry=True) from None
        if answer.is_success:
            self._sent += 1
            return Sent(request_id=answer.headers.get("Request-Id"))
        retry = answer.status_code == 429 or answer.status_code >= 500
        raise DeliveryFailed(f"POST {where} returned {answer.status_code}", retry=retry)

    def resume(self, now: float) -> None:
        """Nothing is held back."""

    def status(self, now: float) -> dict[str, Any]:
        """How many bodies this process delivered."""
        return {"sent": self._sent}

    async def aclose(self) -> None:
        """Close the connection pools."""
        for client in self._clients.values():
            await client.aclose()
