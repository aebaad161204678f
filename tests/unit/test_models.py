"""Levels and IDs as Kapacitor parses and validates them (alert.ParseLevel, dao.go regexes)."""

from __future__ import annotations

import pytest

from pushoverd.models import Level, valid_handler_id, valid_topic_id


def test_levels_are_ordered_ok_info_warning_critical() -> None:
    assert Level.OK < Level.INFO < Level.WARNING < Level.CRITICAL
    assert [int(level) for level in Level] == [0, 1, 2, 3]


@pytest.mark.parametrize(("text", "level"), [
    ("OK", Level.OK), ("info", Level.INFO), ("Warning", Level.WARNING),
    ("CRITICAL", Level.CRITICAL), ("critical", Level.CRITICAL),
])
def test_parse_accepts_full_names_in_any_case(text: str, level: Level) -> None:
    assert Level.parse(text) is level


@pytest.mark.parametrize("text", ["", "CRIT", "WARN", "O", "FOO", "OKINFO", " OK"])
def test_parse_refuses_anything_but_a_full_name(text: str) -> None:
    with pytest.raises(ValueError, match=f"unknown alert level '{text}'"):
        Level.parse(text)


@pytest.mark.parametrize(("text", "level"), [
    ("", Level.OK), ("O", Level.OK), ("ok", Level.OK),
    ("I", Level.INFO), ("INF", Level.INFO), ("info", Level.INFO),
    ("W", Level.WARNING), ("WARN", Level.WARNING), ("warning", Level.WARNING),
    ("C", Level.CRITICAL), ("CRIT", Level.CRITICAL), ("crit", Level.CRITICAL),
    ("CRITICAL", Level.CRITICAL),
])
def test_parse_query_keeps_kapacitors_prefix_quirk(text: str, level: Level) -> None:
    assert Level.parse_query(text) is level


@pytest.mark.parametrize("text", ["K", "NFO", "ARNING", "FOO", "foo", "OKX", "CRITICALS"])
def test_parse_query_refuses_other_text_and_quotes_it_upper_cased(text: str) -> None:
    with pytest.raises(ValueError) as info:
        Level.parse_query(text)
    assert str(info.value) == f"unknown alert level '{text.upper()}'"


@pytest.mark.parametrize("text", [
    "cpu", "CPU-1", "a.b_c", "0", "é", "日本語", "Ωmega", "ǅ-title-case",
])
def test_letters_of_any_script_digits_dash_dot_underscore_make_valid_ids(text: str) -> None:
    assert valid_handler_id(text)
    assert valid_topic_id(text)


def test_colon_is_allowed_in_topic_ids_only() -> None:
    # Anonymous topics look like main:<task>:<alert node>.
    assert valid_topic_id("main:cpu_alert:alert2")
    assert not valid_handler_id("main:cpu_alert:alert2")


@pytest.mark.parametrize("text", [
    "", "a b", "a/b", "a+b", "a@b", "a*", "tab\t", "new\nline", "٣",  # Arabic-Indic digit
    "½", "a\u0301",  # combining mark: not a letter
])
def test_empty_ids_and_other_characters_are_invalid(text: str) -> None:
    assert not valid_handler_id(text)
    assert not valid_topic_id(text)
