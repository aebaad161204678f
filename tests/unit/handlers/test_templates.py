"""Go text/template in handler options: the subset Kapacitor's ``.message()`` users write,
rendered the way Go renders it, refused at definition when it could never render."""

from __future__ import annotations

import json
from pathlib import Path
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

DATA = Path(__file__).parents[2] / "data" / "templates"
EVENT = Event(
    id="cpu:host=serverA", level=Level.CRITICAL, message="serverA is CRITICAL",
    details="usage high", time_ns=parse_rfc3339nano("2023-11-14T22:13:50.5Z"),
    duration_ns=90 * 1_000_000_000,
    data={"series": [{"name": "cpu", "tags": {"host": "serverA", "cpu": "cpu-total"},
                      "columns": ["time", "usage_idle", "count", "big"],
                      "values": [["2023-11-14T22:13:50Z", 4.25, 3, 1234567]]}]})
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
    ("{{ if and (eq .Name \"cpu\") (gt (index .Fields \"count\") 2.0) }}y{{ end }}", "y"),
    ("{{ if or (eq .Name \"mem\") (not (eq .Name \"cpu\")) }}y{{ else }}n{{ end }}", "n"),
    ("{{ if lt (index .Fields \"usage_idle\") 5.0 }}low{{ end }}", "low"),
    ("a  {{- .Name -}}  b", "acpub"),
    ("{{ `raw \\n` }}", "raw \\n"),
    ("{{ \"tab\\tquote\\\"\" }}", "tab\tquote\""),
    ("{{ .Tags }}", "map[cpu:cpu-total host:serverA]"),
    ("{{ printf \"%d\" .Name }}", "%!d(string=cpu)"),  # Go's in-band printf errors
    ("{{ index .Fields \"missing\" }}", "<no value>"),
    ("{{ index .Fields \"big\" }}", "1.234567e+06"),
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
    ("{{ index .Level \"x\" }}", "can't index item of type string"),
    ("{{ lt .Name 3 }}", "error calling lt"),
    ("{{ eq .Name }}", "error calling eq: missing argument for comparison"),
    ("{{ gt (index .Fields \"count\") 2 }}", "incompatible types"),  # fields are float64
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


# --- Go as the oracle ------------------------------------------------------------------------
# tests/data/templates/go_vectors.json is what Go 1.19's text/template printed for each
# template of input.json over the same values (oracle.go regenerates it).

VECTORS = json.loads((DATA / "go_vectors.json").read_text())
REFUSED_EARLIER = {  # Go fails only when it runs them; pushoverd refuses them at definition
    "{{ .Host }}", "{{ call .ID }}", "{{ .ID .Name }}", "{{ .ID | .Name }}"}
UNSUPPORTED = {"{{ range .Tags }}x{{ end }}"}  # outside the subset (no loops): refused


def go_values() -> dict[str, Any]:
    given = json.loads((DATA / "input.json").read_text())["Values"]
    assert given["Tags"] == VALUES["Tags"] and given["Fields"] == VALUES["Fields"]
    return VALUES


@pytest.mark.parametrize("vector", VECTORS, ids=[v["template"] for v in VECTORS])
def test_renders_what_go_rendered(vector: dict[str, str]) -> None:
    source = vector["template"]
    if source in REFUSED_EARLIER | UNSUPPORTED or "parse_error" in vector:
        with pytest.raises(ValidationError):
            parse_template(source, "title")
    elif "exec_error" in vector:
        with pytest.raises(TemplateError):
            parse_template(source, "title").render(go_values())
    else:
        assert parse_template(source, "title").render(go_values()) == vector["output"]
