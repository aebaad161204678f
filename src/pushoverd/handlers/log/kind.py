"""The ``log`` kind's options and planning: Kapacitor's ``path`` (absolute) and ``mode`` (the
file's mode when it is created, default 0600, user-writable), and one line per alert: the
alert as Kapacitor's log handler writes it (:func:`~pushoverd.handlers.alertjson.alert_json`).
"""

from __future__ import annotations

import stat
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, field_validator

from pushoverd.errors import ValidationError
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import AlertHistory, Handler, Outgoing, decode_options, newest_held
from pushoverd.models import Event, HandlerSpec, HeldGroup

DEFAULT_MODE = 0o600


class LogOptions(BaseModel):
    """A ``log`` handler's options, as Kapacitor's ``LogHandlerConfig`` decodes them."""

    model_config = ConfigDict(extra="forbid")

    path: StrictStr = ""
    mode: StrictInt = DEFAULT_MODE

    @field_validator("mode")
    @classmethod
    def _user_writable(cls, mode: int) -> int:
        if not 0 <= mode <= 0o7777:
            raise ValueError(f"invalid file mode {mode:o}, must be a permission mode")
        if not mode & 0o200:
            shown = stat.filemode(stat.S_IFREG | mode)  # Go prints os.FileMode as -rw-------
            raise ValueError(f"invalid file mode {shown}, must be user writable")
        return mode


class LogHandler:
    """A compiled ``log`` handler."""

    def __init__(self, spec: HandlerSpec, options: LogOptions) -> None:
        self.spec, self.options = spec, options

    def plan(self, topic: str, event: Event, history: AlertHistory,
             now: float) -> list[Outgoing]:
        """One line per alert: Kapacitor logs every event it is given, repeats included."""
        return [Outgoing(self._payload(alert_json(event).decode()))]

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A re-queued line goes to the handler's current file."""
        return {**payload, "path": self.options.path, "mode": self.options.mode}

    def _payload(self, line: str) -> dict[str, Any]:
        return {"path": self.options.path, "mode": self.options.mode, "line": line}


class LogKind:
    """The ``log`` kind: no service to enable, no secrets."""

    name = "log"
    secret_options: frozenset[str] = frozenset()
    flood_controlled = False
    disabled_reason: str | None = None

    def compile(self, spec: HandlerSpec) -> LogHandler:
        """Kapacitor's checks: known options, an absolute path, a user-writable mode."""
        options = decode_options(LogOptions, spec.options, "*alert.LogHandlerConfig")
        if not options.path.startswith("/"):
            raise ValidationError(f"log path must be absolute: {options.path} is not absolute")
        return LogHandler(spec, options)

    def summarize(self, held: HeldGroup, handler: Handler | None = None) -> dict[str, Any]:
        """With a ``flood-rate`` of its own, a flood summary is the newest held line (in the
        handler's current file): the held ones are recorded as coalesced."""
        return newest_held(held, handler)
