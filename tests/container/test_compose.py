"""docker-compose.yml's wiring, read without an engine: Kapacitor's post handler reaches
pushoverd's service, port and topic; pushoverd's data is a named volume at the image's VOLUME;
the handler files it mounts load with pushoverd's own loader; the secrets come from .env.

With real kapacitord 1.5.7 in .kapacitor-bin/, the example also runs: kapacitord with the
compose file's environment over a config like its image's, and its load folder; pushoverd
with the handler files compose mounts; a point written to Kapacitor reaches the fake Pushover.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from tests.acceptance.daemon import Daemon, free_port, kapacitor_tool, write_config
from tests.container import layout
from tests.fakes.pushover import FakePushover

from pushoverd import cli
from pushoverd.config.schema import HTTPConfig
from pushoverd.topics.files import load_dir

REPO = layout.REPO
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
IMAGE_ENV = layout.stages()[1].env(layout.BASE_ENV)
KAPACITORD = kapacitor_tool("kapacitord")


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def _mounts(service: str) -> dict[str, str]:
    """Container path -> source (a named volume, or a path relative to the repository)."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts[target] = source
    return mounts


def _folder(source: str) -> Path:
    assert source.startswith("./"), f"{source} is not a folder of this repository"
    return REPO / source


def _pushoverd_env() -> dict[str, str]:
    return {**IMAGE_ENV, **_env("pushoverd")}


def _post_handlers() -> list[tuple[str, str]]:
    """(topic, url) of each post handler file Kapacitor loads."""
    load = _folder(_mounts("kapacitor")[_env("kapacitor")["KAPACITOR_LOAD_DIR"]])
    result = load_dir(load / "handlers")
    assert result.errors == [] and result.specs, "Kapacitor's handler files must load"
    return [(spec.topic, spec.options["url"]) for spec, _ in result.specs if spec.kind == "post"]


def test_the_services_are_kapacitor_1_5_7_and_pushoverd_built_here() -> None:
    assert set(SERVICES) == {"kapacitor", "pushoverd"}
    assert SERVICES["kapacitor"]["image"] == "kapacitor:1.5.7"
    assert SERVICES["pushoverd"]["build"] == "."
    assert (REPO / "Dockerfile").exists()


def test_kapacitor_posts_to_pushoverds_service_port_and_path() -> None:
    bind = _pushoverd_env().get("KAPACITOR_HTTP_BIND_ADDRESS", HTTPConfig().bind_address)
    posts = _post_handlers()
    assert posts
    for topic, url in posts:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("http", "pushoverd",
                                                              int(bind.rpartition(":")[2]))
        assert parts.path == f"/kapacitor/v1/alerts/topics/{topic}/events"


def test_pushoverd_has_a_pushover_handler_on_each_topic_kapacitor_posts_to() -> None:
    load = _folder(_mounts("pushoverd")[IMAGE_ENV["KAPACITOR_LOAD_DIR"] + "/handlers"])
    result = load_dir(load)
    assert result.errors == []
    pushover_topics = {spec.topic for spec, _ in result.specs if spec.kind == "pushover"}
    assert {topic for topic, _ in _post_handlers()} <= pushover_topics


