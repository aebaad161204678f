"""Reading credentials and checking Bearer tokens, against what kapacitord 1.5.7 answered
(tests/data/auth/kapacitord-1.5.7-auth.jsonl, recorded with [http] auth-enabled = true)."""

from __future__ import annotations

import base64
import json
import time
import warnings
from pathlib import Path
from typing import Any

import jwt
import pytest

from pushoverd.auth import parse_credentials
from pushoverd.auth.tokens import token_username
from pushoverd.errors import Unauthorized

SECRET = "s3cret-for-tests"  # the one the capture was made with
CAPTURE = Path(__file__).resolve().parents[2] / "data" / "auth" / "kapacitord-1.5.7-auth.jsonl"


def kapacitor_said(case: str) -> str:
    """The error text kapacitord 1.5.7 answered in the captured ``case``."""
    for line in CAPTURE.read_text().splitlines():
        record = json.loads(line)
        if record["case"] == case:
            assert record["status"] == 401
            return str(json.loads(record["body"])["error"])
    raise KeyError(case)


def token(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS512") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT's short-key warning
        return jwt.encode(claims, key, algorithm=algorithm)


def basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


# --- credentials -------------------------------------------------------------------------------

def test_bearer_comes_first_then_basic_then_query() -> None:
    c = parse_credentials("Bearer abc", {"u": "q", "p": "x"})
    assert (c.scheme, c.token) == ("bearer", "abc")
    c = parse_credentials(basic("alice:pa:ss"), {"u": "q", "p": "x"})
    assert (c.scheme, c.username, c.password) == ("basic", "alice", "pa:ss")
    c = parse_credentials(None, {"u": "q", "p": "x"})
    assert (c.scheme, c.username, c.password) == ("query", "q", "x")


def test_unreadable_basic_falls_back_to_query() -> None:
    c = parse_credentials("Basic !!!", {"u": "q", "p": "x"})
    assert c.scheme == "query"


@pytest.mark.parametrize(("authorization", "query", "case"), [
    (None, {}, "no credentials"),
    ("Basic !!!", {}, "basic not base64"),
    (None, {"u": "bob"}, "query u only"),
])
def test_no_credentials_is_kapacitors_401(authorization: str | None, query: dict[str, str],
                                          case: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        parse_credentials(authorization, query)
    assert str(caught.value) == kapacitor_said(case)


def test_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(parse_credentials(basic("alice:hunter2"), {}))
    assert "abc" not in repr(parse_credentials("Bearer abc", {}))


# --- tokens ------------------------------------------------------------------------------------

FUTURE = int(time.time()) + 3600


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_a_valid_token_gives_its_username(algorithm: str) -> None:
    assert token_username(token({"username": "bob", "exp": FUTURE}, algorithm=algorithm),
                          SECRET) == "bob"


@pytest.mark.parametrize(("claims", "key", "case"), [
    ({"username": "bob", "exp": 1000}, SECRET, "bearer expired"),
    ({"username": "bob"}, SECRET, "bearer without exp"),
    ({"exp": FUTURE}, SECRET, "bearer without username"),
    ({"username": "", "exp": FUTURE}, SECRET, "bearer with empty username"),
    ({"username": "bob", "exp": FUTURE}, "wrong", "bearer wrong key"),
])
def test_bad_tokens_get_kapacitors_texts(claims: dict[str, Any], key: str, case: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        token_username(token(claims, key), SECRET)
    assert str(caught.value) == kapacitor_said(case)


def test_not_a_jwt_gets_kapacitors_text() -> None:
    with pytest.raises(Unauthorized) as caught:
        token_username("abc", SECRET)
    assert str(caught.value) == kapacitor_said("bearer not a JWT")


def test_a_username_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(Unauthorized, match="username in token must be a string"):
        token_username(token({"username": 5, "exp": FUTURE}), SECRET)


def test_unsigned_and_non_hmac_tokens_are_refused() -> None:
    unsigned = jwt.encode({"username": "bob", "exp": FUTURE}, None, algorithm="none")
    with pytest.raises(Unauthorized, match="unexpected signing method: none"):
        token_username(unsigned, SECRET)


def test_without_a_shared_secret_no_token_is_accepted() -> None:
    # Kapacitor would check against an empty key, which anyone can sign with.
    with pytest.raises(Unauthorized, match="shared-secret"):
        token_username(token({"username": "bob", "exp": FUTURE}), "")


def test_errors_never_carry_the_secret_or_token() -> None:
    bad = token({"username": "bob", "exp": 1000})
    with pytest.raises(Unauthorized) as caught:
        token_username(bad, SECRET)
    assert SECRET not in str(caught.value) and bad not in str(caught.value)
