"""What every handler kind provides: compile a spec's options, plan an event's deliveries."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from pushoverd.errors import ValidationError
from pushoverd.models import Delivery, Event, HandlerSpec, HeldGroup
from pushoverd.timefmt import parse_go_duration

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AlertHistory:
    """What a handler has sent about one alert so far."""

    last: Delivery | None = None
    """Its latest notification (None for a new alert)."""
    unfinished: tuple[Delivery, ...] = ()
    """Its notifications still on their way, or still followed up (outstanding receipts)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery a handler wants for an event, rendered once so every retry sends the same."""

    payload: dict[str, Any]
    suppressed: str | None = None
    """Recorded but not sent, for this reason."""
    control: bool = False
    """Stops earlier notifications instead of being one (flood control leaves it alone)."""
    note: str | None = None
    """Something that went wrong rendering it, recorded on the delivery (it is still sent)."""


class Handler(Protocol):
    """A handler compiled from its spec: turns an event into outbox deliveries."""

    spec: HandlerSpec

    def plan(self, topic: str, event: Event, history: AlertHistory,
             now: float) -> list[Outgoing]:
        """What ``event``, arriving at ``now``, causes, given this handler's history of the
        same alert; must be pure: it may run twice for one event."""

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A stored payload with its recipients replaced by this handler's current ones (for
        a re-queue after the operator fixed them); the rendered text stays."""


class Forwarder(Protocol):
    """A plumbing handler (``publish``, ``aggregate``): passes events on to other topics
    inside the daemon, in the ingest transaction, instead of enqueueing deliveries."""

    spec: HandlerSpec
    targets: tuple[str, ...]
    """The topics it collects events into (a cycle through them is refused)."""
    target_option: str
    """The option that names them, for errors."""

    def forward(self, event: Event) -> Forwarded:
        """What happens to a matching event: collected into topics now, or held."""


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A plumbing handler's answer for one event."""

    publish: tuple[str, ...] = ()
    """Topics to collect the same event into, now."""
    hold: bool = False
    """Keep it for the handler's next aggregate."""


class PlumbingKind(Protocol):
    """A kind of :class:`Forwarder`: nothing to send, so no service, flood or summary."""

    name: str
    secret_options: frozenset[str]

    def compile(self, spec: HandlerSpec) -> Forwarder:
        """Validate the spec's options; raise ValidationError with Kapacitor's wording."""


class Kind(Protocol):
    """A handler kind: validates specs of its kind and compiles them into handlers."""

    name: str
    secret_options: frozenset[str]
    """Option names whose values are secrets: never shown, kept when sent back REDACTED."""
    flood_controlled: bool
    """Whether ``[pushoverd.flood]`` applies to its handlers by default (a phone needs it, a
    file does not; a handler's own ``flood-rate`` always applies)."""

    @property
    def disabled_reason(self) -> str | None:
        """Why deliveries of this kind cannot be sent now (None when they can)."""

    def compile(self, spec: HandlerSpec) -> Handler:
        """Validate the spec's options; raise ValidationError with Kapacitor's wording."""

    def summarize(self, held: HeldGroup, handler: Handler | None) -> dict[str, Any]:
        """One payload standing for a handler's deliveries held back by flood control,
        rendered with that handler's options (None once it was deleted)."""


def newest_held(held: HeldGroup, handler: Handler | None) -> dict[str, Any]:
    """A flood summary for kinds whose every delivery stands alone (a line, a body): the
    newest held payload, readdressed by the handler (None once it was deleted); the older
    ones stay recorded as coalesced."""
    payload = dict(held.latest.payload)
    return handler.readdress(payload) if handler is not None else payload


MAX_DURATION_NS = 2**63 - 1
"""The longest Go ``time.Duration`` (about 292 years)."""


def duration_option(value: Any) -> int:
    """A duration option in nanoseconds, as Kapacitor's decoder reads it into a
    ``time.Duration``: an integer, a JSON number (the API's JSON numbers are float64 in Go,
    truncated toward zero), or, as pushoverd also accepts, Go duration text such as ``1m``.
    ValueError for anything else, or for one that does not fit a ``time.Duration``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a duration: integer nanoseconds, or text such as 1m")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a duration, not {value}")
    ns = parse_go_duration(value) if isinstance(value, str) else int(value)
    if abs(ns) > MAX_DURATION_NS:
        raise ValueError("is longer than a Go duration can be (about 292 years)")
    return ns


def decode_options(model: type[M], options: Mapping[str, Any] | None, target: str) -> M:
    """Decode handler options strictly, reporting errors the way Kapacitor's mapstructure does.

    ``target`` names the Go type Kapacitor would decode into (``*pushover.HandlerConfig``) so
    operators see the same text from both daemons.
    """
    if options is not None and not isinstance(options, Mapping):
        raise ValidationError(f"failed to decode options into {target}: options must be an object")
    try:
        return model.model_validate(options or {})
    except PydanticError as exc:
        errors = exc.errors()
        problems = [f"'{_where(e)}' {_message(e)}" for e in errors
                    if e["type"] != "extra_forbidden"]
        unknown = sorted(_where(e) for e in errors if e["type"] == "extra_forbidden")
        if unknown:
            problems.append(f"'' has invalid keys: {', '.join(unknown)}")
        lines = "\n".join(f"* {p}" for p in problems)
        raise ValidationError(f"failed to decode options into {target}: "
                              f"{len(problems)} error(s) decoding:\n\n{lines}") from None


def _message(error: Any) -> str:
    # Our own checks speak for themselves; pydantic's wording is lower-cased like Go's.
    text = str(error["msg"])
    return text.removeprefix("Value error, ") if error["type"] == "value_error" else text.lower()


def _where(error: Any) -> str:
    return ".".join(str(p) for p in error["loc"])