def test_pushoverds_handler_files_pass_pushoverd_check(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    handlers = _folder(_mounts("pushoverd")[IMAGE_ENV["KAPACITOR_LOAD_DIR"] + "/handlers"])
    for name in ("PUSHOVERD_CONFIG_PATH", "KAPACITOR_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    for key, value in {**_pushoverd_env(), "KAPACITOR_LOAD_DIR": str(handlers.parent),
                       "KAPACITOR_PUSHOVER_TOKEN": "t" * 30,
                       "KAPACITOR_PUSHOVER_USER_KEY": "u" * 30}.items():
        if key.startswith(("KAPACITOR_", "PUSHOVERD_")):
            monkeypatch.setenv(key, value)
    assert cli.main(["check"]) == 0, capsys.readouterr().err


def test_pushoverds_data_is_a_named_volume_at_the_images_volume() -> None:
    (volume,) = layout.stages()[1].volumes()
    source = _mounts("pushoverd")[volume]
    assert not source.startswith((".", "/")) and source in COMPOSE["volumes"]


def test_the_secrets_come_from_dot_env_and_are_not_in_the_file() -> None:
    env = _env("pushoverd")
    example = (REPO / ".env.example").read_text()
    for key in ("KAPACITOR_PUSHOVER_TOKEN", "KAPACITOR_PUSHOVER_USER_KEY"):
        match = re.fullmatch(r"\$\{(\w+):\?[^}]+\}", env[key])
        assert match, f"{key} must be ${{NAME:?message}} from .env, not {env[key]!r}"
        assert re.search(rf"^{match.group(1)}=$", example, re.M)
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def test_both_have_healthchecks_and_kapacitor_waits_for_pushoverd() -> None:
    assert "healthcheck" not in SERVICES["pushoverd"]  # the image's: pushoverd healthcheck
    assert layout.stages()[1].healthcheck()[1] == ["pushoverd", "healthcheck"]
    test = SERVICES["kapacitor"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[-1].endswith(":9092/kapacitor/v1/ping")
    assert SERVICES["kapacitor"]["depends_on"]["pushoverd"]["condition"] == "service_healthy"


# The example, run with real kapacitord --------------------------------------------------

IMAGE_CONFIG = """data_dir = "{folder}"
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[replay]
  dir = "{folder}/replay"
[storage]
  boltdb = "{folder}/kapacitor.db"
[task]
  dir = "{folder}/tasks"
[[influxdb]]
  enabled = true
  name = "localhost"
  urls = ["http://127.0.0.1:1"]
[logging]
  file = "{folder}/kapacitord.log"
  level = "INFO"
[reporting]
  enabled = false
[stats]
  enabled = false
"""
"""The kapacitor image's config as far as this example cares (an [[influxdb]] it must turn
off), on this machine's paths and loopback; reporting off so nothing leaves the host."""


@pytest.mark.e2e
@pytest.mark.skipif(KAPACITORD is None,
                    reason="real kapacitord not in .kapacitor-bin/ or PATH (see README)")
def test_a_point_written_to_kapacitor_reaches_pushover(
        fake: FakePushover, tmp_path: Path) -> None:
    pushoverd_port, kapacitor_port = free_port(), free_port()
    handlers = _folder(_mounts("pushoverd")[IMAGE_ENV["KAPACITOR_LOAD_DIR"] + "/handlers"])
    daemon = Daemon(write_config(tmp_path, fake.url, pushoverd_port, load_dir=handlers.parent),
                    pushoverd_port).start()
    try:
        proc = _kapacitord(tmp_path / "kapacitor", kapacitor_port, pushoverd_port)
        try:
            _wait_for_topic_handler(kapacitor_port, proc, tmp_path / "kapacitor")
            httpx.post(f"http://127.0.0.1:{kapacitor_port}/kapacitor/v1/write"
                       "?db=telegraf&rp=autogen",
                       content="cpu,host=web-1 usage_idle=3").raise_for_status()
            (sent,) = fake.wait_for(1)
            listed = _kapacitor_cli(pushoverd_port, "list", "topic-handlers")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        daemon.stop()
    assert (sent.form["title"], sent.form["priority"]) == ("CPU CRITICAL on web-1", "1")
    assert sent.form["message"].startswith("cpu:host=web-1 is CRITICAL")
    # README: pushoverd's handlers, listed with Kapacitor's CLI (when it is there too).
    assert listed is None or re.search(r"^cpu\s+cpu-oncall\s+pushover\s*$", listed, re.M), listed


def _kapacitor_cli(port: int, *args: str) -> str | None:
    cli_path = kapacitor_tool("kapacitor")
    if cli_path is None:
        return None
    done = subprocess.run([str(cli_path), "-url", f"http://127.0.0.1:{port}", *args],
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def _kapacitord(folder: Path, port: int, pushoverd_port: int) -> subprocess.Popen[bytes]:
    """kapacitord with the compose file's environment; its load folder a copy of the one
    compose mounts with only pushoverd's address changed (no ``pushoverd`` host here)."""
    env = _env("kapacitor")
    load = folder / "load"
    shutil.copytree(_folder(_mounts("kapacitor")[env["KAPACITOR_LOAD_DIR"]]), load)
    for file in (load / "handlers").iterdir():
        file.write_text(file.read_text().replace("http://pushoverd:9092",
                                                 f"http://127.0.0.1:{pushoverd_port}"))
    config = folder / "kapacitor.conf"
    config.write_text(IMAGE_CONFIG.format(folder=folder, port=port))
    return subprocess.Popen([str(KAPACITORD), "-config", str(config)],
                            env={"PATH": "/usr/bin:/bin", **env, "KAPACITOR_LOAD_DIR": str(load)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_topic_handler(port: int, proc: subprocess.Popen[bytes], folder: Path) -> None:
    url = f"http://127.0.0.1:{port}/kapacitor/v1/alerts/topics/cpu/handlers/to-pushoverd"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((folder / "kapacitord.log").read_text())
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"kapacitord did not load the handler: {folder / 'kapacitord.log'}")
