"""Errors of market authentication: EIP-4361 sign-in and the session tokens that follow it.

Hierarchy::

    FlexledgerError
    └── MarketError                                  base of every market error
        └── AuthError                                a caller could not be authenticated (401)
            ├── SiweError(AuthError, ValueError)     a sign-in message is malformed or was
            │                                        rejected; ``field`` names the culprit
            └── SessionError(AuthError, ValueError)  a session token is malformed, tampered
                                                     with, expired or not yet valid; ``reason``

``MarketError`` lives in ``market/errors.py``; it is re-exported here for convenience.
"""

from enum import StrEnum
from typing import Literal

from market.errors import MarketError

#: The parts of an EIP-4361 message a :class:`SiweError` can name, in message order, plus
#: ``message`` (the text as a whole) and ``signature`` (the personal_sign signature).
SiweField = Literal[
    "message",
    "scheme",
    "domain",
    "address",
    "statement",
    "uri",
    "version",
    "chain_id",
    "nonce",
    "issued_at",
    "expiration_time",
    "not_before",
    "request_id",
    "resources",
    "signature",
]


class SessionFailure(StrEnum):
    """Why a session token was refused."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"


class AuthError(MarketError):
    """The caller could not be authenticated."""


class SiweError(AuthError, ValueError):
    """An EIP-4361 message is malformed or failed verification; ``field`` says which part."""

    def __init__(self, field: SiweField, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field: SiweField = field
        self.message = message


class SessionError(AuthError, ValueError):
    """A session token was refused; ``reason`` says why."""

    def __init__(self, reason: SessionFailure, message: str) -> None:
        super().__init__(f"session token {reason}: {message}")
        self.reason = reason
        self.message = message
