"""Go's ``fmt`` for the values a template handles (strings, bools, int literals, float64
fields, maps): ``%v`` as Go prints it and ``printf`` with Go's verbs and its in-band errors
(``%!d(string=cpu)``, ``%!d(MISSING)``, ``%!(EXTRA ...)``), so a Kapacitor template prints
what Kapacitor printed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.?)", re.DOTALL)
_FLOAT_VERBS = frozenset("eEfFgG")


def go_type(value: Any) -> str:
    """The Go type name Kapacitor's value would have."""
    if value is None:
        return "<nil>"
    for python, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string")):
        if isinstance(value, python):
            return name
    if isinstance(value, Mapping):
        strings = all(isinstance(v, str) for v in value.values())
        return "map[string]string" if strings and value else "map[string]interface {}"
    return type(value).__name__


def go_value(value: Any) -> str:
    """Go's ``%v``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_float(value: float) -> str:
    """Go's shortest ``%v`` of a float64: exponent form below 1e-4 and from 1e+06 (``1e+06``,
    ``1.234567e+06``, ``123456``, ``4.25``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "-0" if repr(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp10 = len(text) + exponent - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # strconv's shortest 'g' decides at precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")


def go_sprintf(fmt: str, args: Sequence[Any]) -> str:
    """Go's ``fmt.Sprintf`` for the verbs templates use: ``v s q d t x X e E f F g G %``."""
    out: list[str] = []
    used = 0
    position = 0
    for found in _VERB.finditer(fmt):
        out.append(fmt[position:found.start()])
        position = found.end()
        flags, width, precision, verb = found.groups()
        if verb == "%":
            out.append("%")
        elif not verb:
            out.append("%!(NOVERB)")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format(flags, width or "", precision, verb, args[used]))
            used += 1
    out.append(fmt[position:])
    if used < len(args):
        extra = ", ".join(f"{go_type(a)}={go_value(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format(flags: str, width: str, precision: str | None, verb: str, value: Any) -> str:
    spec = "%" + flags + width + ("" if precision is None else "." + precision)
    if verb == "v" or (verb == "s" and isinstance(value, str)):
        text = go_value(value)
        return (spec + "s") % (text if precision is None else text[:int(precision or 0)],)
    if verb == "q" and isinstance(value, str):
        return (spec.split(".")[0] + "s") % json.dumps(value, ensure_ascii=False)
    if verb == "t" and isinstance(value, bool):
        return (spec + "s") % go_value(value)
    if verb == "d" and _is_int(value):
        return (spec + "d") % value
    if verb in "xX" and (_is_int(value) or isinstance(value, str)):
        number = value if _is_int(value) else int.from_bytes(value.encode(), "big")
        return (spec + verb) % number if value != "" else ""
    if verb in "xX" and isinstance(value, float):
        text = _go_hex_float(value)
        return (spec.split(".")[0] + "s") % (text.upper() if verb == "X" else text)
    if verb in _FLOAT_VERBS and isinstance(value, float):
        if verb in "gG" and precision is None:
            return (spec + "s") % go_float(value)
        return (spec + verb) % value
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(value)}={go_value(value)})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _go_hex_float(value: float) -> str:
    """Go's ``%x`` of a float64: ``0x1.8p+01`` where Python writes ``0x1.8000000000000p+1``."""
    mantissa, exponent = value.hex().split("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = int(exponent)
    return f"{mantissa}p{'-' if power < 0 else '+'}{abs(power):02d}"
