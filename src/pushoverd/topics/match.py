"""Kapacitor's handler ``match`` expressions: a TICKscript lambda body, compiled once when the
handler is defined and evaluated for each event (spec/kapacitor-spec.md §5.3).

    "host" == 'serverA' AND level() >= WARNING
    changed() == TRUE
    alertDuration() > 5m AND strHasPrefix("host", 'db')

Double-quoted references are looked up in the event's tags only (a missing tag is an
evaluation error, as in Kapacitor); ``OK`` .. ``CRITICAL`` are the only bare identifiers;
``level()``, ``changed()``, ``name()``, ``taskName()`` and ``alertDuration()`` (alias
``duration()``) take no arguments; the stateless string and math functions take theirs. A
syntax or naming error is refused at definition; an evaluation error makes the event not match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from pushoverd.errors import ValidationError
from pushoverd.models import Event, Level
from pushoverd.timefmt import parse_go_duration

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("OR" and_expr)*        -> or_
?and_expr: comparison ("AND" comparison)*  -> and_
?comparison: sum (COMPARE sum)?            -> compare
?sum: product (ADD_OP product)*            -> arith
?product: unary (MUL_OP unary)*            -> arith
?unary: "!" unary                          -> not_
      | "-" unary                          -> neg
      | atom
?atom: DURATION                            -> duration
     | NUMBER                              -> number
     | STRING                              -> string
     | REGEX                               -> regex
     | "TRUE"                              -> true
     | "FALSE"                             -> false
     | REFERENCE                           -> reference
     | NAME "(" [args] ")"                 -> call
     | NAME                                -> identifier
     | "(" or_expr ")"
args: or_expr ("," or_expr)*

COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">" | "=~" | "!~"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
DURATION.3: /[0-9]+(\.[0-9]+)?(ms|us|u|µ|s|m|h|d|w)(?![A-Za-z0-9_])/
NUMBER.2: /[0-9]+(\.[0-9]+)?/
STRING: /'(\\.|[^'\\])*'/
REFERENCE: /"(\\.|[^"\\])*"/
REGEX: /\/(\\.|[^\/\\])+\//
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual")
LEVELS = {"OK": 0, "INFO": 1, "WARNING": 2, "CRITICAL": 3}
_UNITS = {"u": "us", "µ": "us", "d": None, "w": None}


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression can see of one event."""

    tags: Mapping[str, str]
    level: int
    previous_level: int
    name: str
    task_name: str
    duration_ns: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A TICKscript duration value, in nanoseconds."""

    ns: int


Node = Callable[[Scope], Any]


def scope_of(event: Event, previous: Level) -> Scope:
    """What a match sees of ``event``: the tags and name of its data's first series (the
    alert's group), its level and the one before it, its duration. The ``post`` body carries
    no task name, so ``taskName()`` is empty."""
    series = (event.data or {}).get("series") if isinstance(event.data, dict) else None
    first = series[0] if isinstance(series, list) and series and isinstance(
        series[0], dict) else {}
    tags = first.get("tags") if isinstance(first.get("tags"), dict) else {}
    name = first.get("name") if isinstance(first.get("name"), str) else ""
    return Scope({str(k): str(v) for k, v in tags.items()}, int(event.level), int(previous),
                 name, "", event.duration_ns)


class MatchError(Exception):
    """An expression failed to evaluate for one event (the event does not match)."""


def compile_match(text: str) -> Callable[[Scope], bool] | None:
    """The compiled expression, or None for an empty one (every event matches). Raises
    ValidationError with Kapacitor's wording for a syntax or naming error."""
    if not text.strip():
        return None
    try:
        node: Node = _Compiler().transform(_PARSER.parse(text))
    except UnexpectedInput as exc:
        raise ValidationError(f"invalid match expression: {_syntax(exc, text)}") from None
    except VisitError as exc:
        raise ValidationError(_compile_error(exc.orig_exc, text)) from None
    except LarkError as exc:
        raise ValidationError(f"invalid match expression: {exc}") from None

    def matches(scope: Scope) -> bool:
        value = node(scope)
        if not isinstance(value, bool):
            raise MatchError(f"expression returned {_type(value)}, not a boolean")
        return value

    return matches


