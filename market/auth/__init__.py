"""Authentication for the market: EIP-4361 sign-in, then HMAC-signed session tokens.

* :mod:`~market.auth.siwe`: the EIP-4361 message (exact text both ways) and
  :func:`verify_sign_in` (signer, relying party, time window, single-use nonce).
* :mod:`~market.auth.nonces`: nonce generation and an in-memory :class:`NonceStore`.
* :mod:`~market.auth.session`: compact session tokens issued after sign-in.
* :mod:`~market.auth.errors`: ``MarketError`` → ``AuthError`` → ``SiweError`` /
  ``SessionError``.

``verify_sign_in`` is :func:`market.auth.siwe.verify` under a name that says what it
verifies next to :func:`verify_session`.
"""

from market.auth._syntax import format_date_time
from market.auth.errors import (
    AuthError,
    SessionError,
    SessionFailure,
    SiweError,
    SiweField,
)
from market.auth.nonces import DEFAULT_NONCE_TTL, MemoryNonceStore, generate_nonce
from market.auth.session import DEFAULT_SESSION_TTL, Session, issue_session, verify_session
from market.auth.siwe import NonceStore, SiweMessage, VerifiedSignIn
from market.auth.siwe import verify as verify_sign_in
from market.errors import MarketError

__all__ = [
    "DEFAULT_NONCE_TTL",
    "DEFAULT_SESSION_TTL",
    "AuthError",
    "MarketError",
    "MemoryNonceStore",
    "NonceStore",
    "Session",
    "SessionError",
    "SessionFailure",
    "SiweError",
    "SiweField",
    "SiweMessage",
    "VerifiedSignIn",
    "format_date_time",
    "generate_nonce",
    "issue_session",
    "verify_session",
    "verify_sign_in",
]
