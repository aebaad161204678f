"""The pushover handler kind: Kapacitor's options, its level-to-priority map, the rendering,
and the options refused when the handler is defined because Pushover could never accept them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.conftest import OTHER_USER, USER

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import AlertHistory
from pushoverd.handlers.pushover import PRIORITIES, PushoverKind
from pushoverd.handlers.pushover.kind import PushoverHandler
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import Event, HandlerSpec, Level
from pushoverd.timefmt import ZERO_TIME_NS, parse_rfc3339nano

DECODE_PREFIX = "failed to decode options into *pushover.HandlerConfig: "
CPU_OPTIONS = {"device": "mydevice", "title": "CPU Alert Title",
               "url": "http://example.com/dash?x=1&y=2", "url-title": "Open dashboard",
               "sound": "siren"}
CRITICAL_AT = "2023-11-14T22:13:50Z"


def spec(options: dict[str, Any] | None = None) -> HandlerSpec:
    return HandlerSpec(topic="cpu", id="pushover-cpu", kind="pushover", options=options)


def event(level: Level = Level.CRITICAL, message: str = "cpu:host=serverA is CRITICAL",
          time_ns: int | None = None) -> Event:
    when = parse_rfc3339nano(CRITICAL_AT) if time_ns is None else time_ns
    return Event(id="cpu:host=serverA", level=level, message=message, time_ns=when)


def render(options: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return PushoverKind(True).compile(spec(options)).render("cpu", event(**kw))


@pytest.mark.parametrize(("level", "priority"), [
    (Level.OK, -2), (Level.INFO, -1), (Level.WARNING, 0), (Level.CRITICAL, 1),
])
def test_level_maps_to_kapacitors_priority(level: Level, priority: int) -> None:
    assert PRIORITIES[level] == priority
    assert render(level=level)["priority"] == priority


def test_renders_the_captured_critical_notification() -> None:
    # kapacitor-captures/pushover_form_topic_handler_levels.jsonl, CRITICAL, plus the timestamp.
    assert render(CPU_OPTIONS) == {
        "message": "cpu:host=serverA is CRITICAL", "priority": 1, "title": "CPU Alert Title",
        "url": "http://example.com/dash?x=1&y=2", "url_title": "Open dashboard",
        "device": "mydevice", "sound": "siren", "timestamp": 1_700_000_030,
    }


@pytest.mark.parametrize(("option", "field", "value"), [
    ("device", "device", "value"), ("title", "title", "value"), ("url", "url", "value"),
    ("url-title", "url_title", "value"), ("sound", "sound", "value"),
    ("user-key", "user", USER),  # a user key must now look like one (see below)
])
def test_each_option_becomes_its_pushover_field(option: str, field: str, value: str) -> None:
    assert render({option: value})[field] == value
    assert field not in render({option: ""})
    assert field not in render({})


def test_blank_message_falls_back_to_the_event_id() -> None:
    assert render(message="")["message"] == "cpu:host=serverA"
    assert render(message="   ")["message"] == "cpu:host=serverA"


def test_timestamp_is_the_alert_time_in_unix_seconds() -> None:
    assert render(time_ns=1_700_000_040 * 1_000_000_000 + 999_999_999)["timestamp"] == 1_700_000_040


def test_go_zero_time_means_no_timestamp() -> None:
    assert "timestamp" not in render(time_ns=ZERO_TIME_NS)


@pytest.mark.parametrize("seconds", [-2_208_988_800, 0, 2**32, 10_413_792_000])
def test_a_time_pushover_cannot_show_sends_no_timestamp(seconds: int) -> None:
    assert "timestamp" not in render(time_ns=seconds * 1_000_000_000)


def test_the_last_unix_second_pushover_can_show_is_sent() -> None:
    assert render(time_ns=(2**32 - 1) * 1_000_000_000)["timestamp"] == 2**32 - 1


@pytest.mark.parametrize("options", [None, {}])
def test_no_options_is_fine(options: dict[str, Any] | None) -> None:
    assert render(options) == {"message": "cpu:host=serverA is CRITICAL", "priority": 1,
                               "timestamp": 1_700_000_030}


def test_unknown_option_is_refused_with_mapstructures_wording() -> None:
    with pytest.raises(ValidationError) as info:
        PushoverKind(True).compile(spec({"nosuchoption": "x", "sound": "siren"}))
    assert str(info.value) == (
        DECODE_PREFIX + "1 error(s) decoding:\n\n* '' has invalid keys: nosuchoption")


def test_several_unknown_options_are_listed_together() -> None:
    with pytest.raises(ValidationError, match=r"'' has invalid keys: aaa, zzz$"):
        PushoverKind(True).compile(spec({"zzz": 1, "aaa": 2}))


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["siren"], {"a": "b"}])
def test_non_string_option_value_is_refused_naming_the_option(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        PushoverKind(True).compile(spec({"sound": value}))
    text = str(info.value)
    assert text.startswith(DECODE_PREFIX + "1 error(s) decoding:\n\n* 'sound' ")


def test_options_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError, match=r"^failed to decode options into \*pushover"):
        PushoverKind(True).compile(spec(["sound"]))  # type: ignore[arg-type]


def test_disabled_service_still_compiles_but_says_why_it_cannot_send() -> None:
    assert PushoverKind(False).disabled_reason == "service is not enabled"
    assert PushoverKind(True).disabled_reason is None
    assert PushoverKind(False).compile(spec(CPU_OPTIONS)).spec == spec(CPU_OPTIONS)


def test_registry_finds_kinds_case_sensitively() -> None:
    kinds = KindRegistry([PushoverKind(True)])
    assert kinds.compile(spec()).spec.kind == "pushover"
    with pytest.raises(ValidationError) as info:
        kinds.kind("Pushover")
    assert str(info.value) == 'unsupported action kind "Pushover"'


# --- options Pushover could never accept are refused at definition ---------------------------

def compile_options(options: dict[str, Any]) -> PushoverHandler:
    return PushoverKind(True).compile(spec(options))


@pytest.mark.parametrize("key", [
    "short",
    USER[:29],                      # one character short
    USER[:29] + "-",                # 30 characters, one of them not a letter or digit
    ",".join([USER] * 51),          # Pushover takes at most 50 keys at once
    f"{USER},",                     # an empty key after the comma
    f"{USER} ",
], ids=["short", "29-chars", "dash", "51-keys", "trailing-comma", "trailing-space"])
def test_a_user_key_that_can_never_be_valid_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_options({"user-key": key})
    text = str(info.value)
    assert text.startswith(DECODE_PREFIX + "1 error(s) decoding:\n\n* 'user-key' ")
    assert "30 letters and digits" in text
    # The key is a secret: the refusal shown to the operator must not carry it.
    assert key not in text and USER[:20] not in text


@pytest.mark.parametrize("key", [USER, f"{USER},{OTHER_USER}", ",".join([USER] * 50)],
                         ids=["one", "two", "fifty"])
def test_well_formed_user_keys_are_accepted(key: str) -> None:
    assert compile_options({"user-key": key}).render("cpu", event())["user"] == key


@pytest.mark.parametrize("device", ["bad name!", "d" * 26, "phone1,", "phone1,,phone2"],
                         ids=["space-and-bang", "26-chars", "trailing-comma", "empty-name"])
def test_a_device_name_that_can_never_be_valid_is_refused(device: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_options({"device": device})
    assert str(info.value).startswith(DECODE_PREFIX + "1 error(s) decoding:\n\n* 'device' ")
    assert "is not a Pushover device name" in str(info.value)


@pytest.mark.parametrize("device", ["phone1,phone_2-x", "d" * 25, "a"])
def test_well_formed_device_names_are_accepted(device: str) -> None:
    assert compile_options({"device": device}).render("cpu", event())["device"] == device


def test_a_custom_sound_is_accepted_with_one_warning_naming_it(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pushoverd"):
        handler = compile_options({"sound": "mycustom"})
    assert handler.render("cpu", event())["sound"] == "mycustom"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "'mycustom'" in warnings[0].getMessage()
    assert "cpu/pushover-cpu" in warnings[0].getMessage()


def test_a_built_in_sound_is_accepted_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pushoverd"):
        compile_options({"sound": "siren"})
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# --- readdress: a re-queued delivery goes to the handler's current recipients ----------------

STORED = {"message": "cpu:host=serverA is CRITICAL", "priority": 1, "title": "T",
          "user": OTHER_USER, "timestamp": 1_700_000_030}


def test_readdress_puts_the_current_user_key_in_and_keeps_the_text() -> None:
    handler = compile_options({"user-key": USER})
    assert handler.readdress(STORED) == {**STORED, "user": USER}
    assert STORED["user"] == OTHER_USER  # the stored payload itself is not changed


def test_readdress_drops_an_old_user_key_when_the_handler_has_none() -> None:
    # No user-key: the configured default key is used at send time, not the old one.
    readdressed = compile_options({}).readdress(STORED)
    assert "user" not in readdressed
    assert readdressed == {k: v for k, v in STORED.items() if k != "user"}


# --- templates in options -------------------------------------------------------------------

TEMPLATED = {"title": "{{ .Level }} on {{ index .Tags \"host\" }}",
             "message": "{{ .ID }}: {{ index .Fields \"usage_idle\" | printf \"%.1f\" }}% idle",
             "url": "http://grafana/d/cpu?var-host={{ index .Tags \"host\" }}",
             "url-title": "{{ .Name | upper }} dashboard"}


def series_event(data: Any) -> Event:
    return Event(id="cpu:host=serverA", level=Level.WARNING, message="own message",
                 data=data, time_ns=parse_rfc3339nano(CRITICAL_AT))


SERIES = {"series": [{"name": "cpu", "tags": {"host": "serverA"},
                      "columns": ["time", "usage_idle"], "values": [[CRITICAL_AT, 7.25]]}]}


def plan_of(options: dict[str, Any], ev: Event) -> list[Any]:
    handler = PushoverKind(True).compile(spec(options))
    return handler.plan("cpu", ev, AlertHistory(), 0.0)


def test_title_message_url_and_url_title_render_their_templates() -> None:
    [out] = plan_of(TEMPLATED, series_event(SERIES))
    assert {k: out.payload[k] for k in ("title", "message", "url", "url_title")} == {
        "title": "WARNING on serverA", "message": "cpu:host=serverA: 7.2% idle",
        "url": "http://grafana/d/cpu?var-host=serverA", "url_title": "CPU dashboard"}
    assert out.note is None


def test_the_message_option_defaults_to_the_alerts_own_message() -> None:
    [out] = plan_of({"title": "{{ .Level }}"}, series_event(SERIES))
    assert (out.payload["title"], out.payload["message"]) == ("WARNING", "own message")


def test_a_render_error_sends_the_untemplated_text_and_notes_why() -> None:
    [out] = plan_of({"title": "{{ index .Level \"x\" }}", "message": "{{ lt .Name 1 }}"},
                    series_event(SERIES))
    assert out.payload["title"] == "{{ index .Level \"x\" }}"
    assert out.payload["message"] == "own message"  # the alert's own, not the template
    assert out.note is not None and out.note.startswith("template failed, untemplated text")
    assert "title: error calling index" in out.note and "message: error calling lt" in out.note


def test_a_template_that_renders_empty_leaves_the_field_out() -> None:
    [out] = plan_of({"url": "{{ index .Tags \"nope\" }}"}, series_event(SERIES))
    assert "url" not in out.payload


def test_a_bad_template_is_refused_when_the_handler_is_defined() -> None:
    with pytest.raises(ValidationError, match="'url-title' is not a valid template"):
        PushoverKind(True).compile(spec({"url-title": "{{ .Nope }}"}))