def _syntax(exc: UnexpectedInput, text: str) -> str:
    where = f"line {exc.line} char {exc.column}" if exc.line > 0 else "at the end"
    return f"parser: unexpected input {where} in {text!r}"


def _compile_error(exc: Exception, text: str) -> str:
    if isinstance(exc, _NamingError):
        return str(exc)
    return f"invalid match expression: {exc} in {text!r}"


class _NamingError(Exception):
    """An unknown identifier or function, or a function given the wrong arguments."""


@v_args(inline=True)
class _Compiler(Transformer[Token, Node]):
    """Turns the parse tree into nested closures, checking names once."""

    def number(self, token: Token) -> Node:
        value = float(token) if "." in token else int(token)
        return lambda scope: value

    def duration(self, token: Token) -> Node:
        found = re.fullmatch(r"([0-9.]+)(.*)", str(token))
        assert found is not None
        amount, unit = found.groups()
        factor = {"d": 86_400, "w": 604_800}.get(unit)
        ns = (round(float(amount) * factor * 1e9) if factor
              else parse_go_duration(amount + (_UNITS.get(unit) or unit)))
        value = Duration(ns)
        return lambda scope: value

    def string(self, token: Token) -> Node:
        value = _unquote(str(token)[1:-1])
        return lambda scope: value

    def regex(self, token: Token) -> Node:
        try:
            value = re.compile(str(token)[1:-1].replace("\\/", "/"))
        except re.error as exc:
            raise _NamingError(f"invalid match expression: bad regex {token}: {exc}") from None
        return lambda scope: value

    def true(self) -> Node:
        return lambda scope: True

    def false(self) -> Node:
        return lambda scope: False

    def reference(self, token: Token) -> Node:
        name = _unquote(str(token)[1:-1])

        def tag(scope: Scope) -> str:
            if name not in scope.tags:
                raise MatchError(f"no tag exists for {name}")
            return scope.tags[name]
        return tag

    def identifier(self, token: Token) -> Node:
        if str(token) not in LEVELS:
            raise _NamingError(f'unknown identifier "{token}"')
        value = LEVELS[str(token)]
        return lambda scope: value

    def args(self, *nodes: Node) -> list[Node]:
        return list(nodes)

    def call(self, token: Token, arguments: list[Node] | None) -> Node:
        return _function(str(token), arguments or [])

    def not_(self, operand: Node) -> Node:
        def negate(scope: Scope) -> bool:
            value = operand(scope)
            if not isinstance(value, bool):
                raise MatchError(f"invalid negation of {_type(value)}")
            return not value
        return negate

    def neg(self, operand: Node) -> Node:
        def minus(scope: Scope) -> Any:
            value = operand(scope)
            if isinstance(value, Duration):
                return Duration(-value.ns)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MatchError(f"invalid negation of {_type(value)}")
            return -value
        return minus

    def or_(self, *operands: Node) -> Node:
        return operands[0] if len(operands) == 1 else _logical(operands, any_of=True)

    def and_(self, *operands: Node) -> Node:
        return operands[0] if len(operands) == 1 else _logical(operands, any_of=False)

    def compare(self, left: Node, op: Token | None = None, right: Node | None = None) -> Node:
        if op is None or right is None:
            return left
        operator = str(op)
        return lambda scope: _compare(operator, left(scope), right(scope))

    def arith(self, first: Node, *rest: Any) -> Node:
        if not rest:
            return first
        steps = [(str(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2)]

        def calculate(scope: Scope) -> Any:
            value = first(scope)
            for operator, node in steps:
                value = _arith(operator, value, node(scope))
            return value
        return calculate


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string",
             Duration: "duration"}
    return names.get(type(value), "regex" if isinstance(value, re.Pattern) else "value")


def _logical(operands: tuple[Node, ...], *, any_of: bool) -> Node:
    def combine(scope: Scope) -> bool:
        for operand in operands:  # short-circuits, as TICKscript does
            value = operand(scope)
            if not isinstance(value, bool):
                raise MatchError(f"invalid {'OR' if any_of else 'AND'} operand: {_type(value)}")
            if value is any_of:
                return value
        return not any_of
    return combine


