"""Tests for pushoverd.config: defaults, Kapacitor files, env overrides, errors, paths, secrets."""

from __future__ import annotations

import ast
import importlib
import os
import re
import tomllib
from pathlib import Path

import pytest
from tests.conftest import TOKEN, USER

from pushoverd import config as config_package
from pushoverd.config import (
    Config,
    LoadedConfig,
    StoreConfig,
    default_config_text,
    find_config_path,
    load,
    resolve_paths,
)
from pushoverd.config.render import config_text
from pushoverd.errors import ConfigError

DATA = Path(__file__).resolve().parent.parent / "data" / "config"


def write(tmp_path: Path, text: str, name: str = "pushoverd.conf") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> LoadedConfig:
    return load(write(tmp_path, text), env=env or {})


def load_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env)
    return info.value


# --- defaults ----------------------------------------------------------------------------------

def test_defaults() -> None:
    c = Config()
    assert (c.hostname, c.data_dir) == ("localhost", "./data")
    assert (c.http.bind_address, c.http.log_enabled) == (":9092", True)
    assert c.http.shutdown_timeout == 10.0
    assert (c.http.host, c.http.port) == ("", 9092)
    assert (c.logging.file, c.logging.level) == ("STDERR", "INFO")
    assert (c.load.enabled, c.load.dir) == (False, "./load")
    assert c.pushover.model_dump(by_alias=True) == {
        "enabled": False, "token": "", "user-key": "",
        "url": "https://api.pushover.net/1/messages.json"}


def test_pushoverd_defaults() -> None:
    own = Config().pushoverd
    store, d, flood = own.store, own.delivery, own.flood
    assert (store.backend, store.path, store.synchronous, store.dsn) == ("sqlite", "", "FULL", "")
    assert store.commit_interval == 0.0
    assert (d.timeout, d.concurrency, d.poll_interval, d.lease_timeout) == (10.0, 2, 1.0, 60.0)
    assert (d.max_age, d.retry_initial, d.retry_max, d.retention) == (21600.0, 5.0, 300.0, 604800.0)
    assert (d.breaker_threshold, d.breaker_window) == (10, 300.0)
    assert (flood.enabled, flood.rate, flood.interval) == (True, 10, 60.0)


def test_load_without_file_uses_defaults_resolved_against_cwd() -> None:
    loaded = load(None, env={})
    assert loaded.path is None and loaded.ignored == []
    assert loaded.config == resolve_paths(Config(), os.getcwd())
    assert loaded.config.data_dir == os.path.join(os.getcwd(), "data")


def test_loaded_config_is_immutable() -> None:
    with pytest.raises(ValueError):
        Config().pushover.enabled = True  # type: ignore[misc]


# --- real Kapacitor files ----------------------------------------------------------------------

def test_kapacitor_default_conf_loads_and_reports_ignored() -> None:
    loaded = load(str(DATA / "kapacitord-1.5.7-default.conf"), env={})
    c = loaded.config
    assert c.data_dir == "/var/lib/kapacitor" and c.load.dir == "/var/lib/kapacitor/load"
    assert c.logging.level == "DEBUG" and c.pushover.enabled is False
    assert c.pushoverd.store.path == "/var/lib/kapacitor/pushoverd.db"
    for name in ("influxdb", "smtp", "storage", "alert", "slack",
                 "http.pprof-enabled", "http.write-tracing", "deadman"):
        assert name in loaded.ignored
    for name in ("pushover", "http", "skip-config-overrides", "config-override", "httppost",
                 "http.auth-enabled", "http.shared-secret", "http.https-enabled",
                 "http.https-certificate"):
        assert name not in loaded.ignored
    assert c.http.https_certificate == "/etc/ssl/kapacitor.pem" and not c.http.auth_enabled
    assert c.config_override.enabled is True and c.skip_config_overrides is False
    assert [e.endpoint for e in c.httppost] == ["example"]
    assert len(loaded.ignored) == len(set(loaded.ignored))


