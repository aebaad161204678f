"""Credentials -> the user they authenticate, with Kapacitor's 401 texts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pushoverd.auth.credentials import Credentials
from pushoverd.auth.passwords import PasswordChecker
from pushoverd.auth.privileges import Privilege, User, privileges_of
from pushoverd.auth.tokens import token_username
from pushoverd.errors import Unauthorized


class UserEntry(Protocol):
    """What a configured user gives (``[[pushoverd.users]]``)."""

    name: str
    password_hash: str
    permissions: list[str]


class Authenticator:
    """The configured users and shared secret.

    A token names a configured user and has that user's permissions. With a shared secret and
    no users at all, a valid token grants every privilege: whoever holds the secret can sign any
    token, so there is no one to tell apart.
    """

    def __init__(self, users: Sequence[UserEntry], shared_secret: str = "") -> None:
        self._users = {u.name: User(u.name, privileges_of(u.permissions)) for u in users}
        self._passwords = PasswordChecker({u.name: u.password_hash for u in users})
        self._secret = shared_secret

    async def authenticate(self, credentials: Credentials) -> User:
        """The user ``credentials`` authenticate; raises :class:`Unauthorized`."""
        if credentials.scheme == "bearer":
            return self._token_user(token_username(credentials.token, self._secret))
        if not credentials.username:
            raise Unauthorized("username required")
        if not await self._passwords.check(credentials.username, credentials.password):
            raise Unauthorized("authorization failed")
        return self._users[credentials.username]

    def _token_user(self, username: str) -> User:
        if not self._users:
            return User(username, frozenset(Privilege))
        user = self._users.get(username)
        if user is None:
            raise Unauthorized(f'invalid token: unknown user "{username}"')
        return user
