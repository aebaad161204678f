"""The ``pushover`` handler kind: Kapacitor's options, levels and form fields."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pushoverd.handlers.base import decode_options
from pushoverd.models import Delivery, Event, HandlerSpec, Level
from pushoverd.pushover.client import PushoverClient, SendResult
from pushoverd.pushover.message import Message
from pushoverd.timefmt import ZERO_TIME_NS

PRIORITIES = {Level.OK: -2, Level.INFO: -1, Level.WARNING: 0, Level.CRITICAL: 1}
"""Kapacitor's level to Pushover priority mapping."""

_NS = 1_000_000_000


class PushoverOptions(BaseModel):
    """A pushover handler's options, with Kapacitor's (kebab-case) names."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    device: str = ""
    title: str = ""
    url: str = ""
    url_title: str = Field("", alias="url-title")
    sound: str = ""
    user_key: str = Field("", alias="user-key", repr=False)


class PushoverHandler:
    """A compiled pushover handler: renders each event into a Pushover message."""

    def __init__(self, spec: HandlerSpec, options: PushoverOptions) -> None:
        self.spec = spec
        self.options = options

    def render(self, topic: str, event: Event) -> dict[str, Any]:
        """The message for ``event``; the alert's own time goes out as ``timestamp``."""
        o = self.options
        message = Message.build(
            message=event.message if event.message.strip() else event.id,
            priority=PRIORITIES.get(event.level, 0),
            title=o.title, url=o.url, url_title=o.url_title, device=o.device, sound=o.sound,
            timestamp=_timestamp(event.time_ns), user=o.user_key,
        )
        return message.to_dict()


def _timestamp(time_ns: int) -> int | None:
    # Go's zero time means "no time given": let Pushover use its receipt time.
    return None if time_ns <= ZERO_TIME_NS else time_ns // _NS


class PushoverKind:
    """The ``pushover`` kind, bound to whether the ``[pushover]`` service is enabled."""

    name = "pushover"

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    @property
    def disabled_reason(self) -> str | None:
        """Kapacitor's error when the service is off."""
        return None if self._enabled else "service is not enabled"

    def compile(self, spec: HandlerSpec) -> PushoverHandler:
        """Validate the options as Kapacitor does (unknown keys and non-strings refused)."""
        options = decode_options(PushoverOptions, spec.options, "*pushover.HandlerConfig")
        return PushoverHandler(spec, options)

    def summarize(self, topic: str, held: list[Delivery]) -> dict[str, Any]:
        """"37 more alerts on topic cpu: 30 CRITICAL, 7 WARNING; latest: ...", sent with the
        latest alert's title, url, device, sound and recipient, at the highest priority."""
        return Message.build(**{
            **held[-1].payload,
            "message": summary_text(topic, held),
            "priority": max(int(d.payload.get("priority", 0)) for d in held),
        }).to_dict()


def summary_text(topic: str, held: list[Delivery]) -> str:
    """The text of a flood summary, levels from the most severe down."""
    counts = Counter(d.level for d in held)
    levels = ", ".join(f"{counts[level]} {level.name}" for level in sorted(counts, reverse=True))
    noun = "alert" if len(held) == 1 else "alerts"
    latest = held[-1].payload.get("message", held[-1].event_id)
    return f"{len(held)} more {noun} on topic {topic}: {levels}; latest: {latest}"


class PushoverSender:
    """Sends stored pushover payloads through the shared client."""

    def __init__(self, client: PushoverClient) -> None:
        self._client = client

    async def send(self, payload: dict[str, Any]) -> SendResult:
        """Send one rendered message exactly as it was stored."""
        return await self._client.send(Message.from_dict(payload))

    @property
    def can_validate(self) -> bool:
        """Whether the breaker can probe the credentials through this sender."""
        return self._client.can_validate

    async def validate(self) -> SendResult:
        """Check the token and default user key without sending anything."""
        return await self._client.validate()

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.aclose()
