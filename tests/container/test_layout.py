"""The image, run without an engine: its files built under a folder standing for ``/``
(tests/container/layout.py), then its ENTRYPOINT and CMD run with exactly its ENV plus
environment-only Pushover settings, as its USER when this test runs as root; its HEALTHCHECK
command run as the Dockerfile states it.

What differs from ``docker run``, and why: the data folder and the venv sit under a temporary
root (moved through the same variables the image sets), and the daemon binds a free loopback
port (``-e KAPACITOR_HTTP_BIND_ADDRESS``, as a second container on one host would) rather than
9092, which another test may hold.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.acceptance.daemon import free_port
from tests.conftest import TOKEN, USER
from tests.container import layout
from tests.fakes.pushover import FakePushover

pytestmark = pytest.mark.e2e

AS_ROOT = os.geteuid() == 0
USER_IDS = layout.runtime_user() if AS_ROOT else None
"""Who runs the image's commands: its USER when we are root, else this process's user."""


@pytest.fixture(scope="module")
def image() -> Iterator[layout.Layout]:
    """The image's files, built once for this module."""
    python = layout.interpreter(USER_IDS)
    if python is None:
        pytest.skip(f"no Python {sys.version_info[:2]} that uid {USER_IDS} can run")
    # Not under pytest's tmp folder: that is private to us, and the image's user must get in.
    root = Path(tempfile.mkdtemp(prefix="pushoverd-image-"))
    root.chmod(0o755)
    try:
        yield layout.build(root, python, USER_IDS)
    finally:
        shutil.rmtree(root)


def _ids() -> dict[str, object]:
    return {"user": USER_IDS[0], "group": USER_IDS[1], "extra_groups": []} if USER_IDS else {}


def _run_env(image: layout.Layout, fake: FakePushover, port: int) -> dict[str, str]:
    """The image's ENV and what ``docker run -e`` would add: Pushover settings, the port."""
    return {**image.env(),
            "KAPACITOR_PUSHOVER_ENABLED": "true",
            "KAPACITOR_PUSHOVER_TOKEN": TOKEN,
            "KAPACITOR_PUSHOVER_USER_KEY": USER,
            "KAPACITOR_PUSHOVER_URL": fake.url,
            "KAPACITOR_HTTP_BIND_ADDRESS": f"127.0.0.1:{port}"}


def _command(image: layout.Layout, argv: list[str], env: dict[str, str]) -> list[str]:
    return [image.which(argv[0], env), *argv[1:]]


def _healthcheck(image: layout.Layout, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    _, argv = layout.stages()[1].healthcheck()
    return subprocess.run(_command(image, argv, env), env=env, cwd="/", capture_output=True,
                          text=True, timeout=30, **_ids())  # type: ignore[call-overload]


def _wait_for_ping(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the image's command exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{url}/kapacitor/v1/ping", timeout=0.5).status_code == 204:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"no ping within 30 s: {log.read_text()}")


def test_the_image_runs_from_its_cmd_with_environment_only_config(
        image: layout.Layout, fake: FakePushover, tmp_path: Path) -> None:
    runtime = layout.stages()[1]
    port, log = free_port(), tmp_path / "stderr.log"
    env = _run_env(image, fake, port)
    argv = runtime.entrypoint() + runtime.cmd()
    assert not {"PUSHOVERD_CONFIG_PATH", "KAPACITOR_CONFIG_PATH"} & env.keys()
    assert "-config" not in argv and "--config" not in argv

    with open(log, "wb") as stderr:
        proc = subprocess.Popen(_command(image, argv, env), env=env, cwd="/",
                                stdout=subprocess.DEVNULL, stderr=stderr, **_ids())  # type: ignore[call-overload]
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(proc, url, log)
        health = _healthcheck(image, env)
        assert (health.returncode, health.stdout) == (0, f"ok: {url}/kapacitor/v1/ping\n")

        handler = {"id": "oncall", "kind": "pushover", "options": {"title": "from the image"}}
        created = httpx.post(f"{url}/kapacitor/v1/alerts/topics/cpu/handlers", json=handler)
        assert created.status_code == 200, created.text
        alert = {"id": "cpu:host=a", "level": "CRITICAL", "message": "cpu:host=a is CRITICAL",
                 "time": "2026-11-23T07:00:00Z"}
        assert httpx.post(f"{url}/kapacitor/v1/alerts/topics/cpu/events",
                          json=alert).status_code == 204
        (sent,) = fake.wait_for(1)
        assert {k: sent.form[k] for k in ("token", "user", "title", "message", "priority")} == {
            "token": TOKEN, "user": USER, "title": "from the image",
            "message": "cpu:host=a is CRITICAL", "priority": "1"}
    finally:
        proc.send_signal(signal.SIGTERM)  # docker stop
        code = proc.wait(30)
    assert code == 0, log.read_text()

    text = log.read_text()
    assert 'msg="starting pushoverd"' in text and "config=-" in text  # no file was read
    assert "open to other users" not in text
    assert TOKEN not in text and USER not in text
    _assert_private_data(image, env)
    assert not list(image.path("/etc/pushoverd").rglob("*.conf"))

    stopped = _healthcheck(image, env)
    assert stopped.returncode == 1 and stopped.stderr.startswith(f"unhealthy: {url}/")


def _assert_private_data(image: layout.Layout, env: dict[str, str]) -> None:
    """The data folder is the volume's, private and the image user's, and holds the store."""
    data = Path(env["KAPACITOR_DATA_DIR"])
    (volume,) = layout.stages()[1].volumes()
    assert data == image.path(volume)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    database = data / "pushoverd.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    if USER_IDS:
        assert (data.stat().st_uid, data.stat().st_gid) == USER_IDS
        assert database.stat().st_uid == USER_IDS[0]


def test_the_venv_holds_the_project_and_only_its_runtime_dependencies(
        image: layout.Layout) -> None:
    python = image.path(image.prefix) / "bin" / "python"
    probe = ("import importlib.util as u, pushoverd, sys; print(pushoverd.__file__); "
             "print(all(u.find_spec(m) is None for m in ('pytest', 'respx', 'ruff')))")
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                          check=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    where, no_test_tools = done.stdout.splitlines()
    assert where.startswith(str(image.path(image.prefix)) + "/")
    assert no_test_tools == "True"
    store_sql = Path(where).parent / "store" / "sql"
    assert sorted(store_sql.glob("*.sql")), "the wheel lacks store/sql (package data)"
