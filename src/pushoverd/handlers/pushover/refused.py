"""Per-handler user keys that Pushover refused, held back for a while.

Pushover blocks a sending IP after many 4xx answers. One handler with a wrong ``user-key``
would otherwise spend a request (and a 4xx) on every alert, and trip the breaker that stops
sending for everyone. Once Pushover says a handler's key is invalid, that key's deliveries are
dead-lettered without a request until the hold ends; they can be re-queued once the handler is
fixed. The configured default key is left to the breaker, which keeps deliveries queued.
"""

from __future__ import annotations

import hashlib

from pushoverd.timefmt import format_unix

HOLD_SECONDS = 600.0
"""How long a refused key is not tried again."""


def _fingerprint(user: str) -> str:
    # Keys are secrets: remember a digest, never the key itself.
    return hashlib.sha256(user.encode()).hexdigest()


class RefusedRecipients:
    """User keys Pushover refused, by digest, with the time their hold ends."""

    def __init__(self, hold: float = HOLD_SECONDS) -> None:
        self._hold = hold
        self._until: dict[str, tuple[float, str]] = {}

    def refuse(self, user: str, error: str, now: float) -> None:
        """Pushover refused ``user`` with ``error``: hold it back."""
        self._until[_fingerprint(user)] = (now + self._hold, error)

    def refused(self, user: str, now: float) -> str | None:
        """Why deliveries to ``user`` are not sent now, or None if they may be."""
        held = self._until.get(_fingerprint(user))
        if held is None:
            return None
        until, error = held
        if until <= now:
            del self._until[_fingerprint(user)]
            return None
        return (f"not sent: Pushover refused this handler's user key ({error}); held back "
                f"until {format_unix(until)}. Fix the handler's user-key, then requeue")

    def clear(self) -> None:
        """Release every held key (an operator asked to try again)."""
        self._until.clear()

    def count(self, now: float) -> int:
        """How many keys are held back now."""
        return sum(1 for until, _ in self._until.values() if until > now)
