"""Config for authentication and TLS: ``[http] auth-enabled``, ``shared-secret``, ``https-*``
and ``[[pushoverd.users]]``; errors name file, line and key; secrets stay hidden."""

from __future__ import annotations

import io
import logging
import shutil
import ssl
import subprocess
from pathlib import Path

import bcrypt
import pytest
from tests.certs import self_signed

from pushoverd import cli
from pushoverd.api.tls import server_context
from pushoverd.app import exposure_warnings, is_loopback
from pushoverd.config import HTTPConfig, LoadedConfig, load
from pushoverd.config.render import config_text
from pushoverd.errors import ConfigError, StartupError
from pushoverd.logs import LogfmtFormatter

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
SECRET = "the-shared-secret-0123456789abcdef"


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> LoadedConfig:
    path = tmp_path / "pushoverd.conf"
    path.write_text(text)
    return load(str(path), env=env or {})


def load_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env)
    return info.value


def user(name: str = "alice", password_hash: str = HASH, permissions: str = '["all"]') -> str:
    return (f'[[pushoverd.users]]\nname = "{name}"\npassword-hash = "{password_hash}"\n'
            f"permissions = {permissions}\n")


AUTH_ON = "[http]\nauth-enabled = true\n"


def test_users_and_auth_load(tmp_path: Path) -> None:
    c = load_text(tmp_path, AUTH_ON + f'shared-secret = "{SECRET}"\n' + user() +
                  user("bob", permissions='["read", "write"]') + user("carol", permissions="[]"
                  ).replace("permissions = []\n", "")).config
    assert c.http.auth_enabled and c.http.shared_secret == SECRET
    assert [(u.name, u.permissions) for u in c.pushoverd.users] == [
        ("alice", ["all"]), ("bob", ["read", "write"]), ("carol", ["read"])]


def test_auth_without_users_or_secret_names_the_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "hostname = 'h'\n" + AUTH_ON)
    assert err.key == "http.auth-enabled" and err.line == 3
    assert "[[pushoverd.users]]" in str(err) and "shared-secret" in str(err)
    assert load_text(tmp_path, AUTH_ON + f'shared-secret = "{SECRET}"\n').config.http.auth_enabled
    assert load_text(tmp_path, AUTH_ON + user()).config.http.auth_enabled


def test_auth_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "", {"KAPACITOR_HTTP_AUTH_ENABLED": "true"})
    assert str(err).startswith("KAPACITOR_HTTP_AUTH_ENABLED: needs at least one")


def test_env_overrides_set_auth_and_tls(tmp_path: Path) -> None:
    env = {"KAPACITOR_HTTP_AUTH_ENABLED": "true", "KAPACITOR_HTTP_SHARED_SECRET": SECRET,
           "KAPACITOR_HTTP_HTTPS_ENABLED": "1",
           "KAPACITOR_HTTP_HTTPS_CERTIFICATE": "/etc/pki/cert.pem",
           "KAPACITOR_HTTP_HTTPS_PRIVATE_KEY": "/etc/pki/key.pem"}
    http = load_text(tmp_path, "", env).config.http
    assert (http.auth_enabled, http.shared_secret, http.https_enabled) == (True, SECRET, True)
    assert (http.https_certificate, http.https_private_key) == ("/etc/pki/cert.pem",
                                                                "/etc/pki/key.pem")


def test_a_bad_boolean_variable_names_the_variable(tmp_path: Path) -> None:
    err = load_error(tmp_path, "", {"KAPACITOR_HTTP_AUTH_ENABLED": "maybe"})
    assert "KAPACITOR_HTTP_AUTH_ENABLED" in str(err) and "boolean" in str(err)


@pytest.mark.parametrize(("bad", "key", "message"), [
    (user(password_hash="hunter2"), "password-hash", "must be a bcrypt hash"),
    (user(password_hash="$2b$12$tooshort"), "password-hash", "must be a bcrypt hash"),
    (user(permissions='["read", "admin"]'), "permissions", 'unknown permission "admin"'),
    (user(permissions="[]"), "permissions", "at least one"),
    (user(name=""), "name", "non-empty name"),
    (user(name="a:b"), "name", "without ':'"),
])
def test_bad_users_name_file_line_and_key(tmp_path: Path, bad: str, key: str,
                                          message: str) -> None:
    text = user("first") + bad.replace('name = "alice"', 'name = "second"', 1)
    err = load_error(tmp_path, text)
    assert err.key == f"pushoverd.users.1.{key}" and message in str(err)
    assert err.file == str(tmp_path / "pushoverd.conf")
    assert text.splitlines()[err.line - 1].startswith(key)  # type: ignore[operator]
    assert err.line > 4  # in the second table, not the first  # type: ignore[operator]
    assert "hunter2" not in str(err)


