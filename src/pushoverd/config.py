"""The daemon's configuration: one pydantic model per TOML table, loaded once at startup.

Key names are Kapacitor's, so an operator can point pushoverd at an existing ``kapacitor.conf``:
``hostname``, ``data_dir``, ``[http]``, ``[logging]``, ``[load]`` and ``[pushover]`` mean what
they mean to Kapacitor. Every other Kapacitor table and key (``[[influxdb]]``, ``[smtp]``,
``[storage]``, ``[http] auth-enabled`` ...) is accepted and ignored; :func:`load` returns their
names so the daemon can log them in one line. pushoverd's own settings live under
``[pushoverd.store]``, ``[pushoverd.delivery]`` and ``[pushoverd.flood]``, where an unknown key is
an error, because no Kapacitor file writes there and a typo must not pass silently.

Durations are read as Go duration text (``"10s"``, ``"1h30m"``) or as an integer number of
nanoseconds, and are stored as **float seconds** (``delivery.timeout == 10.0``), the unit asyncio
and httpx take. :func:`default_config_text` writes them back as Go duration text.

Relative paths (``data_dir``, ``[load] dir``, ``[pushoverd.store] path``, ``[logging] file``
unless it is ``STDERR`` or ``STDOUT``) are resolved against the directory of the config file, or
against the working directory when there is no file. Kapacitor instead refuses a relative
``[load] dir``; resolving it is a compatible superset. After :func:`load`, an empty
``[pushoverd.store] path`` has become ``<data_dir>/pushoverd.db``.

Environment variables override the file as Kapacitor's do: ``KAPACITOR_<SECTION>_<KEY>`` for
Kapacitor's tables and top-level keys (``KAPACITOR_PUSHOVER_USER_KEY``, ``KAPACITOR_DATA_DIR``),
``PUSHOVERD_<TABLE>_<KEY>`` for ``[pushoverd.*]`` (``PUSHOVERD_FLOOD_ENABLED``); ``-`` becomes
``_`` and an empty value is ignored.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError

from pushoverd.errors import ConfigError
from pushoverd.timefmt import format_go_duration, parse_go_duration

__all__ = [
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

_NS = 1_000_000_000
DEFAULT_PUSHOVER_URL = "https://api.pushover.net/1/messages.json"
_STD_STREAMS = ("STDERR", "STDOUT")
_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR")


# --- value types -------------------------------------------------------------------------------

def _seconds(text: str) -> float:
    """Go duration text as float seconds, for the defaults below."""
    return parse_go_duration(text) / _NS


def _to_seconds(value: object) -> object:
    """Read a duration from Go duration text or integer nanoseconds into float seconds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError('must be a duration such as "10s" or "1h30m"')
    try:
        ns = value if isinstance(value, int) else parse_go_duration(value)
    except ValueError:
        raise ValueError(f'invalid duration {value!r}: use Go text such as "10s"') from None
    if ns < 0:
        raise ValueError("must not be negative")
    return ns / _NS


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0s")
    return value


Duration = Annotated[float, BeforeValidator(_to_seconds)]
"""A non-negative duration in float seconds, read from Go duration text or integer nanoseconds."""

PositiveDuration = Annotated[float, BeforeValidator(_to_seconds), AfterValidator(_positive)]
"""A duration that must be greater than zero."""


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class _KapacitorSection(BaseModel):
    """A table Kapacitor also reads: keys this model does not know are ignored and reported."""

    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, extra="ignore")


class _OwnSection(BaseModel):
    """A pushoverd table: an unknown key is an error."""

    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, extra="forbid")


# --- Kapacitor's tables ------------------------------------------------------------------------

