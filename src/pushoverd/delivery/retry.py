"""The retry policy: what to do after an attempt, decided from how it failed.

Pure and clock-free: the worker passes ``now`` in and applies the decision.

| outcome                                   | decision                                        |
|-------------------------------------------|-------------------------------------------------|
| 2xx                                       | sent                                            |
| connection error, timeout, 5xx            | retry after backoff while younger than max-age  |
|                                           | (first retry after about 5 s), else dead        |
| 429 / quota exhausted                     | pause everything until the reset, keep queued   |
| other 4xx                                 | dead at once (repeating cannot succeed)         |
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)

MIN_RETRY_SECONDS = 5.0
"""Pushover asks clients to wait at least 5 seconds before retrying a failed request."""

RATE_LIMIT_FALLBACK_SECONDS = 3600.0
"""How long to pause after a 429 that carries no reset time."""


class Action(Enum):
    """What the worker does with a delivery after an attempt."""

    RETRY = "retry"
    DEAD = "dead"
    PAUSE = "pause"


@dataclass(frozen=True, slots=True)
class Decision:
    """The action, when to try again (epoch seconds) and the error to record."""

    action: Action
    error: str
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by a maximum delay and a maximum age."""

    initial: float = MIN_RETRY_SECONDS
    maximum: float = 300.0
    max_age: float = 6 * 3600.0
    jitter: float = 0.2
    random: Callable[[], float] = random.random

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: about 5 s, doubling, capped."""
        # The exponent is bounded so a long-lived delivery cannot overflow the float.
        base = min(self.maximum, self.initial * 2.0 ** min(max(0, attempts - 1), 64))
        spread = base * self.jitter * (2 * self.random() - 1)
        # Jitter never lifts the delay past retry-max, nor below Pushover's 5 s.
        return max(MIN_RETRY_SECONDS, min(self.maximum, base + spread))

    def decide(self, exc: PushoverError, attempts: int, created_at: float, now: float) -> Decision:
        """The decision after a failed attempt (the ``attempts``-th) of a delivery."""
        error = str(exc)
        if isinstance(exc, PushoverRateLimited):
            reset = float(exc.reset) if exc.reset and exc.reset > now else None
            return Decision(Action.PAUSE, error, reset or now + RATE_LIMIT_FALLBACK_SECONDS)
        if isinstance(exc, PushoverRejected):
            return Decision(Action.DEAD, error)
        retry_at = now + self.backoff(attempts)
        if not isinstance(exc, PushoverTransientError) or retry_at - created_at > self.max_age:
            return Decision(Action.DEAD, f"{error} (gave up after {attempts} attempts)")
        return Decision(Action.RETRY, error, retry_at)
