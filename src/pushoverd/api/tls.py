"""The TLS context HTTPS is served with (``[http] https-enabled``), as Kapacitor loads it:
``https-certificate`` holds the PEM certificate (chain), ``https-private-key`` the key, which
is looked for in the certificate file when empty."""

from __future__ import annotations

import ssl

from pushoverd.errors import StartupError


def _no_password() -> bytes:
    # Without this, OpenSSL would prompt on the terminal for an encrypted key's password.
    raise StartupError("the private key is encrypted; pushoverd needs an unencrypted key")


def server_context(certificate: str, private_key: str = "") -> ssl.SSLContext:
    """A server TLS context over the certificate and key; :class:`StartupError` in one line
    when either cannot be loaded."""
    key = private_key or certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key, password=_no_password)
    except OSError as exc:  # ssl.SSLError is an OSError too
        detail = exc.strerror or getattr(exc, "reason", None) or str(exc)
        raise StartupError(f"cannot load the HTTPS certificate {certificate} and key {key} "
                           f"([http] https-certificate, https-private-key): {detail}") from None
    return context
