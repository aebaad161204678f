"""The config file text of a :class:`Config`: every key with a comment saying what it does, in
the layout of ``kapacitor.conf``. Durations are written back as Go duration text; secrets that
are set are redacted. The defaults are just ``config_text(Config())``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import cast

from pydantic import BaseModel

from pushoverd.config.schema import NS, Config, is_model, is_secret, list_item_model
from pushoverd.timefmt import format_go_duration

__all__ = ["REDACTED", "config_text", "default_config_text"]

REDACTED = "[REDACTED]"
"""What a secret that is set is printed as."""

_PREAMBLE = """\
# pushoverd configuration.
#
# Key names are Kapacitor's, so an existing kapacitor.conf loads unchanged: the tables and keys
# pushoverd does not use ([[influxdb]], [smtp], [storage], [http] pprof-enabled, ...) are ignored
# and named in one log line at startup. pushoverd's own settings live under [pushoverd.*].
#
# Relative paths are resolved against the directory of this file.
# Durations are Go duration strings such as "10s", "1m30s" or "168h".
# Environment variables override this file: KAPACITOR_<SECTION>_<KEY> for Kapacitor's keys
# (KAPACITOR_PUSHOVER_USER_KEY, KAPACITOR_DATA_DIR), PUSHOVERD_<TABLE>_<KEY> for pushoverd's
# (PUSHOVERD_DELIVERY_TIMEOUT). "-" becomes "_"; an empty value is ignored.
"""

_TABLE_HELP = {
    "http": "The HTTP API: Kapacitor's /kapacitor/v1 alert-topic endpoints.\n"
            "Kapacitor's other [http] keys (pprof-enabled, write-tracing, ...) are accepted and\n"
            "ignored.",
    "logging": "Logging: logfmt lines like Kapacitor's.",
    "load": "Topic-handler files (YAML or JSON), applied at startup and on SIGHUP as Kapacitor\n"
            "does. Handler files are read from <dir>/handlers/.",
    "config-override": "The config override API (/kapacitor/v1/config): [pushover] and\n"
                       "[[httppost]] can be changed at run time; the changes are stored and\n"
                       "win over this file at the next start (unless skip-config-overrides).",
    "pushover": "Pushover, configured as Kapacitor's [pushover] service.",
    "httppost": "A named endpoint for post handlers (options: endpoint = \"<name>\"), as\n"
                "Kapacitor's [[httppost]]. Repeat the table for more endpoints.",
    "httppost.basic-auth": "The endpoint's HTTP basic credentials (sent when both are set).",
    "pushoverd": "pushoverd's own settings. An unknown key under [pushoverd.*] is an error.",
    "pushoverd.store": "The store for topics, handlers and the delivery outbox.",
    "pushoverd.delivery": "Delivery: the outbox worker that sends to Pushover and retries.",
    "pushoverd.flood": "Flood control: coalesce a burst of notifications from one handler.",
    "pushoverd.receipts": "Emergencies (priority 2): checking their receipts until someone\n"
                          "acknowledges them, they expire or they are cancelled.",
    "pushoverd.users": "A user of the HTTP API when [http] auth-enabled = true. Repeat the table\n"
                       "for more users. Make the hash with: pushoverd hash-password",
    "pushoverd.recipients.*": "A named recipient: handlers send to it with recipients = [name].",
}


def default_config_text() -> str:
    """A complete config file with every key at its default, each explained by a comment."""
    return config_text(Config())


def config_text(config: Config) -> str:
    """``config`` as a complete config file, each key explained by a comment. A secret that is
    set is written as ``"[REDACTED]"``, so the text is safe to paste into a bug report."""
    return _PREAMBLE + "".join(_render(config, ()))


_EXAMPLES = {
    "httppost": """\
# [[httppost]]
#   endpoint = "example"
#   url = "http://example.com/alerts"
#   headers = { "Authorization" = "Bearer ..." }
#   [httppost.basic-auth]
#     username = ""
#     password = ""
""",
    "pushoverd.users": """\
# [[pushoverd.users]]
#   name = "alice"
#   password-hash = "$2b$12$..."
#   permissions = ["all"]
""",
}
"""What one element of an empty array of tables looks like."""


def _render(model: BaseModel, loc: tuple[str, ...]) -> Iterator[str]:
    """The keys of ``model`` (indented when inside a table), then its sub-tables."""
    indent = "  " if loc else ""
    # Sub-tables and arrays of tables, in field order: (loc, table, whether an array element).
    tables: list[tuple[tuple[str, ...], BaseModel | None, bool]] = []
    for name, field in type(model).model_fields.items():
        key, value = field.alias or name, getattr(model, name)
        if isinstance(value, BaseModel):
            tables.append(((*loc, key), value, False))
            continue
        if list_item_model(field.annotation) is not None:  # arrays of tables: [[httppost]]
            tables += [((*loc, key), v, True) for v in value] or [((*loc, key), None, True)]
            continue
        if isinstance(value, dict) and _holds_tables(field.annotation):
            # named tables, such as [pushoverd.recipients.<name>]
            tables += [((*loc, key, item), sub, False) for item, sub in value.items()]
            continue
        comment = textwrap.wrap(field.description or "", 94 - len(indent))
        yield "\n" + "".join(f"{indent}# {line}\n" for line in comment)
        shown = _redacted(value) if is_secret(field) and value else value
        yield f"{indent}{key} = {_toml_value(field.annotation, shown)}\n"
    for sub_loc, sub, array in tables:
        if sub is None:  # an empty array of tables: show what one looks like
            yield "\n" + _help(sub_loc) + _EXAMPLES[".".join(sub_loc)]
        else:
            yield from _render_table(sub_loc, sub, array)


def _redacted(value: object) -> object:
    """A secret as written: REDACTED, or for a map each value (its keys stay, so the text
    still loads)."""
    return {k: REDACTED for k in value} if isinstance(value, dict) else REDACTED


def _holds_tables(annotation: object) -> bool:
    args = getattr(annotation, "__args__", ())
    return len(args) == 2 and is_model(args[1])


def _help(loc: tuple[str, ...]) -> str:
    name = ".".join(loc)
    help_text = _TABLE_HELP.get(name) or _TABLE_HELP[".".join(loc[:-1]) + ".*"]
    return "".join(f"# {line}\n" for line in help_text.splitlines())


def _render_table(loc: tuple[str, ...], model: BaseModel, array: bool = False) -> Iterator[str]:
    name = ".".join(loc)
    yield "\n" + _help(loc)
    # A table holding only sub-tables ([pushoverd]) gets no header of its own.
    if array:
        yield f"[[{name}]]\n"
    elif any(not is_model(f.annotation) for f in type(model).model_fields.values()):
        yield f"[{name}]\n"
    yield from _render(model, loc)


def _toml_value(annotation: object, value: object) -> str:
    if isinstance(value, dict):  # a table of strings, such as headers: an inline table
        pairs = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if annotation is float:  # every float field is a duration
        return json.dumps(format_go_duration(round(cast(float, value) * NS)))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)
