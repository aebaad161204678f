"""The config override API (/kapacitor/v1/config) against Kapacitor 1.5.7's captured replies
(kapacitor-captures/api_config_*.txt, config_pushover.txt; bodies copied byte-exact into
tests/data/api/), over a real SQLite store on 127.0.0.1.

Texts not in the captures were checked against a real kapacitord 1.5.7 (unknown section,
wrong kinds, basic-auth keys, duplicate add, element key, EOF, a non-object ``set``).

Success bodies match the captures byte for byte (compact JSON with a trailing newline). Error
bodies carry the capture's text in the shape every pushoverd route uses (``error`` and
``message``, indented), as the alert-topic API tests pin it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.conftest import TOKEN, USER
from tests.wiring import wire

from pushoverd.config import Config
from pushoverd.configservice import ConfigService
from pushoverd.settings import LiveSettings
from pushoverd.store.sqlite import SQLiteStore

DATA = Path(__file__).resolve().parents[2] / "data" / "api"
CONFIG = "/kapacitor/v1/config"
PUSHOVER = f"{CONFIG}/pushover"
JSON_TYPE = "application/json; charset=utf-8"
CAPTURED_URL = "http://127.0.0.1:18080/1/messages.json"
OVERRIDE_URL = "http://127.0.0.1:18082/1/messages.json"
NEW_TOKEN = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"


def captured(name: str) -> bytes:
    """A body Kapacitor 1.5.7 sent, byte-exact (tests/data/api/README.md)."""
    return (DATA / name).read_bytes()


def captured_error(name: str) -> str:
    """The error text of a captured error reply."""
    return str(json.loads(captured(name))["error"])


def config(**sections: Any) -> Config:
    """The capture's config: pushover enabled with a token, a user key and the fake's URL."""
    pushover = {"enabled": True, "token": TOKEN, "user-key": USER, "url": CAPTURED_URL}
    return Config.model_validate({"pushover": pushover, **sections})


@dataclass
class Reply:
    status: int
    content_type: str
    raw: bytes

    @property
    def error(self) -> str:
        body = json.loads(self.raw)
        assert body == {"error": body["error"], "message": body["error"]}
        assert self.raw.startswith(b'{\n    "error": ')  # indented like every error of ours
        return str(body["error"])


@dataclass
class ConfigApi:
    client: TestClient[Any, Any]
    store: SQLiteStore
    settings: LiveSettings

    async def call(self, method: str, path: str, body: Any = None) -> Reply:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        resp = await self.client.request(method, path, data=data)
        return Reply(resp.status, resp.headers.get("Content-Type", ""), await resp.read())

    async def post(self, path: str, body: Any) -> Reply:
        return await self.call("POST", path, body)

    async def get(self, path: str) -> Reply:
        return await self.call("GET", path)


async def running(tmp_path: Path, base: Config) -> AsyncIterator[ConfigApi]:
    store = SQLiteStore(tmp_path / "pushoverd.db")
    await store.open()
    settings = LiveSettings(base)
    service = ConfigService(base, store, settings)
    await service.load()
    try:
        wired = await wire(store, config_service=service)
        async with TestClient(TestServer(wired.app, host="127.0.0.1")) as client:
            yield ConfigApi(client, store, settings)
    finally:
        await store.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ConfigApi]:
    async for a in running(tmp_path, config()):
        yield a


# --- reading, byte for byte ------------------------------------------------------------------

async def test_section_is_the_captured_body(api: ConfigApi) -> None:
    reply = await api.get(PUSHOVER)
    assert (reply.status, reply.content_type) == (200, JSON_TYPE)
    assert reply.raw == captured("config_pushover.json")


async def test_single_element_is_the_captured_body(api: ConfigApi) -> None:
    reply = await api.get(f"{PUSHOVER}/")
    assert (reply.status, reply.raw) == (200, captured("api_config_root_pushover_only.json"))


async def test_root_lists_every_overridable_section(api: ConfigApi) -> None:
    reply = await api.get(CONFIG)
    element = captured("api_config_root_pushover_only.json").decode().rstrip("\n")
    assert reply.status == 200
    assert reply.raw.decode() == (
        '{"link":{"rel":"self","href":"/kapacitor/v1/config"},"sections":{'
        '"httppost":{"link":{"rel":"self","href":"/kapacitor/v1/config/httppost"},'
        '"elements":null},'
        '"pushover":{"link":{"rel":"self","href":"/kapacitor/v1/config/pushover"},'
        f'"elements":[{element}]}}}}}}\n')


async def test_defaults_show_secrets_as_false(tmp_path: Path) -> None:
    async for a in running(tmp_path, Config()):
        body = json.loads((await a.get(f"{PUSHOVER}/")).raw)
        # Kapacitor's defaults (TestServer_UpdateConfig)
        assert body["options"] == {"enabled": False, "token": False,
                                   "url": "https://api.pushover.net/1/messages.json",
                                   "user-key": False}
        assert body["redacted"] == ["token", "user-key"]


# --- errors, with the captured texts ---------------------------------------------------------

async def test_unknown_section_is_404_with_the_captured_text(api: ConfigApi) -> None:
    reply = await api.get(f"{CONFIG}/nosuchsection")
    assert reply.status == 404
    assert reply.error == captured_error("api_config_unknown_section.json")


async def test_trailing_slash_without_section_is_400(api: ConfigApi) -> None:
    reply = await api.get(f"{CONFIG}/")
    assert reply.status == 400
    assert reply.error == "section not specified, do you have an extra trailing '/'?"


async def test_unknown_element_is_404(api: ConfigApi) -> None:
    reply = await api.get(f"{CONFIG}/httppost/x")
    assert (reply.status, reply.error) == (404, "unknown section/element: httppost/x")


async def test_update_without_trailing_slash_is_400_with_the_captured_text(
        api: ConfigApi) -> None:
    reply = await api.post(PUSHOVER, {"set": {"url": OVERRIDE_URL}})
    assert reply.status == 400
    assert reply.error == captured_error("api_config_pushover_update_missing_slash.json")


async def test_unknown_option_is_400_with_the_captured_text(api: ConfigApi) -> None:
    reply = await api.post(f"{PUSHOVER}/", {"set": {"nosuchkey": 1}})
    assert reply.status == 400
    assert reply.error == captured_error("api_config_pushover_update_unknown_key.json")


async def test_bad_json_is_400_with_the_captured_text(api: ConfigApi) -> None:
    reply = await api.post(f"{PUSHOVER}/", b"{bad json}")
    assert reply.status == 400
    assert reply.error == captured_error("api_config_post_badjson.json")


@pytest.mark.parametrize(("body", "error"), [
    (b"", "failed to decode JSON:EOF"),
    (b'{"set": {"url": "x"', "failed to decode JSON:unexpected EOF"),
    (b'{"set": 1}', "failed to decode JSON:json: cannot unmarshal number into Go struct field "
                    "updateAction.set of type map[string]interface {}"),
    (b"[]", "failed to decode JSON:json: cannot unmarshal array into Go value of type "
            "config.updateAction"),
])
async def test_undecodable_bodies_are_400(api: ConfigApi, body: bytes, error: str) -> None:
    reply = await api.post(f"{PUSHOVER}/", body)
    assert (reply.status, reply.error) == (400, error)


@pytest.mark.parametrize(("body", "error"), [
    ({"set": {"enabled": "yes"}}, "failed to override configuration pushover/: cannot set "
     "option enabled: wrong kind string, expected value of kind bool: false"),
    ({"set": {"token": 5}}, "failed to override configuration pushover/: cannot set option "
     "token: wrong kind float64, expected value of kind string: false"),
    ({"set": {"url": None}}, "failed to override configuration pushover/: cannot set option "
     "url: wrong kind invalid, expected value of kind string: false"),
    ({"set": {"url": "ftp://x"}}, 'failed to override configuration pushover/: failed '
     'validation: invalid URL "ftp://x": must be an http or https URL with a host'),
    ({"set": {"url": "x"}, "add": {"endpoint": "y"}}, "failed to apply update: invalid update "
     "action: cannot provide both set/delete and add/remove actions in the same update"),
])
async def test_refused_updates_are_400(api: ConfigApi, body: Any, error: str) -> None:
    reply = await api.post(f"{PUSHOVER}/", body)
    assert (reply.status, reply.error) == (400, error)


async def test_enabling_without_a_token_fails_validation(tmp_path: Path) -> None:
    async for a in running(tmp_path, Config()):
        reply = await a.post(f"{PUSHOVER}/", {"set": {"enabled": True}})
        assert (reply.status, reply.error) == (
            400, "failed to override configuration pushover/: failed validation: "
                 "must specify token")
        assert await a.store.config_overrides() == []  # nothing stored


async def test_update_of_an_unknown_section_is_400(api: ConfigApi) -> None:
    reply = await api.post(f"{CONFIG}/nope/", {"set": {"a": 1}})
    assert (reply.status, reply.error) == (
        400, "failed to override configuration nope/: unknown options [a] in section nope")
    reply = await api.post(f"{CONFIG}/nope/", {"delete": ["a"]})
    assert (reply.status, reply.error) == (
        400, "failed to override configuration nope/: unknown section nope")
    reply = await api.post(CONFIG, {"set": {"a": 1}})
    assert (reply.status, reply.error) == (404, "Not Found")  # as Kapacitor: no such route


async def test_add_to_a_single_element_section_is_400(api: ConfigApi) -> None:
    reply = await api.post(PUSHOVER, {"add": {"token": "x"}})
    assert (reply.status, reply.error) == (
        400, 'failed to apply update: section "pushover" is not a list, cannot add new element')


async def test_disabled_api_is_403_for_every_call(tmp_path: Path) -> None:
    async for a in running(tmp_path, config(**{"config-override": {"enabled": False}})):
        for method, path, body in (("GET", CONFIG, None), ("GET", PUSHOVER, None),
                                   ("GET", f"{PUSHOVER}/", None), ("GET", f"{CONFIG}/", None),
                                   ("POST", f"{PUSHOVER}/", {"set": {"url": OVERRIDE_URL}}),
                                   ("POST", f"{PUSHOVER}/", b"{bad")):
            reply = await a.call(method, path, body)
            assert (reply.status, reply.error) == (403, "config override service is not enabled")


# --- updates -----------------------------------------------------------------------------------

async def test_set_is_204_and_the_section_is_the_captured_one_after(api: ConfigApi) -> None:
    reply = await api.post(f"{PUSHOVER}/", {"set": {"url": OVERRIDE_URL}})
    assert (reply.status, reply.raw, reply.content_type) == (204, b"", JSON_TYPE)
    assert (await api.get(PUSHOVER)).raw == captured("api_config_pushover_after_override.json")
    assert api.settings.pushover.url == OVERRIDE_URL


async def test_delete_reverts_to_the_file_value(api: ConfigApi) -> None:
    await api.post(f"{PUSHOVER}/", {"set": {"url": OVERRIDE_URL, "enabled": False}})
    assert api.settings.pushover.enabled is False
    reply = await api.post(f"{PUSHOVER}/", {"delete": ["url", "enabled"]})
    assert (reply.status, reply.raw) == (204, b"")
    assert (await api.get(PUSHOVER)).raw == captured("config_pushover.json")
    assert (api.settings.pushover.url, api.settings.pushover.enabled) == (CAPTURED_URL, True)


async def test_new_secrets_are_never_shown(api: ConfigApi) -> None:
    reply = await api.post(f"{PUSHOVER}/", {"set": {"token": NEW_TOKEN, "user-key": "k" * 30}})
    assert reply.status == 204
    for path in (CONFIG, PUSHOVER, f"{PUSHOVER}/"):
        raw = (await api.get(path)).raw
        assert NEW_TOKEN.encode() not in raw and b"k" * 30 not in raw
    assert api.settings.pushover_token() == NEW_TOKEN


async def test_overrides_are_stored_and_win_at_the_next_start(tmp_path: Path) -> None:
    async for a in running(tmp_path, config()):
        await a.post(f"{PUSHOVER}/", {"set": {"token": NEW_TOKEN}})
    async for a in running(tmp_path, config()):
        assert a.settings.pushover_token() == NEW_TOKEN
    skip = config(**{"skip-config-overrides": True})
    async for a in running(tmp_path, skip):
        assert a.settings.pushover_token() == TOKEN
        assert len(await a.store.config_overrides()) == 1  # kept, just not applied


# --- [[httppost]] ------------------------------------------------------------------------------

HTTPPOST = f"{CONFIG}/httppost"
TEST_ENDPOINT = {"endpoint": "test", "url": "http://httppost.example.com",
                 "headers": {"testing": "works"}}


def endpoint_element(headers: str = "true", basic_auth: str = "false",
                     name: str = "test", url: str = "http://httppost.example.com") -> str:
    """Kapacitor's element for TestServer_UpdateConfig's httppost section, except that the
    headers are redacted like basic-auth (they usually carry a token; Kapacitor shows them)."""
    return (f'{{"link":{{"rel":"self","href":"/kapacitor/v1/config/httppost/{name}"}},'
            '"options":{"alert-template":"","alert-template-file":"",'
            f'"basic-auth":{basic_auth},"endpoint":"{name}","headers":{headers},'
            f'"row-template":"","row-template-file":"","url":"{url}"}},'
            '"redacted":["headers","basic-auth"]}')


@pytest.fixture
async def posts(tmp_path: Path) -> AsyncIterator[ConfigApi]:
    async for a in running(tmp_path, config(httppost=[TEST_ENDPOINT])):
        yield a


async def test_httppost_section_lists_elements_keyed_by_endpoint(posts: ConfigApi) -> None:
    reply = await posts.get(HTTPPOST)
    assert reply.raw.decode() == ('{"link":{"rel":"self","href":"/kapacitor/v1/config/httppost"},'
                                  f'"elements":[{endpoint_element()}]}}\n')
    assert (await posts.get(f"{HTTPPOST}/test")).raw.decode() == endpoint_element() + "\n"


async def test_httppost_set_headers_and_basic_auth_shows_it_redacted(posts: ConfigApi) -> None:
    reply = await posts.post(f"{HTTPPOST}/test", {"set": {
        "headers": {"testing": "more"},
        "basic-auth": {"username": "usr", "password": "pass-secret"}}})
    assert reply.status == 204
    raw = (await posts.get(f"{HTTPPOST}/test")).raw
    assert raw.decode() == endpoint_element("true", "true") + "\n"
    assert b"pass-secret" not in raw and b"more" not in raw
    assert {"pass-secret", "more"} <= set(posts.settings.config.secrets())
    assert posts.settings.endpoint("test").headers == {"testing": "more"}  # type: ignore[union-attr]


async def test_httppost_add_and_remove_an_element(posts: ConfigApi) -> None:
    new = {"endpoint": "new", "url": "http://new.example/x"}
    assert (await posts.post(HTTPPOST, {"add": new})).status == 204
    raw = (await posts.get(f"{HTTPPOST}/new")).raw.decode()
    assert raw == endpoint_element("false", name="new", url="http://new.example/x") + "\n"
    assert posts.settings.endpoint("new") is not None
    again = await posts.post(HTTPPOST, {"add": new})
    assert (again.status, again.error) == (
        400, "failed to apply update: cannot add new override, override already exists for "
             "httppost/new")
    assert (await posts.post(HTTPPOST, {"remove": ["new"]})).status == 204
    gone = await posts.get(f"{HTTPPOST}/new")
    assert (gone.status, gone.error) == (404, "unknown section/element: httppost/new")
    assert posts.settings.endpoint("new") is None


async def test_httppost_refusals(posts: ConfigApi) -> None:
    cases = [
        (f"{HTTPPOST}/test", {"set": {"endpoint": "x"}},
         "failed to override configuration httppost/test: cannot override element key "
         "endpoint"),
        (f"{HTTPPOST}/nope", {"set": {"url": "http://x.example/"}},
         "failed to override configuration httppost/nope: unknown options [url] in section "
         "httppost"),
        (f"{HTTPPOST}/test", {"set": {"headers": {"a": 1}}},
         "failed to override configuration httppost/test: cannot set option headers: failed "
         "to copy map value: wrong kind float64, expected value of kind string: false"),
        (f"{HTTPPOST}/test", {"set": {"alert-template": "{{.Message}}"}},
         "failed to override configuration httppost/test: failed validation: alert-template "
         "is not supported by pushoverd: a post body is always Kapacitor's default alert JSON;"
         " remove it or leave it empty"),
        (HTTPPOST, {"add": {"url": "http://x.example/"}},
         'failed to apply update: missing key "endpoint" in "add" map'),
        (HTTPPOST, {"add": {"endpoint": "test", "url": "http://x.example/"}},
         'failed to read sections from configuration object: section "httppost" has '
         'duplicate elements: "test"'),
        (f"{HTTPPOST}/test", {"set": {"basic-auth": {"user": "x"}}},
         "failed to override configuration httppost/test: cannot set option basic-auth: failed "
         "to decode options into *httppost.BasicAuth: 1 error(s) decoding:\n\n* '' has "
         "invalid keys: user"),
    ]
    for path, body, error in cases:
        reply = await posts.post(path, body)
        assert (reply.status, reply.error) == (400, error), body
