"""The config file text of a :class:`Config`: every key with a comment saying what it does, in
the layout of ``kapacitor.conf``. Durations are written back as Go duration text; secrets that
are set are redacted. The defaults are just ``config_text(Config())``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import cast

from pydantic import BaseModel

from pushoverd.config.schema import NS, Config, is_model, is_secret
from pushoverd.timefmt import format_go_duration

__all__ = ["REDACTED", "config_text", "default_config_text"]

REDACTED = "[REDACTED]"
"""What a secret that is set is printed as."""

_PREAMBLE = """\
# pushoverd configuration.
#
# Key names are Kapacitor's, so an existing kapacitor.conf loads unchanged: the tables and keys
# pushoverd does not use ([[influxdb]], [smtp], [storage], [http] auth-enabled, ...) are ignored
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
            "Kapacitor's other [http] keys (auth-enabled, https-*, ...) are accepted and ignored.",
    "logging": "Logging: logfmt lines like Kapacitor's.",
    "load": "Topic-handler files (YAML or JSON), applied at startup and on SIGHUP as Kapacitor\n"
            "does. Handler files are read from <dir>/handlers/.",
    "pushover": "Pushover, configured as Kapacitor's [pushover] service.",
    "pushoverd": "pushoverd's own settings. An unknown key under [pushoverd.*] is an error.",
    "pushoverd.store": "The store for topics, handlers and the delivery outbox.",
    "pushoverd.delivery": "Delivery: the outbox worker that sends to Pushover and retries.",
    "pushoverd.flood": "Flood control: coalesce a burst of notifications from one handler.",
    "pushoverd.receipts": "Emergencies (priority 2): checking their receipts until someone\n"
                          "acknowledges them, they expire or they are cancelled.",
    "pushoverd.recipients.*": "A named recipient: handlers send to it with recipients = [name].",
}


def default_config_text() -> str:
    """A complete config file with every key at its default, each explained by a comment."""
    return config_text(Config())


def config_text(config: Config) -> str:
    """``config`` as a complete config file, each key explained by a comment. A secret that is
    set is written as ``"[REDACTED]"``, so the text is safe to paste into a bug report."""
    return _PREAMBLE + "".join(_render(config, ()))


def _render(model: BaseModel, loc: tuple[str, ...]) -> Iterator[str]:
    """The keys of ``model`` (indented when inside a table), then its sub-tables."""
    indent = "  " if loc else ""
    tables = []
    for name, field in type(model).model_fields.items():
        key, value = field.alias or name, getattr(model, name)
        if isinstance(value, BaseModel):
            tables.append(((*loc, key), value))
            continue
        if isinstance(value, dict):  # named tables, such as [pushoverd.recipients.<name>]
            tables += [((*loc, key, item), sub) for item, sub in value.items()]
            continue
        comment = textwrap.wrap(field.description or "", 94 - len(indent))
        yield "\n" + "".join(f"{indent}# {line}\n" for line in comment)
        shown = REDACTED if is_secret(field) and value else value
        yield f"{indent}{key} = {_toml_value(field.annotation, shown)}\n"
    for sub_loc, sub in tables:
        yield from _render_table(sub_loc, sub)


def _render_table(loc: tuple[str, ...], model: BaseModel) -> Iterator[str]:
    name = ".".join(loc)
    help_text = _TABLE_HELP.get(name) or _TABLE_HELP[".".join(loc[:-1]) + ".*"]
    yield "\n" + "".join(f"# {line}\n" for line in help_text.splitlines())
    # A table holding only sub-tables ([pushoverd]) gets no header of its own.
    if any(not is_model(f.annotation) for f in type(model).model_fields.values()):
        yield f"[{name}]\n"
    yield from _render(model, loc)


def _toml_value(annotation: object, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if annotation is float:  # every float field is a duration
        return json.dumps(format_go_duration(round(cast(float, value) * NS)))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)
