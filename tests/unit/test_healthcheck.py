"""``pushoverd healthcheck``: which URL it pings for a bind address, and what it makes of the
answer (against real servers on loopback, plain and TLS)."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushoverd import cli
from pushoverd.config.schema import HTTPConfig
from pushoverd.healthcheck import ping, ping_url


@pytest.mark.parametrize(("bind", "url"), [
    (":9092", "http://127.0.0.1:9092/kapacitor/v1/ping"),
    ("0.0.0.0:9100", "http://127.0.0.1:9100/kapacitor/v1/ping"),
    ("[::]:9092", "http://[::1]:9092/kapacitor/v1/ping"),
    ("10.1.2.3:80", "http://10.1.2.3:80/kapacitor/v1/ping"),
    ("[fd00::7]:9092", "http://[fd00::7]:9092/kapacitor/v1/ping"),
])
def test_the_ping_url_is_where_the_daemon_listens(bind: str, url: str) -> None:
    assert ping_url(HTTPConfig.model_validate({"bind-address": bind})) == url


class _Ping(http.server.BaseHTTPRequestHandler):
    status = 204
    paths: list[str] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    """A plain HTTP server on a free loopback port answering _Ping.status."""
    _Ping.status, _Ping.paths = 204, []
    with http.server.HTTPServer(("127.0.0.1", 0), _Ping) as srv:
        thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        yield srv
        srv.shutdown()


def _url(srv: http.server.HTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{srv.server_address[1]}/kapacitor/v1/ping"


def test_a_204_is_healthy(server: http.server.HTTPServer) -> None:
    assert ping(_url(server)) is None
    assert _Ping.paths == ["/kapacitor/v1/ping"]


def test_another_status_is_not(server: http.server.HTTPServer) -> None:
    _Ping.status = 503
    assert ping(_url(server)) == f"{_url(server)}: HTTP 503, expected 204"


def test_nothing_listening_is_not(server: http.server.HTTPServer) -> None:
    url = _url(server)
    server.shutdown()
    server.server_close()
    problem = ping(url)
    assert problem is not None and problem.startswith(f"{url}: ") and "refused" in problem


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl for a certificate")
def test_https_accepts_a_certificate_for_another_name(
        server: http.server.HTTPServer, tmp_path: Path) -> None:
    # The daemon's certificate names its public host; the check connects to loopback.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=alerts.example", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)

    assert ping(_url(server, "https")) is None
    assert ping(_url(server, "http")) is not None  # plain http to a TLS port is no answer


def test_the_command_pings_the_configured_address(
        server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PUSHOVERD_CONFIG_PATH", raising=False)
    monkeypatch.delenv("KAPACITOR_CONFIG_PATH", raising=False)
    monkeypatch.setenv("KAPACITOR_HTTP_BIND_ADDRESS", f"127.0.0.1:{server.server_address[1]}")
    assert cli.main(["healthcheck"]) == 0
    assert capsys.readouterr().out == f"ok: {_url(server)}\n"

    _Ping.status = 500
    assert cli.main(["healthcheck"]) == 1
    assert capsys.readouterr().err == f"unhealthy: {_url(server)}: HTTP 500, expected 204\n"


def test_the_command_reads_the_config_file(
        server: http.server.HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAPACITOR_HTTP_BIND_ADDRESS", raising=False)
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(f'[http]\n  bind-address = "127.0.0.1:{server.server_address[1]}"\n')
    assert cli.main(["healthcheck", "-config", str(conf)]) == 0


def test_a_bad_config_is_unhealthy_and_says_why(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PUSHOVERD_CONFIG_PATH", raising=False)
    monkeypatch.delenv("KAPACITOR_CONFIG_PATH", raising=False)
    monkeypatch.setenv("KAPACITOR_HTTP_BIND_ADDRESS", "nowhere")
    assert cli.main(["healthcheck"]) == 1
    assert "invalid http bind address nowhere" in capsys.readouterr().err
