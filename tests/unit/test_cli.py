"""The command line: print the default or effective config, check a config and its handler
files, refuse a bad config at startup."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pushoverd import cli
from pushoverd.config import load

REPO = Path(__file__).resolve().parents[2]


def test_config_prints_a_default_config_that_loads_back_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the defaults' relative paths resolve where the file is
    assert cli.main(["config"]) == 0
    printed = tmp_path / "kapacitor.conf"
    printed.write_text(capsys.readouterr().out)

    assert load(str(printed), env={}).config == load(None, env={}).config


TOKEN, USER_KEY, DSN = "t" * 30, "u" * 30, "postgres://u:s3cret-pw@db/pushoverd"
EFFECTIVE = f"""
hostname = "alerts.example"
data_dir = "d"
[http]
  bind-address = "127.0.0.1:9999"
[smtp]
  host = "mail.example"
[pushover]
  enabled = true
  token = "{TOKEN}"
  user-key = "{USER_KEY}"
[pushoverd.store]
  dsn = "{DSN}"
[pushoverd.delivery]
  max-age = "12h"
"""


def print_config(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["config", *args]) == 0
    return capsys.readouterr().out


def test_config_prints_the_effective_config_of_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(EFFECTIVE)
    monkeypatch.setenv("PUSHOVERD_DELIVERY_TIMEOUT", "3s")

    out = print_config(capsys, "-config", str(conf))

    for line in ('hostname = "alerts.example"', f'data_dir = "{tmp_path / "d"}"',
                 'bind-address = "127.0.0.1:9999"', 'max-age = "12h0m0s"', 'timeout = "3s"',
                 f'path = "{tmp_path / "d" / "pushoverd.db"}"'):
        assert f"\n{line}\n" in out.replace("\n  ", "\n")
    assert out.count('"[REDACTED]"') == 3
    assert TOKEN not in out and USER_KEY not in out and "s3cret-pw" not in out
    assert "mail.example" not in out  # Kapacitor's tables that pushoverd ignores are left out


def test_the_effective_config_loads_back_unchanged_apart_from_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(EFFECTIVE)
    monkeypatch.setenv("PUSHOVERD_CONFIG_PATH", str(conf))  # the same lookup as run
    monkeypatch.setenv("PUSHOVERD_FLOOD_RATE", "7")
    (tmp_path / "elsewhere").mkdir()
    printed = tmp_path / "elsewhere" / "printed.conf"  # paths are absolute: any directory will do

    printed.write_text(print_config(capsys))

    secrets = {"KAPACITOR_PUSHOVER_TOKEN": TOKEN, "KAPACITOR_PUSHOVER_USER_KEY": USER_KEY,
               "PUSHOVERD_STORE_DSN": DSN}
    reloaded = load(str(printed), env=secrets).config
    assert reloaded == load(str(conf)).config and reloaded.pushoverd.flood.rate == 7
    assert load(str(printed), env={}).config.pushover.token == "[REDACTED]"


def test_config_reports_an_invalid_file_like_check(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text('[pushoverd.flood]\n  rate = 0\n  bogus = 1\n')

    assert cli.main(["config", "-config", str(conf)]) == 1

    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 2
    assert f"{conf}:2 pushoverd.flood.rate" in err and f"{conf}:3 pushoverd.flood.bogus" in err


def test_check_accepts_the_shipped_example(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAPACITOR_PUSHOVER_ENABLED", raising=False)
    assert cli.main(["check", "-config", str(REPO / "kapacitor.conf.example")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_check_names_file_and_key_of_each_bad_setting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text('[pushover]\n  enabled = "yes please"\n[pushoverd.delivery]\n  nope = 1\n')

    assert cli.main(["check", "-config", str(conf)]) == 1

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert all(str(conf) in line for line in lines)
    assert "pushover.enabled" in lines[0] and "nope" in lines[1]


def check_folder(tmp_path: Path, files: dict[str, str]) -> tuple[int, Path]:
    """``pushoverd check`` on a config whose ``[load] dir`` holds ``files`` in handlers/:
    its exit code, and that handlers folder."""
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    for name, text in files.items():
        (handlers / name).write_text(text)
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(f'[load]\n  enabled = true\n  dir = "{tmp_path}"\n')
    return cli.main(["check", "-config", str(conf)]), handlers


def test_check_reports_each_bad_handler_file_with_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, handlers = check_folder(tmp_path, {
        "good.yaml": "id: a\ntopic: cpu\nkind: pushover\n",
        "bad-option.yaml": "id: b\ntopic: cpu\nkind: pushover\noptions:\n  nosuchoption: 1\n",
        "broken.yaml": "id: [unterminated\n"})

    assert code == 1

    err = capsys.readouterr().err
    assert f"{handlers / 'bad-option.yaml'}:4: options:" in err
    assert "invalid keys: nosuchoption" in err
    assert f"{handlers / 'broken.yaml'}:" in err and "invalid YAML" in err
    assert "good.yaml" not in err


def test_check_refuses_a_user_key_or_device_that_can_never_work_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: ``user-key: short`` was accepted and failed at every send."""
    code, handlers = check_folder(tmp_path, {
        "key.yaml": "id: a\ntopic: cpu\nkind: pushover\noptions:\n  title: CPU\n"
                    "  user-key: short\n",
        "device.yaml": "id: b\ntopic: cpu\nkind: pushover\noptions:\n  device: my phone\n"})

    assert code == 1

    err = capsys.readouterr().err
    assert f"{handlers / 'key.yaml'}:6: options.user-key: " in err
    assert "must be a Pushover user or group key" in err and "short" not in err
    assert f"{handlers / 'device.yaml'}:5: options.device: " in err
    assert "'my phone' is not a Pushover device name" in err


