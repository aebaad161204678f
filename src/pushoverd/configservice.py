"""The config override service: Kapacitor's config API over the store and the live settings.

It keeps the file/env config it started from, reads the stored overrides, and after an
accepted update stores it and makes the new effective config live (:class:`LiveSettings`).
The rules themselves (shapes, type checks, error texts) are in ``config/overrides.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pushoverd.config import Config
from pushoverd.config.overrides import (
    ElementView,
    UpdateAction,
    apply_overrides,
    sections,
    updated_overrides,
)
from pushoverd.errors import Forbidden, PushoverdError, StartupError
from pushoverd.settings import LiveSettings
from pushoverd.store.base import Store

log = logging.getLogger(__name__)


class ConfigService:
    """Reads and changes the overridable sections; updates are made one at a time."""

    def __init__(self, base: Config, store: Store, settings: LiveSettings) -> None:
        self._base = base
        self._store = store
        self._settings = settings
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """``[config-override] enabled``: false makes every call 403."""
        return self._base.config_override.enabled

    async def load(self) -> None:
        """At start: apply the stored overrides over the file/env (unless
        ``skip-config-overrides``). Overrides that no longer apply stop the start, as in
        Kapacitor, with the way out named."""
        stored = await self._store.config_overrides()
        if not stored:
            return
        if self._base.skip_config_overrides:
            log.warning("skip-config-overrides is set: %d stored config overrides are not "
                        "applied", len(stored))
            return
        try:
            config = apply_overrides(self._base, stored)
        except PushoverdError as exc:
            raise StartupError(f"cannot apply the stored config overrides: {exc} (set "
                               "skip-config-overrides = true to start without them)") from None
        log.info("applied stored config overrides",
                 extra={"fields": {"overrides": ",".join(o.id for o in stored)}})
        await self._settings.replace(config)

    async def sections(self) -> dict[str, list[ElementView]]:
        """Every overridable section's elements, as they are in effect now."""
        self._check_enabled()
        return sections(self._settings.config)

    async def update(self, action: UpdateAction) -> None:
        """Apply, store and make live one update; OverrideError (400) if it is refused."""
        self._check_enabled()
        async with self._lock:
            stored = await self._store.config_overrides()
            after, changed, deleted = updated_overrides(action, stored)
            others = [o for o in stored if o.section != action.section]
            config = apply_overrides(self._base, [*others, *sorted(after, key=_id)])
            for override in changed:
                await self._store.set_config_override(override)
            for override_id in deleted:
                await self._store.delete_config_override(override_id)
            await self._settings.replace(config)
        log.info("config updated through the API",
                 extra={"fields": {"section": action.section, "element": action.element}})

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise Forbidden("config override service is not enabled")


def _id(override: Any) -> str:
    return str(override.id)
