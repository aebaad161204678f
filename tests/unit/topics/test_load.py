"""Applying ``<load dir>/handlers`` to the topic service, at start and on every reload (SIGHUP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import HandlerSpec
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.load import load_handler_files
from pushoverd.topics.service import TopicService


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[TopicService]:
    store = SQLiteStore(tmp_path / "pushoverd.db")
    await store.open()
    service = TopicService(store, KindRegistry([PushoverKind(True)]))
    await service.start()
    yield service
    await store.close()


@pytest.fixture
def load_dir(tmp_path: Path) -> Path:
    (tmp_path / "load" / "handlers").mkdir(parents=True)
    return tmp_path / "load"


def write(load_dir: Path, name: str, text: str) -> str:
    path = load_dir / "handlers" / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def yaml_handler(handler_id: str, topic: str = "cpu", sound: str = "siren") -> str:
    return f"id: {handler_id}\ntopic: {topic}\nkind: pushover\noptions:\n  sound: {sound}\n"


def ids(service: TopicService, topic: str = "cpu") -> list[str]:
    return [s.id for s in service.handlers(topic)]


async def test_yaml_and_json_files_become_handlers_owned_by_their_file(
        service: TopicService, load_dir: Path) -> None:
    a = write(load_dir, "a.yaml", yaml_handler("a"))
    b = write(load_dir, "b.json", '{"id": "b", "topic": "cpu", "kind": "pushover"}')
    assert await load_handler_files(service, load_dir) == []
    assert ids(service) == ["a", "b"]
    assert service.handler("cpu", "a") == HandlerSpec("cpu", "a", "pushover", {"sound": "siren"})
    assert (service.source("cpu", "a"), service.source("cpu", "b")) == (a, b)


async def test_loaded_handlers_make_their_topic_exist(service: TopicService,
                                                      load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a", topic="disk"))
    await load_handler_files(service, load_dir)
    assert [t.id for t in await service.topics()] == ["disk"]


async def test_unknown_extensions_are_ignored(service: TopicService, load_dir: Path) -> None:
    write(load_dir, "a.txt", yaml_handler("a"))
    write(load_dir, "b.yaml~", yaml_handler("b"))
    assert await load_handler_files(service, load_dir) == []
    assert ids(service) == []


async def test_one_bad_file_is_reported_and_the_others_load(service: TopicService,
                                                            load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a"))
    bad = write(load_dir, "b.yaml", "id: b\ntopic: cpu\n")
    write(load_dir, "c.yaml", yaml_handler("c"))
    errors = await load_handler_files(service, load_dir)
    assert [(e.path, e.key) for e in errors] == [(bad, "kind")]
    assert ids(service) == ["a", "c"]


async def test_a_spec_the_service_refuses_is_reported_against_its_file(
        service: TopicService, load_dir: Path) -> None:
    bad = write(load_dir, "a.yaml", "id: a\ntopic: cpu\nkind: pushover\n"
                                    "options:\n  nosuchoption: x\n")
    write(load_dir, "b.yaml", yaml_handler("b"))
    write(load_dir, "c.yaml", "id: c\ntopic: cpu\nkind: nosuchkind\n")
    errors = await load_handler_files(service, load_dir)
    assert [(e.path, e.key, e.line) for e in errors[:1]] == [(bad, "options", 4)]
    assert "'' has invalid keys: nosuchoption" in str(errors[0])
    assert 'unsupported action kind "nosuchkind"' in str(errors[1])
    assert ids(service) == ["b"]


async def test_a_changed_file_replaces_its_handler(service: TopicService,
                                                   load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a", sound="siren"))
    await load_handler_files(service, load_dir)
    write(load_dir, "a.yaml", yaml_handler("a", sound="tugboat"))
    assert await load_handler_files(service, load_dir) == []
    assert service.handler("cpu", "a").options == {"sound": "tugboat"}


async def test_a_file_that_changes_its_id_replaces_the_old_handler(
        service: TopicService, load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("old"))
    await load_handler_files(service, load_dir)
    write(load_dir, "a.yaml", yaml_handler("new"))
    await load_handler_files(service, load_dir)
    assert ids(service) == ["new"]


async def test_a_removed_file_deletes_its_handler(service: TopicService,
                                                  load_dir: Path) -> None:
    a = write(load_dir, "a.yaml", yaml_handler("a"))
    write(load_dir, "b.yaml", yaml_handler("b"))
    await load_handler_files(service, load_dir)
    Path(a).unlink()
    assert await load_handler_files(service, load_dir) == []
    assert ids(service) == ["b"]


async def test_a_file_that_became_invalid_keeps_its_previous_handler(
        service: TopicService, load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a", sound="siren"))
    await load_handler_files(service, load_dir)
    bad = write(load_dir, "a.yaml", "id: a\ntopic: cpu\nkind: pushover\noptions: [\n")
    errors = await load_handler_files(service, load_dir)
    assert [e.path for e in errors] == [bad]
    assert service.handler("cpu", "a").options == {"sound": "siren"}


async def test_a_file_the_service_now_refuses_keeps_its_previous_handler(
        service: TopicService, load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a", sound="siren"))
    await load_handler_files(service, load_dir)
    write(load_dir, "a.yaml", "id: a\ntopic: cpu\nkind: pushover\noptions:\n  bogus: x\n")
    assert len(await load_handler_files(service, load_dir)) == 1
    assert service.handler("cpu", "a").options == {"sound": "siren"}


async def test_a_second_file_for_a_handler_is_reported_and_the_first_keeps_it(
        service: TopicService, load_dir: Path) -> None:
    a = write(load_dir, "a.yaml", yaml_handler("oncall", sound="siren"))
    b = write(load_dir, "b.yaml", yaml_handler("oncall", sound="tugboat"))
    for _ in range(2):  # at start, then on every reload
        errors = await load_handler_files(service, load_dir)
        assert [str(e) for e in errors] == [
            f'{b}:1: id: handler "cpu/oncall" is already defined in {a}']
        assert service.handler("cpu", "oncall").options == {"sound": "siren"}
        assert service.source("cpu", "oncall") == a


async def test_a_duplicate_added_later_neither_replaces_nor_deletes_the_handler(
        service: TopicService, load_dir: Path) -> None:
    a = write(load_dir, "a.yaml", yaml_handler("oncall", sound="siren"))
    await load_handler_files(service, load_dir)
    before = service.handler("cpu", "oncall")
    b = write(load_dir, "b.yaml", yaml_handler("oncall", sound="tugboat"))
    assert [e.path for e in await load_handler_files(service, load_dir)] == [b]
    assert service.handler("cpu", "oncall") is before
    Path(a).unlink()  # once the first file is gone, the other one is no longer a duplicate
    assert await load_handler_files(service, load_dir) == []
    assert (service.handler("cpu", "oncall").options, service.source("cpu", "oncall")) == (
        {"sound": "tugboat"}, b)


async def test_handlers_made_through_the_api_survive_a_reload(service: TopicService,
                                                              load_dir: Path) -> None:
    await service.create_handler(HandlerSpec("cpu", "from-api", "pushover"))
    write(load_dir, "a.yaml", yaml_handler("a"))
    await load_handler_files(service, load_dir)
    await load_handler_files(service, load_dir)
    assert ids(service) == ["a", "from-api"]
    assert service.source("cpu", "from-api") is None


async def test_an_unchanged_reload_changes_nothing(service: TopicService,
                                                   load_dir: Path) -> None:
    write(load_dir, "a.yaml", yaml_handler("a"))
    await load_handler_files(service, load_dir)
    before = service.handler("cpu", "a")
    assert await load_handler_files(service, load_dir) == []
    assert service.handler("cpu", "a") is before


async def test_a_missing_handlers_folder_removes_every_file_handler(
        service: TopicService, tmp_path: Path, load_dir: Path) -> None:
    a = write(load_dir, "a.yaml", yaml_handler("a"))
    await load_handler_files(service, load_dir)
    Path(a).unlink()
    (load_dir / "handlers").rmdir()
    assert await load_handler_files(service, load_dir) == []
    assert ids(service) == []
