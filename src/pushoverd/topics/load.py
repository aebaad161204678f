"""Applies the handler files to the topic service, as Kapacitor's load service does.

Each file's spec is defined (created, or replaced when it changed); handlers that came from a
file that is gone are deleted; a file that fails is reported and its previous handler kept.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pushoverd.errors import HandlerFileError, NotFound, PushoverdError
from pushoverd.models import HandlerSpec
from pushoverd.topics.files import LoadResult, file_error, handler_dir, load_dir
from pushoverd.topics.service import TopicService

log = logging.getLogger(__name__)


async def load_handler_files(service: TopicService, folder: str | Path) -> list[HandlerFileError]:
    """Load ``<folder>/handlers``; return one error per file that was not applied."""
    result = load_dir(handler_dir(folder))
    errors = list(result.errors)
    applied: set[tuple[str, str]] = set()
    for spec, path in result.specs:
        try:
            await _define(service, spec, path)
            applied.add((spec.topic, spec.id))
        except PushoverdError as exc:
            errors.append(file_error(path, exc))
    await _remove_missing(service, applied, result, {e.path for e in errors})
    for error in errors:
        log.error("handler file skipped: %s", error)
    return errors


async def _define(service: TopicService, spec: HandlerSpec, path: str) -> None:
    try:
        current = service.handler(spec.topic, spec.id)
    except NotFound:
        await service.create_handler(spec, source=path)
        log.info("loaded handler %s/%s from %s", spec.topic, spec.id, path)
        return
    if current != spec or service.source(spec.topic, spec.id) != path:
        await service.replace_handler(spec.topic, spec.id, spec, source=path)
        log.info("updated handler %s/%s from %s", spec.topic, spec.id, path)


async def _remove_missing(service: TopicService, applied: set[tuple[str, str]],
                          result: LoadResult, failed: set[str]) -> None:
    for topic, handler_id, path in service.file_handlers():
        if (topic, handler_id) in applied or path in failed or path in result.failed_paths:
            continue
        await service.delete_handler(topic, handler_id)
        log.info("removed handler %s/%s: its file %s is gone", topic, handler_id, path)
