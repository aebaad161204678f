"""``[http] auth-enabled`` and ``https-enabled`` through the real daemon, with the real
``kapacitor`` 1.5.7 CLI where it is built (``.kapacitor-bin/kapacitor`` or on PATH)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import jwt
import pytest
from tests.acceptance.daemon import Daemon, free_port, kapacitor_tool, write_config
from tests.certs import self_signed
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

SECRET = "an-acceptance-test-shared-secret-64-bytes-long-for-hs512-signing!"
PASSWORDS = {"alice": "alice-password", "reader": "reader-password"}
OPEN_API = "the HTTP API is open to the network"
HANDLER = """\
topic: cpu
id: pushover-cpu
kind: pushover
options:
  sound: siren
"""


def kapacitor_cli() -> str | None:
    found = kapacitor_tool("kapacitor")
    return str(found) if found else None


needs_cli = pytest.mark.skipif(kapacitor_cli() is None,
                               reason="the kapacitor 1.5.7 CLI is not in .kapacitor-bin/ or PATH")


def users_toml() -> str:
    """alice may do everything, reader only read; fast bcrypt hashes (cost 4) for the tests."""
    def user(name: str, permissions: str) -> str:
        hashed = bcrypt.hashpw(PASSWORDS[name].encode(), bcrypt.gensalt(4)).decode()
        return (f'[[pushoverd.users]]\n  name = "{name}"\n  password-hash = "{hashed}"\n'
                f"  permissions = {permissions}\n")
    return user("alice", '["all"]') + user("reader", '["read"]')


def with_http(path: Path, keys: str) -> Path:
    """The test config with ``keys`` added to its [http] table."""
    path.write_text(path.read_text().replace("[http]\n", f"[http]\n{keys}", 1))
    return path


def run_cli(url: str, *args: str, skip_verify: bool = False) -> subprocess.CompletedProcess[str]:
    cli = kapacitor_cli()
    assert cli is not None
    flags = ["-skipVerify"] if skip_verify else []
    return subprocess.run([cli, "-url", url, *flags, *args], capture_output=True, text=True,
                          timeout=30, env={"PATH": "/usr/bin:/bin"})


@pytest.fixture
def secured(tmp_path: Path, fake: FakePushover) -> Iterator[Daemon]:
    """A daemon with auth-enabled, two users and a shared secret."""
    port = free_port()
    config = with_http(write_config(tmp_path, fake.url, port, extra=users_toml()),
                       f'  auth-enabled = true\n  shared-secret = "{SECRET}"\n')
    daemon = Daemon(config, port, auth=("alice", PASSWORDS["alice"])).start()
    yield daemon
    daemon.stop()


def token(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS512")


# --- basic auth with the real CLI --------------------------------------------------------------

@needs_cli
def test_the_kapacitor_cli_works_with_basic_auth_in_its_url(secured: Daemon,
                                                            tmp_path: Path) -> None:
    url = f"http://alice:{PASSWORDS['alice']}@127.0.0.1:{secured.port}"
    handler = tmp_path / "handler.yaml"
    handler.write_text(HANDLER)
    defined = run_cli(url, "define-topic-handler", str(handler))
    assert defined.returncode == 0, defined.stderr
    assert secured.post_alert("cpu", {"id": "a", "message": "m", "level": "CRITICAL",
                                      "time": "2026-01-01T00:00:00Z", "data": {}}).status_code
    listed = run_cli(url, "list", "topics")
    assert listed.returncode == 0 and "cpu" in listed.stdout, listed.stderr
    shown = secured.call("GET", "/kapacitor/v1/alerts/topics/cpu/handlers/pushover-cpu").json()
    assert shown["options"] == {"sound": "siren"}
    log = secured.log()
    assert 'username=alice' in log and PASSWORDS["alice"] not in log


@needs_cli
def test_the_cli_with_a_wrong_password_is_refused(secured: Daemon) -> None:
    url = f"http://alice:Gu3ssedPassw0rd@127.0.0.1:{secured.port}"
    listed = run_cli(url, "list", "topics")
    assert listed.returncode != 0 and "authorization failed" in listed.stderr + listed.stdout
    log = secured.log()
    assert "authentication failed" in log and "username=alice" in log
    assert "Gu3ssedPassw0rd" not in log


@needs_cli
def test_a_read_only_user_cannot_define_a_handler(secured: Daemon, tmp_path: Path) -> None:
    url = f"http://reader:{PASSWORDS['reader']}@127.0.0.1:{secured.port}"
    handler = tmp_path / "handler.yaml"
    handler.write_text(HANDLER)
    defined = run_cli(url, "define-topic-handler", str(handler))
    assert defined.returncode != 0
    assert 'does not have "write" privilege' in defined.stderr + defined.stdout
    assert run_cli(url, "list", "topics").returncode == 0
    handlers = secured.call("GET", "/kapacitor/v1/alerts/topics/cpu/handlers")
    assert handlers.status_code == 404 or handlers.json()["handlers"] == []


def test_wrong_password_and_read_only_over_http(secured: Daemon) -> None:
    wrong = secured.call("GET", "/kapacitor/v1/alerts/topics", auth=("alice", "nope"))
    assert wrong.status_code == 401
    assert wrong.content == b'{"error":"authorization failed","message":"authorization failed"}'
    assert secured.call("GET", "/kapacitor/v1/alerts/topics", auth=None).status_code == 401
    body = {"id": "h", "kind": "log", "options": {"path": "/tmp/x"}}
    refused = secured.call("POST", "/kapacitor/v1/alerts/topics/cpu/handlers", json=body,
                           auth=("reader", PASSWORDS["reader"]))
    assert refused.status_code == 403
    assert httpx.get(f"{secured.url}/kapacitor/v1/ping").status_code == 204  # open


# --- bearer tokens -----------------------------------------------------------------------------

def test_a_token_signed_with_the_shared_secret_works_until_it_expires(secured: Daemon) -> None:
    good = token({"username": "alice", "exp": int(time.time()) + 300})
    ok = secured.call("GET", "/kapacitor/v1/alerts/topics", auth=None,
                      headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200
    expired = token({"username": "alice", "exp": int(time.time()) - 10})
    refused = secured.call("GET", "/kapacitor/v1/alerts/topics", auth=None,
                           headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid token: Token is expired"
    assert SECRET not in secured.log()


# --- TLS ---------------------------------------------------------------------------------------

@pytest.fixture
def tls_daemon(tmp_path: Path, fake: FakePushover) -> Iterator[tuple[Daemon, Path]]:
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = with_http(write_config(tmp_path, fake.url, port),
                       f'  https-enabled = true\n  https-certificate = "{cert}"\n'
                       f'  https-private-key = "{key}"\n')
    trust = ssl.create_default_context(cafile=str(cert))
    daemon = Daemon(config, port, scheme="https", verify=trust).start()
    yield daemon, cert
    daemon.stop()


def test_https_serves_with_the_configured_certificate(tls_daemon: tuple[Daemon, Path]) -> None:
    daemon, cert = tls_daemon
    ping = httpx.get(f"{daemon.url}/kapacitor/v1/ping",
                     verify=ssl.create_default_context(cafile=str(cert)))
    assert ping.status_code == 204 and ping.http_version == "HTTP/1.1"
    with pytest.raises(httpx.ConnectError):  # not trusted without the certificate
        httpx.get(f"{daemon.url}/kapacitor/v1/ping")
    with pytest.raises(httpx.RemoteProtocolError):  # and no plain HTTP on that port
        httpx.get(f"http://127.0.0.1:{daemon.port}/kapacitor/v1/ping")
    assert "protocol=https" in daemon.log()


def test_the_image_healthcheck_pings_the_https_daemon_its_config_describes(
        tls_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = tls_daemon
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPACITOR_", "PUSHOVERD_"))}
    checked = subprocess.run([sys.executable, "-m", "pushoverd", "healthcheck", "-config",
                              str(daemon.config)], env=env, capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_cli
def test_the_cli_talks_https_with_skip_verify(tls_daemon: tuple[Daemon, Path]) -> None:
    daemon, _ = tls_daemon
    listed = run_cli(daemon.url, "list", "topics", skip_verify=True)
    assert listed.returncode == 0, listed.stderr
    assert run_cli(daemon.url, "list", "topics").returncode != 0  # verification on: refused


def test_a_missing_certificate_stops_the_start_in_one_line(tmp_path: Path,
                                                           fake: FakePushover) -> None:
    port = free_port()
    config = with_http(write_config(tmp_path, fake.url, port),
                       f'  https-enabled = true\n  https-certificate = "{tmp_path}/nope.pem"\n')
    daemon = Daemon(config, port, scheme="https", verify=False)
    with pytest.raises(AssertionError, match="daemon exited") as caught:
        daemon.start()
    assert daemon.stop() == 1
    lines = [line for line in str(caught.value).splitlines() if "nope.pem" in line]
    assert len(lines) == 1 and "No such file or directory" in lines[0]


# --- the open-API warning ----------------------------------------------------------------------

@pytest.mark.parametrize(("bind", "warned"), [(":{port}", True), ("127.0.0.1:{port}", False)])
def test_an_open_api_beyond_loopback_is_warned_about(tmp_path: Path, fake: FakePushover,
                                                     bind: str, warned: bool) -> None:
    port = free_port()
    config = write_config(tmp_path, fake.url, port)
    config.write_text(config.read_text().replace(f'"127.0.0.1:{port}"',
                                                 f'"{bind.format(port=port)}"'))
    daemon = Daemon(config, port).start()
    try:
        assert (OPEN_API in daemon.log()) is warned
        assert daemon.log().count(OPEN_API) <= 1
    finally:
        daemon.stop()


def test_env_overrides_turn_auth_on(tmp_path: Path, fake: FakePushover,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    config = write_config(tmp_path, fake.url, port)
    # Daemon.start drops KAPACITOR_* from its environment: start the process by hand.
    env = {"PATH": "/usr/bin:/bin", "KAPACITOR_HTTP_AUTH_ENABLED": "true",
           "KAPACITOR_HTTP_SHARED_SECRET": SECRET}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "pushoverd", "-config", str(config)], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    daemon = Daemon(config, port)
    daemon.proc = proc
    try:
        deadline = time.monotonic() + 15
        while "listening" not in daemon.log() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        assert daemon.call("GET", "/kapacitor/v1/alerts/topics").status_code == 401
        good = token({"username": "anyone", "exp": int(time.time()) + 60})
        ok = daemon.call("GET", "/kapacitor/v1/alerts/topics",
                         headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200
        assert SECRET not in daemon.log()
    finally:
        daemon.stop()

