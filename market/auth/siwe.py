"""EIP-4361 "Sign-In with Ethereum": the message, its exact text, and its verification.

The text is the ABNF of EIP-4361, written by :meth:`SiweMessage.to_text` and read back by
:meth:`SiweMessage.parse`::

    [scheme "://"] domain " wants you to sign in with your Ethereum account:"
    address
    (empty line)
    [statement
    (empty line)]
    (empty line)
    "URI: " uri
    "Version: 1"
    "Chain ID: " chain-id
    "Nonce: " nonce                        8 or more ASCII letters and digits
    "Issued At: " date-time                RFC 3339
    ["Expiration Time: " date-time]
    ["Not Before: " date-time]
    ["Request ID: " *pchar]
    ["Resources:" *(LF "- " URI)]

Lines are separated by a single LF, with no line break after the last one. A message
always holds what its text says, so every field is checked when a :class:`SiweMessage` is
built, by hand or by :meth:`~SiweMessage.parse`, and ``parse(m.to_text()) == m``. The
timestamps are kept as the text they were written as: the signature covers that text,
and RFC 3339 can say things (offsets, nanoseconds) that a datetime would round away.

:func:`verify` checks a message and its EIP-191 ``personal_sign`` signature for one
relying party (domain, scheme and chain), at one instant, and spends its nonce. Only
externally owned accounts are supported (no EIP-1271 contract wallets). Every refusal is
a :class:`~market.auth.errors.SiweError` whose ``field`` names the part that failed.
"""

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.exceptions import ValidationError

from market.auth import _syntax
from market.auth._syntax import parse_date_time
from market.auth.errors import SiweError, SiweField
from oracle.types import Address, ChainId

VERSION: Final = "1"
HEADER_SUFFIX: Final = " wants you to sign in with your Ethereum account:"
RESOURCES_LINE: Final = "Resources:"
RESOURCE_PREFIX: Final = "- "
#: The scheme a message without one is taken to come from (EIP-4361: HTTPS by default).
DEFAULT_SCHEME: Final = "https"
MAX_CHAIN_ID: Final = 2**256 - 1

