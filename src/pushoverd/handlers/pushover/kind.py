"""The ``pushover`` handler kind: Kapacitor's levels and form fields, plus emergencies.

A level maps to Kapacitor's priority unless the handler's ``priorities`` says otherwise; an
emergency (priority 2) carries ``retry``, ``expire`` and a tag naming its handler and alert, so
that it can be cancelled by tag. The options themselves are checked in ``options.py``.

An emergency is followed through its alert's life:

| the alert's last emergency is                 | the new event is             | deliveries      |
|-----------------------------------------------|------------------------------|-----------------|
| ringing (not sent yet, or sent and unanswered) | the same level, priority 2   | suppressed      |
| acknowledged                                  | the same level, priority 2   | suppressed      |
| ringing                                       | another level (recovery too) | cancel, then it |
| expired, cancelled, or there is none          | anything                     | it              |
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import AlertHistory, Outgoing, decode_options
from pushoverd.handlers.pushover.callback import Callbacks
from pushoverd.handlers.pushover.directory import Recipient, addressed, on_call, resolve
from pushoverd.handlers.pushover.options import BUILTIN_SOUNDS, EMERGENCY, PushoverOptions
from pushoverd.handlers.templates import TemplateError, parse_template, template_values
from pushoverd.models import (
    Delivery,
    DeliveryStatus,
    Event,
    HandlerSpec,
    HeldGroup,
    Level,
    ReceiptState,
)
from pushoverd.pushover.message import Message

log = logging.getLogger(__name__)

PRIORITIES = {Level.OK: -2, Level.INFO: -1, Level.WARNING: 0, Level.CRITICAL: 1}
"""Kapacitor's level to Pushover priority mapping."""

SECRET_OPTIONS = frozenset({"user-key"})
"""Options that hold a secret: the API shows REDACTED, never their value."""

_NS = 1_000_000_000


def alert_tag(topic: str, handler_id: str, event_id: str) -> str:
    """The tag an emergency carries for its handler and alert: Pushover cancels by tag, and
    uses it verbatim in a URL, so it is a digest of letters and digits."""
    digest = hashlib.sha256(f"{topic}\0{handler_id}\0{event_id}".encode()).hexdigest()
    return f"pd{digest[:24]}"


