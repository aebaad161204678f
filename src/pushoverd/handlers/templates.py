"""Go text/template in handler options, the subset Kapacitor's ``.message()`` users write:

    {{ .ID }} is {{ .Level }} on {{ index .Tags "host" }}
    {{ if eq .Level "CRITICAL" }}PAGE{{ else }}note{{ end }}: {{ .Message | printf "%.40s" }}
    {{ index .Fields "usage_idle" | printf "%.1f" }}% idle for {{ .Duration }}

Fields: ``.ID``, ``.Message``, ``.Details``, ``.Level``, ``.Time``, ``.Duration``, ``.Name``,
``.TaskName``, ``.Group``, ``.Tags``, ``.Fields``. Functions: ``index``, ``eq``, ``ne``, ``lt``,
``le``, ``gt``, ``ge``, ``and``, ``or``, ``not``, ``printf``, ``lower``, ``upper``, ``len``.
Actions are ``{{ pipeline }}``, ``{{ if pipeline }}``, ``{{ else if ... }}``, ``{{ else }}``,
``{{ end }}``, with ``{{-`` / ``-}}`` trimming. Nothing else: no loops, no attribute access
beyond these fields, no variables; output is bounded. Parsed when the handler is defined
(a bad template is refused); rendered when a delivery is enqueued.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

from pushoverd.errors import ValidationError
from pushoverd.handlers.gofmt import go_sprintf, go_type, go_value
from pushoverd.timefmt import format_go_duration, format_rfc3339nano

MAX_OUTPUT = 16_384
"""The most characters a template may produce (Pushover keeps 1,024 of a message anyway)."""

FIELDS = ("ID", "Message", "Details", "Level", "Time", "Duration", "Name", "TaskName",
          "Group", "Tags", "Fields")

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_PIPELINE = Lark(r"""
?start: pipeline
pipeline: command ("|" command)*
command: operand+
?operand: FIELD -> field
        | STRING -> string
        | NUMBER -> number
        | NAME -> name
        | "(" pipeline ")"
FIELD: /\.[A-Za-z][A-Za-z0-9]*/
STRING: /"(\\.|[^"\\])*"/ | /`[^`]*`/
NUMBER: /-?[0-9]+(\.[0-9]+)?/
NAME: /[A-Za-z][A-Za-z0-9]*/
%ignore /\s+/
""", parser="lalr")

Values = Mapping[str, Any]
Node = Callable[[Values], Any]


class TemplateError(Exception):
    """A template failed to render for one event (the untemplated text is used instead)."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: call ``render`` with the event's values."""

    source: str
    _parts: tuple[Node, ...]

    def render(self, values: Values) -> str:
        """The text for one event; TemplateError when an action cannot be evaluated."""
        out = "".join(_text(part(values)) for part in self._parts)
        if len(out) > MAX_OUTPUT:
            raise TemplateError(f"the template produced more than {MAX_OUTPUT} characters")
        return out


def parse_template(source: str, option: str, fields: tuple[str, ...] = FIELDS) -> Template:
    """Parse ``source``; ValidationError naming ``option`` when it is not a valid template.
    ``fields`` are the names it may use (an alert's, unless the option renders something
    else, such as an aggregate's count)."""
    try:
        tokens = _tokens(source)
        parts, rest = _Parser(fields).block(tokens, 0)
        if rest != len(tokens):
            raise ValueError(f"unexpected {{{{{tokens[rest][1]}}}}}")
    except (ValueError, LarkError, VisitError) as exc:
        detail = exc.orig_exc if isinstance(exc, VisitError) else exc
        raise ValidationError(
            f"invalid options: '{option}' is not a valid template: {detail}") from None
    return Template(source, tuple(parts))


# Parsing ---------------------------------------------------------------------------------

