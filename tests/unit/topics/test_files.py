"""Handler files (``<load dir>/handlers/*.yaml|yml|json``): parsing and the errors operators see."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushoverd.errors import HandlerFileError, InvalidHandlerSpec
from pushoverd.models import HandlerSpec
from pushoverd.topics.files import file_error, handler_dir, load_dir, read_file

# The pushover handler file from Kapacitor's docs (event_handlers/pushover.md).
DOCS_YAML = """\
id: handler-id
topic: topic-name
kind: pushover
options:
  device: device1, device2, device3
  title: Alert from Kapacitor
  url: http://example.com
  url-title: This is an example title
  sound: siren
"""
DOCS_SPEC = HandlerSpec(
    topic="topic-name", id="handler-id", kind="pushover",
    options={"device": "device1, device2, device3", "title": "Alert from Kapacitor",
             "url": "http://example.com", "url-title": "This is an example title",
             "sound": "siren"})


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> HandlerFileError:
    with pytest.raises(HandlerFileError) as info:
        read_file(path)
    return info.value


@pytest.mark.parametrize("name", ["h.yaml", "h.yml", "H.YAML"])
def test_reads_kapacitors_documented_yaml_file(tmp_path: Path, name: str) -> None:
    assert read_file(write(tmp_path, name, DOCS_YAML)) == DOCS_SPEC


def test_reads_a_json_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mem.json", '{\n  "id": "mem-default",\n  "topic": "mem",\n'
                 '  "kind": "pushover",\n  "options": {"title": "Memory pressure"}\n}\n')
    assert read_file(path) == HandlerSpec(topic="mem", id="mem-default", kind="pushover",
                                          options={"title": "Memory pressure"})


def test_keys_are_case_insensitive_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "h.yaml", "ID: x\nTopic: cpu\nKIND: pushover\nMatch: ''\n"
                                     "Options:\n  sound: siren\ncomment: ignored\n")
    assert read_file(path) == HandlerSpec(topic="cpu", id="x", kind="pushover",
                                          options={"sound": "siren"})


def test_options_and_match_are_optional(tmp_path: Path) -> None:
    spec = read_file(write(tmp_path, "h.yaml", "id: x\ntopic: cpu\nkind: pushover\n"))
    assert spec.options is None
    assert spec.match == ""


def test_option_keys_keep_their_case(tmp_path: Path) -> None:
    # Only the top-level keys are matched case-insensitively; options go to the kind as written.
    spec = read_file(write(tmp_path, "h.yaml", "id: x\ntopic: cpu\nkind: pushover\n"
                                               "options:\n  Sound: siren\n"))
    assert spec.options == {"Sound": "siren"}


@pytest.mark.parametrize(("missing", "text"), [
    ("id", "# cpu alerts\ntopic: cpu\nkind: pushover\n"),
    ("topic", "# cpu alerts\nid: x\nkind: pushover\n"),
    ("kind", "# cpu alerts\nid: x\ntopic: cpu\n"),
])
def test_missing_required_key_names_file_key_and_line(tmp_path: Path, missing: str,
                                                      text: str) -> None:
    path = write(tmp_path, "h.yaml", text)
    error = refused(path)
    # A missing key is reported where the mapping starts.
    assert (error.path, error.key, error.line) == (str(path), missing, 2)
    assert str(error) == f"{path}:2: {missing}: is required and must be a non-empty string"


@pytest.mark.parametrize(("key", "line", "text"), [
    ("id", 1, "id: ''\ntopic: cpu\nkind: pushover\n"),
    ("topic", 3, "id: x\n\ntopic:\nkind: pushover\n"),
    ("kind", 3, "id: x\ntopic: cpu\nkind: 5\n"),
    ("id", 2, "{\n  \"id\": 7,\n  \"topic\": \"cpu\",\n  \"kind\": \"pushover\"\n}\n"),
])
def test_empty_or_non_string_required_key_names_its_own_line(tmp_path: Path, key: str,
                                                             line: int, text: str) -> None:
    name = "h.json" if text.startswith("{") else "h.yaml"
    error = refused(write(tmp_path, name, text))
    assert (error.key, error.line) == (key, line)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "h.yaml", "id: x\ntopic: cpu\n  kind: [pushover\n")
    error = refused(path)
    assert error.line == 3
    assert str(error).startswith(f"{path}:3: invalid YAML: ")


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "h.json", '{\n  "id": "x",\n  "topic": "cpu",\n}\n')
    error = refused(path)
    assert error.line == 4
    assert str(error).startswith(f"{path}:4: invalid JSON: ")


@pytest.mark.parametrize("options", ["  - siren\n", "  siren\n"])
def test_options_that_are_not_a_mapping_are_refused(tmp_path: Path, options: str) -> None:
    path = write(tmp_path, "h.yaml", f"id: x\ntopic: cpu\nkind: pushover\noptions:\n{options}")
    error = refused(path)
    assert (error.key, error.line) == ("options", 4)
    assert "must be a mapping" in str(error)


def test_non_string_match_is_refused(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "h.yaml", "id: x\ntopic: cpu\nkind: pushover\nmatch: 5\n"))
    assert (error.key, error.line) == ("match", 4)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_a_file_must_hold_one_mapping(tmp_path: Path, text: str) -> None:
    error = refused(write(tmp_path, "h.yaml", text))
    assert "must hold one mapping" in str(error)


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_bytes(b"id: \xff\xfe\n")
    assert "cannot read" in str(refused(path))


def test_handler_dir_is_the_handlers_folder_of_the_load_dir(tmp_path: Path) -> None:
    assert handler_dir(tmp_path) == tmp_path / "handlers"
    assert handler_dir(str(tmp_path)) == tmp_path / "handlers"


def test_load_dir_reads_yaml_yml_and_json_sorted_by_name(tmp_path: Path) -> None:
    for name, handler_id in (("c.json", "c"), ("a.yaml", "a"), ("b.yml", "b")):
        body = (f'{{"id": "{handler_id}", "topic": "t", "kind": "pushover"}}'
                if name.endswith(".json") else f"id: {handler_id}\ntopic: t\nkind: pushover\n")
        write(tmp_path, name, body)
    result = load_dir(tmp_path)
    assert [(s.id, path) for s, path in result.specs] == [
        ("a", str(tmp_path / "a.yaml")), ("b", str(tmp_path / "b.yml")),
        ("c", str(tmp_path / "c.json"))]
    assert result.errors == []


def test_load_dir_ignores_other_extensions_and_folders(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", "id: x\n")
    write(tmp_path, "h.yaml.bak", "not: [valid\n")
    (tmp_path / "sub.yaml").mkdir()
    write(tmp_path, "h.yaml", "id: x\ntopic: t\nkind: pushover\n")
    result = load_dir(tmp_path)
    assert [s.id for s, _ in result.specs] == ["x"]
    assert result.errors == []


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\ntopic: t\nkind: pushover\n")
    bad = write(tmp_path, "b.yaml", "id: [b\n")
    write(tmp_path, "c.yaml", "id: c\ntopic: t\nkind: pushover\n")
    result = load_dir(tmp_path)
    assert [s.id for s, _ in result.specs] == ["a", "c"]
    assert [e.path for e in result.errors] == [str(bad)]
    assert result.failed_paths == {str(bad)}


def test_a_second_file_for_the_same_topic_and_id_is_an_error_naming_both(
        tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "id: oncall\ntopic: cpu\nkind: pushover\n")
    second = write(tmp_path, "b.yaml", "# copy\ntopic: cpu\nid: oncall\nkind: pushover\n")
    third = write(tmp_path, "c.json", '{"id": "oncall", "topic": "cpu", "kind": "pushover"}')
    write(tmp_path, "d.yaml", "id: Oncall\ntopic: cpu\nkind: pushover\n")  # ids are case-sensitive
    write(tmp_path, "e.yaml", "id: oncall\ntopic: mem\nkind: pushover\n")  # another topic
    result = load_dir(tmp_path)
    assert [(s.topic, s.id, path) for s, path in result.specs] == [
        ("cpu", "oncall", str(first)), ("cpu", "Oncall", str(tmp_path / "d.yaml")),
        ("mem", "oncall", str(tmp_path / "e.yaml"))]
    assert [str(e) for e in result.errors] == [
        f'{second}:3: id: handler "cpu/oncall" is already defined in {first}',
        f'{third}:1: id: handler "cpu/oncall" is already defined in {first}']
    assert result.failed_paths == {str(second), str(third)}


def test_missing_folder_loads_nothing(tmp_path: Path) -> None:
    result = load_dir(tmp_path / "nowhere")
    assert result.specs == []
    assert result.errors == []


def test_service_refusal_is_reported_against_the_file_key_and_line(tmp_path: Path) -> None:
    text = "id: x\ntopic: cpu\nkind: pushover\noptions:\n  nosuchoption: 1\n"
    exc = InvalidHandlerSpec("failed to create handler: failed to decode options into "
                             "*pushover.HandlerConfig: 1 error(s) decoding:\n\n"
                             "* '' has invalid keys: nosuchoption")
    path = tmp_path / "h.yaml"
    path.write_text(text)
    error = file_error(str(path), exc)
    assert (error.path, error.key, error.line) == (str(path), "options", 4)
    assert str(error).startswith(f"{path}:4: options: failed to create handler: ")


def test_a_bad_template_is_reported_at_its_options_line(tmp_path: Path) -> None:
    text = "id: x\ntopic: cpu\nkind: pushover\noptions:\n  sound: siren\n  title: '{{ .Nope }}'\n"
    path = tmp_path / "h.yaml"
    path.write_text(text)
    exc = InvalidHandlerSpec("failed to create handler: invalid options: 'title' is not a valid "
                             "template: unknown field .Nope")
    error = file_error(str(path), exc)
    assert (error.key, error.line) == ("options.title", 6)
