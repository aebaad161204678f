"""The configuration's shape: one pydantic model per TOML table, and the value types they use.

A table Kapacitor also reads ignores keys it does not know; a ``[pushoverd.*]`` table refuses
them. Durations are held as float seconds. This module imports nothing from its siblings.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Literal
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
from pydantic.fields import FieldInfo

from pushoverd.auth.passwords import is_bcrypt_hash
from pushoverd.pushover.keys import check_devices, check_user_keys
from pushoverd.shifts import parse_shift, parse_zone
from pushoverd.timefmt import parse_go_duration

__all__ = [
    "DEFAULT_PUSHOVER_URL",
    "NS",
    "BasicAuthConfig",
    "Config",
    "ConfigOverrideConfig",
    "DeliveryConfig",
    "Duration",
    "FloodConfig",
    "HTTPConfig",
    "HTTPPostConfig",
    "LoadConfig",
    "LoggingConfig",
    "PositiveDuration",
    "PushoverConfig",
    "PushoverdConfig",
    "StoreConfig",
    "UserConfig",
    "is_model",
    "is_secret",
    "list_item_model",
]

NS = 1_000_000_000
"""Nanoseconds per second: Go durations count nanoseconds, the models hold float seconds."""

DEFAULT_PUSHOVER_URL = "https://api.pushover.net/1/messages.json"
_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR")


# --- value types -------------------------------------------------------------------------------

def _seconds(text: str) -> float:
    """Go duration text as float seconds, for the defaults below."""
    return parse_go_duration(text) / NS


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
    return ns / NS


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


def _available_backend(value: object) -> object:
    """The store backend name in lower case; a reserved one that is not built yet is refused."""
    value = _lower(value)
    # Refused here, not when the store is built, so `check` reports it and `run` exits cleanly.
    if value == "postgres":
        raise ValueError('the postgres backend is not available yet; use "sqlite"')
    return value


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
    auth_enabled: bool = Field(False, alias="auth-enabled", description=(
        "Require credentials on every route but /kapacitor/v1/ping and the Pushover callback: "
        "HTTP Basic (or the u and p query parameters) for a [[pushoverd.users]] user, or a "
        "Bearer JWT signed with shared-secret."))
    shared_secret: str = Field("", alias="shared-secret", repr=False, description=(
        "The HMAC key of Bearer JWTs (HS256/HS384/HS512, with username and exp claims). "
        "Secret: never logged or shown."))
    https_enabled: bool = Field(False, alias="https-enabled", description=(
        "Serve HTTPS instead of HTTP."))
    https_certificate: str = Field("/etc/ssl/kapacitor.pem", alias="https-certificate",
                                   description="The PEM certificate (chain) HTTPS serves.")
    https_private_key: str = Field("", alias="https-private-key", description=(
        "The PEM private key of the certificate; empty means it is in https-certificate."))

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
    format: Literal["logfmt", "json"] = Field("logfmt", description=(
        "How each line is written: logfmt (Kapacitor's) or json (one object per line, the "
        "same keys)."))

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


class ConfigOverrideConfig(_KapacitorSection):
    """``[config-override]``: whether the config override API (``/kapacitor/v1/config``) is on."""

    enabled: bool = Field(True, description=(
        "Serve the config override API; when false every /kapacitor/v1/config call is 403."))


class BasicAuthConfig(_KapacitorSection):
    """``[httppost.basic-auth]``: HTTP basic credentials an endpoint posts with."""

    username: str = Field("", description="The basic-auth user name.")
    password: str = Field("", repr=False, description=(
        "The basic-auth password. Secret: never logged or shown."))

    @property
    def valid(self) -> bool:
        """Kapacitor sends basic auth only when both parts are set."""
        return bool(self.username and self.password)


_UNSUPPORTED_TEMPLATE = ("is not supported by pushoverd: a post body is always Kapacitor's "
                         "default alert JSON; remove it or leave it empty")


class HTTPPostConfig(_KapacitorSection):
    """``[[httppost]]``: a named endpoint that ``post`` handlers address with ``endpoint``.

    Kapacitor's body templates (``alert-template``, ``row-template`` and their ``-file``
    forms) are read but must be empty: pushoverd always posts the default alert JSON, and
    posting another body than the one configured would be a silent surprise.
    """

    endpoint: str = Field("", validate_default=True, description=(
        "The endpoint's name: a post handler's endpoint option refers to it."))
    url: str = Field("", validate_default=True, description=(
        "Where alerts are POSTed. Unlike Kapacitor, a URL template is not supported."))
    headers: dict[str, str] = Field(default_factory=dict, repr=False, description=(
        "Headers sent with every request; a handler's own headers win over them. Secret (they "
        "usually carry a token, as a post handler's headers do): never logged or shown."))
    basic_auth: BasicAuthConfig = Field(default_factory=BasicAuthConfig, alias="basic-auth")
    alert_template: str = Field("", alias="alert-template", description=(
        "Not supported: must be empty."))
    alert_template_file: str = Field("", alias="alert-template-file", description=(
        "Not supported: must be empty."))
    row_template: str = Field("", alias="row-template", description=(
        "Not supported: must be empty."))
    row_template_file: str = Field("", alias="row-template-file", description=(
        "Not supported: must be empty."))

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        if not value:
            raise ValueError("must specify endpoint name")
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value:
            raise ValueError("must specify url")
        if "{{" in value:
            raise ValueError(f'url "{value}": URL templates are not supported by pushoverd')
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f'invalid URL "{value}": must be an http or https URL with a host')
        return value

    @field_validator("alert_template", "alert_template_file", "row_template",
                     "row_template_file")
    @classmethod
    def _no_templates(cls, value: str, info: ValidationInfo) -> str:
        if value:
            raise ValueError(f"{info.field_name.replace('_', '-')} {_UNSUPPORTED_TEMPLATE}")
        return value


# --- pushoverd's own tables --------------------------------------------------------------------

class StoreConfig(_OwnSection):
    """``[pushoverd.store]``: where topics, handlers and the delivery outbox are kept."""

    backend: Annotated[Literal["sqlite"], BeforeValidator(_available_backend)] = Field(
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


def _at_least_five_seconds(value: float) -> float:
    # Pushover: poll a receipt no more often than once every 5 seconds.
    if value < 5.0:
        raise ValueError("must be at least 5s (Pushover's limit for polling a receipt)")
    return value


class ReceiptsConfig(_OwnSection):
    """``[pushoverd.receipts]``: following emergencies (priority 2) up by their receipts."""

    poll_interval: Annotated[float, BeforeValidator(_to_seconds),
                             AfterValidator(_at_least_five_seconds)] = Field(
        _seconds("30s"), alias="poll-interval", description=(
            "How often an unacknowledged emergency's receipt is checked with Pushover "
            "(receipts/<receipt>.json, which costs no message). At least 5s."))


class RecipientConfig(_OwnSection):
    """``[pushoverd.recipients.<name>]``: a person (or group) handlers can send to by name."""

    user_key: str = Field(alias="user-key", repr=False, description=(
        "The recipient's Pushover user or group key. Secret: never logged or shown."))
    device: str = Field("", description="Send to these devices only (comma-separated).")
    on_shift: list[str] = Field(default_factory=list, alias="on-shift", description=(
        'When the recipient is on call, e.g. ["Mon-Fri 09:00-18:00", "Sat 10:00-14:00"]; '
        "absent means always."))
    timezone: str = Field("UTC", description="The IANA time zone the shifts are read in.")

    @field_validator("user_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        return check_user_keys(value) if value else _required("a user or group key")

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return check_devices(value)

    @field_validator("on_shift")
    @classmethod
    def _check_shifts(cls, value: list[str]) -> list[str]:
        for shift in value:
            parse_shift(shift)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        parse_zone(value)
        return value


def _required(what: str) -> str:
    raise ValueError(f"must be {what}")


_PERMISSIONS = ("read", "write", "all")


class UserConfig(_OwnSection):
    """``[[pushoverd.users]]``: a user of the HTTP API when ``[http] auth-enabled = true``."""

    name: str = Field(description="The user name (HTTP Basic or a token's username claim).")
    password_hash: str = Field(alias="password-hash", repr=False, description=(
        "The bcrypt hash of the password, as `pushoverd hash-password` prints it; never the "
        "password itself. Secret: never logged or shown."))
    permissions: list[str] = Field(default_factory=lambda: ["read"], description=(
        'What the user may do: "read" (GET, HEAD), "write" (POST, PUT, PATCH, DELETE) or '
        '"all" (both).'))

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return value if value.strip() and ":" not in value else _required(
            "a non-empty name without ':' (HTTP Basic cannot carry one)")

    @field_validator("password_hash")
    @classmethod
    def _check_hash(cls, value: str) -> str:
        if not is_bcrypt_hash(value):
            raise ValueError('must be a bcrypt hash ("$2b$12$..."), as `pushoverd '
                             'hash-password` prints it; never a plain password')
        return value

    @field_validator("permissions")
    @classmethod
    def _check_permissions(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in _PERMISSIONS]
        if unknown:
            raise ValueError(f'unknown permission "{unknown[0]}": must be "read", "write" '
                             'or "all"')
        return value if value else _required('at least one of "read", "write" or "all"')


class PushoverdConfig(_OwnSection):
    """``[pushoverd]``: pushoverd's own settings, kept out of every table name Kapacitor uses."""

    public_url: str = Field("", alias="public-url", description=(
        "Where Pushover can reach this daemon from the Internet, e.g. https://alerts.example.com. "
        "When set, emergencies carry a callback to <public-url>/pushoverd/v1/callback/<token> "
        "and their receipts are polled only every few minutes as a fallback."))
    store: StoreConfig = Field(default_factory=StoreConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    flood: FloodConfig = Field(default_factory=FloodConfig)
    receipts: ReceiptsConfig = Field(default_factory=ReceiptsConfig)
    recipients: dict[str, RecipientConfig] = Field(default_factory=dict, description=(
        "Named recipients, one [pushoverd.recipients.<name>] table each."))
    users: list[UserConfig] = Field(default_factory=list, description=(
        "The users of the HTTP API, one [[pushoverd.users]] table each."))

    @field_validator("users")
    @classmethod
    def _unique_users(cls, value: list[UserConfig]) -> list[UserConfig]:
        duplicate = _first_duplicate(u.name for u in value)
        if duplicate is not None:
            raise ValueError(f'section "pushoverd.users" has duplicate names: "{duplicate}"')
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(f"invalid URL {value!r}: must be an http or https URL with a host "
                             "and no query")
        return value.rstrip("/")


class Config(_KapacitorSection):
    """The whole configuration. Build it with :func:`load`; it is immutable."""

    hostname: str = Field("localhost", description=(
        "The name of this host, used in links and logs."))
    data_dir: str = Field("./data", alias="data_dir", description=(
        "Where pushoverd keeps its data, including the default SQLite database."))
    skip_config_overrides: bool = Field(False, alias="skip-config-overrides", description=(
        "Start without applying the overrides stored through the config API (they are kept)."))
    http: HTTPConfig = Field(default_factory=HTTPConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    config_override: ConfigOverrideConfig = Field(default_factory=ConfigOverrideConfig,
                                                  alias="config-override")
    pushover: PushoverConfig = Field(default_factory=PushoverConfig)
    httppost: list[HTTPPostConfig] = Field(default_factory=list, description=(
        "Named post endpoints, one [[httppost]] table each."))
    pushoverd: PushoverdConfig = Field(default_factory=PushoverdConfig)

    def secrets(self) -> list[str]:
        """The non-empty secret values (every field declared secret), for the logger to
        redact."""
        return [value for value in _secret_values(self) if value]

    def cross_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Problems that involve keys of different tables, as (TOML key path, message)."""
        http = self.http
        if http.auth_enabled and not self.pushoverd.users and not http.shared_secret:
            return [(("http", "auth-enabled"), "needs at least one [[pushoverd.users]] user "
                     "or [http] shared-secret: no one could authenticate")]
        return []

    @field_validator("httppost")
    @classmethod
    def _unique_endpoints(cls, value: list[HTTPPostConfig]) -> list[HTTPPostConfig]:
        duplicate = _first_duplicate(e.endpoint for e in value)
        if duplicate is not None:
            raise ValueError(f'section "httppost" has duplicate elements: "{duplicate}"')
        return value


def _first_duplicate(names: Iterable[str]) -> str | None:
    """The first (in sorted order) name given more than once, or None."""
    counts = Counter(names)
    return min((n for n, c in counts.items() if c > 1), default=None)


# --- questions the sibling modules ask of a field ----------------------------------------------

def is_model(annotation: object) -> bool:
    """Whether a field's annotation is a table (a model) rather than a value."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def list_item_model(annotation: object) -> type[BaseModel] | None:
    """The table type of an array of tables (``list[HTTPPostConfig]``), else None."""
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and len(args) == 1 and is_model(args[0]):
        return args[0]
    return None


def is_secret(field: FieldInfo) -> bool:
    """Whether a field holds a secret: those are declared with ``repr=False``."""
    return field.repr is False


def _secret_values(model: BaseModel) -> list[str]:
    """The values of the secret fields of ``model`` and its tables, depth first."""
    values: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            values += _secret_values(value)
        elif isinstance(value, dict):  # named tables: [pushoverd.recipients.<name>]
            values += [s for v in value.values() if isinstance(v, BaseModel)
                       for s in _secret_values(v)]
            if is_secret(field):  # a secret map ([[httppost]] headers): each of its values
                values += [v for v in value.values() if isinstance(v, str) and v]
        elif isinstance(value, list):  # arrays of tables: [[httppost]]
            values += [s for v in value if isinstance(v, BaseModel) for s in _secret_values(v)]
        elif is_secret(field) and isinstance(value, str):
            values.append(value)
    return values
