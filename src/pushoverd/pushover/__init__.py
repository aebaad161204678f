"""The Pushover API client and message model; knows nothing of topics or Kapacitor."""

from pushoverd.pushover.client import PushoverClient, RateLimit, SendResult, redact
from pushoverd.pushover.message import (
    MESSAGE_LIMIT,
    TITLE_LIMIT,
    URL_LIMIT,
    URL_TITLE_LIMIT,
    Message,
    truncate,
)

__all__ = [
    "MESSAGE_LIMIT",
    "TITLE_LIMIT",
    "URL_LIMIT",
    "URL_TITLE_LIMIT",
    "Message",
    "PushoverClient",
    "RateLimit",
    "SendResult",
    "redact",
    "truncate",
]
