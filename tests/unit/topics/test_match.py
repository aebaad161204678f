"""Match expressions as Kapacitor evaluates them (spec/kapacitor-spec.md §5.3): the examples
from its docs and tests, references to tags only, the five alert functions, the stateless
string and math functions, and its refusals at definition."""

from __future__ import annotations

import pytest

from pushoverd.errors import ValidationError
from pushoverd.models import Event, Level
from pushoverd.topics.match import MatchError, Scope, compile_match, scope_of

SERVER_A = Scope(tags={"host": "serverA", "cpu": "cpu-total"}, level=3, previous_level=2,
                 name="cpu", task_name="", duration_ns=90 * 10**9)


@pytest.mark.parametrize(("expression", "expected"), [
    # The docs' and Kapacitor's own test examples.
    ("changed() == TRUE", True),
    ("level() >= WARNING", True),
    ("level() == CRITICAL", True),
    ('"host" == \'serverA\' AND level() == CRITICAL', True),   # TestServer_Alert_Match
    ("alertDuration() < 1m", False),                           # TestMatchHandlerAlertDuration
    ("alertDuration() > 1m", True),
    ("duration() == 90s", True),                               # the name the docs use
    # Operators, literals and precedence.
    ('"host" == \'serverB\' OR level() == CRITICAL', True),
    ('"host" != \'serverA\' AND level() == CRITICAL OR name() == \'cpu\'', True),
    ('!("host" == \'serverA\')', False),
    ('"host" =~ /^server[A-Z]$/', True),
    ('"host" !~ /^db/', True),
    ("level() + 1 == 4", True),
    ("10 / 4 == 2", True),                    # integer division, as Go's
    ("10.0 / 4.0 == 2.5", True),
    ("-level() < 0", True),
    ("1h > 59m AND 1d == 24h AND 1w == 7d", True),
    ("500ms < 1s AND 1u < 1ms", True),
    ("TRUE AND !FALSE", True),
    # Stateless functions.
    ('strContains("cpu", \'total\')', True),
    ('strHasPrefix("host", \'server\') AND strHasSuffix("host", \'A\')', True),
    ('strToLower("host") == \'servera\'', True),
    ('strLength("host") == 7', True),
    ('strReplace("cpu", \'-\', \'_\', -1) == \'cpu_total\'', True),
    ("abs(-3) == 3 AND floor(2.7) == 2.0 AND max(1, 2) == 2", True),
    ("taskName() == ''", True),               # the post body carries no task name
])
def test_expressions_evaluate_as_kapacitors(expression: str, expected: bool) -> None:
    match = compile_match(expression)
    assert match is not None and match(SERVER_A) is expected


def test_changed_compares_with_the_previous_level_of_the_event() -> None:
    match = compile_match("changed()")
    assert match is not None
    same = Scope({}, level=2, previous_level=2, name="", task_name="", duration_ns=0)
    assert match(SERVER_A) is True and match(same) is False


def test_an_empty_match_is_every_event() -> None:
    assert compile_match("") is None and compile_match("   ") is None


@pytest.mark.parametrize(("expression", "words"), [
    ('"nosuchtag" == \'x\'', "no tag exists for nosuchtag"),   # Kapacitor: not delivered
    ("level()", "not a boolean"),
    ("level() == 'x'", "mismatched type"),
    ("'a' =~ 'b'", "needs a string and a regex"),
    ("1 / 0 == 1", "division by zero"),
])
def test_an_evaluation_error_is_a_match_error(expression: str, words: str) -> None:
    match = compile_match(expression)
    assert match is not None
    with pytest.raises(MatchError, match=words):
        match(SERVER_A)


@pytest.mark.parametrize(("expression", "message"), [
    ("bogus (((", "invalid match expression: parser: unexpected input"),
    ("foo == 1", 'unknown identifier "foo"'),
    ("level(1) == 2", "level takes no arguments"),
    ("changed(TRUE)", "changed takes no arguments"),
    ("nofunc() == 1", 'invalid match expression: undefined function: "nofunc"'),
    ("strContains('a') ", "strContains takes 2 argument(s), got 1"),
    ("level() ==", "invalid match expression: parser: unexpected input"),
    ('"host" =~ /(/', "invalid match expression: bad regex /(/"),
])
def test_bad_expressions_are_refused_at_definition(expression: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        compile_match(expression)
    assert str(refused.value).startswith(message)


def test_the_scope_is_the_alerts_first_series_tags_and_name() -> None:
    event = Event(id="cpu:host=a", level=Level.WARNING, duration_ns=5,
                  data={"series": [{"name": "cpu", "tags": {"host": "a", "n": 1}}]})
    scope = scope_of(event, Level.OK)
    assert (scope.tags, scope.name, scope.level, scope.previous_level, scope.duration_ns) == (
        {"host": "a", "n": "1"}, "cpu", 2, 0, 5)
    assert scope_of(Event(id="x", level=Level.OK, data={"series": None}), Level.OK).tags == {}
