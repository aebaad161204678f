"""A pushover handler's options, checked when the handler is defined, never at send time.

Kapacitor's six (``device``, ``title``, ``url``, ``url-title``, ``sound``, ``user-key``) keep
their names; pushoverd adds the emergency and display options Pushover has and Kapacitor lacks
(spec/pushover-api.md). Values that can never work are refused with the option's name: a
``user-key`` that is not a Pushover key, a ``device`` that is not a device name, a ``retry``
below Pushover's 30 s, an ``expire`` beyond its 3 hours, ``html`` together with ``monospace``.
A sound that is not one of Pushover's own may be a custom sound: it is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pushoverd.models import Level
from pushoverd.pushover.keys import check_devices, check_user_keys
from pushoverd.timefmt import parse_go_duration

BUILTIN_SOUNDS = frozenset({
    "pushover", "bike", "bugle", "cashregister", "classical", "cosmic", "falling", "gamelan",
    "incoming", "intermission", "magic", "mechanical", "pianobar", "siren", "spacealarm",
    "tugboat", "alien", "climb", "persistent", "echo", "updown", "vibrate", "none"})
"""The sounds every Pushover application has (``/1/sounds.json`` adds the custom ones)."""

EMERGENCY = 2
MIN_RETRY = 30
"""Pushover repeats an emergency no more often than every 30 seconds."""
MAX_EXPIRE = 10_800
"""Pushover stops repeating an emergency after at most 3 hours."""
DEFAULT_RETRY, DEFAULT_EXPIRE = 60, 300
"""Request Tracker's PushoverNotify defaults."""


def seconds(value: Any) -> Any:
    """Whole seconds from an integer or Go duration text (``"1m"``); other values are left for
    the type check to refuse."""
    if isinstance(value, str):
        try:
            ns = parse_go_duration(value)
        except ValueError:
            raise ValueError(f"invalid duration {value!r}: use seconds or Go text such as "
                             '"90s" or "5m"') from None
        if ns % 1_000_000_000:
            raise ValueError(f"{value!r} is not a whole number of seconds")
        return ns // 1_000_000_000
    return value


class PushoverOptions(BaseModel):
    """A pushover handler's options, with Kapacitor's (kebab-case) names."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    device: str = ""
    title: str = ""
    message: str = ""
    """A template for the text; empty: the alert's own message."""
    url: str = ""
    url_title: str = Field("", alias="url-title")
    sound: str = ""
    user_key: str = Field("", alias="user-key", repr=False)
    priorities: dict[Level, int] = Field(default_factory=dict)
    retry: int = DEFAULT_RETRY
    expire: int = DEFAULT_EXPIRE
    ttl: int | None = None
    html: bool = False
    monospace: bool = False
    recipients: list[str] = Field(default_factory=list)
    """Names from ``[pushoverd.recipients]`` or raw user keys, instead of ``user-key``."""
    escalate_after: int | None = Field(None, alias="escalate-after")
    escalate_to: list[str] = Field(default_factory=list, alias="escalate-to")

    @field_validator("user_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        return check_user_keys(value)

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return check_devices(value)

    @field_validator("priorities", mode="before")
    @classmethod
    def _read_priorities(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("must be a map of levels to priorities, e.g. {CRITICAL: 2}")
        return {_level(k): _priority(k, v) for k, v in value.items()}

    @field_validator("retry", "expire", "ttl", "escalate_after", mode="before")
    @classmethod
    def _read_seconds(cls, value: Any) -> Any:
        return seconds(value)

    @field_validator("retry")
    @classmethod
    def _check_retry(cls, value: int) -> int:
        if value < MIN_RETRY:
            raise ValueError(f"must be at least {MIN_RETRY} seconds (Pushover's minimum)")
        return value

    @field_validator("expire")
    @classmethod
    def _check_expire(cls, value: int) -> int:
        if not 0 < value <= MAX_EXPIRE:
            raise ValueError(f"must be between 1 and {MAX_EXPIRE} seconds (Pushover's 3 hours)")
        return value

    @field_validator("ttl")
    @classmethod
    def _check_ttl(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("escalate_after")
    @classmethod
    def _check_escalation(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("must be a positive duration")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PushoverOptions:
        if self.html and self.monospace:
            raise ValueError("'html' and 'monospace' cannot both be true (Pushover allows one)")
        if self.recipients and self.user_key:
            raise ValueError("'recipients' and 'user-key' cannot both be set")
        if bool(self.escalate_after) != bool(self.escalate_to):
            raise ValueError("'escalate-after' and 'escalate-to' go together")
        return self


def _level(name: Any) -> Level:
    if not isinstance(name, str):
        raise ValueError(f"{name!r} is not a level: use OK, INFO, WARNING or CRITICAL")
    try:
        return Level.parse(name)
    except ValueError:
        raise ValueError(f"{name!r} is not a level: use OK, INFO, WARNING or CRITICAL") from None


def _priority(name: Any, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -2 <= value <= 2:
        raise ValueError(f"{name}: {value!r} is not a Pushover priority (-2 to 2)")
    return value
