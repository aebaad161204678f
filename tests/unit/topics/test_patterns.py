"""The ``pattern`` query parameter: Go's ``path.Match`` globs, bad patterns included."""

from __future__ import annotations

import pytest

from pushoverd.errors import ValidationError
from pushoverd.topics.patterns import BadPattern, compile_pattern, matches


@pytest.mark.parametrize("name", ["", "cpu", "main:cpu_alert:alert2", "a.b-c_d"])
def test_empty_pattern_matches_everything(name: str) -> None:
    assert matches("", name)


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("cpu", "cpu", True), ("cpu", "cpu2", False), ("cpu", "CPU", False), ("cpu", "xcpu", False),
    ("*", "anything", True), ("*", "", True), ("c*", "cpu", True), ("c*", "mem", False),
    ("push*", "pushover-cpu", True), ("push*", "post-cpu", False),
    ("*cpu", "pushover-cpu", True), ("*-*", "post-cpu", True), ("*-*", "cpu", False),
    ("?", "a", True), ("?", "", False), ("?", "ab", False), ("c?u", "cpu", True),
    ("?", "é", True),  # one rune, not one byte
    ("main:*", "main:cpu_alert:alert2", True),
])
def test_star_and_question_mark(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("[abc]", "b", True), ("[abc]", "d", False), ("[a-c]pu", "cpu", True),
    ("[a-c]pu", "dpu", False), ("[^a-c]pu", "dpu", True), ("[^a-c]pu", "cpu", False),
    ("[a-cx-z]", "y", True), ("[*]", "*", True), ("[*]", "a", False),
    ("[\\]]", "]", True), ("[\\-]", "-", True), ("[a\\-c]", "b", False),
    ("[z-a]", "m", False),  # a reversed range is valid in Go and matches nothing
    ("[^z-a]", "m", True),
])
def test_character_classes(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("\\*", "*", True), ("\\*", "a", False), ("\\?", "?", True), ("a\\[b", "a[b", True),
    (".", ".", True), (".", "a", False), ("a+", "aa", False), ("(a)", "(a)", True),
    ("a|b", "a", False), ("^a$", "^a$", True),
])
def test_escapes_and_regex_metacharacters_are_literal(pattern: str, name: str,
                                                      expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(("pattern", "name"), [("*", "a/b"), ("?", "/"), ("a*", "ab/c")])
def test_wildcards_do_not_cross_a_slash(pattern: str, name: str) -> None:
    assert not matches(pattern, name)


@pytest.mark.parametrize("pattern", [
    "[", "[a", "[]", "[]a]", "[^]", "[a-]", "[-a]", "[a-b-c]", "\\", "a\\", "[\\", "[a-\\",
    "cpu[", "*[",
])
def test_malformed_patterns_are_refused_with_gos_message(pattern: str) -> None:
    with pytest.raises(BadPattern) as info:
        compile_pattern(pattern)
    assert str(info.value) == "syntax error in pattern"
    assert isinstance(info.value, ValidationError)  # answered with 400 by the API


def test_matches_refuses_a_malformed_pattern_even_when_the_name_is_empty() -> None:
    # Kapacitor validates with path.Match(pattern, "").
    with pytest.raises(BadPattern):
        matches("[", "")