class HTTPConfig(_KapacitorSection):
    """``[http]``: where the Kapacitor-compatible API listens. Durations are float seconds."""

    bind_address: str = Field(":9092", alias="bind-address", description=(
        "The address the HTTP API binds to, as host:port. An empty host means every interface."))
    log_enabled: bool = Field(True, alias="log-enabled", description=(
        "Log one line per HTTP request (the access log)."))
    shutdown_timeout: Duration = Field(_seconds("10s"), alias="shutdown-timeout", description=(
        "How long in-flight requests may take to finish at shutdown."))

    @field_validator("bind_address")
    @classmethod
    def _check_bind_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep:
            raise ValueError(f"invalid http bind address {value}: missing port in address")
        if ":" in host and not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"invalid http bind address {value}: too many colons in address")
        if not re.fullmatch(r"[0-9]+", port) or int(port) > 65535:
            raise ValueError(f"invalid http bind address port {port!r}: must be 0..65535")
        return value

    @property
    def host(self) -> str:
        """The host part of ``bind-address`` without IPv6 brackets; ``""`` means every interface."""
        return self.bind_address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of ``bind-address``."""
        return int(self.bind_address.rpartition(":")[2])


class LoggingConfig(_KapacitorSection):
    """``[logging]``: where log lines go and how many. ``level`` is normalised to upper case."""

    file: str = Field("STDERR", description=(
        "Where to write the log: STDERR, STDOUT or a file path."))
    level: Annotated[str, BeforeValidator(_upper)] = Field("INFO", description=(
        "The least severe level logged: DEBUG, INFO, WARN or ERROR."))

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value not in _LEVELS:
            raise ValueError(f"unknown level {value!r}: use DEBUG, INFO, WARN or ERROR")
        return value


class LoadConfig(_KapacitorSection):
    """``[load]``: topic-handler files loaded at startup and on SIGHUP."""

    enabled: bool = Field(False, description=(
        "Load topic-handler files from <dir>/handlers/ at startup and on SIGHUP."))
    dir: str = Field("./load", description=(
        "The load directory. Unlike Kapacitor, a relative path is allowed."))

    @property
    def handlers_dir(self) -> str:
        """The directory the handler files are read from."""
        return os.path.join(self.dir, "handlers")


class PushoverConfig(_KapacitorSection):
    """``[pushover]``: Kapacitor's Pushover service. ``token`` and ``user-key`` are not in repr."""

    enabled: bool = Field(False, description=(
        "Enable sending to Pushover. Handlers of kind pushover need it."))
    token: str = Field("", repr=False, validate_default=True, description=(
        "The Pushover application API token. Secret: never logged."))
    user_key: str = Field("", alias="user-key", repr=False, validate_default=True, description=(
        "The default Pushover user or group key; a handler's user-key option overrides it. "
        "Secret: never logged."))
    url: str = Field(DEFAULT_PUSHOVER_URL, validate_default=True, description=(
        "The Pushover messages endpoint."))

    @field_validator("token", "user_key", "url")
    @classmethod
    def _required_when_enabled(cls, value: str, info: ValidationInfo) -> str:
        # Kapacitor validates only an enabled service, with these messages.
        if info.data.get("enabled") and not value:
            raise ValueError(f"must specify {info.field_name.replace('_', ' ')}")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str, info: ValidationInfo) -> str:
        if not info.data.get("enabled"):
            return value
        try:
            parts = urlsplit(value)
        except ValueError as exc:
            raise ValueError(f'invalid URL "{value}": {exc}') from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f'invalid URL "{value}": must be an http or https URL with a host')
        return value


# --- pushoverd's own tables --------------------------------------------------------------------

class StoreConfig(_OwnSection):
    """``[pushoverd.store]``: where topics, handlers and the delivery outbox are kept."""

    backend: Annotated[Literal["sqlite", "postgres"], BeforeValidator(_lower)] = Field(
        "sqlite", description="The store backend: sqlite (postgres is reserved for later).")
    path: str = Field("", description=(
        'The SQLite database file. "" means <data_dir>/pushoverd.db.'))
    synchronous: Annotated[Literal["FULL", "NORMAL"], BeforeValidator(_upper)] = Field(
        "FULL", description=(
            "SQLite durability: FULL syncs every commit, NORMAL may lose the last commits on "
            "power loss."))
    dsn: str = Field("", repr=False, description=(
        "The PostgreSQL connection string (postgres backend only). Secret: never logged."))
    commit_interval: Duration = Field(_seconds("0s"), alias="commit-interval", description=(
        "How long the writer may wait to gather several writes into one commit."))


