"""What Pushover accepts as user keys and device names (pushover.net/api): checked where they
are configured, so that one that can never work is refused before any alert needs it."""

from __future__ import annotations

import re

_KEY = re.compile(r"[A-Za-z0-9]{30}")
MAX_KEYS = 50
"""At most 50 user or group keys may be joined by commas in one message."""
_DEVICE = re.compile(r"[A-Za-z0-9_-]{1,25}")


def check_user_keys(value: str) -> str:
    """``value`` if it is Pushover user or group keys (30 letters and digits, comma-joined);
    a ValueError that never repeats the value (it is a secret) otherwise."""
    keys = value.split(",") if value else []
    if len(keys) > MAX_KEYS or not all(_KEY.fullmatch(k) for k in keys):
        raise ValueError("must be a Pushover user or group key: 30 letters and digits "
                         f"(at most {MAX_KEYS} joined by commas)")
    return value


def check_devices(value: str) -> str:
    """``value`` if it is Pushover device names (comma-separated); a ValueError otherwise."""
    bad = [d for d in value.split(",") if not _DEVICE.fullmatch(d)] if value else []
    if bad:
        raise ValueError(f"{bad[0]!r} is not a Pushover device name: up to 25 letters, "
                         "digits, '-' or '_', several separated by commas")
    return value


def is_user_key(value: str) -> bool:
    """Whether ``value`` is one Pushover user or group key."""
    return _KEY.fullmatch(value) is not None
