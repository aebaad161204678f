"""Log lines in Kapacitor's logfmt style or as JSON objects, with every configured secret
scrubbed, and the id of the HTTP request whose work a line belongs to.

The request id lives in a context variable: the API's middleware sets it for the request,
and the delivery worker sets it to the id of the request that enqueued a delivery while it
sends that delivery, so ``grep <request-id>`` finds an alert's whole path through the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
          logging.ERROR: "error", logging.CRITICAL: "error"}
REDACTED = "[REDACTED]"
FORMATS = ("logfmt", "json")

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the HTTP request the current work is for (its ``Request-Id`` header)."""


@contextlib.contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry ``request-id=<request_id>`` (nothing for None)."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def _quote(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Formatter(logging.Formatter):
    """What both formats share: the fields of a record, and secrets scrubbed from them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Redact these too from now on (secrets set through the config API)."""
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s)}, key=len,
                               reverse=True)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """ts, lvl, msg, logger, the record's own fields, its request id, err."""
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        out: dict[str, Any] = {"ts": f"{ts}Z", "lvl": _NAMES.get(record.levelno, "info"),
                               "msg": record.getMessage(), "logger": record.name}
        out.update(getattr(record, "fields", None) or {})
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out.setdefault("request-id", request_id)
        if record.exc_info:
            out["err"] = self.formatException(record.exc_info)
        return out

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by REDACTED."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def scrubbed(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record's fields with secrets scrubbed from each value before it is encoded
        (a secret with a quote or backslash in it is escaped past recognition after)."""
        return {key: value if isinstance(value, int | float) else self.scrub(str(value))
                for key, value in self.fields(record).items()}


class LogfmtFormatter(_Formatter):
    """``ts=... lvl=info msg="..." logger=... key=value``; secrets replaced by [REDACTED]."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a logfmt line."""
        return self.scrub(" ".join(f"{k}={_quote(v)}" for k, v in self.scrubbed(record).items()))


class JsonFormatter(_Formatter):
    """One JSON object per line with the logfmt line's keys; secrets replaced by [REDACTED]
    in every value before encoding (so an escaped secret cannot slip through)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        return self.scrub(json.dumps(self.scrubbed(record), ensure_ascii=False))


def setup(level: str, file: str, secrets: Iterable[str], format: str = "logfmt") -> None:
    """Send every log record to ``file`` (STDERR, STDOUT or a path) as ``format`` lines."""
    if file.upper() == "STDERR":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    elif file.upper() == "STDOUT":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.FileHandler(file)
    formatter = JsonFormatter(secrets) if format == "json" else LogfmtFormatter(secrets)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level.upper(), logging.INFO))
    # httpx logs every request URL at INFO; ours are enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def redact_also(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to what every handler of the root logger redacts."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, _Formatter):
            handler.formatter.add_secrets(values)
