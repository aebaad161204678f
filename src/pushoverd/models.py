"""The persisted shapes: levels, events and their state, handler specs and deliveries.

These are plain frozen dataclasses; the Kapacitor wire formats that carry them live in
``pushoverd.api.wire`` and are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

_LEVEL_NAMES = "OKINFOWARNINGCRITICAL"
_LEVEL_OFFSETS = {0: 0, 2: 1, 6: 2, 13: 3}


class Level(IntEnum):
    """An alert level, ordered as Kapacitor orders them."""

    OK = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, text: str) -> Level:
        """Parse a full level name, case-insensitively; anything else is a ValueError."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown alert level '{text}'") from None

    @classmethod
    def parse_query(cls, text: str) -> Level:
        """Parse a ``min-level`` query value as Kapacitor does, prefixes included.

        Kapacitor accepts any prefix of a level name found at the start of that name in
        ``"OKINFOWARNINGCRITICAL"`` (so ``""`` is OK and ``"CRIT"`` is CRITICAL); we keep that
        harmless quirk so existing scripts keep working.
        """
        upper = text.upper()
        offset = _LEVEL_NAMES.find(upper) if upper else 0
        if offset not in _LEVEL_OFFSETS:
            raise ValueError(f"unknown alert level '{upper}'")
        return cls(_LEVEL_OFFSETS[offset])


def _valid_id(text: str, extra: str) -> bool:
    # Kapacitor's regexes are ^[-\._\p{L}0-9]+$ (handlers) and ^[-:\._\p{L}0-9]+$ (topics);
    # str.isalpha() is exactly \p{L}, and only ASCII digits are allowed.
    return bool(text) and all(c.isalpha() or c in "0123456789-._" or c in extra for c in text)


def valid_topic_id(text: str) -> bool:
    """Whether ``text`` is a topic ID Kapacitor would accept (``:`` allowed)."""
    return _valid_id(text, ":")


def valid_handler_id(text: str) -> bool:
    """Whether ``text`` is a handler ID Kapacitor would accept."""
    return _valid_id(text, "")


@dataclass(frozen=True, slots=True)
class Event:
    """One alert as received on a topic (Kapacitor's ``alert.Data``)."""

    id: str
    level: Level
    message: str = ""
    details: str = ""
    time_ns: int = 0
    duration_ns: int = 0
    data: Any = None
    previous_level: Level = Level.OK
    recoverable: bool = True


@dataclass(frozen=True, slots=True)
class EventState:
    """What a topic remembers of one event ID: its latest state and the level before it."""

    id: str
    message: str
    details: str
    time_ns: int
    duration_ns: int
    level: Level
    previous_level: Level = Level.OK


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic's summary: the highest level among its events and how many it collected."""

    id: str
    level: Level
    collected: int


REDACTED = "[REDACTED]"
"""What a secret option reads as; sent back unchanged in a PUT or PATCH, it keeps its value."""


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A topic handler as defined by an operator: persisted, validated data."""

    topic: str
    id: str
    kind: str
    options: dict[str, Any] | None = None
    match: str = ""


class DeliveryStatus(StrEnum):
    """Where a delivery is in its life: the outbox's state machine."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    COALESCED = "coalesced"
    """Held back by flood control; covered by a summary delivery (``summary_id``)."""
    SUPPRESSED = "suppressed"
    """Not sent, for the reason in ``last_error`` (its alert's emergency is still ringing,
    or was acknowledged)."""


class ReceiptState(StrEnum):
    """Where a notification that must be answered (an emergency) stands."""

    OUTSTANDING = "outstanding"
    """Sent, repeating on the phones, nobody has acknowledged it yet."""
    ACKNOWLEDGED = "acknowledged"
    EXPIRED = "expired"
    """Nobody acknowledged it before its ``expire``."""
    CANCELLED = "cancelled"
    """Its alert recovered (or changed level) and its repeats were stopped."""


