"""The override engine (config/overrides.py) on its own: applying stored overrides to a
Config, what an update makes of the stored ones, the redacted views, Go's JSON error texts."""

from __future__ import annotations

import json

import pytest
from tests.conftest import TOKEN, USER

from pushoverd.api.config import go_decode_error
from pushoverd.config import Config
from pushoverd.config.overrides import (
    OverrideError,
    apply_overrides,
    parse_action,
    sections,
    updated_overrides,
)
from pushoverd.models import ConfigOverride

BASE = Config.model_validate({
    "pushover": {"enabled": True, "token": TOKEN, "user-key": USER},
    "httppost": [{"endpoint": "hooks", "url": "http://hooks.example/a",
                  "basic-auth": {"username": "u", "password": "p"}}]})


def update(section: str, element: str, body: object, has_element: bool = True,
           stored: list[ConfigOverride] | None = None) -> list[ConfigOverride]:
    action = parse_action(section, element, has_element, body)
    return updated_overrides(action, stored or [])[0]


def test_overrides_apply_over_the_file_and_leave_it_unchanged() -> None:
    config = apply_overrides(BASE, [ConfigOverride("pushover/", {"token": "t" * 30})])
    assert config.pushover.token == "t" * 30 and config.pushover.user_key == USER
    assert BASE.pushover.token == TOKEN


def test_option_names_match_case_insensitively_as_in_kapacitor() -> None:
    config = apply_overrides(BASE, [ConfigOverride("pushover/", {"URL": "http://p.example/"})])
    assert config.pushover.url == "http://p.example/"


def test_set_then_delete_reverts_the_key() -> None:
    stored = update("pushover", "", {"set": {"url": "http://p.example/", "enabled": False}})
    assert stored == [ConfigOverride("pushover/", {"url": "http://p.example/",
                                                   "enabled": False})]
    stored = update("pushover", "", {"delete": ["url"]}, stored=stored)
    assert stored == [ConfigOverride("pushover/", {"enabled": False})]
    config = apply_overrides(BASE, stored)
    assert (config.pushover.url, config.pushover.enabled) == (BASE.pushover.url, False)


def test_basic_auth_is_merged_and_shown_as_a_boolean() -> None:
    config = apply_overrides(BASE, [ConfigOverride("httppost/hooks",
                                                   {"basic-auth": {"password": "q"}})])
    assert config.httppost[0].basic_auth.username == "u"
    assert config.httppost[0].basic_auth.password == "q"
    [view] = sections(config)["httppost"]
    assert view.options["basic-auth"] is True and view.redacted == ["headers", "basic-auth"]
    assert "q" not in json.dumps(view.options)


def test_unknown_basic_auth_keys_are_refused_like_mapstructure() -> None:
    with pytest.raises(OverrideError, match=r"failed to decode options into "
                                            r"\*httppost.BasicAuth: 1 error\(s\) decoding:"
                                            r"\n\n\* '' has invalid keys: user"):
        apply_overrides(BASE, [ConfigOverride("httppost/hooks", {"basic-auth": {"user": "x"}})])


def test_an_added_element_is_created_whole() -> None:
    stored = update("httppost", "", {"add": {"endpoint": "new", "url": "http://n.example/"}},
                    has_element=False)
    assert stored == [ConfigOverride("httppost/new", {"endpoint": "new",
                                                      "url": "http://n.example/"}, create=True)]
    config = apply_overrides(BASE, stored)
    assert [e.endpoint for e in config.httppost] == ["hooks", "new"]


def test_remove_drops_the_override_only() -> None:
    stored = [ConfigOverride("httppost/hooks", {"url": "http://other.example/"})]
    action = parse_action("httppost", "", False, {"remove": ["hooks"]})
    after, changed, deleted = updated_overrides(action, stored)
    assert (after, changed, deleted) == ([], [], ["httppost/hooks"])


@pytest.mark.parametrize(("section", "error"), [
    ("bad name", 'invalid section name "bad name"'),
    ("", "must provide section name"),
])
def test_names_are_checked(section: str, error: str) -> None:
    with pytest.raises(OverrideError, match=error):
        update(section, "", {"set": {"a": 1}})


@pytest.mark.parametrize(("text", "error"), [
    ("{bad", "invalid character 'b' looking for beginning of object key string"),
    ('{"set": x}', "invalid character 'x' looking for beginning of value"),
    ('{"set" 1}', "invalid character '1' after object key"),
    ('{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
    ('{"a": [1 2]}', "invalid character '2' after array element"),
    ('{"a": 1', "unexpected EOF"),
])
def test_json_errors_are_worded_as_go_words_them(text: str, error: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    assert go_decode_error(caught.value) == error