def _tokens(source: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", inner) pieces, with Go's ``{{-`` and ``-}}`` trimming."""
    tokens: list[tuple[str, str]] = []
    position = 0
    for found in _ACTION.finditer(source):
        text = source[position:found.start()]
        if found.group(1):
            text = text.rstrip()
        tokens.append(("text", text))
        tokens.append(("action", found.group(2).strip()))
        position = found.end()
        if found.group(3):
            rest = source[position:]
            position += len(rest) - len(rest.lstrip())
    if "{{" in source[position:]:
        raise ValueError("unclosed action")
    tokens.append(("text", source[position:]))
    return [t for t in tokens if t != ("text", "")]


class _Parser:
    """Turns tokens into nodes; knows which fields a template may use."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields

    def block(self, tokens: list[tuple[str, str]], at: int) -> tuple[list[Node], int]:
        """Nodes up to an ``else`` or ``end`` (not consumed); the index reached."""
        nodes: list[Node] = []
        while at < len(tokens):
            kind, value = tokens[at]
            if kind == "text":
                nodes.append(_constant(value))
                at += 1
            elif value == "end" or value == "else" or value.startswith("else if "):
                return nodes, at
            elif value.startswith("if "):
                node, at = self.condition(tokens, at, value[3:])
                nodes.append(node)
            else:
                nodes.append(self.pipeline(value))
                at += 1
        return nodes, at

    def condition(self, tokens: list[tuple[str, str]], at: int,
                  test_text: str) -> tuple[Node, int]:
        """An ``if`` action from ``at`` through its ``end``; the index after it."""
        test = self.pipeline(test_text)
        then, at = self.block(tokens, at + 1)
        otherwise: list[Node] = []
        if at < len(tokens) and tokens[at][1].startswith("else if "):
            node, at = self.condition(tokens, at, tokens[at][1][len("else if "):])
            return _choose(test, then, [node]), at
        if at < len(tokens) and tokens[at][1] == "else":
            otherwise, at = self.block(tokens, at + 1)
        if at >= len(tokens) or tokens[at][1] != "end":
            raise ValueError("missing {{end}}")
        return _choose(test, then, otherwise), at + 1

    def pipeline(self, text: str) -> Node:
        """One action's pipeline."""
        if not text:
            raise ValueError("empty action")
        node: Node = _Compiler(self.fields).transform(_PIPELINE.parse(text))
        return node


def _choose(test: Node, then: list[Node], otherwise: list[Node]) -> Node:
    def choose(values: Values) -> str:
        chosen = then if _truth(test(values)) else otherwise
        return "".join(_text(n(values)) for n in chosen)
    return choose


def _constant(text: str) -> Node:
    return lambda values: text


@v_args(inline=True)
class _Compiler(Transformer[Token, Any]):
    def __init__(self, fields: tuple[str, ...]) -> None:
        super().__init__()
        self.fields = fields

    def field(self, token: Token) -> Node:
        name = str(token)[1:]
        if name not in self.fields:
            raise ValueError(f"unknown field .{name} (use one of .{', .'.join(self.fields)})")
        return lambda values: values[name]

    def string(self, token: Token) -> Node:
        raw = str(token)
        value = raw[1:-1] if raw.startswith("`") else re.sub(r"\\(.)", _escape, raw[1:-1])
        return lambda values: value

    def number(self, token: Token) -> Node:
        value = float(token) if "." in token else int(token)
        return lambda values: value

    def name(self, token: Token) -> Any:
        if str(token) in ("true", "false"):
            value = str(token) == "true"
            return lambda values: value
        if str(token) not in _FUNCTIONS:
            raise ValueError(f'function "{token}" not defined')
        return _Function(str(token))

    def command(self, *operands: Any) -> Node:
        head, args = operands[0], operands[1:]
        if isinstance(head, _Function):
            return head.bind(list(args))
        if args:
            raise ValueError("only a function takes arguments")
        return head

    def pipeline(self, *commands: Node | Any) -> Node:
        first, rest = commands[0], commands[1:]
        for command in rest:
            if not isinstance(command, _Piped):
                raise ValueError("only a function can follow |")

        def run(values: Values) -> Any:
            value = first(values)
            for command in rest:
                value = command.call(values, value)
            return value
        return run


def _escape(found: re.Match[str]) -> str:
    return {"n": "\n", "t": "\t"}.get(found.group(1), found.group(1))


class _Function:
    """A function name, before its arguments are known."""

    def __init__(self, name: str) -> None:
        self.name = name

    def bind(self, args: list[Node]) -> _Piped:
        return _Piped(self.name, args)


class _Piped:
    """A function call, also usable after ``|`` (the piped value is its last argument)."""

    def __init__(self, name: str, args: list[Node]) -> None:
        self.name, self.args = name, args
        self.arity, self.function = _FUNCTIONS[name]

    def __call__(self, values: Values) -> Any:
        return self._apply([a(values) for a in self.args])

    def call(self, values: Values, piped: Any) -> Any:
        return self._apply([*(a(values) for a in self.args), piped])

    def _apply(self, args: list[Any]) -> Any:
        if self.arity is not None and len(args) != self.arity:
            raise TemplateError(f"wrong number of args for {self.name}: want {self.arity} got "
                                f"{len(args)}")
        try:
            return self.function(*args)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise TemplateError(f"error calling {self.name}: {exc}") from None


def _index(collection: Any, key: Any) -> Any:
    if not isinstance(collection, Mapping):
        raise TypeError(f"can't index item of type {go_type(collection)}")
    if not isinstance(key, str):
        raise TypeError(f"value has type {go_type(key)}; should be string")
    # Go's zero values: "" in a map of strings (tags), nil in a map of interfaces (fields).
    return collection.get(key, None if isinstance(collection, FieldMap) else "")


class FieldMap(dict[str, Any]):
    """An alert's fields, Go's ``map[string]interface{}``: a missing key is nil."""


def _kind(value: Any) -> str | None:
    """Go's basic kind of a value, as text/template compares them."""
    for python, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, python):
            return kind
    return None


