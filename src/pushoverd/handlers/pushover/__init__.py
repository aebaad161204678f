"""Everything Pushover-specific above the API client: the ``pushover`` handler kind (options,
rendering, flood summaries, secret options), its sender (Pushover's etiquette: pauses, the 4xx
breaker, refused keys, the quota), the transports (in-process or a child process) and
Kapacitor's pushover service test. The client itself (``pushoverd.pushover``) knows no topics."""

from pushoverd.handlers.pushover.kind import PRIORITIES, SECRET_OPTIONS, PushoverKind
from pushoverd.handlers.pushover.remote import RemoteTransport
from pushoverd.handlers.pushover.sender import PushoverSender
from pushoverd.handlers.pushover.servicetest import PushoverServiceTest
from pushoverd.handlers.pushover.transport import LocalTransport, Transport

__all__ = [
    "PRIORITIES",
    "SECRET_OPTIONS",
    "LocalTransport",
    "PushoverKind",
    "PushoverSender",
    "PushoverServiceTest",
    "RemoteTransport",
    "Transport",
]
