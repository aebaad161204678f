"""The ``pushover`` handler kind: Kapacitor's options, levels and form fields.

Options that can never work are refused when the handler is defined, not at send time: a
``user-key`` that is not a Pushover key, a ``device`` that is not a device name. A sound that
is not one of Pushover's own may be a custom sound, so it is accepted with a warning.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pushoverd.handlers.base import decode_options
from pushoverd.models import Event, HandlerSpec, HeldGroup, Level
from pushoverd.pushover.message import Message

log = logging.getLogger(__name__)

PRIORITIES = {Level.OK: -2, Level.INFO: -1, Level.WARNING: 0, Level.CRITICAL: 1}
"""Kapacitor's level to Pushover priority mapping."""

SECRET_OPTIONS = frozenset({"user-key"})
"""Options that hold a secret: the API shows REDACTED, never their value."""

# Pushover's documented formats: user and group keys are 30 letters and digits (at most 50
# joined by commas); device names are up to 25 letters, digits, "-" or "_", comma-separated.
_KEY = re.compile(r"[A-Za-z0-9]{30}")
_MAX_KEYS = 50
_DEVICE = re.compile(r"[A-Za-z0-9_-]{1,25}")
BUILTIN_SOUNDS = frozenset({
    "pushover", "bike", "bugle", "cashregister", "classical", "cosmic", "falling", "gamelan",
    "incoming", "intermission", "magic", "mechanical", "pianobar", "siren", "spacealarm",
    "tugboat", "alien", "climb", "persistent", "echo", "updown", "vibrate", "none"})
"""The sounds every Pushover application has (``/1/sounds.json`` adds the custom ones)."""

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

    @field_validator("user_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        keys = value.split(",") if value else []
        if len(keys) > _MAX_KEYS or not all(_KEY.fullmatch(k) for k in keys):
            # Never echo the value: it is a secret.
            raise ValueError("must be a Pushover user or group key: 30 letters and digits "
                             f"(at most {_MAX_KEYS} joined by commas)")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        bad = [d for d in value.split(",") if not _DEVICE.fullmatch(d)] if value else []
        if bad:
            raise ValueError(f"{bad[0]!r} is not a Pushover device name: up to 25 letters, "
                             "digits, '-' or '_', several separated by commas")
        return value


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

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` sent to this handler's current user key (the default key if unset)."""
        readdressed = {k: v for k, v in payload.items() if k != "user"}
        if self.options.user_key:
            readdressed["user"] = self.options.user_key
        return readdressed


_LAST_UNIX_SECOND = 2**32 - 1
"""Pushover's timestamp is a Unix time; we send none outside 1970-2106."""


def _timestamp(time_ns: int) -> int | None:
    # Go's zero time means "no time given", and a time before 1970 or past 2106 is not one
    # Pushover can show: let it use its receipt time instead of refusing the message.
    seconds = time_ns // _NS
    return seconds if 0 < seconds <= _LAST_UNIX_SECOND else None


class PushoverKind:
    """The ``pushover`` kind, bound to whether the ``[pushover]`` service is enabled."""

    name = "pushover"
    secret_options = SECRET_OPTIONS

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    @property
    def disabled_reason(self) -> str | None:
        """Kapacitor's error when the service is off."""
        return None if self._enabled else "service is not enabled"

    def compile(self, spec: HandlerSpec) -> PushoverHandler:
        """Validate the options as Kapacitor does (unknown keys and non-strings refused)."""
        options = decode_options(PushoverOptions, spec.options, "*pushover.HandlerConfig")
        if options.sound and options.sound not in BUILTIN_SOUNDS:
            log.warning("handler %s/%s: sound %r is not one of Pushover's built-in sounds; it "
                        "works only if it is a custom sound of this application",
                        spec.topic, spec.id, options.sound)
        return PushoverHandler(spec, options)

    def summarize(self, held: HeldGroup) -> dict[str, Any]:
        """"37 more alerts on topic cpu: 30 CRITICAL, 7 WARNING; latest: ...", sent with the
        latest alert's title, url, device, sound and recipient, at the priority of the most
        severe level held."""
        return Message.build(**{
            **held.latest.payload,
            "message": summary_text(held),
            "priority": PRIORITIES[max(held.by_level)],
        }).to_dict()


def summary_text(held: HeldGroup) -> str:
    """The text of a flood summary, levels from the most severe down."""
    counts = held.by_level
    levels = ", ".join(f"{counts[level]} {level.name}" for level in sorted(counts, reverse=True))
    noun = "alert" if held.count == 1 else "alerts"
    latest = held.latest.payload.get("message", held.latest.event_id)
    return f"{held.count} more {noun} on topic {held.topic}: {levels}; latest: {latest}"
