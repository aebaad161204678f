"""Bearer tokens: JWTs signed with ``[http] shared-secret``, checked as Kapacitor checks them
(``handler.go`` ``authenticate``): an HMAC algorithm (HS256, HS384 or HS512), a valid signature,
an ``exp`` claim that is set and not past, and a non-empty string ``username`` claim.

The 401 texts are Kapacitor 1.5.7's (``tests/data/auth/kapacitord-1.5.7-auth.jsonl``), with
PyJWT's reasons reworded into jwt-go's where Kapacitor shows them after ``invalid token:``.
"""

from __future__ import annotations

import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from pushoverd.errors import Unauthorized

ALGORITHMS = ("HS256", "HS384", "HS512")
"""Kapacitor accepts any HMAC signing method (``*jwt.SigningMethodHMAC``)."""

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "Token is expired"),
    (jwt.ImmatureSignatureError, "Token used before issued"),
    (jwt.InvalidSignatureError, "signature is invalid"),
)


def token_username(token: str, secret: str) -> str:
    """The ``username`` of a valid token; raises :class:`Unauthorized` with Kapacitor's text."""
    if not secret:  # Kapacitor would check against an empty key, which anyone can sign with
        raise Unauthorized("invalid token: bearer tokens need [http] shared-secret")
    claims = _verified_claims(token, secret)
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= 0:
        raise Unauthorized("token expiration required")
    username = claims.get("username")
    if not isinstance(username, str):
        raise Unauthorized("username in token must be a string")
    if not username:
        raise Unauthorized("token must contain a username")
    return username


def _verified_claims(token: str, secret: str) -> dict[str, object]:
    try:
        if token.count(".") != 2:
            raise Unauthorized("invalid token: token contains an invalid number of segments")
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthorized(f"invalid token: unexpected signing method: {algorithm}")
        with warnings.catch_warnings():
            # PyJWT warns about secrets shorter than the hash; the daemon says so once at start.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.decode(token, secret, algorithms=list(ALGORITHMS),
                              options={"verify_aud": False, "verify_iss": False})
    except jwt.PyJWTError as exc:
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), str(exc))
        raise Unauthorized(f"invalid token: {reason}") from None
