"""Flood control: more than ``rate`` notifications per ``interval`` for one handler is a flood.

Within the rate, every alert is its own notification. Beyond it, deliveries are stored as
*coalesced* (visible through the API, not sent) and, once the oldest of them has waited an
interval, one summary notification covers them all ("37 more alerts on topic cpu: ...").
Whether a handler is flooded is counted from its stored deliveries inside the ingest
transaction (``Collecting.notifications``), and the summary is built inside the store's
transaction from what is stored: a restart keeps the window and loses nothing, and a write
the store runs twice counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushoverd.errors import ValidationError
from pushoverd.timefmt import parse_go_duration

RATE_OPTION = "flood-rate"
INTERVAL_OPTION = "flood-interval"
OPTIONS = (RATE_OPTION, INTERVAL_OPTION)


@dataclass(frozen=True, slots=True)
class FloodRule:
    """At most ``rate`` notifications per ``interval`` seconds; rate 0 means no limit."""

    rate: int
    interval: float

    @property
    def unlimited(self) -> bool:
        """Whether this rule never coalesces."""
        return self.rate <= 0


def split_options(options: dict[str, Any] | None, default: FloodRule
                  ) -> tuple[dict[str, Any] | None, FloodRule]:
    """Take the flood options out of a handler's options: (the kind's options, the rule)."""
    if not options or not any(k in options for k in OPTIONS):
        return options, default
    rest = {k: v for k, v in options.items() if k not in OPTIONS}
    rate = options.get(RATE_OPTION, default.rate)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 0:
        raise ValidationError(f"'{RATE_OPTION}' must be a whole number >= 0 (0: no limit)")
    return rest, FloodRule(rate, _interval(options.get(INTERVAL_OPTION), default.interval))


def _interval(value: Any, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = parse_go_duration(value) / 1e9 if isinstance(value, str) else None
    except ValueError:
        seconds = None
    if seconds is None or seconds <= 0:
        raise ValidationError(f"'{INTERVAL_OPTION}' must be a positive duration such as \"1m\"")
    return seconds
