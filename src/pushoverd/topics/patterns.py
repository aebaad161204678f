"""Go's ``path.Match`` glob syntax, which Kapacitor uses for ``pattern`` query parameters."""

from __future__ import annotations

import re
from functools import lru_cache

from pushoverd.errors import ValidationError


class BadPattern(ValidationError):
    """syntax error in pattern"""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern()
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern()
    return pattern[i], i + 1


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate ``[...]`` starting just after the ``[``; return the regex and the next index."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        # Go accepts a reversed range (``z-a``) as valid syntax that matches nothing.
        ranges.append(f"{re.escape(lo)}-{re.escape(hi)}" if lo <= hi else "")
    body = "".join(ranges)
    if not body:
        return ("[^/]" if negate else "(?!)"), i + 1
    return (f"[^/{body}]" if negate else f"[{body}]"), i + 1


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a Go ``path.Match`` pattern; raise BadPattern if it is malformed."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            regex, i = _char_class(pattern, i + 1)
            out.append(regex)
            continue
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                raise BadPattern()
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern``; an empty pattern matches everything."""
    return not pattern or compile_pattern(pattern).match(name) is not None
