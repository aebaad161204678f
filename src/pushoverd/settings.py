"""The settings the config API can change while the daemon runs, in one holder.

The composition root (``app.py``) owns one :class:`LiveSettings`. The parts that use an
overridable setting (the pushover kind, its service test and callbacks, the transports, the
``post`` kind's endpoints) read it from here at the moment they use it, or are told of a
change through :meth:`LiveSettings.on_change`; nothing keeps a copy made at start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pushoverd.config import Config, PushoverConfig
from pushoverd.config.schema import HTTPPostConfig

Listener = Callable[[Config, Config], Awaitable[None]]
"""Called with (the old config, the new one) after a change."""


class LiveSettings:
    """The effective config: the file and environment, with the stored overrides applied."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._listeners: list[Listener] = []

    @property
    def config(self) -> Config:
        """The whole effective config."""
        return self._config

    @property
    def pushover(self) -> PushoverConfig:
        """The effective ``[pushover]``."""
        return self._config.pushover

    def pushover_enabled(self) -> bool:
        """Whether the pushover service is enabled now."""
        return self._config.pushover.enabled

    def pushover_token(self) -> str:
        """The application token in effect now (a secret)."""
        return self._config.pushover.token

    def endpoint(self, name: str) -> HTTPPostConfig | None:
        """The ``[[httppost]]`` endpoint called ``name``, if there is one now."""
        return next((e for e in self._config.httppost if e.endpoint == name), None)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` after every change, in the order listeners were added."""
        self._listeners.append(listener)

    async def replace(self, config: Config) -> None:
        """Make ``config`` the effective one, then tell every listener."""
        old, self._config = self._config, config
        for listener in self._listeners:
            await listener(old, config)