def test_kapacitor_inputs_conf_loads_with_pushover_enabled() -> None:
    c = load(str(DATA / "kapacitor-inputs.conf"), env={}).config
    assert c.pushover.enabled is True
    assert (c.pushover.token, c.pushover.user_key) == (TOKEN, USER)
    assert c.pushover.url == "http://127.0.0.1:18080/1/messages.json"
    assert (c.http.host, c.http.port) == ("127.0.0.1", 19092)
    assert c.logging.file == "/var/lib/kapacitor-run/kapacitord.log"


# --- own tables --------------------------------------------------------------------------------

def test_own_tables_and_durations(tmp_path: Path) -> None:
    c = load_text(tmp_path, """
[pushoverd.store]
backend = "SQLite"
synchronous = "normal"
commit-interval = 5000000
[pushoverd.delivery]
timeout = "1.5s"
lease-timeout = "1h30m"
concurrency = 1
[pushoverd.flood]
enabled = false
rate = 3
""").config
    assert (c.pushoverd.store.backend, c.pushoverd.store.synchronous) == ("sqlite", "NORMAL")
    assert c.pushoverd.store.commit_interval == pytest.approx(0.005)
    assert c.pushoverd.delivery.timeout == 1.5 and c.pushoverd.delivery.lease_timeout == 5400.0
    assert c.pushoverd.delivery.concurrency == 1
    assert (c.pushoverd.flood.enabled, c.pushoverd.flood.rate) == (False, 3)


@pytest.mark.parametrize(("text", "key", "fragment"), [
    ('[pushoverd.delivery]\ntiemout = "1s"', "pushoverd.delivery.tiemout", "unknown key"),
    ("[pushoverd]\nversion-header = 1", "pushoverd.version-header", "unknown key"),
    ("[pushoverd.delivery]\nconcurrency = 3", "pushoverd.delivery.concurrency", "less than"),
    ("[pushoverd.flood]\nrate = 0", "pushoverd.flood.rate", "greater than"),
    ('[pushoverd.delivery]\ntimeout = "10"', "pushoverd.delivery.timeout", "invalid duration"),
    ('[pushoverd.delivery]\ntimeout = "0s"', "pushoverd.delivery.timeout", "greater than 0s"),
    ('[pushoverd.delivery]\nretry-max = "1s"', "pushoverd.delivery.retry-max", "retry-initial"),
    ('[pushoverd.delivery]\nlease-timeout = "5s"', "pushoverd.delivery.lease-timeout", "timeout"),
    ('[pushoverd.store]\nbackend = "bolt"', "pushoverd.store.backend", "sqlite"),
    ('[logging]\nlevel = "TRACE"', "logging.level", "unknown level"),
    ('[http]\nbind-address = "localhost"', "http.bind-address", "invalid http bind address"),
    ('[http]\nbind-address = ":70000"', "http.bind-address", "invalid http bind address port"),
    ('[http]\nshutdown-timeout = "-1s"', "http.shutdown-timeout", "negative"),
])
def test_invalid_values_name_the_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    err = load_error(tmp_path, text)
    assert err.key == key and fragment in str(err)
    assert str(err).startswith(f"{tmp_path / 'pushoverd.conf'}:2 {key}: ")


NO_POSTGRES = 'pushoverd.store.backend: the postgres backend is not available yet; use "sqlite"'


@pytest.mark.parametrize("name", ["postgres", "Postgres"])
def test_postgres_backend_is_refused_until_it_exists(tmp_path: Path, name: str) -> None:
    err = load_error(tmp_path, f'hostname = "h"\n[pushoverd.store]\nbackend = "{name}"\n')
    assert err.problems == [f"{tmp_path / 'pushoverd.conf'}:3 {NO_POSTGRES}"]  # type: ignore[attr-defined]


def test_postgres_backend_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load(None, env={"PUSHOVERD_STORE_BACKEND": "postgres"})
    expected = NO_POSTGRES.replace("pushoverd.store.backend", "PUSHOVERD_STORE_BACKEND")
    assert info.value.problems == [expected]  # type: ignore[attr-defined]


def test_postgres_stays_documented_as_reserved() -> None:
    assert "postgres is reserved" in (StoreConfig.model_fields["backend"].description or "")


@pytest.mark.parametrize(("level", "expected"), [("debug", "DEBUG"), ("Warning", "WARNING"),
                                                 ("warn", "WARN"), ("ERROR", "ERROR")])
