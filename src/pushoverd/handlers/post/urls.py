"""A ``post`` handler's ``url`` as Kapacitor 1.5.7 treats it: a Go text/template executed over
the alert it posts (``alert.Data``), so ``https://hooks.example/{{ .Level }}/{{ .ID }}`` posts
each alert to its own path. A URL without ``{{`` is used as it is.

It is rendered from the body being posted, so a retry and a re-queue post to the same place
the alert was first planned for (with the handler's current template, on a re-queue).
"""

from __future__ import annotations

import json
from typing import Any

from pushoverd.handlers.templates import Template, go_time, parse_template
from pushoverd.timefmt import format_go_duration, parse_rfc3339nano

FIELDS = ("ID", "Message", "Details", "Time", "Duration", "Level", "PreviousLevel",
          "Recoverable")
"""``alert.Data``'s fields that can be written into a URL (its ``.Data`` cannot)."""

_SAMPLE = json.dumps({"id": "id", "message": "message", "details": "details",
                      "time": "2026-01-01T00:00:00Z", "duration": 0, "level": "OK",
                      "previousLevel": "OK", "recoverable": True})


class PostUrl:
    """A handler's ``url``, templated or not."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._template: Template | None = (
            parse_template(source, "url", FIELDS) if "{{" in source else None)

    @property
    def sample(self) -> str:
        """What it renders for a made-up alert (to check, when defined, that it is a URL)."""
        return self.render(_SAMPLE)

    def render(self, body: str) -> str:
        """The URL for the alert whose JSON ``body`` is posted; TemplateError when an action
        cannot be evaluated."""
        if self._template is None:
            return self.source
        return self._template.render(_values(json.loads(body)))


def _values(alert: dict[str, Any]) -> dict[str, Any]:
    """What the template sees, printed as Go prints those fields (``time.Time``,
    ``time.Duration``, ``alert.Level``)."""
    return {"ID": alert["id"], "Message": alert["message"], "Details": alert["details"],
            "Time": go_time(parse_rfc3339nano(alert["time"])),
            "Duration": format_go_duration(int(alert["duration"])), "Level": alert["level"],
            "PreviousLevel": alert["previousLevel"], "Recoverable": bool(alert["recoverable"])}