class PushoverHandler:
    """A compiled pushover handler: renders each event into a Pushover message."""

    def __init__(self, spec: HandlerSpec, options: PushoverOptions,
                 callbacks: Callbacks | None = None,
                 recipients: Sequence[Recipient] = (),
                 directory: Mapping[str, Recipient] | None = None) -> None:
        self.spec = spec
        self.options = options
        self._callbacks = callbacks
        self._recipients = list(recipients)
        self._directory = directory or {}
        self._templates = {name: parse_template(text, option)
                           for name, option, text in _templated(options) if "{{" in text}

    def priority(self, level: Level) -> int:
        """The priority a level is sent at: the handler's ``priorities``, else Kapacitor's."""
        return self.options.priorities.get(level, PRIORITIES.get(level, 0))

    def plan(self, topic: str, event: Event, history: AlertHistory,
             now: float) -> list[Outgoing]:
        """The event's notification (one per recipient on call at ``now``), suppressed while
        its emergency stands, or preceded by the cancel of any still ringing for the alert."""
        payload, note = self._render(topic, event)
        last = history.last
        ringing = [d for d in history.unfinished if _is_emergency(d) and _ringing(d)]
        if last is not None and _repeats(last, event.level, payload["priority"], bool(ringing)):
            return [Outgoing(payload, suppressed=_why_suppressed(last, bool(ringing)))]
        if ringing:
            return [self._cancel(topic, event.id), *self._addressed(payload, now, note)]
        return self._addressed(payload, now, note)

    def _addressed(self, payload: dict[str, Any], now: float,
                   note: str | None = None) -> list[Outgoing]:
        """One notification per recipient on call (the handler's user key without any)."""
        if payload["priority"] == EMERGENCY and self.options.escalate_to:
            payload = {**payload, "escalate": {"after": self.options.escalate_after,
                                               "to": list(self.options.escalate_to)}}
        if not self._recipients:
            return [Outgoing(payload, note=note)]
        chosen, shift_note = on_call(self._recipients, now)
        return [Outgoing(addressed(payload, r, shift_note), note=note) for r in chosen]

    def _cancel(self, topic: str, event_id: str) -> Outgoing:
        """Stop the repeats of the alert's emergency (``cancel_by_tag``: no message spent)."""
        return Outgoing({"cancel": alert_tag(topic, self.spec.id, event_id),
                         "message": f"stop the emergency of {event_id}"}, control=True)

    def render(self, topic: str, event: Event) -> dict[str, Any]:
        """The message for ``event``; the alert's own time goes out as ``timestamp``."""
        return self._render(topic, event)[0]

    def _render(self, topic: str, event: Event) -> tuple[dict[str, Any], str | None]:
        """The payload, and what went wrong with its templates (their untemplated text is
        used instead)."""
        o = self.options
        texts, note = self._texts(event)
        message = Message.build(
            message=texts["message"] or (event.message if event.message.strip() else event.id),
            title=texts["title"], url=texts["url"], url_title=texts["url_title"],
            device=o.device, sound=o.sound,
            timestamp=_timestamp(event.time_ns), user=o.user_key, html=o.html,
            monospace=o.monospace,
            **self._urgency(self.priority(event.level), topic, event.id, event.level,
                            event.time_ns))
        return message.to_dict(), note

    def _texts(self, event: Event) -> tuple[dict[str, str], str | None]:
        texts = {name: text for name, _, text in _templated(self.options)}
        if not self._templates:
            return texts, None
        values, errors = template_values(event), []
        for name, template in self._templates.items():
            try:
                texts[name] = template.render(values)
            except TemplateError as exc:
                errors.append(f"{name}: {exc}")
                texts[name] = "" if name == "message" else texts[name]
        return texts, ("template failed, untemplated text sent: " + "; ".join(errors)
                       if errors else None)

    def _urgency(self, priority: int, topic: str, event_id: str, level: Level,
                 time_ns: int) -> dict[str, Any]:
        """The priority and what goes with it: retry, expire, a tag and (with a public URL)
        a callback for an emergency; the ttl otherwise (Pushover ignores it for emergencies)."""
        if priority != EMERGENCY:
            return {"priority": priority, "ttl": self.options.ttl}
        callback = "" if self._callbacks is None else self._callbacks.url(
            topic, self.spec.id, event_id, level.name, time_ns)
        return {"priority": priority, "retry": self.options.retry,
                "expire": self.options.expire, "tags": alert_tag(topic, self.spec.id, event_id),
                "callback": callback}

    def summary(self, held: HeldGroup) -> dict[str, Any]:
        """"37 more alerts on topic cpu: 30 CRITICAL, 7 WARNING; latest: ...", sent with the
        latest alert's title, url, device, sound and recipient, at the highest priority its
        held levels map to (an emergency, with retry and expire, if one of them does)."""
        fields = {k: v for k, v in held.latest.payload.items()
                  if k not in ("priority", "retry", "expire", "tags", "ttl")}
        priority = max(self.priority(level) for level in held.by_level)
        return Message.build(**{
            **fields, "message": summary_text(held),
            **self._urgency(priority, held.topic, held.latest.event_id, max(held.by_level),
                            round(held.latest.created_at * 1e9))}).to_dict()

    def readdress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` sent to its recipient's current key, or this handler's current user key
        (the default key if unset)."""
        named = self._directory.get(str(payload.get("recipient", "")))
        if named is not None:
            return addressed({k: v for k, v in payload.items() if k != "recipient_note"},
                             named, None)
        if "recipient" in payload:
            return payload  # a raw key: the handler names it, and it cannot change
        readdressed = {k: v for k, v in payload.items() if k != "user"}
        if self.options.user_key:
            readdressed["user"] = self.options.user_key
        return readdressed


_LAST_UNIX_SECOND = 2**32 - 1
"""Pushover's timestamp is a Unix time; we send none outside 1970-2106."""


def _timestamp(time_ns: int) -> int | None:
    # Go's zero time means "no time given", and a time before 1970 or past 2106 is not one
    # Pushover can show: let it use its receipt time instead of refusing the message.
    seconds = time_ns // _NS
    return seconds if 0 < seconds <= _LAST_UNIX_SECOND else None


_OPEN = frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SENDING})


def _templated(o: PushoverOptions) -> list[tuple[str, str, str]]:
    """(message field, option name, text) of the options that may hold a template."""
    return [("message", "message", o.message), ("title", "title", o.title),
            ("url", "url", o.url), ("url_title", "url-title", o.url_title)]


def _is_emergency(d: Delivery) -> bool:
    return d.payload.get("priority") == EMERGENCY


def _ringing(d: Delivery) -> bool:
    """Whether an emergency still rings (or will, once sent): nobody has answered it."""
    return d.status in _OPEN or (d.status is DeliveryStatus.SENT
                                 and d.receipt_state is ReceiptState.OUTSTANDING)


def _standing(d: Delivery) -> bool:
    """Whether an emergency still stands: ringing, or acknowledged by someone."""
    return _ringing(d) or d.receipt_state is ReceiptState.ACKNOWLEDGED


def _repeats(last: Delivery, level: Level, priority: int, ringing: bool) -> bool:
    """Whether a new emergency at ``level`` would repeat one that still stands."""
    return (_is_emergency(last) and priority == EMERGENCY and last.level == level
            and (ringing or _standing(last)))


def _why_suppressed(d: Delivery, ringing: bool) -> str:
    if d.receipt_state is ReceiptState.ACKNOWLEDGED and not ringing:
        return (f"not sent: the emergency for this alert at {d.level.name} (delivery {d.id}) "
                f"was acknowledged by {d.acknowledged_by or 'someone'}")
    return (f"not sent: the emergency for this alert at {d.level.name} (delivery {d.id}) is "
            "still ringing")


class PushoverKind:
    """The ``pushover`` kind, bound to whether the ``[pushover]`` service is enabled: a fixed
    answer, or a function asked at every alert (the config API can change it at run time)."""

    name = "pushover"
    secret_options = SECRET_OPTIONS
    flood_controlled = True

    def __init__(self, enabled: bool | Callable[[], bool],
                 callbacks: Callbacks | None = None,
                 recipients: Mapping[str, Recipient] | None = None) -> None:
        self._enabled = enabled if callable(enabled) else (lambda: enabled)
        self._callbacks = callbacks
        self.recipients = dict(recipients or {})

    @property
    def disabled_reason(self) -> str | None:
        """Kapacitor's error when the service is off."""
        return None if self._enabled() else "service is not enabled"

    def compile(self, spec: HandlerSpec) -> PushoverHandler:
        """Validate the options as Kapacitor does (unknown keys and non-strings refused)."""
        options = decode_options(PushoverOptions, spec.options, "*pushover.HandlerConfig")
        self._resolve(options.escalate_to, "escalate-to")
        if options.sound and options.sound not in BUILTIN_SOUNDS:
            log.warning("handler %s/%s: sound %r is not one of Pushover's built-in sounds; it "
                        "works only if it is a custom sound of this application",
                        spec.topic, spec.id, options.sound)
        return PushoverHandler(spec, options, self._callbacks,
                               self._resolve(options.recipients, "recipients"),
                               self.recipients)

    def _resolve(self, names: list[str], option: str) -> list[Recipient]:
        for name in names:  # every name must be known, or a key
            try:
                resolve([name], self.recipients)
            except ValueError as exc:
                raise ValidationError(f"failed to decode options into *pushover.HandlerConfig: "
                                      f"1 error(s) decoding:\n\n* '{option}' {exc}") from None
        return resolve(names, self.recipients)

    def summarize(self, held: HeldGroup, handler: Any = None) -> dict[str, Any]:
        """One flood summary for ``held``, rendered by its handler (or, once the handler is
        gone, with the default options)."""
        if not isinstance(handler, PushoverHandler):
            spec = HandlerSpec(held.topic, held.handler_id, self.name)
            handler = PushoverHandler(spec, PushoverOptions(), self._callbacks)
        return handler.summary(held)


def summary_text(held: HeldGroup) -> str:
    """The text of a flood summary, levels from the most severe down."""
    counts = held.by_level
    levels = ", ".join(f"{counts[level]} {level.name}" for level in sorted(counts, reverse=True))
    noun = "alert" if held.count == 1 else "alerts"
    latest = held.latest.payload.get("message", held.latest.event_id)
    return f"{held.count} more {noun} on topic {held.topic}: {levels}; latest: {latest}"
