"""Go text/template in handler options: the subset Kapacitor's ``.message()`` users write,
rendered the way Go renders it, refused at definition when it could never render."""

from __future__ import annotations

from typing import Any

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.templates import (
    MAX_OUTPUT,
    TemplateError,
    parse_template,
    template_values,
)
from pushoverd.models import Event, Level
from pushoverd.timefmt import parse_rfc3339nano

EVENT = Event(
    id="cpu:host=serverA", level=Level.CRITICAL, message="serverA is CRITICAL",
    details="usage high", time_ns=parse_rfc3339nano("2023-11-14T22:13:50.5Z"),
    duration_ns=90 * 1_000_000_000,
    data={"series": [{"name": "cpu", "tags": {"host": "serverA", "cpu": "cpu-total"},
                      "columns": ["time", "usage_idle", "count"],
                      "values": [["2023-11-14T22:13:50Z", 4.25, 3]]}]})
VALUES = template_values(EVENT)


def render(source: str, values: dict[str, Any] | None = None) -> str:
    return parse_template(source, "title").render(VALUES if values is None else values)


@pytest.mark.parametrize(("source", "expected"), [
    ("plain text", "plain text"),
    ("{{ .ID }}", "cpu:host=serverA"),
    ("{{.Message}}", "serverA is CRITICAL"),
    ("{{ .Details }}", "usage high"),
    ("{{ .Level }} on {{ index .Tags \"host\" }}", "CRITICAL on serverA"),
    ("{{ .Time }}", "2023-11-14 22:13:50.5 +0000 UTC"),
    ("{{ .Duration }}", "1m30s"),
    ("{{ .Name }}", "cpu"),
    ("{{ .Group }}", "cpu=cpu-total,host=serverA"),
    ("{{ .TaskName }}", ""),
    ("{{ index .Fields \"usage_idle\" }}", "4.25"),
    ("{{ index .Fields \"count\" }}", "3"),
    ("{{ index .Tags \"missing\" }}", ""),  # Go: a missing map key is the zero value
    ("{{ index .Fields \"usage_idle\" | printf \"%.1f\" }}% idle", "4.2% idle"),
    ("{{ printf \"%s/%v\" .Name .Level }}", "cpu/CRITICAL"),
    ("{{ .Level | lower }}", "critical"),
    ("{{ upper .Name }}", "CPU"),
    ("{{ len .Tags }}", "2"),
    ("{{ if eq .Level \"CRITICAL\" }}PAGE{{ else }}note{{ end }}", "PAGE"),
    ("{{ if eq .Level \"OK\" }}ok{{ else if eq .Level \"CRITICAL\" }}crit{{ end }}", "crit"),
    ("{{ if ne .Level \"CRITICAL\" }}calm{{ end }}", ""),
    ("{{ if and (eq .Name \"cpu\") (gt (index .Fields \"count\") 2) }}y{{ end }}", "y"),
    ("{{ if or (eq .Name \"mem\") (not (eq .Name \"cpu\")) }}y{{ else }}n{{ end }}", "n"),
    ("{{ if lt (index .Fields \"usage_idle\") 5.0 }}low{{ end }}", "low"),
    ("a  {{- .Name -}}  b", "acpub"),
    ("{{ `raw \\n` }}", "raw \\n"),
    ("{{ \"tab\\tquote\\\"\" }}", "tab\tquote\""),
    ("{{ .Tags }}", "map[cpu:cpu-total host:serverA]"),
])
def test_renders_as_go_text_template_does(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(("source", "error"), [
    ("{{ .Host }}", "unknown field .Host"),
    ("{{ .ID", "unclosed action"),
    ("{{ if eq .Level \"OK\" }}ok", "missing {{end}}"),
    ("ok{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ }}", "empty action"),
    ("{{ call .ID }}", 'function "call" not defined'),
    ("{{ .ID .Name }}", "only a function takes arguments"),
    ("{{ .ID | .Name }}", "only a function can follow |"),
    ("{{ range .Tags }}x{{ end }}", 'function "range" not defined'),
])
def test_a_template_that_could_never_render_is_refused_naming_the_option(
        source: str, error: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_template(source, "url-title")
    assert str(refused.value).startswith("invalid options: 'url-title' is not a valid template: ")
    assert error in str(refused.value)


@pytest.mark.parametrize(("source", "error"), [
    ("{{ index .Level \"x\" }}", "can't index item of type str"),
    ("{{ lt .Name 3 }}", "error calling lt"),
    ("{{ eq .Name }}", "wrong number of args for eq: want 2 got 1"),
    ("{{ printf \"%d\" .Name }}", "error calling printf"),
])
def test_an_action_that_fails_for_one_event_is_a_render_error(source: str, error: str) -> None:
    template = parse_template(source, "title")
    with pytest.raises(TemplateError, match=error):
        template.render(VALUES)


def test_output_is_bounded() -> None:
    huge = {**VALUES, "Message": "x" * (MAX_OUTPUT + 1)}
    with pytest.raises(TemplateError, match="more than"):
        render("{{ .Message }}", huge)


def test_an_alert_without_series_has_empty_tags_and_fields() -> None:
    values = template_values(Event(id="x", level=Level.OK))
    assert (values["Tags"], values["Fields"], values["Name"], values["Group"]) == ({}, {}, "", "")
    assert render("[{{ index .Tags \"host\" }}]", values) == "[]"
