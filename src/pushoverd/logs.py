"""Logging in Kapacitor's logfmt style, with every configured secret scrubbed from each line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
          logging.ERROR: "error", logging.CRITICAL: "error"}
REDACTED = "[REDACTED]"


def _quote(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """``ts=... lvl=info msg="..." service=... key=value``; secrets replaced by [REDACTED]."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a logfmt line."""
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        parts = [f"ts={ts}Z", f"lvl={_NAMES.get(record.levelno, 'info')}",
                 f"msg={_quote(record.getMessage())}", f"logger={record.name}"]
        fields = getattr(record, "fields", None) or {}
        parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
        if record.exc_info:
            parts.append(f"err={_quote(self.formatException(record.exc_info))}")
        return self._scrub(" ".join(parts))

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Redact these too from now on (secrets set through the config API)."""
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s)}, key=len,
                               reverse=True)

    def _scrub(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return line


def setup(level: str, file: str, secrets: Iterable[str]) -> None:
    """Send every log record to ``file`` (STDERR, STDOUT or a path) in logfmt."""
    if file.upper() == "STDERR":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    elif file.upper() == "STDOUT":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.FileHandler(file)
    handler.setFormatter(LogfmtFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level.upper(), logging.INFO))
    # httpx logs every request URL at INFO; ours are enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def redact_also(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to what every logfmt handler of the root logger redacts."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, LogfmtFormatter):
            handler.formatter.add_secrets(values)
