"""``pushoverd healthcheck``: is the daemon this config describes answering its ping?

It asks ``/kapacitor/v1/ping`` on the ``[http] bind-address`` of the same config (file and
environment) the daemon reads, so a container's HEALTHCHECK needs no curl and follows a
changed port. Ping is never authenticated, so only http or https matters here.
"""

from __future__ import annotations

import http.client
import ssl

from pushoverd.config.schema import HTTPConfig

__all__ = ["PING_PATH", "TIMEOUT", "ping", "ping_url"]

PING_PATH = "/kapacitor/v1/ping"
TIMEOUT = 2.0
"""Seconds to wait for the answer; the image's HEALTHCHECK allows 5 s for the whole command."""

# A wildcard bind answers on loopback; a named host is asked where it listens.
_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def ping_url(http_config: HTTPConfig) -> str:
    """The ping URL of a daemon with this ``[http]`` section."""
    scheme = "https" if http_config.https_enabled else "http"
    host = _LOOPBACK.get(http_config.host, http_config.host)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{http_config.port}{PING_PATH}"


def ping(url: str, timeout: float = TIMEOUT) -> str | None:
    """``None`` when ``url`` answers 204, else why not, in one line."""
    scheme, _, rest = url.partition("://")
    address, _, path = rest.partition("/")
    try:
        connection = _connection(scheme, address, timeout)
        try:
            connection.request("GET", f"/{path}")
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as exc:
        return f"{url}: {exc or type(exc).__name__}"
    return None if status == 204 else f"{url}: HTTP {status}, expected 204"


def _connection(scheme: str, address: str, timeout: float) -> http.client.HTTPConnection:
    # http.client rather than urllib: no proxy from the environment, no redirects followed.
    if scheme != "https":
        return http.client.HTTPConnection(address, timeout=timeout)
    # The certificate names the public host, not loopback; only liveness is checked here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(address, timeout=timeout, context=context)
