"""bcrypt password hashes: made by ``pushoverd hash-password``, checked for every request.

Checking a bcrypt hash costs about 0.25 s of CPU at the default cost, and the ``kapacitor`` CLI
sends its password with every request. So a check runs in a worker thread (the event loop keeps
serving), and a successful one is remembered as a keyed digest of name and password (never the
password itself) in a bounded cache, so a client repeating the right password is not slowed.
A user that does not exist is checked against a dummy hash, so the answer takes as long as for
a wrong password and does not tell which user names exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

MAX_PASSWORD_BYTES = 72
"""bcrypt reads at most 72 bytes of a password (bcrypt 5 refuses longer ones)."""

DEFAULT_COST = 12
"""bcrypt's own default work factor (2^12 rounds)."""

_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


def is_bcrypt_hash(text: str) -> bool:
    """Whether ``text`` is a bcrypt hash (``$2b$12$`` + 53 characters; ``$2a$``/``$2y$`` too)."""
    return _BCRYPT.fullmatch(text) is not None


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """A bcrypt hash of ``password``. Raises ValueError if it is empty or over 72 bytes."""
    raw = password.encode()
    if not raw:
        raise ValueError("the password is empty")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes, "
                         "which bcrypt cannot use")
    return bcrypt.hashpw(raw, bcrypt.gensalt(cost)).decode()


def _matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # over 72 bytes, or a hash bcrypt cannot read: no match
        return False


class PasswordChecker:
    """Checks passwords against the configured hashes; remembers recent successes."""

    def __init__(self, hashes: Mapping[str, str], cache_size: int = 1024) -> None:
        self._hashes = {name: h.encode() for name, h in hashes.items()}
        self._key = secrets.token_bytes(32)  # per process: cached digests are useless elsewhere
        self._dummy = bcrypt.hashpw(b"dummy", bcrypt.gensalt(self._cost()))
        self._good: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size

    def _cost(self) -> int:
        costs = [int(h[4:6]) for h in self._hashes.values()]
        return max(costs, default=4)  # as slow as the slowest real hash

    async def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s."""
        raw = password.encode()
        digest = hmac.new(self._key, name.encode() + b"\0" + raw, hashlib.sha256).digest()
        if digest in self._good:
            self._good.move_to_end(digest)
            return True
        hashed = self._hashes.get(name)
        ok = await asyncio.to_thread(_matches, raw, hashed or self._dummy)
        if ok and hashed is not None:
            self._good[digest] = None
            if len(self._good) > self._cache_size:
                self._good.popitem(last=False)
        return ok and hashed is not None