def test_logging_level_is_normalised(tmp_path: Path, level: str, expected: str) -> None:
    assert load_text(tmp_path, f'[logging]\nlevel = "{level}"').config.logging.level == expected


def test_ipv6_bind_address(tmp_path: Path) -> None:
    http = load_text(tmp_path, '[http]\nbind-address = "[::1]:8080"').config.http
    assert (http.host, http.port) == ("::1", 8080)


# --- errors ------------------------------------------------------------------------------------

def test_wrong_type_names_section_key_file_and_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[http]\n\n[pushover]\n  enabled = "yes please"\n')
    assert err.key == "pushover.enabled" and err.line == 4
    assert err.file == str(tmp_path / "pushoverd.conf")
    assert str(err) == f"{err.file}:4 pushover.enabled: must be a boolean (true or false)"
    assert err.problems == [str(err)]  # type: ignore[attr-defined]


def test_all_problems_are_reported(tmp_path: Path) -> None:
    err = load_error(tmp_path, 'hostname = 5\n[pushoverd.flood]\nrate = 0\nbogus = 1\n')
    problems = err.problems  # type: ignore[attr-defined]
    assert len(problems) == 3 and str(err) == "\n".join(problems)
    assert problems[0].endswith(":1 hostname: must be a string")
    assert any(":4 pushoverd.flood.bogus: unknown key" in p for p in problems)


def test_toml_syntax_error_has_line_number(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[http]\nbind-address = ":9092"\nlog-enabled = tru\n')
    assert err.line == 3 and err.file == str(tmp_path / "pushoverd.conf")
    assert str(err).startswith(f"{err.file}:3: invalid TOML")


def test_table_given_as_value_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, 'hostname = "h"\npushover = 5\n')
    assert err.key == "pushover" and err.line == 2 and "must be a table" in str(err)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(str(tmp_path / "nope.conf"), env={})


@pytest.mark.parametrize(("body", "message"), [
    ("", "must specify token"),
    (f'token = "{TOKEN}"', "must specify user key"),
    (f'token = "{TOKEN}"\nuser-key = "{USER}"\nurl = ""', "must specify url"),
    (f'token = "{TOKEN}"\nuser-key = "{USER}"\nurl = "ftp://x"', 'invalid URL "ftp://x"'),
    (f'token = "{TOKEN}"\nuser-key = "{USER}"\nurl = "http://"', "with a host"),
])
def test_enabled_pushover_is_validated(tmp_path: Path, body: str, message: str) -> None:
    err = load_error(tmp_path, f"[pushover]\nenabled = true\n{body}\n")
    assert message in err.problems[0]  # type: ignore[attr-defined]


def test_disabled_pushover_is_not_validated(tmp_path: Path) -> None:
    c = load_text(tmp_path, '[pushover]\nenabled = false\nurl = "ftp://x"\n').config
    assert c.pushover.url == "ftp://x"


def test_missing_user_key_is_named_by_its_toml_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, f'[pushover]\nenabled = true\ntoken = "{TOKEN}"\n')
    assert err.key == "pushover.user-key" and err.line == 1
    with pytest.raises(ConfigError, match=r"^pushover\.user-key: must specify user key$"):
        load(None, env={"KAPACITOR_PUSHOVER_ENABLED": "1", "KAPACITOR_PUSHOVER_TOKEN": TOKEN})


def test_missing_token_points_at_the_table(tmp_path: Path) -> None:
    err = load_error(tmp_path, 'hostname = "h"\n[pushover]\nenabled = true\n')
    assert err.key == "pushover.token" and err.line == 2
    assert "must specify token" in str(err)


# --- environment overrides ---------------------------------------------------------------------

