"""One Pushover notification, its documented limits, and its wire form.

A ``Message`` is rendered once, when a delivery is enqueued, and persisted with ``to_dict``
so every retry sends the same text. It never holds the application token.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# Pushover's documented limits, in characters (https://pushover.net/api#limits).
MESSAGE_LIMIT = 1024
TITLE_LIMIT = 250
URL_LIMIT = 512
URL_TITLE_LIMIT = 100

ELLIPSIS = "…"

_LIMITS: dict[str, int] = {
    "message": MESSAGE_LIMIT,
    "title": TITLE_LIMIT,
    "url": URL_LIMIT,
    "url_title": URL_TITLE_LIMIT,
}
# Sent on every request, even at their default, as Kapacitor does.
_ALWAYS_SENT = frozenset({"message", "priority", "user"})


def truncate(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending in an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def _is_set(value: object) -> bool:
    """Tell whether an optional field carries a value worth sending or storing."""
    return value is not None and value != "" and value is not False


def _wire(value: object) -> str:
    """Encode one field value as Pushover expects it in a form."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass(frozen=True, slots=True)
class Message:
    """A notification to send; field names are Pushover's form keys.

    Adding a Pushover parameter is one line here: optional fields are sent and stored only
    when set (not ``""``, ``None`` or ``False``).
    """

    message: str
    priority: int = 0
    title: str = ""
    url: str = ""
    url_title: str = ""
    device: str = ""
    sound: str = ""
    timestamp: int | None = None
    user: str = ""  # overrides the client's default user key when set
    retry: int | None = None  # emergency (priority 2) only, as are expire and tags
    expire: int | None = None
    tags: str = ""
    callback: str = ""  # where Pushover calls back when an emergency is acknowledged
    ttl: int | None = None  # Pushover ignores it for emergencies
    html: bool = False
    monospace: bool = False

    @classmethod
    def build(cls, message: str, **options: Any) -> Message:
        """Build a message, truncating over-long texts to Pushover's limits.

        Takes the same keyword arguments as the constructor. An alert is worth more cut than
        refused with a 400, so texts past a limit end in an ellipsis instead.
        """
        draft = cls(message, **options)
        cut = {name: truncate(text, limit) for name, limit in _LIMITS.items()
               if len(text := getattr(draft, name)) > limit}
        return dataclasses.replace(draft, **cut) if cut else draft

    def form(self, token: str, default_user: str) -> list[tuple[str, str]]:
        """Return the form fields sorted by key, as Go's ``url.Values.Encode`` orders them.

        Raises ValueError if the message is blank: Pushover refuses it.
        """
        if not self.message.strip():
            raise ValueError("message cannot be blank")
        fields = {k: _wire(v) for k, v in self._set_fields().items() if k != "user"}
        fields |= {"token": token, "user": self.user or default_user}
        return sorted(fields.items())

    def to_dict(self) -> dict[str, Any]:
        """Return the message as JSON-ready data (no token; ``user`` only if set)."""
        return {k: v for k, v in self._set_fields().items() if k != "user" or v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message saved by ``to_dict``; unknown keys are ignored.

        Ignoring keys a newer version wrote means an older one still delivers the alert.
        """
        if not isinstance(data.get("message"), str):
            raise ValueError("a stored message needs a 'message' string")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def _set_fields(self) -> dict[str, Any]:
        """Return the fields that are always sent plus the optional ones that are set."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v for k, v in values.items() if k in _ALWAYS_SENT or _is_set(v)}
