"""Message: form fields as Kapacitor sends them, documented limits, persistence."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from tests.conftest import TOKEN, USER

from pushoverd.pushover import (
    MESSAGE_LIMIT,
    TITLE_LIMIT,
    URL_LIMIT,
    URL_TITLE_LIMIT,
    Message,
)

# Kapacitor 1.5.7 on the wire: topic handler pushover-cpu, CRITICAL
# (kapacitor-captures/pushover_form_topic_handler_levels.jsonl, third line).
CAPTURED_CRITICAL = (
    "device=mydevice&message=cpu%3Ahost%3DserverA+is+CRITICAL&priority=1&sound=siren"
    "&title=CPU+Alert+Title&token=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "&url=http%3A%2F%2Fexample.com%2Fdash%3Fx%3D1%26y%3D2&url_title=Open+dashboard"
    "&user=uuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
)


def keys(message: Message) -> list[str]:
    return [k for k, _ in message.form(TOKEN, USER)]


def test_reproduces_captured_kapacitor_form_byte_for_byte() -> None:
    msg = Message.build("cpu:host=serverA is CRITICAL", priority=1, device="mydevice",
                        sound="siren", title="CPU Alert Title",
                        url="http://example.com/dash?x=1&y=2", url_title="Open dashboard")
    assert urlencode(msg.form(TOKEN, USER)) == CAPTURED_CRITICAL


def test_minimal_form_has_only_the_always_sent_fields() -> None:
    assert Message("hi").form(TOKEN, USER) == [
        ("message", "hi"), ("priority", "0"), ("token", TOKEN), ("user", USER)]


@pytest.mark.parametrize("field", ["device", "sound", "title", "url", "url_title"])
def test_optional_text_field_is_sent_only_when_non_empty(field: str) -> None:
    assert field not in keys(Message("hi", **{field: ""}))
    form = dict(Message("hi", **{field: "x"}).form(TOKEN, USER))
    assert form[field] == "x"


def test_url_title_goes_on_the_wire_with_an_underscore() -> None:
    assert "url_title" in keys(Message("hi", url_title="Open"))
    assert "url-title" not in keys(Message("hi", url_title="Open"))


def test_fields_are_sorted_by_key() -> None:
    msg = Message("hi", priority=-2, title="t", url="u", url_title="ut", device="d",
                  sound="s", timestamp=5, user="v" * 30)
    assert keys(msg) == sorted(keys(msg))
    assert len(keys(msg)) == 10


@pytest.mark.parametrize(("timestamp", "expected"),
                         [(None, None), (0, "0"), (1700000000, "1700000000")])
def test_timestamp_is_sent_only_when_given(timestamp: int | None, expected: str | None) -> None:
    assert dict(Message("hi", timestamp=timestamp).form(TOKEN, USER)).get("timestamp") == expected


def test_user_override_replaces_the_default_user() -> None:
    assert dict(Message("hi", user="v" * 30).form(TOKEN, USER))["user"] == "v" * 30
    assert dict(Message("hi").form(TOKEN, USER))["user"] == USER


def test_negative_priority_is_sent_as_a_signed_integer() -> None:
    assert dict(Message("hi", priority=-2).form(TOKEN, USER))["priority"] == "-2"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_blank_message_cannot_be_formed(blank: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        Message(blank).form(TOKEN, USER)


LIMITS = [("message", MESSAGE_LIMIT), ("title", TITLE_LIMIT), ("url", URL_LIMIT),
          ("url_title", URL_TITLE_LIMIT)]


def test_limits_are_pushovers_documented_ones() -> None:
    assert dict(LIMITS) == {"message": 1024, "title": 250, "url": 512, "url_title": 100}


@pytest.mark.parametrize(("field", "limit"), LIMITS)
def test_text_exactly_at_the_limit_is_untouched(field: str, limit: int) -> None:
    text = "é" * limit
    msg = Message.build(**{"message": "m", field: text})
    assert getattr(msg, field) == text


@pytest.mark.parametrize(("field", "limit"), LIMITS)
def test_text_one_over_the_limit_is_cut_to_the_limit_with_an_ellipsis(field: str,
                                                                      limit: int) -> None:
    msg = Message.build(**{"message": "m", field: "x" * (limit + 1)})
    value = getattr(msg, field)
    assert len(value) == limit
    assert value == "x" * (limit - 1) + "…"


def test_limits_count_characters_not_bytes() -> None:
    msg = Message.build("😀" * (MESSAGE_LIMIT + 5))
    assert len(msg.message) == MESSAGE_LIMIT
    assert msg.message.endswith("…")


def test_build_leaves_short_fields_and_non_text_options_alone() -> None:
    msg = Message.build("hi", priority=1, sound="siren", timestamp=3, user="v" * 30)
    assert msg == Message("hi", priority=1, sound="siren", timestamp=3, user="v" * 30)


def test_message_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Message("hi").message = "changed"  # type: ignore[misc]


def test_to_dict_omits_unset_fields_and_never_holds_a_token() -> None:
    assert Message("hi").to_dict() == {"message": "hi", "priority": 0}
    assert "user" not in Message("hi").to_dict()
    assert Message("hi", user="v" * 30).to_dict()["user"] == "v" * 30


@pytest.mark.parametrize("msg", [
    Message("hi"),
    Message("hi", priority=-2, timestamp=0),
    Message("hé…", priority=2, title="t", url="http://x/?a=1&b=2", url_title="ut",
            device="a,b", sound="siren", timestamp=1700000000, user="v" * 30),
])
def test_round_trips_through_json_exactly(msg: Message) -> None:
    assert Message.from_dict(json.loads(json.dumps(msg.to_dict()))) == msg


def test_from_dict_ignores_keys_a_newer_version_wrote() -> None:
    assert Message.from_dict({"message": "hi", "priority": 1, "future": 1}) == Message("hi", 1)


def test_from_dict_requires_a_message() -> None:
    with pytest.raises(ValueError, match="message"):
        Message.from_dict({"priority": 1})
