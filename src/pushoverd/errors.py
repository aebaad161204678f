"""The exceptions pushoverd raises, translated at the I/O edges.

    PushoverdError
    ├── ConfigError                 a config file or environment value is wrong
    ├── StartupError                the daemon cannot start (the port is taken, ...)
    ├── HandlerFileError            a handler file cannot be read or validated
    ├── ValidationError             client input is invalid (HTTP 400)
    │   └── InvalidHandlerSpec      a handler spec is refused (HTTP 400)
    ├── Unauthorized                the request's credentials are missing or wrong (HTTP 401)
    ├── Forbidden                   the request is not allowed here (HTTP 403)
    ├── NotFound                    the named topic, event or handler does not exist (HTTP 404)
    ├── Conflict                    the request collides with existing state (HTTP 409)
    ├── StoreError                  the store failed; the request may be retried (HTTP 500)
    ├── DeliveryFailed              an integration could not deliver; says whether to retry,
    │                               when, and whether to pause that integration
    └── PushoverError               the Pushover API refused or failed a request
        ├── PushoverTransientError  connection error, timeout or 5xx: retry later
        ├── PushoverRateLimited     429 or quota exhausted: pause until the reset
        └── PushoverRejected        4xx: permanent, never retried

Every error's ``str()`` is the message shown to operators; none of them may carry a secret.
"""

from __future__ import annotations


class PushoverdError(Exception):
    """Base of every error pushoverd raises on purpose."""


class ConfigError(PushoverdError):
    """A configuration file or environment value is invalid."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file, self.line, self.key = file, line, key
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, key) if p]
        super().__init__(f"{' '.join(parts)}: {message}" if parts else message)


class StartupError(PushoverdError):
    """The daemon cannot start: its port is taken, its data directory unusable, ..."""


class HandlerFileError(PushoverdError):
    """A topic-handler file could not be parsed or validated."""

    def __init__(self, path: str, message: str, *, line: int | None = None,
                 key: str | None = None) -> None:
        self.path, self.line, self.key = path, line, key
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


class ValidationError(PushoverdError):
    """Client input is invalid; answered with HTTP 400."""


class InvalidHandlerSpec(ValidationError):
    """A handler spec was refused; answered with HTTP 400."""


class Unauthorized(PushoverdError):
    """The request carries no credentials, or ones that do not authenticate (HTTP 401)."""


class Forbidden(PushoverdError):
    """The request is refused by configuration, such as a disabled API (HTTP 403)."""


class NotFound(PushoverdError):
    """The named topic, event or handler does not exist; answered with HTTP 404."""


class Conflict(PushoverdError):
    """The request collides with existing state; answered with HTTP 409."""


class StoreError(PushoverdError):
    """The store failed to read or write."""


class DeliveryFailed(PushoverdError):
    """An integration could not deliver a notification; the delivery worker applies the verdict.

    ``retry`` False dead-letters the delivery. With ``retry`` and no ``retry_at`` the worker
    backs off and gives up after ``max-age``; a ``retry_at`` is the time the integration knows
    sending can work again (a quota reset): the delivery waits for it and is not aged out.
    ``pause_until`` stops the worker from sending anything of this kind until then.
    ``attempted`` False says nothing was sent (the integration held it back, e.g. while
    paused): a retryable one goes back to the queue uncounted and keeps its last error.
    """

    def __init__(self, message: str, *, retry: bool, retry_at: float | None = None,
                 pause_until: float | None = None, attempted: bool = True) -> None:
        super().__init__(message)
        self.retry, self.retry_at, self.pause_until = retry, retry_at, pause_until
        self.attempted = attempted


class PushoverError(PushoverdError):
    """A request to the Pushover API failed."""

    def __init__(self, message: str, *, status: int | None = None, limits: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.limits = limits


class PushoverTransientError(PushoverError):
    """Pushover could not be reached, timed out or answered 5xx: retry after a backoff."""


class PushoverRateLimited(PushoverError):
    """Pushover answered 429 (or no quota is left): pause all sending until ``reset``."""

    def __init__(self, message: str, *, reset: int | None = None, status: int | None = 429,
                 limits: object = None) -> None:
        super().__init__(message, status=status, limits=limits)
        self.reset = reset


class PushoverRejected(PushoverError):
    """Pushover refused the request with a 4xx: repeating it cannot succeed."""

    def __init__(self, message: str, *, status: int | None = None, param: str | None = None,
                 limits: object = None) -> None:
        super().__init__(message, status=status, limits=limits)
        self.param = param
