"""The real ``kapacitor`` 1.5.7 CLI against the real daemon, without auth (test_auth.py has
it with): the handler folder's files defined one by one, listed, shown and deleted, as an
operator moving from Kapacitor would. Skipped without the CLI (README, "Testing against real
Kapacitor")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.acceptance.daemon import KAPACITOR_FOLDER, Daemon, kapacitor_tool

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    kapacitor_tool("kapacitor") is None,
    reason="the kapacitor 1.5.7 CLI is not in .kapacitor-bin/ or PATH")]


def cli(daemon: Daemon, *args: str) -> str:
    done = subprocess.run([str(kapacitor_tool("kapacitor")), "-url", daemon.url, *args],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_handler_file_of_the_folder_is_defined_listed_shown_and_deleted(
        daemon: Daemon, tmp_path: Path) -> None:
    files = sorted((KAPACITOR_FOLDER / "handlers").iterdir())
    for source in files:
        text = source.read_text().replace("@RECEIVER@", "http://127.0.0.1:9").replace(
            "@LOG_PATH@", str(tmp_path / "cpu.log"))
        (tmp_path / source.name).write_text(text)
        cli(daemon, "define-topic-handler", str(tmp_path / source.name))

    listed = cli(daemon, "list", "topic-handlers")
    for topic, handler in (("cpu", "cpu-oncall"), ("cpu", "cpu-to-file"), ("cpu", "cpu-to-ops"),
                           ("ops", "ops-digest"), ("digest", "digest-webhook")):
        assert any(line.split()[:2] == [topic, handler] for line in listed.splitlines()), listed
    shown = cli(daemon, "show-topic-handler", "ops", "ops-digest")
    assert "Kind: aggregate" in shown and "interval" in shown
    assert "[REDACTED]" in cli(daemon, "show-topic-handler", "digest", "digest-webhook")

    cli(daemon, "delete", "topic-handlers", "cpu", "cpu-to-ops")
    assert "cpu-to-ops" not in cli(daemon, "list", "topic-handlers")