class DeliveryConfig(_OwnSection):
    """``[pushoverd.delivery]``: the outbox worker that sends to Pushover. Durations in seconds."""

    timeout: PositiveDuration = Field(_seconds("10s"), description=(
        "The timeout of one request to Pushover."))
    concurrency: int = Field(2, ge=1, le=2, description=(
        "Concurrent requests to Pushover: 1 or 2 (Pushover allows at most 2 connections)."))
    poll_interval: PositiveDuration = Field(_seconds("1s"), alias="poll-interval", description=(
        "How often the worker looks for due deliveries when nothing wakes it."))
    lease_timeout: PositiveDuration = Field(_seconds("60s"), alias="lease-timeout", description=(
        "How long a claimed delivery stays claimed before another worker may take it over. "
        "Must exceed timeout."))
    max_age: PositiveDuration = Field(_seconds("6h"), alias="max-age", description=(
        "How long a delivery is retried before it is dead-lettered."))
    retry_initial: PositiveDuration = Field(_seconds("5s"), alias="retry-initial", description=(
        "The first retry delay; each further retry doubles it."))
    retry_max: PositiveDuration = Field(_seconds("5m"), alias="retry-max", description=(
        "The longest retry delay. Must be at least retry-initial."))
    retention: PositiveDuration = Field(_seconds("168h"), description=(
        "Sent and dead deliveries older than this are pruned."))
    breaker_threshold: int = Field(10, ge=1, alias="breaker-threshold", description=(
        "This many 4xx answers from Pushover within breaker-window stop all sending."))
    breaker_window: PositiveDuration = Field(_seconds("5m"), alias="breaker-window", description=(
        "The window breaker-threshold counts in."))
    separate_process: bool = Field(True, alias="separate-process", description=(
        "Send from a child process, so the HTTPS work runs on another core than ingest."))
    breaker_probe_interval: PositiveDuration = Field(
        _seconds("5m"), alias="breaker-probe-interval", description=(
            "While the breaker is open, check the token and user key this often (Pushover's "
            "users/validate, which sends nothing) and resume once they are accepted."))

    @field_validator("lease_timeout")
    @classmethod
    def _lease_exceeds_timeout(cls, value: float, info: ValidationInfo) -> float:
        # A lease that ends mid-request would let a second worker send the same message.
        if value <= info.data.get("timeout", 0):
            raise ValueError("must be greater than timeout")
        return value

    @field_validator("retry_max")
    @classmethod
    def _max_covers_initial(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("retry_initial", 0):
            raise ValueError("must be at least retry-initial")
        return value


class FloodConfig(_OwnSection):
    """``[pushoverd.flood]``: per-handler flood control. ``interval`` is in seconds."""

    enabled: bool = Field(True, description=(
        "Coalesce notifications when a handler sends more than rate per interval."))
    rate: int = Field(10, ge=1, description=(
        "Notifications per handler per interval before the rest are coalesced into one."))
    interval: PositiveDuration = Field(_seconds("1m"), description=(
        "The window rate counts in."))


class PushoverdConfig(_OwnSection):
    """``[pushoverd]``: pushoverd's own settings, kept out of every table name Kapacitor uses."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    flood: FloodConfig = Field(default_factory=FloodConfig)


class Config(_KapacitorSection):
    """The whole configuration. Build it with :func:`load`; it is immutable."""

    hostname: str = Field("localhost", description=(
        "The name of this host, used in links and logs."))
    data_dir: str = Field("./data", alias="data_dir", description=(
        "Where pushoverd keeps its data, including the default SQLite database."))
    http: HTTPConfig = Field(default_factory=HTTPConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    pushover: PushoverConfig = Field(default_factory=PushoverConfig)
    pushoverd: PushoverdConfig = Field(default_factory=PushoverdConfig)

    def secrets(self) -> list[str]:
        """The non-empty secret values, for the logger to redact."""
        candidates = (self.pushover.token, self.pushover.user_key, self.pushoverd.store.dsn)
        return [value for value in candidates if value]


# --- locating and loading ----------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedConfig:
    """The result of :func:`load`: the config, the file it came from, and what was ignored."""

    config: Config
    path: str | None
    ignored: list[str]


def find_config_path(cli_path: str | None, env: Mapping[str, str]) -> str | None:
    """The config file to read: ``-config``, then ``$PUSHOVERD_CONFIG_PATH``, then
    ``$KAPACITOR_CONFIG_PATH``; ``None`` (built-in defaults) if none is set or it is /dev/null."""
    for candidate in (cli_path, env.get("PUSHOVERD_CONFIG_PATH"), env.get("KAPACITOR_CONFIG_PATH")):
        if candidate:
            return None if candidate == os.devnull else candidate
    return None


def load(path: str | None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read ``path`` (``None``: defaults only), apply ``env`` (default ``os.environ``), validate
    and resolve paths.

    Raises :class:`ConfigError`; its ``problems`` attribute lists one line per problem found (all
    of them, not just the first), and ``str()`` is those lines joined by newlines.
    """
    path = None if path in (None, "", os.devnull) else path
    text = _read(path) if path else ""
    raw = _parse(text, path)
    ignored = _ignored(raw, Config)
    env_keys, problems = _apply_env(raw, os.environ if env is None else env)
    try:
        config = Config.model_validate(raw)
    except PydanticValidationError as exc:
        problems += [_problem(err, text, path, env_keys) for err in _errors(exc)]
    if problems:
        raise _combine(problems)
    base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    return LoadedConfig(resolve_paths(config, base), path, ignored)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _combine([ConfigError(f"cannot read config file: {detail}", file=path)]) from None


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def _parse(text: str, path: str | None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else None
        detail = _TOML_POSITION.sub(f" (column {found.group(2)})" if found else "", message)
        raise _combine([ConfigError(f"invalid TOML: {detail}", file=path, line=line)]) from None


def resolve_paths(config: Config, base_dir: str) -> Config:
    """``config`` with its relative paths made absolute against ``base_dir`` and an empty store
    path replaced by ``<data_dir>/pushoverd.db``."""
    data_dir = _resolve(base_dir, config.data_dir)
    store = config.pushoverd.store
    store_path = os.path.join(data_dir, "pushoverd.db")
    if store.path:
        store_path = _resolve(base_dir, store.path)
    log_file = config.logging.file
    if log_file not in _STD_STREAMS:
        log_file = _resolve(base_dir, log_file)
    return config.model_copy(update={
        "data_dir": data_dir,
        "logging": config.logging.model_copy(update={"file": log_file}),
        "load": config.load.model_copy(update={"dir": _resolve(base_dir, config.load.dir)}),
        "pushoverd": config.pushoverd.model_copy(
            update={"store": store.model_copy(update={"path": store_path})}),
    })


def _resolve(base_dir: str, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _known_keys(model: type[BaseModel]) -> dict[str, str]:
    """TOML key (alias, or the attribute name) -> attribute name."""
    keys = {name: name for name in model.model_fields}
    keys.update({f.alias: name for name, f in model.model_fields.items() if f.alias})
    return keys


def _ignored(raw: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Names in ``raw`` that an ``extra="ignore"`` model drops, dotted, in file order."""
    if model.model_config.get("extra") != "ignore":
        return []
    known, names = _known_keys(model), []
    for key, value in raw.items():
        if key not in known:
            names.append(prefix + key)
            continue
        sub = model.model_fields[known[key]].annotation
        if _is_model(sub) and isinstance(value, dict):
            names += _ignored(value, sub, f"{prefix}{key}.")
    return names


# --- environment overrides ---------------------------------------------------------------------

@dataclass(frozen=True)
class _EnvTarget:
    var: str
    loc: tuple[str, ...]
    kind: object
    secret: bool


def _env_targets(model: type[BaseModel], loc: tuple[str, ...] = (),
                 prefix: str = "KAPACITOR_") -> Iterator[_EnvTarget]:
    """Every key the models know, with the environment variable that overrides it."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if _is_model(field.annotation):
            child = "PUSHOVERD_" if key == "pushoverd" and not loc else f"{prefix}{_env(key)}_"
            yield from _env_targets(field.annotation, (*loc, key), child)
        else:
            yield _EnvTarget(prefix + _env(key), (*loc, key), field.annotation, field.repr is False)


def _env(key: str) -> str:
    return key.upper().replace("-", "_")


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]
               ) -> tuple[dict[tuple[str, ...], str], list[ConfigError]]:
    """Write the set variables into ``raw``; return ``{loc: variable}`` and the bad values."""
    applied: dict[tuple[str, ...], str] = {}
    problems: list[ConfigError] = []
    for target in _env_targets(Config):
        value = env.get(target.var, "")
        if not value:  # as in Kapacitor, an empty value cannot override anything
            continue
        try:
            _set(raw, target.loc, _convert(target, value))
            applied[target.loc] = target.var
        except ValueError as exc:
            problems.append(ConfigError(str(exc), key=target.var))
    return applied, problems


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _convert(target: _EnvTarget, value: str) -> object:
    """Turn an environment value into what TOML would have given for that key."""
    shown = "the value" if target.secret else repr(value)
    if target.kind is bool:
        if value in _TRUE | _FALSE:
            return value in _TRUE
        raise ValueError(f"cannot parse {shown} as a boolean")
    if target.kind is int:
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f"cannot parse {shown} as an integer") from None
    if target.kind is float and re.fullmatch(r"[0-9]+", value):
        return int(value)  # a duration given as integer nanoseconds
    return value


def _set(raw: dict[str, Any], loc: tuple[str, ...], value: object) -> None:
    table: Any = raw
    for key in loc[:-1]:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            return  # the file has a non-table here; validation reports it
    table[loc[-1]] = value


# --- errors ------------------------------------------------------------------------------------

_TYPE_MESSAGES = {
    "bool_type": "must be a boolean (true or false)",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "model_type": "must be a table",
    "dict_type": "must be a table",
    "extra_forbidden": "unknown key",
}


def _errors(exc: PydanticValidationError) -> list[Any]:
    # Never include the input: it may be a secret.
    return list(exc.errors(include_url=False, include_input=False, include_context=False))


def _problem(err: Mapping[str, Any], text: str, path: str | None,
             env_keys: Mapping[tuple[str, ...], str]) -> ConfigError:
    loc = _alias_loc(err["loc"])
    message = _TYPE_MESSAGES.get(err["type"]) or _reword(err["msg"])
    if loc in env_keys:
        return ConfigError(message, key=env_keys[loc])
    return ConfigError(message, file=path, line=_find_line(text, loc), key=".".join(loc) or None)


def _alias_loc(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The TOML keys of an error location (pydantic names defaults by attribute name)."""
    model: Any = Config
    keys = []
    for part in map(str, loc):
        field = model.model_fields.get(part) if _is_model(model) else None
        keys.append(field.alias or part if field else part)
        model = field.annotation if field else None
    return tuple(keys)


def _reword(message: str) -> str:
    return message.removeprefix("Value error, ").replace("Input should be", "must be")


def _combine(problems: list[ConfigError]) -> ConfigError:
    """One ConfigError for all problems; ``.problems`` holds one line per problem."""
    if len(problems) == 1:
        error = problems[0]
    else:
        error = ConfigError("\n".join(str(p) for p in problems))
        error.file, error.line, error.key = problems[0].file, problems[0].line, problems[0].key
    error.problems = [str(p) for p in problems]  # type: ignore[attr-defined]
    return error


_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")


def _find_line(text: str, loc: tuple[str, ...]) -> int | None:
    """Best effort: the line where ``loc`` is written, else its table's header line."""
    if not text or not loc:
        return None
    for table, key in ((loc[:-1], loc[-1]), (loc, None), (loc[:-1], None)):
        line = _scan(text, ".".join(table), key)
        if line:
            return line
    return None


def _scan(text: str, table: str, key: str | None) -> int | None:
    key_line = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""") if key else None
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = re.sub(r"\s*\.\s*", ".", header.group(1))
            if key is None and current == table:
                return number
        elif key_line and current == table and key_line.match(line):
            return number
    return None


# --- the default config file -------------------------------------------------------------------

_PREAMBLE = """\
# pushoverd configuration.
#
# Key names are Kapacitor's, so an existing kapacitor.conf loads unchanged: the tables and keys
# pushoverd does not use ([[influxdb]], [smtp], [storage], [http] auth-enabled, ...) are ignored
# and named in one log line at startup. pushoverd's own settings live under [pushoverd.*].
#
# Relative paths are resolved against the directory of this file.
# Durations are Go duration strings such as "10s", "1m30s" or "168h".
# Environment variables override this file: KAPACITOR_<SECTION>_<KEY> for Kapacitor's keys
# (KAPACITOR_PUSHOVER_USER_KEY, KAPACITOR_DATA_DIR), PUSHOVERD_<TABLE>_<KEY> for pushoverd's
# (PUSHOVERD_DELIVERY_TIMEOUT). "-" becomes "_"; an empty value is ignored.
"""

_TABLE_HELP = {
    "http": "The HTTP API: Kapacitor's /kapacitor/v1 alert-topic endpoints.\n"
            "Kapacitor's other [http] keys (auth-enabled, https-*, ...) are accepted and ignored.",
    "logging": "Logging: logfmt lines like Kapacitor's.",
    "load": "Topic-handler files (YAML or JSON), applied at startup and on SIGHUP as Kapacitor\n"
            "does. Handler files are read from <dir>/handlers/.",
    "pushover": "Pushover, configured as Kapacitor's [pushover] service.",
    "pushoverd": "pushoverd's own settings. An unknown key under [pushoverd.*] is an error.",
    "pushoverd.store": "The store for topics, handlers and the delivery outbox.",
    "pushoverd.delivery": "Delivery: the outbox worker that sends to Pushover and retries.",
    "pushoverd.flood": "Flood control: coalesce a burst of notifications from one handler.",
}


def default_config_text() -> str:
    """A complete config file with every key at its default, each explained by a comment."""
    return _PREAMBLE + "".join(_render(Config, ()))


def _render(model: type[BaseModel], loc: tuple[str, ...]) -> Iterator[str]:
    """The keys of ``model`` (indented when inside a table), then its sub-tables."""
    indent = "  " if loc else ""
    tables = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if _is_model(field.annotation):
            tables.append(((*loc, key), field.annotation))
            continue
        comment = textwrap.wrap(field.description or "", 94 - len(indent))
        yield "\n" + "".join(f"{indent}# {line}\n" for line in comment)
        yield f"{indent}{key} = {_toml_value(field.annotation, field.get_default())}\n"
    for sub_loc, sub in tables:
        yield from _render_table(sub_loc, sub)


def _render_table(loc: tuple[str, ...], model: type[BaseModel]) -> Iterator[str]:
    name = ".".join(loc)
    yield "\n" + "".join(f"# {line}\n" for line in _TABLE_HELP[name].splitlines())
    if any(not _is_model(f.annotation) for f in model.model_fields.values()):
        yield f"[{name}]\n"
    yield from _render(model, loc)


def _toml_value(annotation: object, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if annotation is float:  # every float field is a duration
        return json.dumps(format_go_duration(round(cast(float, value) * _NS)))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)