def test_env_overrides(tmp_path: Path) -> None:
    env = {
        "KAPACITOR_PUSHOVER_USER_KEY": "envkey", "KAPACITOR_HTTP_BIND_ADDRESS": "127.0.0.1:1234",
        "PUSHOVERD_FLOOD_ENABLED": "false", "KAPACITOR_HOSTNAME": "box",
        "KAPACITOR_LOGGING_LEVEL": "error", "PUSHOVERD_DELIVERY_TIMEOUT": "3s",
        "PUSHOVERD_STORE_BACKEND": "SQLITE", "PUSHOVERD_DELIVERY_CONCURRENCY": "1",
        "PUSHOVERD_STORE_COMMIT_INTERVAL": "1000000",
    }
    c = load_text(tmp_path, '[pushover]\nuser-key = "filekey"\n', env).config
    assert c.pushover.user_key == "envkey" and c.http.port == 1234 and c.hostname == "box"
    assert c.pushoverd.flood.enabled is False and c.logging.level == "ERROR"
    assert c.pushoverd.delivery.timeout == 3.0 and c.pushoverd.delivery.concurrency == 1
    assert c.pushoverd.store.backend == "sqlite"
    assert c.pushoverd.store.commit_interval == pytest.approx(0.001)


def test_env_overrides_apply_without_file() -> None:
    env = {"KAPACITOR_DATA_DIR": "/srv/p", "KAPACITOR_LOAD_DIR": "/srv/load",
           "KAPACITOR_PUSHOVER_ENABLED": "T", "KAPACITOR_PUSHOVER_TOKEN": TOKEN,
           "KAPACITOR_PUSHOVER_USER_KEY": USER}
    c = load(None, env=env).config
    assert (c.data_dir, c.load.dir, c.pushover.enabled) == ("/srv/p", "/srv/load", True)
    assert c.pushoverd.store.path == "/srv/p/pushoverd.db"


def test_empty_env_value_is_ignored(tmp_path: Path) -> None:
    env = {"KAPACITOR_HTTP_BIND_ADDRESS": "", "PUSHOVERD_FLOOD_ENABLED": ""}
    c = load_text(tmp_path, '[http]\nbind-address = ":1"\n', env).config
    assert c.http.bind_address == ":1" and c.pushoverd.flood.enabled is True


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_env_bool_accepts_go_parsebool_true(value: str) -> None:
    assert load(None, env={"KAPACITOR_HTTP_LOG_ENABLED": "0",
                           "PUSHOVERD_FLOOD_ENABLED": value}).config.pushoverd.flood.enabled


def test_env_bad_bool_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load(None, env={"KAPACITOR_PUSHOVER_ENABLED": "yes"})
    assert str(info.value).startswith("KAPACITOR_PUSHOVER_ENABLED: ")
    assert info.value.key == "KAPACITOR_PUSHOVER_ENABLED"


def test_env_validation_error_names_the_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "[http]\n", {"KAPACITOR_HTTP_BIND_ADDRESS": "nowhere"})
    assert str(err).startswith("KAPACITOR_HTTP_BIND_ADDRESS: invalid http bind address")


def test_env_bad_int_and_duration() -> None:
    with pytest.raises(ConfigError) as info:
        load(None, env={"PUSHOVERD_FLOOD_RATE": "many", "PUSHOVERD_FLOOD_INTERVAL": "soon"})
    problems = info.value.problems  # type: ignore[attr-defined]
    assert problems[0].startswith("PUSHOVERD_FLOOD_RATE: cannot parse 'many'")
    assert problems[1].startswith("PUSHOVERD_FLOOD_INTERVAL: invalid duration")


def test_unknown_env_names_are_not_read() -> None:
    env = {"KAPACITOR_SMTP_ENABLED": "nonsense", "PUSHOVERD_PUSHOVERD_STORE_PATH": "x",
           "KAPACITOR_PUSHOVERD_STORE_BACKEND": "bad"}
    assert load(None, env=env).config == load(None, env={}).config


# --- config path -------------------------------------------------------------------------------

@pytest.mark.parametrize(("cli", "env", "expected"), [
    ("/a.conf", {"PUSHOVERD_CONFIG_PATH": "/b.conf"}, "/a.conf"),
    (None, {"PUSHOVERD_CONFIG_PATH": "/b.conf", "KAPACITOR_CONFIG_PATH": "/c.conf"}, "/b.conf"),
    ("", {"PUSHOVERD_CONFIG_PATH": "", "KAPACITOR_CONFIG_PATH": "/c.conf"}, "/c.conf"),
    ("/dev/null", {"KAPACITOR_CONFIG_PATH": "/c.conf"}, None),
    (None, {"PUSHOVERD_CONFIG_PATH": "/dev/null", "KAPACITOR_CONFIG_PATH": "/c.conf"}, None),
    (None, {}, None),
])
def test_find_config_path(cli: str | None, env: dict[str, str], expected: str | None) -> None:
    assert find_config_path(cli, env) == expected


