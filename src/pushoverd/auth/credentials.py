"""Reading a request's credentials in Kapacitor's order (``handler.go`` ``parseCredentials``):
``Authorization: Bearer <JWT>``, then HTTP Basic, then the ``u`` and ``p`` query parameters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from pushoverd.errors import Unauthorized

NO_CREDENTIALS = "unable to parse authentication credentials"
"""Kapacitor's 401 text when a request carries no credentials it can read."""


@dataclass(frozen=True)
class Credentials:
    """What a request authenticates with: a token, or a user name and password."""

    scheme: str  # "bearer", "basic" or "query"
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)


def parse_credentials(authorization: str | None, query: Mapping[str, str]) -> Credentials:
    """The credentials of a request; raises :class:`Unauthorized` when there are none."""
    if authorization:
        parts = authorization.split(" ")
        if len(parts) == 2 and parts[0] == "Bearer":  # exactly as Kapacitor splits it
            return Credentials("bearer", token=parts[1])
        basic = _basic(authorization)
        if basic is not None:
            return Credentials("basic", username=basic[0], password=basic[1])
    username, password = query.get("u", ""), query.get("p", "")
    if username and password:
        return Credentials("query", username=username, password=password)
    raise Unauthorized(NO_CREDENTIALS)


def _basic(authorization: str) -> tuple[str, str] | None:
    """``Basic base64(user:password)`` as Go's ``Request.BasicAuth`` reads it, else None."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None
