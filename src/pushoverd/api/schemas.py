"""The ingest body: Kapacitor's ``alert.Data`` as its ``post`` handler sends it."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, field_validator
from pydantic import ValidationError as PydanticError

from pushoverd.errors import ValidationError
from pushoverd.models import Event, Level
from pushoverd.timefmt import parse_go_duration, parse_rfc3339nano

MAX_BATCH = 10_000


class AlertBody(BaseModel):
    """One alert; ``id`` and ``level`` are required, everything else has Kapacitor's default."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    level: Level
    message: str = ""
    details: str = ""
    time: int | None = None
    duration: int = 0
    data: Any = None
    previousLevel: Level = Level.OK
    recoverable: StrictBool = True

    @field_validator("level", "previousLevel", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Level:
        if not isinstance(value, str):
            raise ValueError("must be one of OK, INFO, WARNING, CRITICAL")
        return Level.parse(value)

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be an RFC3339 time string")
        return parse_rfc3339nano(value)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        if isinstance(value, bool):  # JSON true/false is not a number (Go refuses it too)
            raise ValueError("must be integer nanoseconds or Go duration text")
        if isinstance(value, str):
            return parse_go_duration(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def to_event(self, received_ns: int) -> Event:
        """The event, timed at ``received_ns`` when the body gave no time."""
        return Event(
            id=self.id, level=self.level, message=self.message, details=self.details,
            time_ns=received_ns if self.time is None else self.time,
            duration_ns=self.duration, data=self.data, previous_level=self.previousLevel,
            recoverable=self.recoverable)


_ONE = TypeAdapter(AlertBody)
_MANY = TypeAdapter(list[AlertBody])


def parse_alerts(body: bytes) -> list[Event]:
    """Parse one alert or a JSON array of them; ValidationError names the offending field."""
    stripped = body.lstrip()
    many = stripped[:1] == b"["
    try:
        alerts = _MANY.validate_json(body) if many else [_ONE.validate_json(body)]
    except PydanticError as exc:
        raise ValidationError(_describe(exc, many)) from None
    if len(alerts) > MAX_BATCH:
        raise ValidationError(f"too many alerts in one request: {len(alerts)} > {MAX_BATCH}")
    received = time.time_ns()
    return [a.to_event(received) for a in alerts]


def _describe(exc: PydanticError, many: bool) -> str:
    errors = exc.errors()
    if errors[0]["type"] == "json_invalid":
        return f"invalid alert JSON: {errors[0]['ctx'].get('error', errors[0]['msg'])}"
    return "; ".join(_problem(e, many) for e in errors[:5])


def _problem(error: Any, many: bool) -> str:
    loc = list(error["loc"])
    where = f"alert [{loc.pop(0)}]" if many and loc and isinstance(loc[0], int) else "alert"
    field = ".".join(str(p) for p in loc) or "body"
    return f"invalid {where}: {field}: {error['msg'].removeprefix('Value error, ')}"
