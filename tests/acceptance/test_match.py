"""Match expressions and option templates through the real daemon, fed with the bodies
Kapacitor's post handler sent (tests/data/post_handler_topic_bodies.jsonl: INFO, WARNING,
CRITICAL, OK for serverA)."""

from __future__ import annotations

import pytest
from tests.acceptance.daemon import Daemon, captured_post_bodies
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

HANDLERS = "/kapacitor/v1/alerts/topics/cpu/handlers"


def test_handlers_get_the_captured_alerts_their_match_accepts(
        daemon: Daemon, fake: FakePushover) -> None:
    for handler_id, match in (("crit", '"host" == \'serverA\' AND level() == CRITICAL'),
                              ("changes", "changed() == TRUE"),
                              ("other-host", '"host" == \'serverB\'')):
        created = daemon.call("POST", HANDLERS, json={
            "id": handler_id, "kind": "pushover", "options": {"title": handler_id},
            "match": match})
        assert created.status_code == 200 and created.json()["match"] == match
    for body in captured_post_bodies():
        assert daemon.post_alert("cpu", body).status_code == 204
    received = fake.wait_for(5)
    by_title: dict[str, list[str]] = {}
    for r in received:
        by_title.setdefault(r.form["title"], []).append(r.form["message"])
    assert by_title == {
        "crit": ["cpu:host=serverA is CRITICAL"],
        "changes": [f"cpu:host=serverA is {lvl}" for lvl in ("INFO", "WARNING", "CRITICAL",
                                                             "OK")]}


def test_a_bad_match_is_refused_with_kapacitors_prefix(daemon: Daemon) -> None:
    answer = daemon.call("POST", HANDLERS, json={"id": "h", "kind": "pushover",
                                                 "match": "bogus ((("})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(
        "failed to create handler: invalid match expression: parser: ")


def test_templated_options_render_from_the_captured_alerts(
        daemon: Daemon, fake: FakePushover) -> None:
    created = daemon.call("POST", HANDLERS, json={
        "id": "templated", "kind": "pushover", "match": "level() >= WARNING",
        "options": {"title": '{{ .Level }} on {{ index .Tags "host" }}',
                    "message": "{{ if eq .Level \"CRITICAL\" }}PAGE: {{ end }}{{ .Message }}"}})
    assert created.status_code == 200
    for body in captured_post_bodies():
        assert daemon.post_alert("cpu", body).status_code == 204
    assert [(r.form["title"], r.form["message"]) for r in fake.wait_for(2)] == [
        ("WARNING on serverA", "cpu:host=serverA is WARNING"),
        ("CRITICAL on serverA", "PAGE: cpu:host=serverA is CRITICAL")]


def test_a_bad_template_is_refused_naming_the_option(daemon: Daemon) -> None:
    answer = daemon.call("POST", HANDLERS, json={"id": "h", "kind": "pushover",
                                                 "options": {"url-title": "{{ .Nope }}"}})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "failed to create handler: invalid options: 'url-title' is not a valid template: "
        "unknown field .Nope "
        "(use one of .ID, .Message, .Details, .Level, .Time, .Duration, .Name, .TaskName, "
        ".Group, .Tags, .Fields)")
