"""``[http] auth-enabled``: the real web app behind the auth guard, on 127.0.0.1.

Texts and shapes are kapacitord 1.5.7's (tests/data/auth/kapacitord-1.5.7-auth.jsonl): compact
error bodies, no ``WWW-Authenticate``; pushoverd adds ``message`` as on every error. Where
pushoverd differs on purpose: ping and the acknowledgement callback stay open.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from prometheus_client.parser import text_string_to_metric_families
from tests.wiring import wire

from pushoverd.api.auth import AuthGuard
from pushoverd.api.debugvars import Identity
from pushoverd.api.http import USER, AccessLogger
from pushoverd.auth import Authenticator, FailureLimiter
from pushoverd.auth.privileges import Privilege, User
from pushoverd.metrics import Metrics
from pushoverd.store.sqlite import SQLiteStore

TOPICS = "/kapacitor/v1/alerts/topics"
HANDLERS = f"{TOPICS}/cpu/handlers"
SECRET = "a-shared-secret-of-at-least-32-bytes!"
NO_CREDENTIALS = "unable to parse authentication credentials"
CAPTURE = Path(__file__).resolve().parents[2] / "data" / "auth" / "kapacitord-1.5.7-auth.jsonl"


@dataclass(frozen=True)
class Entry:
    name: str
    password_hash: str
    permissions: list[str]


def entry(name: str, password: str, permissions: list[str]) -> Entry:
    return Entry(name, bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(), permissions)


USERS = [entry("alice", "alice-pw", ["all"]), entry("reader", "reader-pw", ["read"]),
         entry("writer", "writer-pw", ["write"])]


def basic(name: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def bearer(claims: dict[str, object], key: str = SECRET) -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"Authorization": "Bearer " + jwt.encode(claims, key, algorithm="HS512")}


def compact(message: str) -> bytes:
    return json.dumps({"error": message, "message": message}, separators=(",", ":")).encode()


@asynccontextmanager
async def serve(db: Path, users: Sequence[Entry] = USERS, secret: str = SECRET,
                limiter: FailureLimiter | None = None,
                extra: Sequence[web.RouteDef] = ()) -> AsyncIterator[TestClient]:
    store = SQLiteStore(db)
    await store.open()
    guard = AuthGuard(Authenticator(users, secret), limiter or FailureLimiter())
    try:
        wired = await wire(store, guard=guard)
        wired.app.add_routes(extra)
        async with TestClient(TestServer(wired.app, host="127.0.0.1")) as client:
            yield client
    finally:
        await store.close()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with serve(tmp_path / "db.sqlite") as c:
        yield c


# --- what is open ------------------------------------------------------------------------------

async def test_no_credentials_is_kapacitors_401(client: TestClient) -> None:
    response = await client.get(TOPICS)
    assert response.status == 401 and await response.read() == compact(NO_CREDENTIALS)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Kapacitor-Version"] and response.headers["Request-Id"]
    assert "WWW-Authenticate" not in response.headers  # kapacitord sends none
    captured = json.loads(CAPTURE.read_text().splitlines()[0])
    assert json.loads(captured["body"])["error"] == NO_CREDENTIALS


@pytest.mark.parametrize("path", ["/kapacitor/v1/ping", "/kapacitor/v1preview/ping"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_ping_stays_open(client: TestClient, method: str, path: str) -> None:
    assert (await client.request(method, path)).status == 204


async def test_the_callback_stays_open_with_its_own_token(client: TestClient) -> None:
    response = await client.post("/pushoverd/v1/callback/not-a-token", data={"receipt": "r"})
    assert response.status == 404 and (await response.json())["error"] == "unknown callback"


async def test_preflight_needs_no_credentials(client: TestClient) -> None:
    response = await client.options(TOPICS, headers={"Origin": "http://ui"})
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://ui"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/kapacitor/v1/nope"), ("GET", "/pushoverd/v1/status"),
    ("POST", "/pushoverd/v1/resume"), ("GET", "/kapacitor/v1/config"),
    ("GET", "/kapacitor/v1/ping/x"), ("POST", "/kapacitor/v1/ping"),
    ("GET", "/pushoverd/v1/callback/x"),
])
async def test_everything_else_needs_credentials(client: TestClient, method: str,
                                                 path: str) -> None:
    # An unknown route too, before it is a 404, as in Kapacitor (it tells nothing unauthenticated).
    assert (await client.request(method, path)).status == 401


async def test_a_route_added_later_is_protected_by_default(tmp_path: Path) -> None:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text="up 1\n")

    async with serve(tmp_path / "db", extra=[web.get("/metrics", metrics)]) as client:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers=basic("reader", "reader-pw"))).status == 200


# --- basic, query, bearer ----------------------------------------------------------------------

async def test_basic_and_query_credentials_authenticate(client: TestClient) -> None:
    assert (await client.get(TOPICS, headers=basic("alice", "alice-pw"))).status == 200
    assert (await client.get(TOPICS, params={"u": "reader", "p": "reader-pw"})).status == 200


@pytest.mark.parametrize(("headers", "message"), [
    (basic("alice", "wrong"), "authorization failed"),
    (basic("nobody", "alice-pw"), "authorization failed"),
    (basic("", "alice-pw"), "username required"),
    ({"Authorization": "Bearer abc"},
     "invalid token: token contains an invalid number of segments"),
])
async def test_bad_credentials_are_401_with_kapacitors_text(
        client: TestClient, headers: dict[str, str], message: str) -> None:
    response = await client.get(TOPICS, headers=headers)
    assert response.status == 401 and await response.read() == compact(message)


async def test_tokens_name_a_configured_user(client: TestClient) -> None:
    later = int(time.time()) + 600
    ok = await client.post(HANDLERS, json={"id": "h", "kind": "log", "options": {"path": "/x"}},
                           headers=bearer({"username": "alice", "exp": later}))
    assert ok.status == 200
    reader = await client.delete(f"{HANDLERS}/h",
                                 headers=bearer({"username": "reader", "exp": later}))
    assert reader.status == 403
    stranger = await client.get(TOPICS, headers=bearer({"username": "eve", "exp": later}))
    assert stranger.status == 401
    assert (await stranger.json())["error"] == 'invalid token: unknown user "eve"'
    expired = await client.get(TOPICS, headers=bearer({"username": "alice", "exp": 1000}))
    assert expired.status == 401 and await expired.read() == compact(
        "invalid token: Token is expired")


async def test_with_only_a_shared_secret_a_valid_token_may_do_everything(tmp_path: Path) -> None:
    async with serve(tmp_path / "db", users=[]) as client:
        headers = bearer({"username": "chronograf", "exp": int(time.time()) + 600})
        created = await client.post(HANDLERS, json={"id": "h", "kind": "log",
                                                    "options": {"path": "/x"}}, headers=headers)
        assert created.status == 200
        assert (await client.get(TOPICS, headers=basic("alice", "alice-pw"))).status == 401


# --- privileges --------------------------------------------------------------------------------

async def test_a_missing_privilege_is_kapacitors_403(client: TestClient) -> None:
    body = {"id": "h", "kind": "log", "options": {"path": "/x"}}
    response = await client.post(HANDLERS, json=body, headers=basic("reader", "reader-pw"))
    assert response.status == 403 and await response.read() == compact(
        f'user reader does not have "write" privilege for API endpoint "{HANDLERS}"')
    assert (await client.get(HANDLERS, headers=basic("reader", "reader-pw"))).status == 200
    # nothing was created by the refused request
    listed = await client.get(HANDLERS, headers=basic("alice", "alice-pw"))
    assert (await listed.json())["handlers"] == []


async def test_write_only_users_cannot_read(client: TestClient) -> None:
    response = await client.get(TOPICS, headers=basic("writer", "writer-pw"))
    assert response.status == 403
    assert '"read" privilege' in (await response.json())["error"]
    requeue = await client.post("/pushoverd/v1/resume", headers=basic("writer", "writer-pw"))
    assert requeue.status != 403


# --- failed attempts ---------------------------------------------------------------------------

async def test_repeated_failures_cool_the_address_down(tmp_path: Path) -> None:
    limiter = FailureLimiter(max_failures=3, window=60, cooldown=60)
    async with serve(tmp_path / "db", limiter=limiter) as client:
        for _ in range(3):
            assert (await client.get(TOPICS, headers=basic("alice", "guess"))).status == 401
        blocked = await client.get(TOPICS, headers=basic("alice", "alice-pw"))
        assert blocked.status == 429 and 0 < int(blocked.headers["Retry-After"]) <= 60
        assert "too many failed authentication attempts" in (await blocked.json())["error"]
        assert (await client.get("/kapacitor/v1/ping")).status == 204  # open routes still are


async def test_missing_credentials_are_not_counted(tmp_path: Path) -> None:
    limiter = FailureLimiter(max_failures=2)
    async with serve(tmp_path / "db", limiter=limiter) as client:
        for _ in range(5):
            assert (await client.get(TOPICS)).status == 401
        assert (await client.get(TOPICS, headers=basic("alice", "alice-pw"))).status == 200


async def test_each_failure_is_logged_without_the_password(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pushoverd.api.auth")
    await client.get(TOPICS, headers=basic("alice", "s3cr3t-guess"))
    await client.get(TOPICS, params={"u": "bob", "p": "another-guess"})
    records = [r for r in caplog.records if r.getMessage() == "authentication failed"]
    assert [(r.fields["username"], r.fields["scheme"]) for r in records] == [  # type: ignore[attr-defined]
        ("alice", "basic"), ("bob", "query")]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "s3cr3t-guess" not in logged and "another-guess" not in logged


def test_the_access_log_hides_a_query_password_and_names_the_user(
        caplog: pytest.LogCaptureFixture) -> None:
    request = make_mocked_request("GET", f"{TOPICS}?u=alice&p=hunter2&pattern=c*")
    request[USER] = User("alice", frozenset(Privilege))
    logger = logging.getLogger("test.access")
    caplog.set_level(logging.INFO, logger="test.access")
    AccessLogger(logger, "").log(request, web.Response(status=200), 0.001)
    fields = caplog.records[0].fields  # type: ignore[attr-defined]
    assert "hunter2" not in fields["uri"] and "p=%5BREDACTED%5D" in fields["uri"]
    assert fields["username"] == "alice" and "pattern=c*" in fields["uri"]


# --- with metrics --------------------------------------------------------------------------------

async def test_metrics_need_read_and_refusals_are_counted_as_unauthorized(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    await store.open()
    guard = AuthGuard(Authenticator(USERS, SECRET), FailureLimiter())
    me = Identity("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
                  "alerts.example")
    try:
        wired = await wire(store, observed=(Metrics(), me), guard=guard)
        async with TestClient(TestServer(wired.app, host="127.0.0.1")) as client:
            assert (await client.get("/metrics")).status == 401
            assert (await client.get("/kapacitor/v1/debug/vars")).status == 401
            assert (await client.get("/metrics", headers=basic("writer", "writer-pw"))
                    ).status == 403
            scraped = await client.get("/metrics", headers=basic("reader", "reader-pw"))
            assert scraped.status == 200
            samples = {tuple(sorted(s.labels.items())): s.value
                       for f in text_string_to_metric_families(await scraped.text())
                       for s in f.samples if s.name == "pushoverd_bad_requests_total"}
    finally:
        await store.close()
    assert samples == {(("reason", "unauthorized"),): 2, (("reason", "forbidden"),): 1}