def test_check_refuses_two_files_for_the_same_handler_naming_both(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, handlers = check_folder(tmp_path, {
        "a.yaml": "id: oncall\ntopic: cpu\nkind: pushover\n",
        "b.yaml": "id: oncall\ntopic: cpu\nkind: pushover\n"})

    assert code == 1

    out = capsys.readouterr()
    assert out.err.splitlines() == [
        f'{handlers / "b.yaml"}:1: id: handler "cpu/oncall" is already defined in '
        f'{handlers / "a.yaml"}']
    assert "ok" not in out.out


def test_check_refuses_the_handler_file_that_closes_a_publish_loop_at_its_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, handlers = check_folder(tmp_path, {
        "a.yaml": "id: p\ntopic: cpu\nkind: publish\noptions:\n  topics: [ops]\n",
        "b.yaml": "id: agg\ntopic: ops\nkind: aggregate\noptions:\n  id: digest\n"
                  "  interval: 1m\n  topic: cpu\n"})

    assert code == 1

    assert capsys.readouterr().err.splitlines() == [
        f"{handlers / 'b.yaml'}:7: options.topic: 'topic' in options would make a loop: "
        "ops -> cpu -> ops"]


def test_run_refuses_a_bad_config_with_exit_code_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text("[pushover]\n  enabled = true\n")

    assert cli.main(["-config", str(conf)]) == 1
    assert "must specify token" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_postgres_store_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text('[pushoverd.store]\n  backend = "postgres"\n')

    assert cli.main([command, "-config", str(conf)]) == 1

    assert capsys.readouterr().err == (
        f"{conf}:2 pushoverd.store.backend: the postgres backend is not available yet; "
        'use "sqlite"\n')


def test_run_reports_a_taken_port_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        conf = tmp_path / "kapacitor.conf"
        conf.write_text(f'data_dir = "{tmp_path / "data"}"\n'
                        f'[http]\n  bind-address = "127.0.0.1:{port}"\n'
                        f'[logging]\n  file = "{tmp_path / "log"}"\n')

        assert cli.main(["-config", str(conf)]) == 1

    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_run_reports_an_unusable_data_dir_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a directory")
    conf = tmp_path / "kapacitor.conf"
    conf.write_text(f'data_dir = "{tmp_path / "file" / "data"}"\n'
                    f'[logging]\n  file = "{tmp_path / "log"}"\n')

    assert cli.main(["-config", str(conf)]) == 1

    assert "cannot open the database" in capsys.readouterr().err


def test_config_with_no_file_shows_what_the_environment_sets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``kapacitord config``: a container configured by its environment alone."""
    monkeypatch.chdir(tmp_path)
    for name, value in (("KAPACITOR_PUSHOVER_ENABLED", "true"), ("KAPACITOR_PUSHOVER_TOKEN",
                        TOKEN), ("KAPACITOR_PUSHOVER_USER_KEY", USER_KEY),
                        ("KAPACITOR_DATA_DIR", "/var/lib/pushoverd")):
        monkeypatch.setenv(name, value)

    out = print_config(capsys).replace("\n  ", "\n")

    assert "\nenabled = true\n" in out and '\ndata_dir = "/var/lib/pushoverd"\n' in out
    assert TOKEN not in out and USER_KEY not in out and out.count('"[REDACTED]"') == 2


def test_config_redacts_each_httppost_header_value_and_keeps_the_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "kapacitor.conf"
    conf.write_text('[[httppost]]\n  endpoint = "hooks"\n  url = "https://hooks.example/a"\n'
                    '  headers = { Authorization = "Bearer s3cret-token", X-Team = "ops" }\n')

    out = print_config(capsys, "-config", str(conf))

    assert "s3cret-token" not in out and "ops" not in out.split("[[httppost]]")[1]
    printed = tmp_path / "printed.conf"
    printed.write_text(out)
    [endpoint] = load(str(printed), env={}).config.httppost
    assert endpoint.headers == {"Authorization": "[REDACTED]", "X-Team": "[REDACTED]"}
