"""Kapacitor's service tests (``kapacitor service-tests pushover``): send one message now.

A test is an operator checking the token and user key by hand, so it is sent at once, not
through the outbox, and its outcome is the answer. The options and the form sent are
Kapacitor's; unlike Kapacitor, the configured user key is never shown in the options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from pushoverd.errors import NotFound, PushoverError, ValidationError
from pushoverd.handlers.pushover.kind import PRIORITIES
from pushoverd.handlers.pushover.transport import Transport
from pushoverd.models import Level
from pushoverd.pushover.message import Message

NAME = "pushover"


@dataclass(frozen=True)
class ServiceTestOptions:
    """Kapacitor's pushover test options, in its field order."""

    user_key: str = ""
    message: str = "test pushover message"
    device: str = ""
    title: str = ""
    url: str = ""
    url_title: str = ""
    sound: str = ""
    level: str = "CRITICAL"

    def wire(self) -> dict[str, str]:
        """The options with Kapacitor's kebab-case names."""
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}


def decode(body: Any) -> ServiceTestOptions:
    """Options decoded onto the defaults (``null`` keeps them all), as Kapacitor does."""
    if body is None:
        return ServiceTestOptions()
    if not isinstance(body, dict):
        raise ValidationError("failed to decode JSON body: expected an object")
    known = {f.name.replace("_", "-"): f.name for f in fields(ServiceTestOptions)}
    values: dict[str, str] = {}
    for key, value in body.items():
        name = known.get(str(key).lower())
        if name is None:
            continue  # Go's decoder ignores unknown keys
        if not isinstance(value, str):
            raise ValidationError(f"failed to decode JSON body: '{key}' must be a string")
        values[name] = value
    return ServiceTestOptions(**values)


class PushoverServiceTest:
    """Runs the pushover service test through the daemon's transport (its only connections)."""

    def __init__(self, transport: Transport, enabled: bool | Callable[[], bool]) -> None:
        self._transport = transport
        # A function when the config API can enable or disable the service at run time.
        self._enabled = enabled if callable(enabled) else (lambda: enabled)

    def names(self) -> list[str]:
        """The services that can be tested."""
        return [NAME]

    def options(self, name: str) -> ServiceTestOptions:
        """A service's default test options; NotFound for another service."""
        if name != NAME:
            raise NotFound(f'service "{name}" not found')
        return ServiceTestOptions()

    async def run(self, name: str, options: ServiceTestOptions) -> tuple[bool, str]:
        """Send the test message: (success, Kapacitor's message)."""
        self.options(name)
        if not self._enabled():
            return False, "service is not enabled"
        try:
            level = Level.parse_query(options.level)
        except ValueError as exc:
            return False, str(exc)
        if not options.message.strip():
            return False, "message cannot be blank (Pushover refuses an empty message)"
        message = Message.build(
            message=options.message, priority=PRIORITIES[level], title=options.title,
            url=options.url, url_title=options.url_title, device=options.device,
            sound=options.sound, user=options.user_key)
        try:
            await self._transport.send(message.to_dict())
        except PushoverError as exc:
            return False, str(exc)
        return True, ""