def test_load_dev_null_means_defaults() -> None:
    assert load(os.devnull, env={}).path is None


# --- paths -------------------------------------------------------------------------------------

def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    text = ('data_dir = "d"\n[load]\ndir = "../l"\n[logging]\nfile = "log/p.log"\n'
            '[pushoverd.store]\npath = "db/x.db"\n')
    (tmp_path / "etc").mkdir()
    c = load(write(tmp_path / "etc", text), env={}).config
    etc = tmp_path / "etc"
    assert c.data_dir == str(etc / "d") and c.load.dir == str(tmp_path / "l")
    assert c.logging.file == str(etc / "log" / "p.log")
    assert c.pushoverd.store.path == str(etc / "db" / "x.db")
    assert c.load.handlers_dir == str(tmp_path / "l" / "handlers")


def test_std_streams_and_absolute_paths_are_kept(tmp_path: Path) -> None:
    c = load_text(tmp_path, '[logging]\nfile = "STDOUT"\n[load]\ndir = "/abs/load"\n').config
    assert (c.logging.file, c.load.dir) == ("STDOUT", "/abs/load")
    assert c.pushoverd.store.path == str(tmp_path / "data" / "pushoverd.db")


# --- default config text -----------------------------------------------------------------------

def test_default_config_text_round_trips(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, default_config_text())
    assert loaded.ignored == []
    assert loaded.config == resolve_paths(Config(), str(tmp_path))


def test_default_config_text_comments_every_key() -> None:
    lines = default_config_text().splitlines()
    keys = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
    # top level (hostname, data_dir, skip-config-overrides), http (with auth and https),
    # logging (with format), load, config-override, pushover, public-url, store, delivery,
    # flood, receipts
    assert len(keys) == 3 + 8 + 3 + 2 + 1 + 4 + 1 + 5 + 12 + 3 + 1
    assert all(lines[i - 1].lstrip().startswith("#") for i in keys)
    assert all(len(line) <= 100 for line in lines)


# --- secrets -----------------------------------------------------------------------------------

def test_secrets_are_not_in_repr_or_str() -> None:
    c = load(str(DATA / "kapacitor-inputs.conf"), env={"PUSHOVERD_STORE_DSN": "postgres://u:pw@h/d"})
    for text in (repr(c.config), str(c.config), repr(c.config.pushover), str(c.config.pushoverd)):
        assert TOKEN not in text and USER not in text and "pw@" not in text
    assert c.config.secrets() == [TOKEN, USER, "postgres://u:pw@h/d"]
    assert Config().secrets() == []


def test_secrets_are_not_in_error_messages(tmp_path: Path) -> None:
    err = load_error(tmp_path, f'[pushover]\nenabled = true\ntoken = "{TOKEN}"\nuser-key = 7\n'
                               '[pushoverd.flood]\nrate = 0\n')
    assert "pushover.user-key: must be a string" in str(err)
    assert TOKEN not in str(err) and "7" not in str(err).split("user-key")[1].split("\n")[0]
    err = load_error(tmp_path, '[pushover]\ntoken = ["x-secret-x"]\n')
    assert "x-secret-x" not in str(err) and "pushover.token" in str(err)


# --- the package ---------------------------------------------------------------------------------

def test_public_names_are_re_exported() -> None:
    assert sorted(config_package.__all__) == sorted([
        "Config", "DeliveryConfig", "FloodConfig", "HTTPConfig", "LoadConfig", "LoadedConfig",
        "LoggingConfig", "PushoverConfig", "PushoverdConfig", "StoreConfig", "DEFAULT_PUSHOVER_URL",
        "default_config_text", "find_config_path", "load", "resolve_paths"])
    assert all(hasattr(config_package, name) for name in config_package.__all__)