def _comparable(a: Any, b: Any, ordered: bool) -> None:
    if _kind(a) is None or _kind(b) is None or (ordered and _kind(a) == "bool"):
        raise TypeError("invalid type for comparison")
    if _kind(a) != _kind(b):
        raise TypeError("incompatible types for comparison")


def _eq(a: Any, *others: Any) -> bool:
    """Go's ``eq``: whether ``a`` equals any of the others."""
    if not others:
        raise TypeError("missing argument for comparison")
    for b in others:
        _comparable(a, b, ordered=False)
    return any(a == b for b in others)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(a: Any, b: Any) -> bool:
        _comparable(a, b, ordered=True)
        return compare(a, b)
    return check


_FUNCTIONS: dict[str, tuple[int | None, Callable[..., Any]]] = {
    "index": (2, _index),
    "eq": (None, _eq), "ne": (2, lambda a, b: not _eq(a, b)),
    "lt": (2, _ordered(lambda a, b: a < b)), "le": (2, _ordered(lambda a, b: a <= b)),
    "gt": (2, _ordered(lambda a, b: a > b)), "ge": (2, _ordered(lambda a, b: a >= b)),
    "and": (None, lambda *a: _first(a, lambda v: not _truth(v))),
    "or": (None, lambda *a: _first(a, _truth)),
    "not": (1, lambda a: not _truth(a)),
    "printf": (None, lambda fmt, *args: go_sprintf(str(fmt), args)),
    "lower": (1, lambda s: str(s).lower()), "upper": (1, lambda s: str(s).upper()),
    "len": (1, len),
}


def _truth(value: Any) -> bool:
    return bool(value)


def _first(args: tuple[Any, ...], decides: Callable[[Any], bool]) -> Any:
    """Go's ``and``/``or``: the first argument that decides the result, else the last."""
    if not args:
        raise TypeError("wrong number of args: want at least 1 got 0")
    return next((a for a in args if decides(a)), args[-1])


def _text(value: Any) -> str:
    """What ``{{ value }}`` prints: Go's ``%v``, and ``<no value>`` for a missing field."""
    return "<no value>" if value is None else go_value(value)


def template_values(event: Any) -> dict[str, Any]:
    """What a template sees of an alert, named as Kapacitor's ``.message()`` names it."""
    series = event.data.get("series") if isinstance(event.data, Mapping) else None
    first = series[0] if isinstance(series, list) and series and isinstance(
        series[0], Mapping) else {}
    tags = {str(k): str(v) for k, v in (first.get("tags") or {}).items()}
    return {"ID": event.id, "Message": event.message, "Details": event.details,
            "Level": event.level.name, "Time": go_time(event.time_ns),
            "Duration": format_go_duration(event.duration_ns),
            "Name": first.get("name") or "", "TaskName": "",
            "Group": ",".join(f"{k}={tags[k]}" for k in sorted(tags)),
            "Tags": tags, "Fields": _fields(first)}


def _fields(row: Mapping[str, Any]) -> FieldMap:
    """The last values row of the alert's series, by column (the time left out); numbers are
    float64, as Kapacitor decodes them."""
    columns, values = row.get("columns") or [], row.get("values") or []
    if not values or not isinstance(values[-1], list):
        return FieldMap()
    return FieldMap({str(c): _float64(v) for c, v in zip(columns, values[-1], strict=False)
                     if c != "time"})


def _float64(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def go_time(ns: int) -> str:
    """Go's ``time.Time.String()`` for a UTC time: ``2026-11-23 07:00:00 +0000 UTC``."""
    text = format_rfc3339nano(ns)  # 2026-11-23T07:00:00.5Z
    return text[:-1].replace("T", " ") + " +0000 UTC"
