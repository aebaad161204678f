"""The ``log`` kind: each alert appended to a file as one JSON line, as Kapacitor's does."""

from pushoverd.handlers.log.kind import LogKind
from pushoverd.handlers.log.sender import LogSender

__all__ = ["LogKind", "LogSender"]
