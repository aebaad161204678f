"""The ``aggregate`` kind: matching events are held for ``interval``, then one event standing
for all of them is collected into ``topic``, as Kapacitor's aggregate handler builds it.

The aggregated event has the ID ``id``; its message is the ``message`` template over
``{{ .Count }}`` and ``{{ .Interval }}``; its details are the held messages, one per line; its
level, time and duration are the highest of the held events'; its series are all of theirs,
in order; and it is not recoverable. Unlike Kapacitor, which holds events in memory (a
restart loses them), the held events are stored with the ingest that matched them and the
aggregate is collected in the transaction that forgets them. ``interval`` is integer
nanoseconds as Kapacitor decodes it, or Go duration text such as ``1m``; 0 (which crashes
Kapacitor) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import Forwarded, decode_options, duration_option
from pushoverd.handlers.templates import Template, TemplateError, parse_template
from pushoverd.models import Event, HandlerSpec, Level, valid_topic_id
from pushoverd.timefmt import format_go_duration

DEFAULT_MESSAGE = "Received {{ .Count }} events in the last {{.Interval}}."
MESSAGE_FIELDS = ("Count", "Interval")
MIN_INTERVAL_NS = 10_000_000
"""10 ms: a shorter tick would only spin the daemon (Kapacitor's own tests use 100 ms)."""


class AggregateOptions(BaseModel):
    """An ``aggregate`` handler's options, as Kapacitor's ``AggregateHandlerConfig`` decodes
    them."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = ""
    interval: int = 0
    """Nanoseconds."""
    topic: StrictStr = ""
    message: StrictStr = DEFAULT_MESSAGE

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        """Integer nanoseconds (Kapacitor), or Go duration text."""
        return duration_option(value)


class AggregateHandler:
    """A compiled ``aggregate`` handler."""

    target_option = "topic"

    def __init__(self, spec: HandlerSpec, options: AggregateOptions, message: Template) -> None:
        self.spec, self.options, self._message = spec, options, message
        self.targets = (options.topic,)
        self.interval = options.interval / 1e9
        """Seconds between aggregates."""

    def forward(self, event: Event) -> Forwarded:
        """Every matching event is held for the next aggregate."""
        return Forwarded(hold=True)

    def aggregate(self, events: Sequence[Event]) -> Event:
        """The one event standing for ``events`` (oldest first, at least one)."""
        series = [s for e in events for s in _series(e)]
        return Event(
            id=self.options.id, level=max((e.level for e in events), default=Level.OK),
            message=self._render(len(events)),
            details="\n".join(e.message for e in events),
            time_ns=max(e.time_ns for e in events),
            duration_ns=max([0, *(e.duration_ns for e in events)]),
            data={"series": series or None}, recoverable=False)

    def _render(self, count: int) -> str:
        values = {"Count": count, "Interval": format_go_duration(self.options.interval)}
        try:
            return self._message.render(values)
        except TemplateError:  # checked when defined; an oversized output falls back
            return parse_template(DEFAULT_MESSAGE, "message", MESSAGE_FIELDS).render(values)


class AggregateKind:
    """The ``aggregate`` kind."""

    name = "aggregate"
    secret_options: frozenset[str] = frozenset()

    def compile(self, spec: HandlerSpec) -> AggregateHandler:
        """Kapacitor's decoding and template check, plus what it leaves unchecked: an ID for
        the aggregated event, a topic it can go to, and an interval."""
        options = decode_options(AggregateOptions, spec.options,
                                 "*alert.AggregateHandlerConfig")
        if not options.id:
            raise ValidationError("'id' must be given: the ID of the aggregated event")
        if not valid_topic_id(options.topic):
            raise ValidationError(f"'topic': {options.topic!r} is not a topic ID (letters, "
                                  "numbers, '-', '.', '_' and ':' only)")
        if options.interval < MIN_INTERVAL_NS:
            raise ValidationError(f"'interval' must be at least "
                                  f"{format_go_duration(MIN_INTERVAL_NS)}, got "
                                  f"{format_go_duration(options.interval)}")
        message = parse_template(options.message, "message", MESSAGE_FIELDS)
        return AggregateHandler(spec, options, message)


def _series(event: Event) -> list[Any]:
    series = event.data.get("series") if isinstance(event.data, dict) else None
    return series if isinstance(series, list) else []
