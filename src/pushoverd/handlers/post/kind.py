"""The ``post`` kind's options and planning: Kapacitor's ``url``, ``headers`` and ``timeout``;
the body is the alert as Kapacitor's post handler sends it
(:func:`~pushoverd.handlers.alertjson.alert_json`).

``headers`` are treated as a secret (they usually carry a token): the API shows them
REDACTED. ``endpoint`` names a ``[[httppost]]`` section, which pushoverd does not read yet, so
it is refused rather than silently ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator

from pushoverd.errors import ValidationError
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import AlertHistory, Outgoing, decode_options
from pushoverd.models import Event, HandlerSpec, HeldGroup
from pushoverd.timefmt import parse_go_duration

DEFAULT_TIMEOUT = 30.0


class PostOptions(BaseModel):
    """A ``post`` handler's options, as Kapacitor's ``httppost.HandlerConfig`` decodes them."""

    url: StrictStr = ""
    endpoint: StrictStr = ""
    headers: dict[StrictStr, StrictStr] = {}
    capture_response: StrictBool = False
    timeout: float = DEFAULT_TIMEOUT
    """The request timeout in seconds (Kapacitor's 0, none, is the default here, so no send
    hangs)."""
    skip_ssl_verification: StrictBool = False

    model_config = ConfigDict(extra="forbid", alias_generator=lambda n: n.replace("_", "-"),
                              populate_by_name=True)

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        """A Go duration: text such as ``10s``, or integer nanoseconds."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("must be a duration such as 10s")
        ns = parse_go_duration(value) if isinstance(value, str) and value else int(value or 0)
        return ns / 1e9 if ns > 0 else DEFAULT_TIMEOUT


class PostHandler:
    """A compiled ``post`` handler."""

    def __init__(self, spec: HandlerSpec, options: PostOptions) -> None:
        self.spec, self.options = spec, options

    def plan(self, topic: str, event: Event, history: AlertHistory,
             now: float) -> list[Outgoing]:
        """One request per alert: Kapacitor posts every event it is given, repeats included."""
        return [Outgoing(self._payload(alert_json(event).decode()))]

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A re-queued body goes to the handler's current URL with its current headers."""
        return self._payload(payload["body"])

    def _payload(self, body: str) -> dict[str, Any]:
        o = self.options
        return {"url": o.url, "headers": dict(o.headers), "timeout": o.timeout,
                "verify": not o.skip_ssl_verification, "body": body}


class PostKind:
    """The ``post`` kind: no service to enable; the headers are secret."""

    name = "post"
    secret_options = frozenset({"headers"})
    flood_controlled = False
    disabled_reason: str | None = None

    def __init__(self, max_timeout: float = DEFAULT_TIMEOUT) -> None:
        # A request must end well inside the worker's lease, or a second worker could take
        # the delivery over while it is still being sent and post it twice.
        self.max_timeout = max_timeout

    def compile(self, spec: HandlerSpec) -> PostHandler:
        """Kapacitor's checks, and a URL that can ever be posted to."""
        options = decode_options(PostOptions, spec.options, "*httppost.HandlerConfig")
        if options.endpoint:
            raise ValidationError(f'endpoint "{options.endpoint}": [[httppost]] endpoints are '
                                  "not supported yet; give the url instead")
        if not options.url:
            raise ValidationError("An appropriately formatted url must be specified if an "
                                  "endpoint is not specified")
        parts = urlsplit(options.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"invalid url {safe_url(options.url)!r}: must be an http or "
                                  "https URL with a host")
        if options.timeout > self.max_timeout:
            raise ValidationError(f"'timeout' must be at most {self.max_timeout:g}s (half of "
                                  "[pushoverd.delivery] lease-timeout)")
        return PostHandler(spec, options)

    def summarize(self, held: HeldGroup, handler: Any = None) -> dict[str, Any]:
        """With a ``flood-rate`` of its own, a flood summary is the newest held body."""
        payload = dict(held.latest.payload)
        return handler.readdress(payload) if isinstance(handler, PostHandler) else payload


def safe_url(url: str) -> str:
    """``url`` without its credentials and query (either may carry a token) for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<invalid url>"