def test_duplicate_user_names_are_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, user() + user())
    assert err.key == "pushoverd.users" and err.line == 1
    assert 'duplicate names: "alice"' in str(err)


def test_unknown_user_keys_are_errors(tmp_path: Path) -> None:
    err = load_error(tmp_path, user() + 'password = "plain"\n')
    assert err.key == "pushoverd.users.0.password" and "unknown key" in str(err)


def test_secrets_are_redacted_from_config_output_and_logs(tmp_path: Path) -> None:
    c = load_text(tmp_path, AUTH_ON + f'shared-secret = "{SECRET}"\n' + user()).config
    assert SECRET in c.secrets() and HASH in c.secrets()
    text = config_text(c)
    assert SECRET not in text and HASH not in text and text.count("[REDACTED]") == 2
    assert SECRET not in repr(c) and HASH not in repr(c)
    line = LogfmtFormatter(c.secrets()).format(logging.makeLogRecord(
        {"msg": f"oops {SECRET} {HASH}"}))
    assert SECRET not in line and HASH not in line


def test_relative_certificate_paths_are_resolved_against_the_file(tmp_path: Path) -> None:
    http = load_text(tmp_path, '[http]\nhttps-certificate = "tls/c.pem"\n').config.http
    assert http.https_certificate == str(tmp_path / "tls" / "c.pem")
    assert http.https_private_key == ""  # empty: the key is in the certificate file


def test_the_default_config_shows_an_example_user(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "-config", "/dev/null"]) == 0
    out = capsys.readouterr().out
    assert "# [[pushoverd.users]]" in out and "auth-enabled = false" in out


# --- TLS context -------------------------------------------------------------------------------

def test_the_context_loads_a_certificate_with_its_key_in_either_file(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    assert isinstance(server_context(str(cert), str(key)), ssl.SSLContext)
    both = tmp_path / "both.pem"
    both.write_text(cert.read_text() + key.read_text())
    assert isinstance(server_context(str(both)), ssl.SSLContext)  # key falls back to the cert


def test_unloadable_certificates_are_one_line_startup_errors(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(StartupError) as missing:
        server_context(str(tmp_path / "nope.pem"))
    assert "No such file or directory" in str(missing.value) and "\n" not in str(missing.value)
    with pytest.raises(StartupError) as no_key:
        server_context(str(cert))  # the key is elsewhere
    assert "https-private-key" in str(no_key.value) and "\n" not in str(no_key.value)


def test_an_encrypted_key_is_refused_without_a_prompt(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to encrypt a key")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-passout", "pass:abcd", "-days", "1",
                    "-subj", "/CN=x", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    with pytest.raises(StartupError, match="encrypted"):
        server_context(str(cert), str(key))


# --- exposure warnings -------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "local"), [
    ("", False), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("example.com", False), ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
    ("localhost", True),
])
def test_loopback_hosts(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_an_open_api_off_loopback_is_warned_about_once() -> None:
    assert len(exposure_warnings(HTTPConfig(bind_address=":9092"))) == 1
    assert exposure_warnings(HTTPConfig(bind_address="127.0.0.1:9092")) == []
    secured = HTTPConfig(bind_address=":9092", auth_enabled=True, https_enabled=True,
                         shared_secret=SECRET)
    assert exposure_warnings(secured) == []
    clear = exposure_warnings(HTTPConfig(bind_address=":9092", auth_enabled=True))
    assert len(clear) == 1 and "clear text" in clear[0]
    short = exposure_warnings(HTTPConfig(bind_address="127.0.0.1:1", auth_enabled=True,
                                         shared_secret="s3cr"))
    assert len(short) == 1 and "32 bytes" in short[0] and "s3cr" not in short[0]


# --- hash-password -----------------------------------------------------------------------------

def test_hash_password_prints_a_hash_of_stdin(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    monkeypatch.setattr("pushoverd.cli.hash_password",
                        lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
    assert cli.main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    hashed = out.strip()
    assert bcrypt.checkpw(b"correct horse", hashed.encode()) and out.count("\n") == 1
    assert "correct horse" not in out + err


def test_hash_password_uses_the_real_default_cost(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pw"))
    assert cli.main(["hash-password"]) == 0
    assert capsys.readouterr().out.startswith("$2b$12$")


def test_hash_password_asks_twice_without_echo_on_a_terminal(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["one", "two"])
    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert cli.main(["hash-password"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "differ" in err and "one" not in err


@pytest.mark.parametrize(("stdin", "message"), [("\n", "empty"), ("x" * 80 + "\n", "72 bytes")])
def test_hash_password_refuses_what_bcrypt_cannot_use(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str,
        message: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert cli.main(["hash-password"]) == 1
    assert message in capsys.readouterr().err
