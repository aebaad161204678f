"""Runs the real daemon as a subprocess on a free loopback port, for acceptance tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.conftest import TOKEN, USER


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, pushover_url: str, port: int, load_dir: Path | None = None,
                 extra: str = "") -> Path:
    """A kapacitor.conf for a test daemon."""
    load = f'[load]\n  enabled = true\n  dir = "{load_dir}"\n' if load_dir else ""
    path = folder / "kapacitor.conf"
    path.write_text(
        f'data_dir = "{folder / "data"}"\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  shutdown-timeout = "5s"\n'
        f'[logging]\n  file = "{folder / "pushoverd.log"}"\n  level = "DEBUG"\n'
        f'{load}'
        f'[pushover]\n  enabled = true\n  token = "{TOKEN}"\n  user-key = "{USER}"\n'
        f'  url = "{pushover_url}"\n'
        f'[pushoverd.delivery]\n  poll-interval = "100ms"\n{extra}')
    return path


class Daemon:
    """``pushoverd -config PATH`` as a child process."""

    def __init__(self, config: Path, port: int, *, scheme: str = "http",
                 verify: bool | ssl.SSLContext = True,
                 auth: tuple[str, str] | None = None) -> None:
        """``scheme``/``verify`` for an HTTPS daemon (``verify``: a context trusting its cert);
        ``auth``: the (user, password) every request but ping sends."""
        self.config, self.port = config, port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.verify, self.auth = verify, auth
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Daemon:
        """Start and wait until ping answers 204."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KAPACITOR_", "PUSHOVERD_"))}
        argv = [sys.executable, "-m", "pushoverd", "-config", str(self.config)]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited: {self.proc.stderr.read().decode()}")
            try:
                ping = httpx.get(f"{self.url}/kapacitor/v1/ping", timeout=0.5,
                                 verify=self.verify)  # open even with auth-enabled
                if ping.status_code == 204:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("daemon did not answer ping in time")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc.stderr.close()
        return code

    def post_alert(self, topic: str, body: str | dict[str, object]) -> httpx.Response:
        """POST one alert (JSON text or an object) to ``topic``, as Kapacitor's post handler."""
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.post(f"{self.url}/kapacitor/v1/alerts/topics/{topic}/events",
                          content=content, headers={"Content-Type": "application/json"},
                          verify=self.verify, auth=self.auth)

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """One request to the daemon's API."""
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("auth", self.auth)
        return httpx.request(method, f"{self.url}{path}", timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def wait_for_delivery(self, delivery_id: int, status: str,
                          timeout: float = 15.0) -> dict[str, object]:
        """Poll ``/pushoverd/v1/deliveries/{id}`` until it has ``status``."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.call("GET", f"/pushoverd/v1/deliveries/{delivery_id}").json()
            if shown["status"] == status:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"delivery {delivery_id} is {shown['status']}, not {status}")
            time.sleep(0.05)

    def log(self) -> str:
        """The daemon's log file so far."""
        path = self.config.parent / "pushoverd.log"
        return path.read_text() if path.exists() else ""


def captured_post_bodies() -> list[str]:
    """The bodies Kapacitor 1.5.7's post topic handler sent (INFO, WARNING, CRITICAL, OK)."""
    path = Path(__file__).parent.parent / "data" / "post_handler_topic_bodies.jsonl"
    return [json.loads(line)["body"] for line in path.read_text().splitlines()]


KAPACITOR_FOLDER = Path(__file__).parent.parent / "data" / "kapacitor-folder"
"""A folder of Kapacitor topic-handler files using match, templates and every plumbing kind."""


def kapacitor_folder(dest: Path, receiver_url: str, log_path: Path) -> Path:
    """KAPACITOR_FOLDER copied to ``dest``, its two machine-specific values (``@RECEIVER@``,
    ``@LOG_PATH@``) filled in and nothing else changed; the ``[load] dir`` to use."""
    handlers = dest / "handlers"
    handlers.mkdir(parents=True)
    for source in sorted((KAPACITOR_FOLDER / "handlers").iterdir()):
        text = source.read_text().replace("@RECEIVER@", receiver_url)
        (handlers / source.name).write_text(text.replace("@LOG_PATH@", str(log_path)))
    return dest


def kapacitor_tool(name: str) -> Path | None:
    """Real Kapacitor 1.5.7's ``kapacitor`` or ``kapacitord``: the repository's git-ignored
    ``.kapacitor-bin/`` (README, "Testing against real Kapacitor"), else the PATH; None when
    neither has it (the tests that need it skip)."""
    built = Path(__file__).parents[2] / ".kapacitor-bin" / name
    found = built if built.exists() else shutil.which(name)
    return Path(found) if found else None
