"""The ``post`` kind's options and planning: Kapacitor's ``url``, ``headers`` and ``timeout``;
the body is the alert as Kapacitor's post handler sends it
(:func:`~pushoverd.handlers.alertjson.alert_json`).

``headers`` are treated as a secret (they usually carry a token): the API shows them
REDACTED. ``endpoint`` names a ``[[httppost]]`` section, as in Kapacitor: when that endpoint
exists its url, headers and basic auth are used (the handler's ``url`` is then ignored) and the
handler's own headers win over the endpoint's; when it does not, the handler's ``url`` is
used. The endpoint is looked up when an alert is planned, so a change made through the config
API applies to the next alert; a delivery whose endpoint was removed, with no ``url`` to fall
back on, is dead-lettered. The handler's ``url`` may be a template over the alert, as in
Kapacitor (:mod:`~pushoverd.handlers.post.urls`); one that fails to render for an alert is
recorded as not sent, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator

from pushoverd.errors import ValidationError
from pushoverd.handlers.alertjson import alert_json
from pushoverd.handlers.base import (
    AlertHistory,
    Handler,
    Outgoing,
    decode_options,
    duration_option,
    newest_held,
)
from pushoverd.handlers.post.urls import PostUrl
from pushoverd.handlers.templates import TemplateError
from pushoverd.models import Event, HandlerSpec, HeldGroup

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Endpoint:
    """A named ``[[httppost]]`` endpoint as the ``post`` kind uses it."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent with every request, basic auth included (as ``Authorization``)."""


Endpoints = Callable[[str], Endpoint | None]
"""The endpoint called ``name`` now, or None."""


def _no_endpoints(name: str) -> Endpoint | None:
    return None


def merged_headers(base: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``own`` set over it; header names compare case-insensitively (Go's
    ``Header.Set`` replaces every value of the canonical name)."""
    merged = dict(base)
    for name, value in own.items():
        for old in [k for k in merged if k.lower() == name.lower()]:
            del merged[old]
        merged[name] = value
    return merged


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
        """A Go duration: text such as ``10s``, or integer nanoseconds (0 or "": the default)."""
        ns = duration_option(value) if value != "" else 0
        return ns / 1e9 if ns > 0 else DEFAULT_TIMEOUT


class PostHandler:
    """A compiled ``post`` handler."""

    def __init__(self, spec: HandlerSpec, options: PostOptions,
                 endpoints: Endpoints = _no_endpoints, url: PostUrl | None = None) -> None:
        self.spec, self.options = spec, options
        self._endpoints = endpoints
        self._url = url or PostUrl(options.url)

    def plan(self, topic: str, event: Event, history: AlertHistory,
             now: float) -> list[Outgoing]:
        """One request per alert: Kapacitor posts every event it is given, repeats included."""
        body = alert_json(event).decode()
        try:
            payload = self._payload(body)
        except TemplateError as exc:  # Kapacitor logs it and posts nothing
            return [Outgoing(self._payload(body, rendered=False),
                             suppressed=f"url template failed: {exc}")]
        if not _postable(payload["url"]):
            return [Outgoing(payload, suppressed="url template rendered "
                             f"{safe_url(payload['url'])!r}, not an http or https URL")]
        return [Outgoing(payload)]

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A re-queued body goes to the handler's current URL with its current headers."""
        return self._payload(payload["body"])

    def _payload(self, body: str, rendered: bool = True) -> dict[str, Any]:
        o = self.options
        url, headers = self._target(body if rendered else None)
        payload = {"url": url, "headers": headers, "timeout": o.timeout,
                   "verify": not o.skip_ssl_verification, "body": body}
        return {**payload, "endpoint": o.endpoint} if o.endpoint else payload

    def _target(self, body: str | None) -> tuple[str, dict[str, str]]:
        """Where to post ``body`` now, and with which headers: the endpoint's, if it exists;
        else the handler's url, rendered for the alert (its source when ``body`` is None)."""
        o = self.options
        endpoint = self._endpoints(o.endpoint) if o.endpoint else None
        if endpoint is None:
            url = self._url.render(body) if body is not None else o.url
            return url, dict(o.headers)
        return endpoint.url, merged_headers(endpoint.headers, o.headers)


class PostKind:
    """The ``post`` kind: no service to enable; the headers are secret."""

    name = "post"
    secret_options = frozenset({"headers"})
    flood_controlled = False
    disabled_reason: str | None = None

    def __init__(self, max_timeout: float = DEFAULT_TIMEOUT,
                 endpoints: Endpoints = _no_endpoints) -> None:
        # A request must end well inside the worker's lease, or a second worker could take
        # the delivery over while it is still being sent and post it twice.
        self.max_timeout = max_timeout
        self._endpoints = endpoints

    def compile(self, spec: HandlerSpec) -> PostHandler:
        """Kapacitor's checks, and a URL that can ever be posted to."""
        options = decode_options(PostOptions, spec.options, "*httppost.HandlerConfig")
        known = bool(options.endpoint) and self._endpoints(options.endpoint) is not None
        if not options.url and not known:
            if options.endpoint:
                raise ValidationError(f'unknown endpoint "{options.endpoint}": no [[httppost]] '
                                      "section has that endpoint, and no url is given")
            raise ValidationError("An appropriately formatted url must be specified if an "
                                  "endpoint is not specified")
        url = PostUrl(options.url)  # a bad template is refused here, naming 'url'
        if options.url and not _postable(_sample(url)):
            raise ValidationError(f"invalid url {safe_url(options.url)!r}: must be an http or "
                                  "https URL with a host")
        if options.timeout > self.max_timeout:
            raise ValidationError(f"'timeout' must be at most {self.max_timeout:g}s (half of "
                                  "[pushoverd.delivery] lease-timeout)")
        return PostHandler(spec, options, self._endpoints, url)

    def summarize(self, held: HeldGroup, handler: Handler | None = None) -> dict[str, Any]:
        """With a ``flood-rate`` of its own, a flood summary is the newest held body."""
        return newest_held(held, handler)


def _postable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _sample(url: PostUrl) -> str:
    """The url for a made-up alert; a template that cannot render one is judged by its text
    (it may still render for real alerts)."""
    try:
        return url.sample
    except TemplateError:
        return url.source


def safe_url(url: str) -> str:
    """``url`` without its credentials and query (either may carry a token) for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<invalid url>"
