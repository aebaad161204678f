"""The retry policy: what becomes of a delivery after a failed attempt.

Pure and clock-free: the worker passes ``now`` in and applies the decision. The integration
has already said whether the failure can be retried (``DeliveryFailed.retry``); the policy
decides when:

| the integration said                 | decision                                             |
|--------------------------------------|------------------------------------------------------|
| do not retry                         | dead now                                             |
| retry at a given time (quota reset)  | retry then; not aged out, waiting is not its fault   |
| retry                                | exponential backoff with jitter (first after about   |
|                                      | 5 s, capped at retry-max) while younger than max-age |
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pushoverd.errors import DeliveryFailed

MIN_RETRY_SECONDS = 5.0
"""No retry sooner than this: Pushover asks clients to wait at least 5 seconds, and no other
service deserves to be hammered either."""


class Action(Enum):
    """What the worker does with a delivery after a failed attempt."""

    RETRY = "retry"
    DEAD = "dead"


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
        # Jitter never lifts the delay past retry-max, nor below the 5 s minimum.
        return max(MIN_RETRY_SECONDS, min(self.maximum, base + spread))

    def decide(self, failure: DeliveryFailed, attempts: int, since: float,
               now: float) -> Decision:
        """The decision after the ``attempts``-th failed attempt of a delivery whose retry
        budget counts from ``since`` (its arrival, or its last re-queue)."""
        error = str(failure)
        if not failure.retry:
            return Decision(Action.DEAD, error)
        if failure.retry_at is not None:
            return Decision(Action.RETRY, error, max(failure.retry_at, now))
        retry_at = now + self.backoff(attempts)
        if retry_at - since > self.max_age:
            return Decision(Action.DEAD, f"{error} (gave up after {attempts} attempts)")
        return Decision(Action.RETRY, error, retry_at)
