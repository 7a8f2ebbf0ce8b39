"""Sign-in nonces: how they are made, and a store that hands each one out for one use.

A relying party issues a fresh nonce per sign-in attempt, the wallet puts it in the
EIP-4361 message, and :func:`market.auth.siwe.verify` consumes it: a second use of the same
message fails. Any object with ``issue()`` and an atomic ``consume(nonce) -> bool``
satisfies :class:`~market.auth.siwe.NonceStore`; :class:`MemoryNonceStore` is the one for
tests and a single-process dev server (a multi-process server needs a shared store).
"""

import secrets
import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

NONCE_ALPHABET: Final = string.ascii_letters + string.digits
#: 20 characters of 62 give about 119 bits; EIP-4361 asks for at least 8 characters.
NONCE_LENGTH: Final = 20
DEFAULT_NONCE_TTL: Final = timedelta(minutes=10)


def generate_nonce(length: int = NONCE_LENGTH) -> str:
    """A random EIP-4361 nonce: ``length`` ASCII letters and digits from a CSPRNG."""
    if length < 8:
        raise ValueError("an EIP-4361 nonce has at least 8 characters")
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(length))


def utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryNonceStore:
    """Nonces in process memory, each consumable once within ``ttl`` of being issued.

    Thread-safe. Expired nonces are dropped as new ones are issued, so the store holds at
    most the nonces issued within one ``ttl`` (given a clock that does not run backwards).
    """

    def __init__(
        self, ttl: timedelta = DEFAULT_NONCE_TTL, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("a nonce time-to-live must be positive")
        self._ttl = ttl
        self._clock = clock
        self._expiry_by_nonce: dict[str, datetime] = {}  # insertion order is expiry order
        self._lock = threading.Lock()

    def issue(self) -> str:
        nonce = generate_nonce()
        now = self._clock()
        with self._lock:
            self._drop_expired(now)
            self._expiry_by_nonce[nonce] = now + self._ttl
        return nonce

    def consume(self, nonce: str) -> bool:
        """True exactly once for an issued nonce whose time-to-live has not run out."""
        now = self._clock()
        with self._lock:
            expires_at = self._expiry_by_nonce.pop(nonce, None)
        return expires_at is not None and now < expires_at

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry_by_nonce)

    def _drop_expired(self, now: datetime) -> None:
        while self._expiry_by_nonce:
            oldest = next(iter(self._expiry_by_nonce))
            if self._expiry_by_nonce[oldest] > now:
                return
            del self._expiry_by_nonce[oldest]