@pytest.mark.parametrize(("module", "allowed"), [
    ("schema", set()),
    ("environment", {"schema"}),
    ("problems", {"schema"}),
    ("loading", {"schema", "environment", "problems"}),
    ("render", {"schema"}),
    ("overrides", {"schema"}),
])
def test_modules_depend_one_way(module: str, allowed: set[str]) -> None:
    source = Path(importlib.import_module(f"pushoverd.config.{module}").__file__ or "")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {node.module.removeprefix("pushoverd.config.") for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module
                and node.module.startswith("pushoverd.config")}
    assert imported <= allowed


def test_every_secret_field_is_handed_to_the_log_scrubber() -> None:
    env = {"KAPACITOR_PUSHOVER_TOKEN": TOKEN, "KAPACITOR_PUSHOVER_USER_KEY": USER,
           "PUSHOVERD_STORE_DSN": "postgres://u:pw@db/x"}
    assert sorted(load(None, env=env).config.secrets()) == sorted(env.values())
    assert load(None, env={}).config.secrets() == []


def test_receipts_are_polled_no_faster_than_pushover_allows(tmp_path: Path) -> None:
    assert load(None, env={}).config.pushoverd.receipts.poll_interval == 30.0
    conf = tmp_path / "k.conf"
    conf.write_text('[pushoverd.receipts]\n  poll-interval = "2s"\n')
    with pytest.raises(ConfigError, match=r"k.conf:2 pushoverd.receipts.poll-interval: "
                                          r"must be at least 5s"):
        load(str(conf), env={})


# --- [[httppost]], [config-override] -------------------------------------------------------------

HTTPPOST_CONF = '''
[[httppost]]
  endpoint = "hooks"
  url = "http://hooks.example/a"
  [httppost.basic-auth]
    username = "u"
    password = "p4ss"
'''


def test_httppost_elements_take_indexed_env_overrides(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(HTTPPOST_CONF)
    env = {"KAPACITOR_HTTPPOST_0_URL": "http://moved.example/b",
           "KAPACITOR_HTTPPOST_0_HEADERS_Authorization": "Bearer x",
           "KAPACITOR_HTTPPOST_0_BASIC_AUTH_PASSWORD": "n3w",
           "KAPACITOR_HTTPPOST_1_URL": "http://ignored.example/",  # no element 1: ignored
           "KAPACITOR_CONFIG_OVERRIDE_ENABLED": "false",
           "KAPACITOR_SKIP_CONFIG_OVERRIDES": "true"}
    c = load(str(conf), env=env).config
    [hooks] = c.httppost
    assert (hooks.url, hooks.headers) == ("http://moved.example/b", {"Authorization": "Bearer x"})
    assert hooks.basic_auth.password == "n3w" and "n3w" in c.secrets()
    assert c.config_override.enabled is False and c.skip_config_overrides is True
    assert "n3w" not in repr(c)


@pytest.mark.parametrize(("extra", "error"), [
    ('  alert-template = "{{.Message}}"\n', "k.conf:3 httppost.0.alert-template: "
     "alert-template is not supported by pushoverd"),
    ('  url = "http://h/{{.ID}}"\n', "URL templates are not supported"),
])
def test_httppost_templates_are_refused(tmp_path: Path, extra: str, error: str) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(f'[[httppost]]\n  endpoint = "e"\n{extra}' + (
        "" if "url" in extra else '  url = "http://h/"\n'))
    with pytest.raises(ConfigError, match=re.escape(error)):
        load(str(conf), env={})


def test_httppost_endpoints_must_be_unique_and_named(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text('[[httppost]]\n  endpoint = "e"\n  url = "http://h/"\n'
                    '[[httppost]]\n  endpoint = "e"\n  url = "http://h/"\n'
                    '[[httppost]]\n  url = "http://h/"\n')
    with pytest.raises(ConfigError) as refused:
        load(str(conf), env={})
    text = str(refused.value)
    assert "must specify endpoint name" in text


def test_httppost_renders_as_an_array_of_tables(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(HTTPPOST_CONF)
    text = config_text(load(str(conf), env={}).config)
    assert "[[httppost]]" in text and "[httppost.basic-auth]" in text and "p4ss" not in text
    assert tomllib.loads(text)["httppost"][0]["endpoint"] == "hooks"
