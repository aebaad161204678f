"""Named recipients (``[pushoverd.recipients.<name>]``) and who of them is on shift.

A handler's ``recipients`` name people from here, or give raw user or group keys. Each
recipient gets its own notification (and, for an emergency, its own receipt), as Request
Tracker's PushoverNotify does. Only those on shift at the alert's arrival are notified; when
none of them is, all of them are, and the delivery says so: an alert is never dropped for want
of a shift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pushoverd.pushover.keys import is_user_key
from pushoverd.shifts import Shift, on_shift, parse_shift, parse_zone

UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone (or a group) a notification goes to."""

    name: str
    """The configured name, or the key masked for one given raw."""
    user_key: str
    device: str = ""
    shifts: tuple[Shift, ...] = ()
    zone: ZoneInfo = UTC

    def on_shift(self, at: float) -> bool:
        """Whether the recipient is on call at the Unix time ``at``."""
        return on_shift(self.shifts, self.zone, at)


def directory(configured: Mapping[str, Any]) -> dict[str, Recipient]:
    """The named recipients from ``[pushoverd.recipients]`` (already validated)."""
    return {name: Recipient(name, r.user_key, r.device,
                            tuple(parse_shift(s) for s in r.on_shift), parse_zone(r.timezone))
            for name, r in configured.items()}


def resolve(names: Iterable[str], known: Mapping[str, Recipient]) -> list[Recipient]:
    """The recipients ``names`` stand for; ValueError naming one that is neither a configured
    recipient nor a user key (a key is never repeated in the message)."""
    found = []
    for name in names:
        if name in known:
            found.append(known[name])
        elif is_user_key(name):
            found.append(Recipient(f"{name[:4]}…{name[-4:]}", name))
        else:
            raise ValueError(f"unknown recipient {name!r}: not in [pushoverd.recipients] "
                             "and not a Pushover user key")
    return found


def on_call(recipients: list[Recipient], at: float) -> tuple[list[Recipient], str | None]:
    """Who is notified at ``at``: those on shift, or everyone, with a note saying so."""
    present = [r for r in recipients if r.on_shift(at)]
    if present or not recipients:
        return present, None
    names = ", ".join(r.name for r in recipients)
    return recipients, f"none of {names} on shift: sent to all of them"


def addressed(payload: dict[str, Any], recipient: Recipient,
              note: str | None) -> dict[str, Any]:
    """``payload`` for one recipient: its key, its device if it has one, its name."""
    result = {**payload, "user": recipient.user_key, "recipient": recipient.name}
    if recipient.device:
        result["device"] = recipient.device
    if note:
        result["recipient_note"] = note
    return result
