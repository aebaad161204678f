"""What a request needs and what a user has.

Kapacitor maps the HTTP method to a privilege (``services/httpd/handler.go``
``requiredPrivilegeForHTTPMethod``); pushoverd keeps two of them: **read** for GET and HEAD,
**write** for POST, PUT, PATCH and DELETE (Kapacitor's separate "delete" is folded into write).
A user's ``permissions`` list ``read``, ``write`` or ``all`` (both).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Privilege(enum.Enum):
    """One thing a user may do; the value is the name Kapacitor's 403 text uses."""

    READ = "read"
    WRITE = "write"


PERMISSIONS: dict[str, frozenset[Privilege]] = {
    "read": frozenset({Privilege.READ}),
    "write": frozenset({Privilege.WRITE}),
    "all": frozenset(Privilege),
}
"""The ``permissions`` a user can be given, and the privileges each grants."""

_BY_METHOD = {"GET": Privilege.READ, "HEAD": Privilege.READ, "POST": Privilege.WRITE,
              "PUT": Privilege.WRITE, "PATCH": Privilege.WRITE, "DELETE": Privilege.WRITE}


def required_privileges(method: str) -> frozenset[Privilege]:
    """The privileges a request with ``method`` needs; an unknown method needs them all."""
    found = _BY_METHOD.get(method.upper())
    return frozenset({found}) if found else frozenset(Privilege)


def privileges_of(permissions: list[str]) -> frozenset[Privilege]:
    """The privileges a ``permissions`` list grants (names are checked by the config)."""
    return frozenset().union(*(PERMISSIONS[p] for p in permissions))


@dataclass(frozen=True)
class User:
    """An authenticated user and what they may do."""

    name: str
    privileges: frozenset[Privilege]

    def missing(self, needed: frozenset[Privilege]) -> Privilege | None:
        """The first privilege of ``needed`` the user lacks, or None when they have them all."""
        return next((p for p in Privilege if p in needed and p not in self.privileges), None)
