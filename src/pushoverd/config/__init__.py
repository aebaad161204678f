"""The daemon's configuration: one pydantic model per TOML table, loaded once at startup.

Key names are Kapacitor's, so an operator can point pushoverd at an existing ``kapacitor.conf``:
``hostname``, ``data_dir``, ``[http]``, ``[logging]``, ``[load]`` and ``[pushover]`` mean what
they mean to Kapacitor. Every other Kapacitor table and key (``[[influxdb]]``, ``[smtp]``,
``[storage]``, ``[http] pprof-enabled`` ...) is accepted and ignored; :func:`load` returns their
names so the daemon can log them in one line. pushoverd's own settings live under
``[pushoverd.store]``, ``[pushoverd.delivery]``, ``[pushoverd.flood]``, ``[[pushoverd.users]]`` ...,
where an unknown key is
an error, because no Kapacitor file writes there and a typo must not pass silently.

Durations are read as Go duration text (``"10s"``, ``"1h30m"``) or as an integer number of
nanoseconds, and are stored as **float seconds** (``delivery.timeout == 10.0``), the unit asyncio
and httpx take. :func:`default_config_text` (and ``pushoverd config``, which prints the
effective config of a file) writes them back as Go duration text.

Relative paths (``data_dir``, ``[load] dir``, ``[pushoverd.store] path``, ``[http]
https-certificate`` and ``https-private-key``, ``[logging] file`` unless it is ``STDERR`` or
``STDOUT``) are resolved against the directory of the config file, or
against the working directory when there is no file. Kapacitor instead refuses a relative
``[load] dir``; resolving it is a compatible superset. After :func:`load`, an empty
``[pushoverd.store] path`` has become ``<data_dir>/pushoverd.db``.

Environment variables override the file as Kapacitor's do: ``KAPACITOR_<SECTION>_<KEY>`` for
Kapacitor's tables and top-level keys (``KAPACITOR_PUSHOVER_USER_KEY``, ``KAPACITOR_DATA_DIR``),
``PUSHOVERD_<TABLE>_<KEY>`` for ``[pushoverd.*]`` (``PUSHOVERD_FLOOD_ENABLED``); ``-`` becomes
``_`` and an empty value is ignored.

The package's modules, each with one job; imports point one way (a test guards it)::

    module       job                                                  imports
    schema       the models and value types                           (no sibling)
    environment  KAPACITOR_* / PUSHOVERD_* overrides                  schema
    problems     pydantic errors -> ConfigError lines: file, line, key  schema
    loading      find_config_path, load, resolve_paths                schema, environment, problems
    render       a Config as commented file text, secrets redacted    schema
"""

from pushoverd.config.loading import LoadedConfig, find_config_path, load, resolve_paths
from pushoverd.config.render import default_config_text
from pushoverd.config.schema import (
    DEFAULT_PUSHOVER_URL,
    Config,
    DeliveryConfig,
    FloodConfig,
    HTTPConfig,
    LoadConfig,
    LoggingConfig,
    PushoverConfig,
    PushoverdConfig,
    StoreConfig,
)

__all__ = [
    "DEFAULT_PUSHOVER_URL",
    "Config",
    "DeliveryConfig",
    "FloodConfig",
    "HTTPConfig",
    "LoadConfig",
    "LoadedConfig",
    "LoggingConfig",
    "PushoverConfig",
    "PushoverdConfig",
    "StoreConfig",
    "default_config_text",
    "find_config_path",
    "load",
    "resolve_paths",
]