@dataclass(frozen=True, slots=True)
class ReceiptUpdate:
    """What a check of a receipt found, and when to look again (None: never)."""

    state: ReceiptState
    next_check_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    """Who acknowledged: a recipient's name, or a key masked to its first and last 4
    characters (never a whole key)."""
    acknowledged_by_device: str | None = None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A notification to enqueue, rendered when its event is collected."""

    topic: str
    handler_id: str
    kind: str
    event_id: str
    level: Level
    payload: dict[str, Any]
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_error: str | None = None
    summarizes: int = 0
    control: bool = False
    """Sends no notification but stops earlier ones (an emergency's cancel); once sent, its
    alert's outstanding receipts are closed as cancelled."""
    origin: str | None = None
    """The id of the HTTP request whose alert caused it (None for the daemon's own)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery in the outbox, with everything recorded about its attempts."""

    id: int
    topic: str
    handler_id: str
    kind: str
    event_id: str
    level: Level
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    created_at: float
    next_attempt_at: float
    updated_at: float
    sent_at: float | None = None
    request_id: str | None = None
    last_error: str | None = None
    info: str | None = None
    summary_id: int | None = None
    summarizes: int = 0
    requeued_at: float | None = None
    """When an operator last re-queued it; its retries age from then instead of ``created_at``."""
    receipt: str | None = None
    """The service's handle to follow the notification up (Pushover's emergency receipt)."""
    receipt_state: ReceiptState | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    acknowledged_by_device: str | None = None
    receipt_check_at: float | None = None
    """When its receipt is checked next (while outstanding)."""
    control: bool = False
    escalated_at: float | None = None
    """When this unanswered emergency was passed on to its escalation recipients."""
    origin: str | None = None
    """The id of the HTTP request whose alert caused it (its ``Request-Id``)."""

    @property
    def alert_key(self) -> tuple[str, str, str]:
        """What order is kept within: its handler's notifications about one alert."""
        return (self.topic, self.handler_id, self.event_id)

    @property
    def age_basis(self) -> float:
        """The time its retry budget (``max-age``) counts from."""
        return self.created_at if self.requeued_at is None else self.requeued_at


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """One handler's deliveries held back by flood control and not summarised yet, at a
    glance: a flush reads this much, never every held row."""

    topic: str
    handler_id: str
    count: int
    by_level: dict[Level, int]
    first_created_at: float
    latest: Delivery
    """The newest held delivery; the summary covers it and every older one."""


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries to list (or re-queue)."""

    topic: str | None = None
    handler_id: str | None = None
    kind: str | None = None
    delivery_id: int | None = None
    event_id: str | None = None
    recipient: str | None = None
    acknowledged: bool | None = None
    """True: acknowledged emergencies; False: emergencies nobody acknowledged (yet)."""
    statuses: tuple[DeliveryStatus, ...] = ()
    since: float | None = None
    until: float | None = None
    limit: int = 100
    before_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The outbox at a glance: depth by status and the age of the oldest waiting delivery."""

    counts: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: float | None = None
    outstanding_receipts: int = 0
    """Emergencies sent and not yet acknowledged, expired or cancelled."""
    oldest_outstanding_at: float | None = None


@dataclass(frozen=True, slots=True)
class ConfigOverride:
    """One element's options changed through the config API, as Kapacitor stores them.

    ``id`` is ``<section>/<element>``: ``pushover/`` for a single-element section,
    ``httppost/<endpoint>`` for an element of a list section. ``create`` marks an element the
    API added (its options are the whole element), rather than changes to one from the file.
    """

    id: str
    options: dict[str, Any]
    create: bool = False

    @property
    def section(self) -> str:
        """The section the override applies to."""
        return self.id.partition("/")[0]

    @property
    def element(self) -> str:
        """The element's key within its section ("" for a single-element section)."""
        return self.id.partition("/")[2]
