"""The publish kind: Kapacitor's ``topics`` option, checked more than Kapacitor does."""

from __future__ import annotations

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.publish import PublishKind
from pushoverd.models import Event, HandlerSpec, Level

EVENT = Event(id="cpu:host=a", level=Level.CRITICAL)


def spec(options: object) -> HandlerSpec:
    return HandlerSpec("cpu", "fanout", "publish", options=options)  # type: ignore[arg-type]


def test_every_event_goes_on_to_every_listed_topic_once() -> None:
    handler = PublishKind().compile(spec({"topics": ["ops", "audit", "ops"]}))
    assert handler.targets == ("ops", "audit")
    forwarded = handler.forward(EVENT)
    assert (forwarded.publish, forwarded.hold) == (("ops", "audit"), False)


@pytest.mark.parametrize(("options", "error"), [
    (None, "'topics' must list at least one topic"),
    ({"topics": []}, "'topics' must list at least one topic"),
    ({"topics": ["ok", "no spaces"]}, "'topics': 'no spaces' is not a topic ID"),
    ({"topics": "ops"}, "failed to decode options into *alert.PublishHandlerConfig"),
    ({"topics": [5]}, "'topics.0' "),
    ({"topics": ["ops"], "topic": "x"}, "'' has invalid keys: topic"),
])
def test_options_are_refused_with_the_reason(options: object, error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PublishKind().compile(spec(options))
    assert error in str(refused.value)
