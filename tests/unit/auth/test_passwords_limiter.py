"""bcrypt hashes, the password checker and the per-address failure limiter."""

from __future__ import annotations

import asyncio

import bcrypt
import pytest

from pushoverd.auth import FailureLimiter, PasswordChecker, hash_password, is_bcrypt_hash
from pushoverd.auth.privileges import Privilege, User, privileges_of, required_privileges


def fast_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


# --- hashes ------------------------------------------------------------------------------------

def test_hash_password_makes_a_bcrypt_hash_that_checks() -> None:
    hashed = hash_password("hunter2", cost=4)
    assert hashed.startswith("$2b$04$") and is_bcrypt_hash(hashed)
    assert bcrypt.checkpw(b"hunter2", hashed.encode())
    assert "hunter2" not in hashed


@pytest.mark.parametrize(("password", "message"), [("", "empty"), ("x" * 73, "72 bytes")])
def test_hash_password_refuses_what_bcrypt_cannot_use(password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hash_password(password, cost=4)


@pytest.mark.parametrize("text", [
    "hunter2", "", "$2b$12$short", "$1$abc$" + "x" * 53, "$2b$99$" + "a" * 53,
    fast_hash("pw") + "x",
])
def test_plain_passwords_and_other_hashes_are_not_bcrypt(text: str) -> None:
    assert not is_bcrypt_hash(text)


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_variants_are_recognised(prefix: str) -> None:
    assert is_bcrypt_hash(prefix + fast_hash("pw")[4:])


# --- the checker -------------------------------------------------------------------------------

async def test_checker_accepts_the_right_password_only() -> None:
    checker = PasswordChecker({"alice": fast_hash("right")})
    assert await checker.check("alice", "right")
    assert not await checker.check("alice", "wrong")
    assert not await checker.check("nobody", "right")
    assert not await checker.check("alice", "x" * 100)  # over bcrypt's 72 bytes: no match


async def test_a_success_is_remembered_without_the_password(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    checker = PasswordChecker({"alice": fast_hash("right")})
    assert await checker.check("alice", "right")
    calls = []
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: calls.append(a) or False)
    assert await checker.check("alice", "right")  # from the cache: bcrypt not asked
    assert not await checker.check("alice", "wrong") and len(calls) == 1
    assert all(b"right" not in key for key in checker._good)


async def test_the_cache_is_bounded() -> None:
    checker = PasswordChecker({f"u{i}": fast_hash("pw") for i in range(3)}, cache_size=2)
    await asyncio.gather(*(checker.check(f"u{i}", "pw") for i in range(3)))
    assert len(checker._good) == 2


# --- privileges --------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "needed"), [
    ("GET", {Privilege.READ}), ("HEAD", {Privilege.READ}), ("POST", {Privilege.WRITE}),
    ("PUT", {Privilege.WRITE}), ("PATCH", {Privilege.WRITE}), ("DELETE", {Privilege.WRITE}),
    ("TRACE", {Privilege.READ, Privilege.WRITE}),
])
def test_the_method_decides_the_privilege(method: str, needed: set[Privilege]) -> None:
    assert required_privileges(method) == needed


def test_permissions_grant_privileges() -> None:
    reader = User("r", privileges_of(["read"]))
    assert reader.missing(required_privileges("GET")) is None
    assert reader.missing(required_privileges("DELETE")) is Privilege.WRITE
    assert User("w", privileges_of(["write"])).missing(required_privileges("GET")) is (
        Privilege.READ)
    assert privileges_of(["all"]) == privileges_of(["read", "write"]) == frozenset(Privilege)


# --- the limiter -------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_blocked_after_too_many_failures_then_released() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_failures=3, window=60, cooldown=30, clock=clock)
    assert [limiter.failed("a") for _ in range(3)] == [False, False, True]
    assert limiter.wait("a") == 30 and limiter.wait("b") == 0
    clock.now += 29
    assert limiter.wait("a") == pytest.approx(1)
    clock.now += 1
    assert limiter.wait("a") == 0
    assert not limiter.failed("a")  # the count started again


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_failures=3, window=60, cooldown=30, clock=clock)
    limiter.failed("a")
    limiter.failed("a")
    clock.now += 61
    assert not limiter.failed("a") and limiter.wait("a") == 0


def test_memory_is_bounded_by_the_number_of_addresses() -> None:
    limiter = FailureLimiter(max_failures=2, max_addresses=100, clock=Clock())
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert limiter.tracked() == 100
    limiter.failed("10.0.3.231")  # the most recent ones are kept: this one blocks now
    assert limiter.wait("10.0.3.231") > 0
