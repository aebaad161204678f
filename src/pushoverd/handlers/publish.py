"""The ``publish`` kind: each matching event is collected again into the listed ``topics``,
unchanged (its state, data and all), as Kapacitor's publish handler does.

The republished event is collected in the same transaction as the original, so it is stored,
and planned for the other topics' handlers, exactly once. Kapacitor checks nothing here; a
topic name that could never exist, an empty list, and (in the topic service) a cycle are
refused when the handler is defined.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictStr

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import Forwarded, decode_options
from pushoverd.models import Event, HandlerSpec, valid_topic_id


class PublishOptions(BaseModel):
    """A ``publish`` handler's options, as Kapacitor's ``PublishHandlerConfig`` decodes them."""

    model_config = ConfigDict(extra="forbid")

    topics: list[StrictStr] = []


class PublishHandler:
    """A compiled ``publish`` handler."""

    target_option = "topics"

    def __init__(self, spec: HandlerSpec, topics: tuple[str, ...]) -> None:
        self.spec, self.targets = spec, topics

    def forward(self, event: Event) -> Forwarded:
        """Every matching event goes on to every listed topic."""
        return Forwarded(publish=self.targets)


class PublishKind:
    """The ``publish`` kind."""

    name = "publish"
    secret_options: frozenset[str] = frozenset()

    def compile(self, spec: HandlerSpec) -> PublishHandler:
        """Kapacitor's decoding, and topic names that can exist."""
        options = decode_options(PublishOptions, spec.options, "*alert.PublishHandlerConfig")
        if not options.topics:
            raise ValidationError("'topics' must list at least one topic to publish to")
        for topic in options.topics:
            if not valid_topic_id(topic):
                raise ValidationError(
                    f"'topics': {topic!r} is not a topic ID (letters, numbers, '-', '.', '_' "
                    "and ':' only)")
        return PublishHandler(spec, tuple(dict.fromkeys(options.topics)))
