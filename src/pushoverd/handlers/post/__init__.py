"""The ``post`` kind: each alert POSTed as Kapacitor's post handler sends it, durably."""

from pushoverd.handlers.post.kind import Endpoint, PostKind
from pushoverd.handlers.post.sender import PostSender

__all__ = ["Endpoint", "PostKind", "PostSender"]
