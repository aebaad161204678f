"""Failed authentication attempts per client address, and the cool-down they earn.

After ``max_failures`` failures within ``window`` seconds an address is blocked for
``cooldown`` seconds: its requests are answered 429 without their credentials being checked,
so a password cannot be guessed faster than ``max_failures`` per ``window + cooldown``. At most
``max_addresses`` addresses are remembered (the least recently failed are forgotten first), so
a flood from many addresses costs bounded memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class FailureLimiter:
    """Counts failures per address; says how long an address must still wait."""

    def __init__(self, max_failures: int = 10, window: float = 60.0, cooldown: float = 60.0,
                 max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.cooldown = max_failures, window, cooldown
        self._max_addresses, self._clock = max_addresses, clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def wait(self, address: str) -> float:
        """Seconds ``address`` is still blocked for; 0 when it may try."""
        record = self._records.get(address)
        if record is None:
            return 0.0
        return max(0.0, record.blocked_until - self._clock())

    def failed(self, address: str) -> bool:
        """Count a failure; True when it has just blocked the address."""
        now = self._clock()
        record = self._records.pop(address, None) or _Record()
        self._records[address] = record  # now the most recent
        if len(self._records) > self._max_addresses:
            self._records.popitem(last=False)
        record.failures.append(now)
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        if len(record.failures) < self.max_failures:
            return False
        record.failures.clear()
        record.blocked_until = now + self.cooldown
        return True

    def tracked(self) -> int:
        """How many addresses are remembered."""
        return len(self._records)