def _numbers(a: Any, b: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("=~", "!~"):
        if not isinstance(a, str) or not isinstance(b, re.Pattern):
            raise MatchError(f"{op} needs a string and a regex, got {_type(a)} and {_type(b)}")
        return (b.search(a) is not None) is (op == "=~")
    if isinstance(a, Duration) and isinstance(b, Duration):
        a, b = a.ns, b.ns
    elif not (_numbers(a, b) or type(a) is type(b)):
        raise MatchError(f"mismatched type to binary operator. got {_type(a)} {op} {_type(b)}")
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if isinstance(a, bool):
        raise MatchError(f"invalid comparison operator {op} for booleans")
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _arith(op: str, a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str) and op == "+":
        return a + b
    if isinstance(a, Duration) and isinstance(b, Duration) and op in "+-":
        return Duration(a.ns + b.ns if op == "+" else a.ns - b.ns)
    if not _numbers(a, b) or type(a) is not type(b):
        raise MatchError(f"mismatched type to binary operator. got {_type(a)} {op} {_type(b)}")
    if op in "/%" and b == 0:
        raise MatchError("division by zero")
    if op == "/":
        return a // b if isinstance(a, int) else a / b
    return {"+": a + b, "-": a - b, "*": a * b, "%": a % b}[op]


# Functions -------------------------------------------------------------------------------

_ALERT_FUNCTIONS: dict[str, Callable[[Scope], Any]] = {
    "level": lambda s: s.level,
    "changed": lambda s: s.level != s.previous_level,
    "name": lambda s: s.name,
    "taskName": lambda s: s.task_name,
    "alertDuration": lambda s: Duration(s.duration_ns),
    "duration": lambda s: Duration(s.duration_ns),  # the name the docs still use
}

_STRING_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "strContains": (2, lambda s, sub: sub in s),
    "strContainsAny": (2, lambda s, chars: any(c in s for c in chars)),
    "strCount": (2, lambda s, sub: s.count(sub)),
    "strHasPrefix": (2, lambda s, p: s.startswith(p)),
    "strHasSuffix": (2, lambda s, p: s.endswith(p)),
    "strIndex": (2, lambda s, sub: s.find(sub)),
    "strLastIndex": (2, lambda s, sub: s.rfind(sub)),
    "strLength": (1, len),
    "strReplace": (4, lambda s, old, new, n: s.replace(old, new, n if n >= 0 else -1)),
    "strSubstring": (3, lambda s, start, stop: s[start:stop]),
    "strToLower": (1, str.lower),
    "strToUpper": (1, str.upper),
    "strTrimSpace": (1, str.strip),
    "strTrimPrefix": (2, lambda s, p: s.removeprefix(p)),
    "strTrimSuffix": (2, lambda s, p: s.removesuffix(p)),
    "strTrim": (2, lambda s, chars: s.strip(chars)),
    "strTrimLeft": (2, lambda s, chars: s.lstrip(chars)),
    "strTrimRight": (2, lambda s, chars: s.rstrip(chars)),
    "regexReplace": (3, lambda pattern, s, new: pattern.sub(new, s)),
}

_MATH_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "abs": (1, abs), "floor": (1, math.floor), "ceil": (1, math.ceil),
    "trunc": (1, math.trunc), "round": (1, round), "sqrt": (1, math.sqrt),
    "pow": (2, math.pow), "log": (1, math.log), "exp": (1, math.exp),
    "min": (2, min), "max": (2, max),
}


def _function(name: str, arguments: list[Node]) -> Node:
    if name in _ALERT_FUNCTIONS:
        if arguments:
            raise _NamingError(f"{name} takes no arguments")
        return _ALERT_FUNCTIONS[name]
    arity, function = _STRING_FUNCTIONS.get(name) or _MATH_FUNCTIONS.get(name) or (-1, None)
    if function is None:
        raise _NamingError(f'invalid match expression: undefined function: "{name}"')
    if len(arguments) != arity:
        raise _NamingError(f"{name} takes {arity} argument(s), got {len(arguments)}")

    def call(scope: Scope) -> Any:
        values = [a(scope) for a in arguments]
        try:
            result = function(*values)
        except (TypeError, ValueError, AttributeError) as exc:
            raise MatchError(f"{name}: {exc}") from None
        return float(result) if name in ("floor", "ceil", "trunc", "round") else result
    return call
