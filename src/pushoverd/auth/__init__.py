"""Authentication and authorization for the HTTP API, as Kapacitor's ``[http] auth-enabled``.

    module          job                                                      imports
    privileges      read/write, the privilege an HTTP method needs, User     (none)
    passwords       bcrypt hashes: make, recognise, check (cached, in a thread)  bcrypt
    credentials     the Authorization header and u/p query -> Credentials    errors
    tokens          Bearer JWTs signed with [http] shared-secret -> username  PyJWT, errors
    limiter         failed attempts per client address -> a cool-down         (none)
    authenticator   Credentials -> User, from the configured users            the above

The HTTP middleware that uses them is :mod:`pushoverd.api.auth`; the users come from
``[[pushoverd.users]]`` (:class:`pushoverd.config.schema.UserConfig`).
"""

from pushoverd.auth.authenticator import Authenticator
from pushoverd.auth.credentials import Credentials, parse_credentials
from pushoverd.auth.limiter import FailureLimiter
from pushoverd.auth.passwords import PasswordChecker, hash_password, is_bcrypt_hash
from pushoverd.auth.privileges import Privilege, User, required_privileges

__all__ = [
    "Authenticator",
    "Credentials",
    "FailureLimiter",
    "PasswordChecker",
    "Privilege",
    "User",
    "hash_password",
    "is_bcrypt_hash",
    "parse_credentials",
    "required_privileges",
]
