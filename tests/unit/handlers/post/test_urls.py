"""A post handler's url as Kapacitor 1.5.7 treats it: a Go template over the alert posted,
rendered when the delivery is planned and again from the stored body on a re-queue; one
that fails for an alert is recorded as not sent, with the reason."""

from __future__ import annotations

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.post import PostKind
from pushoverd.models import Event, HandlerSpec, Level

EVENT = Event(id="cpu:host=a", level=Level.CRITICAL, message="a is CRITICAL", details="d",
              time_ns=1_700_000_000_500_000_000, duration_ns=90 * 10**9,
              previous_level=Level.WARNING)


def handler(url: str) -> object:
    return PostKind().compile(HandlerSpec("cpu", "relay", "post", options={"url": url}))


def test_every_field_of_the_alert_renders_as_go_prints_it() -> None:
    relay = handler("https://hooks.example/{{ .Level }}/{{ .ID }}?was={{ .PreviousLevel }}"
                    "&for={{ .Duration }}&at={{ .Time }}&r={{ .Recoverable }}&m={{ .Message }}")
    [out] = relay.plan("cpu", EVENT, AlertHistory(), 0.0)  # type: ignore[attr-defined]
    assert out.payload["url"] == (
        "https://hooks.example/CRITICAL/cpu:host=a?was=WARNING&for=1m30s"
        "&at=2023-11-14 22:13:20.5 +0000 UTC&r=true&m=a is CRITICAL")
    assert not out.suppressed


def test_a_url_without_actions_is_used_as_it_is() -> None:
    [out] = handler("https://hooks.example/a").plan(  # type: ignore[attr-defined]
        "cpu", EVENT, AlertHistory(), 0.0)
    assert out.payload["url"] == "https://hooks.example/a"


def test_a_requeue_renders_the_current_template_from_the_stored_body() -> None:
    [out] = handler("https://old.example/{{ .ID }}").plan(  # type: ignore[attr-defined]
        "cpu", EVENT, AlertHistory(), 0.0)
    moved = handler("https://new.example/{{ .Level }}/{{ .ID }}")
    assert moved.readdress(out.payload)["url"] == (  # type: ignore[attr-defined]
        "https://new.example/CRITICAL/cpu:host=a")


def test_a_url_that_fails_to_render_for_an_alert_is_recorded_not_sent() -> None:
    relay = handler("https://hooks.example/{{ index .ID 3 }}")
    [out] = relay.plan("cpu", EVENT, AlertHistory(), 0.0)  # type: ignore[attr-defined]
    assert out.suppressed is not None and out.suppressed.startswith("url template failed: ")


def test_a_url_that_renders_into_no_url_is_recorded_not_sent() -> None:
    relay = handler("{{ if eq .Level \"OK\" }}https://ok.example/{{ else }}mailto:x{{ end }}")
    [out] = relay.plan("cpu", EVENT, AlertHistory(), 0.0)  # type: ignore[attr-defined]
    assert out.suppressed is not None
    assert out.suppressed.endswith(", not an http or https URL")


@pytest.mark.parametrize(("url", "error"), [
    ("https://hooks.example/{{ .Fields }}", "'url' is not a valid template: unknown field"),
    ("https://hooks.example/{{ .ID ", "'url' is not a valid template"),
    ("ftp://{{ .ID }}.example/", "invalid url"),
])
def test_a_url_template_is_checked_when_the_handler_is_defined(url: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        handler(url)
