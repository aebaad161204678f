"""The fake Pushover validates and answers like the real API, and its scripting works.

The tests use the suite's ``fake`` (tests/conftest.py): a fresh server per test that knows
TOKEN, USER and OTHER_USER, so scripted failures and counters start clean every time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import OTHER_USER, STRANGER, TOKEN, USER
from tests.fakes.pushover import FakePushover, validate


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def form(**overrides: str) -> dict[str, str]:
    return {"token": TOKEN, "user": USER, "message": "hello"} | overrides


def test_accepts_a_valid_message_with_quota_headers(fake: FakePushover,
                                                    http: httpx.Client) -> None:
    before = len(fake.accepted)
    response = http.post(fake.url, data=form(title="t", priority="1", unknown="ignored"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 1 and len(body["request"]) == 36 and "receipt" not in body
    assert int(response.headers["X-Limit-App-Limit"]) == 10000
    assert int(response.headers["X-Limit-App-Remaining"]) < 10000
    assert int(response.headers["X-Limit-App-Reset"]) > time.time()
    received = fake.wait_for(before + 1)[-1]
    assert received.form["title"] == "t" and received.path == "/1/messages.json"
    assert received.raw_body.startswith("token=")


def test_emergency_priority_gets_a_receipt(fake: FakePushover, http: httpx.Client) -> None:
    response = http.post(fake.url, data=form(priority="2", retry="30", expire="10800"))
    receipt = response.json()["receipt"]
    assert len(receipt) == 30 and receipt.isalnum()


@pytest.mark.parametrize(("overrides", "param", "error"), [
    ({"token": "x" * 30}, "token", "application token is invalid"),
    ({"token": "short"}, "token", "application token is invalid"),
    ({"user": STRANGER}, "user", "not a valid user, group, or subscribed user key"),
    ({"user": ""}, "user", "not a valid user"),
    ({"message": "  "}, "message", "message cannot be blank"),
    ({"message": "m" * 1025}, "message", "1024"),
    ({"title": "t" * 251}, "title", "250"),
    ({"url": "u" * 513}, "url", "512"),
    ({"url_title": "u" * 101}, "url_title", "100"),
    ({"priority": "3"}, "priority", "priority is invalid"),
    ({"priority": "high"}, "priority", "priority is invalid"),
    ({"priority": "2", "expire": "60"}, "retry", "retry"),
    ({"priority": "2", "retry": "30", "expire": "10801"}, "expire", "expire"),
    ({"ttl": "0"}, "ttl", "ttl"),
    ({"html": "1", "monospace": "1"}, "html", "monospace"),
    ({"timestamp": "yesterday"}, "timestamp", "timestamp is invalid"),
    ({"device": "my phone"}, "device", "device"),
])
def test_rejects_invalid_requests_with_400_and_the_param(fake: FakePushover,
                                                         http: httpx.Client,
                                                         overrides: dict[str, str],
                                                         param: str, error: str) -> None:
    response = http.post(fake.url, data=form(**overrides))
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 0 and body[param] == "invalid"
    assert any(error in e for e in body["errors"])
    assert fake.requests[-1].status == 400


def test_limits_are_at_the_boundary(fake: FakePushover, http: httpx.Client) -> None:
    response = http.post(fake.url, data=form(message="é" * 1024, title="t" * 250,
                                             url="u" * 512, url_title="v" * 100))
    assert response.status_code == 200


def test_user_list_and_device_list_are_accepted() -> None:
    assert validate(form(user=f"{USER},{OTHER_USER}", device="phone,my-tab_2")) == []
    assert validate(form(user=",".join([USER] * 51)))[0][0] == "user"


def test_any_well_formed_keys_pass_when_none_were_configured() -> None:
    assert validate(form(token="b" * 30, user="c" * 30)) == []


def test_refuses_other_paths_methods_and_json(fake: FakePushover, http: httpx.Client) -> None:
    base = fake.url.removesuffix("/1/messages.json")
    assert http.post(f"{base}/1/other.json", data=form()).status_code == 404
    assert http.get(fake.url).status_code == 404
    assert http.post(fake.url, json=form()).status_code == 400


def test_fail_next_answers_the_next_n_requests(fake: FakePushover, http: httpx.Client) -> None:
    fake.fail_next(2, status=503, body={"status": 0, "errors": ["down"]},
                   headers={"Retry-After": "5"})
    statuses = [http.post(fake.url, data=form()) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].json()["errors"] == ["down"]
    assert statuses[0].headers["Retry-After"] == "5"
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert len(fake.accepted) == 1


def test_hang_next_provokes_a_client_timeout(fake: FakePushover, http: httpx.Client) -> None:
    fake.hang_next(1, seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        http.post(fake.url, data=form(), timeout=0.2)
    assert http.post(fake.url, data=form(), timeout=2).status_code == 200


def test_drop_next_closes_the_connection_unanswered(fake: FakePushover,
                                                   http: httpx.Client) -> None:
    fake.drop_next(1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(fake.url, data=form())
    assert http.post(fake.url, data=form()).status_code == 200
    assert [r.status for r in fake.requests] == [0, 200]


def test_rate_limit_counts_down_then_answers_429(fake: FakePushover, http: httpx.Client) -> None:
    fake.rate_limit(remaining=2, reset=1900000000, limit=7)
    answers = [http.post(fake.url, data=form()) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-Limit-App-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["X-Limit-App-Reset"] == "1900000000"
    assert answers[2].headers["X-Limit-App-Limit"] == "7"


def test_wait_for_times_out_with_an_assertion(fake: FakePushover) -> None:
    with pytest.raises(AssertionError, match="accepted"):
        fake.wait_for(len(fake.accepted) + 1, timeout=0.1)


def test_wait_for_returns_when_a_message_arrives_later(fake: FakePushover,
                                                      http: httpx.Client) -> None:
    timer = threading.Timer(0.1, lambda: http.post(fake.url, data=form()))
    timer.start()
    assert len(fake.wait_for(1, timeout=5)) == 1
    timer.join()


async def test_await_count_leaves_the_loop_free_and_counts_concurrency(
        fake: FakePushover) -> None:
    fake.hang_next(3, seconds=0.3)
    async with httpx.AsyncClient() as client:
        posts = asyncio.gather(*(client.post(fake.url, data=form()) for _ in range(3)))
        accepted = await fake.await_count(3, timeout=5)
        responses = await posts
    assert len(accepted) == 3
    assert [r.status_code for r in responses] == [200] * 3
    assert fake.max_concurrent == 3
    assert fake.connection_count == 3


def test_stop_is_idempotent_and_ends_hangs_promptly(http: httpx.Client) -> None:
    # Not the shared fixture: the test starts and stops this server itself, since stopping is
    # what it checks.
    server = FakePushover().start()
    server.hang_next(1, seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        http.post(server.url, data=form(), timeout=0.2)
    started = time.monotonic()
    server.stop()
    server.stop()
    assert time.monotonic() - started < 5
