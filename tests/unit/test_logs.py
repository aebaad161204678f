"""Log lines: Kapacitor's logfmt or JSON objects with the same keys, secrets scrubbed from
every value (escaped or not), and the request id of the work a line belongs to."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from tests.conftest import TOKEN, USER

from pushoverd import logs

SECRET_WITH_QUOTE = 'pa"ss\\word'


def record(msg: str, *args: object, fields: dict[str, object] | None = None,
           exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"boom {TOKEN}")
        except RuntimeError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord("pushoverd.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    if fields is not None:
        rec.fields = fields
    return rec


def test_logfmt_lines_are_kapacitors_with_the_fields_in_order() -> None:
    line = logs.LogfmtFormatter().format(record("sent %d", 3, fields={"topic": "cpu load"}))
    assert line.split(" ", 1)[1] == 'lvl=warn msg="sent 3" logger=pushoverd.test topic="cpu load"'
    assert line.startswith("ts=") and line.split(" ", 1)[0].endswith("Z")


def test_json_lines_have_the_same_keys_and_values() -> None:
    rec = record("sent %d", 3, fields={"topic": "cpu", "attempts": 2})
    parsed = json.loads(logs.JsonFormatter().format(rec))
    assert list(parsed) == ["ts", "lvl", "msg", "logger", "topic", "attempts"]
    assert (parsed["lvl"], parsed["msg"], parsed["topic"], parsed["attempts"]) == (
        "warn", "sent 3", "cpu", 2)


@pytest.mark.parametrize("formatter", [logs.LogfmtFormatter, logs.JsonFormatter])
def test_secrets_are_scrubbed_from_message_fields_and_tracebacks(
        formatter: type[logs.LogfmtFormatter | logs.JsonFormatter]) -> None:
    fmt = formatter([TOKEN, USER, SECRET_WITH_QUOTE])
    line = fmt.format(record(f"token {TOKEN}", fields={"user": USER,
                                                      "pw": SECRET_WITH_QUOTE}, exc=True))
    for secret in (TOKEN, USER, SECRET_WITH_QUOTE, json.dumps(SECRET_WITH_QUOTE)[1:-1]):
        assert secret not in line
    assert line.count(logs.REDACTED) == 4


@pytest.mark.parametrize("formatter", [logs.LogfmtFormatter, logs.JsonFormatter])
def test_secrets_added_later_are_scrubbed_too(
        formatter: type[logs.LogfmtFormatter | logs.JsonFormatter]) -> None:
    fmt = formatter([TOKEN])
    fmt.add_secrets(["n3w-s3cret"])
    assert "n3w-s3cret" not in fmt.format(record("now n3w-s3cret"))


def test_a_line_written_inside_a_request_carries_its_id() -> None:
    fmt = logs.JsonFormatter()
    with logs.request_context("rid-1"):
        inside = json.loads(fmt.format(record("planned")))
        with logs.request_context(None):
            nested = json.loads(fmt.format(record("daemon's own")))
    outside = json.loads(fmt.format(record("later")))
    assert inside["request-id"] == "rid-1"
    assert "request-id" not in nested and "request-id" not in outside
    logfmt = logs.LogfmtFormatter()
    with logs.request_context("rid-2"):
        assert logfmt.format(record("x")).endswith(" request-id=rid-2")


def test_a_lines_own_request_id_field_wins() -> None:
    with logs.request_context("rid-1"):
        line = json.loads(logs.JsonFormatter().format(
            record("http request", fields={"request-id": "rid-9"})))
    assert line["request-id"] == "rid-9"
