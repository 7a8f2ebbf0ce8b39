"""Session tokens: what a client presents on each request after it signed in with Ethereum.

A token is ``<body>.<tag>``, both unpadded base64url (126 characters in all)::

    body = version (1 byte, = 1) | subject address (20 bytes) | chain id (uint64)
           | issued at (uint64) | expires at (uint64) | token id (16 random bytes)
    tag  = HMAC-SHA256(secret, b"flexledger session v1\\x00" + body)

Integers are big-endian; times are whole unix seconds, UTC. The token is signed, not
encrypted: whoever holds it can read whose it is, and only the secret's holder can make
one. The token id is random, for revocation lists and logs. Decoding is strict (one
spelling per token: no padding, no stray characters, canonical base64), and the tag is
checked in constant time before the body is read.

The secret is an explicit argument of at least 32 bytes until the settings object owns it.
Refusals are :class:`~market.auth.errors.SessionError` with a :class:`SessionFailure`;
invalid arguments when issuing (a programming error) are plain ``ValueError``.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from eth_utils.address import is_checksum_address, to_checksum_address

from market.auth.errors import SessionError, SessionFailure
from oracle.types import Address, ChainId

TOKEN_VERSION: Final = 1
DEFAULT_SESSION_TTL: Final = timedelta(hours=1)
MIN_SECRET_BYTES: Final = 32
_CONTEXT: Final = b"flexledger session v1\x00"
_BODY: Final = struct.Struct(">B20sQQQ16s")
_TAG_BYTES: Final = hashlib.sha256().digest_size
_MAX_TOKEN_CHARS: Final = 256
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_MAX_UINT64: Final = 2**64 - 1
_MAX_UNIX_SECONDS: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the last datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session: who (``address`` on ``chain_id``), from when, until when."""

    address: Address
    chain_id: ChainId
    issued_at: datetime
    expires_at: datetime
    token_id: str  # 32 lower-case hex digits


def issue_session(
    *,
    secret: bytes,
    address: str,
    chain_id: int,
    now: datetime,
    ttl: timedelta = DEFAULT_SESSION_TTL,
) -> str:
    """A signed session token for ``address`` on ``chain_id``, valid from ``now`` for ``ttl``.

    Times are whole seconds: the token is issued at ``now`` rounded down.
    """
    _check_secret(secret)
    issued_at = _unix_seconds(now)
    body = _BODY.pack(
        TOKEN_VERSION,
        _address_bytes(address),
        _chain_id(chain_id),
        issued_at,
        _expiry(issued_at, ttl),
        secrets.token_bytes(16),
    )
    return f"{_encode(body)}.{_encode(_tag(secret, body))}"


def verify_session(token: str, now: datetime, *, secret: bytes) -> Session:
    """The session ``token`` stands for, or :class:`SessionError` if it is refused."""
    _check_secret(secret)
    _unix_seconds(now)
    body, tag = _split(token)
    if not hmac.compare_digest(tag, _tag(secret, body)):
        raise SessionError(SessionFailure.BAD_SIGNATURE, "it was not issued with this secret")
    session = _unpack(body)
    if now < session.issued_at:
        raise SessionError(SessionFailure.NOT_YET_VALID, f"issued at {session.issued_at}")
    if now >= session.expires_at:
        raise SessionError(SessionFailure.EXPIRED, f"expired at {session.expires_at}")
    return session


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the session secret must be at least {MIN_SECRET_BYTES} bytes")


def _unix_seconds(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("session times need a timezone-aware datetime")
    seconds = int(moment.timestamp() // 1)
    if seconds < 0:
        raise ValueError("session times start at the unix epoch")
    return seconds


def _expiry(issued_at: int, ttl: timedelta) -> int:
    ttl_s = int(ttl.total_seconds())
    if ttl_s < 1:
        raise ValueError("a session lasts at least one second")
    if issued_at + ttl_s > _MAX_UNIX_SECONDS:
        raise ValueError("a session cannot outlast the year 9999")
    return issued_at + ttl_s


def _chain_id(chain_id: int) -> int:
    if (
        isinstance(chain_id, bool)
        or not isinstance(chain_id, int)
        or not 1 <= chain_id <= _MAX_UINT64
    ):
        raise ValueError(f"chain_id must be a positive 64-bit integer, not {chain_id!r}")
    return chain_id


def _address_bytes(address: str) -> bytes:
    if not (isinstance(address, str) and is_checksum_address(address)):
        raise ValueError(f"the subject must be an EIP-55 checksummed address, not {address!r}")
    return bytes.fromhex(address[2:])


def _tag(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + body, hashlib.sha256).digest()


def _split(token: str) -> tuple[bytes, bytes]:
    """Body and tag of a well-formed token; SessionError(MALFORMED) otherwise."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise SessionError(SessionFailure.MALFORMED, "not a session token string")
    parts = token.split(".")
    if len(parts) != 2:
        raise SessionError(SessionFailure.MALFORMED, "expected '<body>.<tag>'")
    body, tag = _decode(parts[0]), _decode(parts[1])
    if len(body) != _BODY.size or len(tag) != _TAG_BYTES:
        raise SessionError(SessionFailure.MALFORMED, "body or tag has the wrong length")
    return body, tag


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """Strict unpadded base64url: only its alphabet, and only the canonical spelling."""
    if not _BASE64URL.fullmatch(text):
        raise SessionError(SessionFailure.MALFORMED, "not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise SessionError(SessionFailure.MALFORMED, "not unpadded base64url") from None
    if _encode(raw) != text:
        raise SessionError(SessionFailure.MALFORMED, "not the canonical base64url spelling")
    return raw


def _unpack(body: bytes) -> Session:
    version, address, chain_id, issued_at, expires_at, token_id = _BODY.unpack(body)
    if version != TOKEN_VERSION:
        raise SessionError(SessionFailure.MALFORMED, f"unknown token version {version}")
    return Session(
        address=Address(to_checksum_address(address)),
        chain_id=ChainId(chain_id),
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        token_id=token_id.hex(),
    )