_TAGS: Final[dict[SiweField, str]] = {
    "uri": "URI: ",
    "version": "Version: ",
    "chain_id": "Chain ID: ",
    "nonce": "Nonce: ",
    "issued_at": "Issued At: ",
    "expiration_time": "Expiration Time: ",
    "not_before": "Not Before: ",
    "request_id": "Request ID: ",
}
_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE: Final = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID: Final = re.compile(r"[0-9]{1,78}")
_HEX_SIGNATURE: Final = re.compile(r"(?:0x)?[0-9a-fA-F]{130}")
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True, kw_only=True)
class SiweMessage:
    """An EIP-4361 message; fields in message order, optional ones default to absent.

    ``resources`` is None when the message has no "Resources:" line and a tuple (possibly
    empty) when it has one; ``request_id`` may be the empty string, as the ABNF allows.
    """

    scheme: str | None = None
    domain: str
    address: Address
    statement: str | None = None
    uri: str
    version: str = VERSION
    chain_id: ChainId
    nonce: str
    issued_at: str
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.resources, Sequence) and not isinstance(self.resources, str):
            object.__setattr__(self, "resources", tuple(self.resources))
        _check_header(self.scheme, self.domain)
        _check_address(self.address)
        _check_statement(self.statement)
        _check_uri("uri", self.uri)
        _check_version(self.version)
        _check_chain_id(self.chain_id)
        _check_nonce(self.nonce)
        _check_timestamps(self)
        _check_request_id(self.request_id)
        _check_resources(self.resources)

    @property
    def issued_at_utc(self) -> datetime:
        return parse_date_time(self.issued_at)

    @property
    def expiration_time_utc(self) -> datetime | None:
        return None if self.expiration_time is None else parse_date_time(self.expiration_time)

    @property
    def not_before_utc(self) -> datetime | None:
        return None if self.not_before is None else parse_date_time(self.not_before)

    def to_text(self) -> str:
        """The exact EIP-4361 text: what the wallet shows and the user signs."""
        origin = self.domain if self.scheme is None else f"{self.scheme}://{self.domain}"
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        lines += [""] if self.statement is None else [self.statement, ""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        lines += [f"{_TAGS[name]}{value}" for name, value in self._optional_tagged()]
        if self.resources is not None:
            lines.append(RESOURCES_LINE)
            lines += [RESOURCE_PREFIX + resource for resource in self.resources]
        return "\n".join(lines)

    def _optional_tagged(self) -> list[tuple[SiweField, str]]:
        optional: list[tuple[SiweField, str | None]] = [
            ("expiration_time", self.expiration_time),
            ("not_before", self.not_before),
            ("request_id", self.request_id),
        ]
        return [(name, value) for name, value in optional if value is not None]

    @classmethod
    def parse(cls, text: str) -> "SiweMessage":
        """Read an EIP-4361 text; a :class:`SiweError` names the first field that is wrong."""
        if not isinstance(text, str):
            raise SiweError("message", f"expected the message text, not {type(text).__name__}")
        if "\r" in text:
            raise SiweError("message", "lines are separated by LF alone (no CR)")
        lines = _Lines(text.split("\n"))
        scheme, domain = _parse_header(lines.take("domain"))
        address = lines.take("address")
        _check_address(address)
        statement = _parse_statement(lines)
        _check_statement(statement)
        uri, version, chain_id, nonce, issued_at = (
            lines.tagged(name) for name in ("uri", "version", "chain_id", "nonce", "issued_at")
        )
        expiration_time, not_before, request_id = (
            lines.optional_tagged(name) for name in ("expiration_time", "not_before", "request_id")
        )
        resources = _parse_resources(lines)
        lines.expect_end(has_resources=resources is not None)
        return cls(
            scheme=scheme,
            domain=domain,
            address=Address(address),
            statement=statement,
            uri=uri,
            version=version,
            chain_id=ChainId(int(chain_id)),
            nonce=nonce,
            issued_at=issued_at,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=resources,
        )


class _Lines:
    """A cursor over the message's lines that names the field it was looking for."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._next = 0

    def peek(self) -> str | None:
        return self._lines[self._next] if self._next < len(self._lines) else None

    def take(self, field: SiweField) -> str:
        line = self.peek()
        if line is None:
            raise SiweError(field, "missing: the message ends too early")
        self._next += 1
        return line

    def tagged(self, field: SiweField) -> str:
        tag = _TAGS[field]
        line = self.take(field)
        if not line.startswith(tag):
            raise SiweError(field, f"expected a line starting {tag!r}, found {_shorten(line)}")
        value = line[len(tag) :]
        _VALUE_CHECKS[field](value)
        return value

    def optional_tagged(self, field: SiweField) -> str | None:
        line = self.peek()
        return self.tagged(field) if line is not None and line.startswith(_TAGS[field]) else None

    def expect_end(self, *, has_resources: bool) -> None:
        line = self.peek()
        if line is None:
            return
        if line == "" and self._next == len(self._lines) - 1:
            raise SiweError("message", "the message must not end with a line break")
        for field, tag in _TAGS.items():
            if line.startswith(tag.rstrip()):
                raise SiweError(field, f"line {_shorten(line)} is malformed, repeated or misplaced")
        if has_resources:
            raise SiweError("resources", f"expected '- <URI>', found {_shorten(line)}")
        raise SiweError("message", f"unexpected line {_shorten(line)}")


def _parse_header(line: str) -> tuple[str | None, str]:
    if not line.endswith(HEADER_SUFFIX):
        raise SiweError("domain", f"the first line must be '<domain>{HEADER_SUFFIX}'")
    origin = line[: -len(HEADER_SUFFIX)]
    scheme, separator, domain = origin.partition("://")
    parsed = (scheme, domain) if separator else (None, origin)
    _check_header(*parsed)
    return parsed


def _parse_statement(lines: _Lines) -> str | None:
    """The statement between the address and URI: either "", stmt, "" or "", ""."""
    if lines.take("statement") != "":
        raise SiweError("statement", "expected an empty line after the address")
    statement = lines.take("statement")
    if statement == "":
        return None
    if lines.take("statement") != "":
        if statement.startswith(_TAGS["uri"]):
            raise SiweError("statement", "expected two empty lines between address and URI")
        raise SiweError("statement", "expected an empty line after the statement")
    return statement


def _parse_resources(lines: _Lines) -> tuple[str, ...] | None:
    if lines.peek() != RESOURCES_LINE:
        return None
    lines.take("resources")
    resources: list[str] = []
    while (line := lines.peek()) is not None and line.startswith(RESOURCE_PREFIX):
        resources.append(lines.take("resources")[len(RESOURCE_PREFIX) :])
    return tuple(resources)


def _check_chain_id_text(text: str) -> None:
    if not _CHAIN_ID.fullmatch(text):
        raise SiweError("chain_id", f"expected a decimal EIP-155 chain id, found {_shorten(text)}")
    _check_chain_id(int(text))


def _check_header(scheme: str | None, domain: str) -> None:
    if scheme is not None and not (isinstance(scheme, str) and _syntax.SCHEME.fullmatch(scheme)):
        raise SiweError("scheme", f"{_shorten(scheme)} is not an RFC 3986 scheme")
    if not (isinstance(domain, str) and _syntax.is_authority(domain)):
        raise SiweError("domain", f"{_shorten(domain)} is not an RFC 3986 authority (host[:port])")


def _check_address(address: str) -> None:
    if not (isinstance(address, str) and _ADDRESS.fullmatch(address)):
        raise SiweError("address", f"{_shorten(address)} is not a 0x-prefixed 20-byte address")
    if not is_checksum_address(address):
        expected = to_checksum_address(address)
        raise SiweError("address", f"{address} is not EIP-55 checksummed (expected {expected})")


def _check_statement(statement: str | None) -> None:
    if statement is None:
        return
    if not isinstance(statement, str) or statement == "":
        raise SiweError("statement", "must be a non-empty string, or None for no statement")
    if not _syntax.STATEMENT.fullmatch(statement):
        raise SiweError(
            "statement",
            "may hold only ASCII letters, digits, spaces and RFC 3986 reserved or unreserved "
            f"characters (no line break, no '%'): {_shorten(statement)}",
        )


def _check_uri(field: SiweField, uri: str) -> None:
    if not (isinstance(uri, str) and _syntax.is_uri(uri)):
        raise SiweError(field, f"{_shorten(uri)} is not an RFC 3986 URI")


def _check_version(version: str) -> None:
    if version != VERSION:
        raise SiweError("version", f"must be {VERSION!r}, found {_shorten(version)}")


def _check_chain_id(chain_id: int) -> None:
    if isinstance(chain_id, bool) or not isinstance(chain_id, int):
        raise SiweError("chain_id", f"must be an integer, not {type(chain_id).__name__}")
    if not 1 <= chain_id <= MAX_CHAIN_ID:
        raise SiweError("chain_id", f"{chain_id} is not a positive 256-bit EIP-155 chain id")


def _check_nonce(nonce: str) -> None:
    if not (isinstance(nonce, str) and _NONCE.fullmatch(nonce)):
        raise SiweError("nonce", f"must be 8 or more ASCII letters or digits: {_shorten(nonce)}")


def _check_timestamps(message: SiweMessage) -> None:
    _check_date_time("issued_at", message.issued_at)
    if message.expiration_time is not None:
        _check_date_time("expiration_time", message.expiration_time)
    if message.not_before is not None:
        _check_date_time("not_before", message.not_before)


def _check_date_time(field: SiweField, text: str) -> None:
    if not isinstance(text, str):
        raise SiweError(field, f"must be an RFC 3339 date-time string, not {type(text).__name__}")
    try:
        _syntax.parse_date_time(text)
    except ValueError as error:
        raise SiweError(field, f"{_shorten(text)}: {error}") from None


def _check_request_id(request_id: str | None) -> None:
    if request_id is not None and not (
        isinstance(request_id, str) and _syntax.PCHARS.fullmatch(request_id)
    ):
        raise SiweError("request_id", f"must be RFC 3986 pchar characters: {_shorten(request_id)}")


def _check_resources(resources: tuple[str, ...] | None) -> None:
    if resources is None:
        return
    if not isinstance(resources, tuple):
        raise SiweError("resources", "must be a sequence of URIs, or None for no Resources line")
    for resource in resources:
        _check_uri("resources", resource)


_VALUE_CHECKS: Final[dict[SiweField, Callable[[str], None]]] = {
    "uri": functools.partial(_check_uri, "uri"),
    "version": _check_version,
    "chain_id": _check_chain_id_text,
    "nonce": _check_nonce,
    "issued_at": functools.partial(_check_date_time, "issued_at"),
    "expiration_time": functools.partial(_check_date_time, "expiration_time"),
    "not_before": functools.partial(_check_date_time, "not_before"),
    "request_id": _check_request_id,
}


def _shorten(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}…{text[-4:]}"


# --- verification -------------------------------------------------------------------------


class NonceStore(Protocol):
    """Where a relying party keeps the nonces it handed out. ``consume`` must be atomic:
    it returns True exactly once for a nonce that was issued and has not expired."""

    def issue(self) -> str: ...

    def consume(self, nonce: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class VerifiedSignIn:
    """Who signed in, on which chain, with which nonce; ``expires_at`` is the message's
    expiration time (None when it has none)."""

    address: Address
    chain_id: ChainId
    nonce: str
    expires_at: datetime | None


def verify(
    message_text: str,
    signature: bytes | str,
    *,
    expected_domain: str,
    expected_chain_id: int,
    nonce_store: NonceStore,
    now: datetime,
    expected_scheme: str = DEFAULT_SCHEME,
    expected_uri: str | None = None,
) -> VerifiedSignIn:
    """Accept a signed EIP-4361 message once, or raise :class:`SiweError` naming the field.

    Checks, in order: the text parses; the EIP-191 signer is the message's address
    (``signature`` as 65 bytes or 0x-hex, low-s, v in 0/1/27/28); scheme (a message without
    one counts as ``https``, or as ``http`` when that is the expected scheme: the domain
    still binds it), domain and chain id are the expected ones; the URI has the scheme,
    host and port of ``expected_uri`` (the relying party's public URL) when given; ``now``
    lies in [issued at, expiration time) and not before "Not Before". Only then is the nonce
    consumed, so a rejected message never spends a legitimate user's nonce.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("verify needs a timezone-aware 'now'")
    message = SiweMessage.parse(message_text)
    _check_signer(message_text, _signature_bytes(signature), message.address)
    _check_relying_party(message, expected_scheme, expected_domain, expected_chain_id)
    if expected_uri is not None:
        _check_origin(message.uri, expected_uri)
    _check_window(message, now)
    if not nonce_store.consume(message.nonce):
        raise SiweError("nonce", f"{message.nonce!r} is unknown, expired or already used")
    return VerifiedSignIn(
        address=message.address,
        chain_id=message.chain_id,
        nonce=message.nonce,
        expires_at=message.expiration_time_utc,
    )


def _signature_bytes(signature: bytes | str) -> bytes:
    if isinstance(signature, str):
        if not _HEX_SIGNATURE.fullmatch(signature):
            raise SiweError("signature", "expected 65 bytes as 130 hex digits (0x optional)")
        signature = bytes.fromhex(signature.removeprefix("0x"))
    if not isinstance(signature, bytes | bytearray) or len(signature) != 65:
        raise SiweError("signature", "expected a 65-byte r || s || v signature")
    s, v = int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (0, 1, 27, 28):
        raise SiweError("signature", f"recovery byte v={v} is not 0, 1, 27 or 28")
    if not 1 <= s <= _SECP256K1_N // 2:
        raise SiweError("signature", "s is not in the lower half of the curve order (EIP-2)")
    return bytes(signature)


def _check_signer(message_text: str, signature: bytes, address: Address) -> None:
    try:
        signer = Account.recover_message(encode_defunct(text=message_text), signature=signature)
    except (BadSignature, ValidationError, ValueError):
        raise SiweError("signature", "no public key can be recovered from it") from None
    if signer != address:
        raise SiweError("signature", f"signed by {signer}, not by the message's {address}")


def _check_relying_party(message: SiweMessage, scheme: str, domain: str, chain_id: int) -> None:
    implied = scheme.lower() if scheme.lower() == "http" else DEFAULT_SCHEME
    if (message.scheme or implied).lower() != scheme.lower():
        raise SiweError("scheme", f"{message.scheme!r} is not the expected {scheme!r}")
    if message.domain.lower() != domain.lower():
        raise SiweError("domain", f"{message.domain!r} is not the expected {domain!r}")
    if message.chain_id != chain_id:
        raise SiweError("chain_id", f"{message.chain_id} is not the expected {chain_id}")


_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin(uri: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of ``uri`` (lower case; the scheme's default port filled in)."""
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _check_origin(uri: str, expected_uri: str) -> None:
    """The message's URI must point at the relying party: same scheme, host and port."""
    if _origin(uri) != _origin(expected_uri):
        raise SiweError(
            "uri", f"{_shorten(uri)} is not on the platform's public URL {expected_uri!r}"
        )


def _check_window(message: SiweMessage, now: datetime) -> None:
    if now < message.issued_at_utc:
        raise SiweError("issued_at", f"{message.issued_at} is in the future")
    expires_at = message.expiration_time_utc
    if expires_at is not None and now >= expires_at:
        raise SiweError("expiration_time", f"the message expired at {message.expiration_time}")
    not_before = message.not_before_utc
    if not_before is not None and now < not_before:
        raise SiweError("not_before", f"the message is not valid before {message.not_before}")
