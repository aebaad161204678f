"""alert.Data as Kapacitor's post and log handlers write it, byte for byte: every body
Kapacitor 1.5.7 sent (captured) comes back out of parse-then-encode unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pushoverd.api.schemas import parse_alerts
from pushoverd.handlers.alertjson import _value, alert_json
from pushoverd.models import Event, Level

DATA = Path(__file__).parents[2] / "data"
CAPTURED = [json.loads(line)["body"]
            for name in ("post_handler_bodies.jsonl", "post_handler_topic_bodies.jsonl")
            for line in (DATA / name).read_text().splitlines()]


@pytest.mark.parametrize("body", CAPTURED)
def test_a_captured_body_is_reproduced_byte_for_byte(body: str) -> None:
    [event] = parse_alerts(body.encode())
    assert alert_json(event) == body.encode()


def test_previous_level_is_the_events() -> None:
    event = Event(id="a", level=Level.OK, previous_level=Level.CRITICAL)
    assert b'"previousLevel":"CRITICAL"' in alert_json(event)


def test_an_alert_without_data_has_null_series_and_go_zero_fields() -> None:
    assert alert_json(Event(id="a", level=Level.INFO, recoverable=False)) == (
        b'{"id":"a","message":"","details":"","time":"1970-01-01T00:00:00Z","duration":0,'
        b'"level":"INFO","data":{"series":null},"previousLevel":"OK","recoverable":false}\n')


def test_rows_keep_go_field_order_drop_empty_fields_and_sort_tags() -> None:
    data = {"series": [{"values": [[1]], "tags": {"z": "1", "a": "2"}, "name": "cpu",
                        "columns": [], "unknown": 1}], "error": "boom"}
    body = alert_json(Event(id="a", level=Level.OK, data=data))
    assert b'"data":{"series":[{"name":"cpu","tags":{"a":"2","z":"1"},"values":[[1]]}],' \
           b'"error":"boom"}' in body


# What Go 1.19's json.NewEncoder(os.Stdout).Encode printed for the same values.
GO_ENCODED = (
    '[1e+21,100000000000000000000,150000000000000000,1e-7,1.5e-7,0.000001,0.000015,0.000015,'
    '4.25,5,-0.5,1234567.5,1e+100,2.5e-300,123456789012345680,0.1,0.3333333333333333,'
    '"a\\u003cb\\u003e\\u0026c\\u2028\\n\\t\\u0008\\u000c\\u0001\\"\\\\é",true,null,'
    '{"a":"x","b":1}]')
VALUES: list[Any] = [
    1e21, 1e20, 1.5e17, 1e-7, 1.5e-7, 1e-6, 1.5e-5, 0.000015, 4.25, 5.0, -0.5, 1234567.5,
    1e100, 2.5e-300, 123456789012345678.0, 0.1, 1.0 / 3.0, 'a<b>&c\u2028\n\t\b\f\x01"\\é',
    True, None, {"b": 1.0, "a": "x"}]


def test_values_are_encoded_as_go_encodes_them() -> None:
    assert _value(VALUES) == GO_ENCODED
