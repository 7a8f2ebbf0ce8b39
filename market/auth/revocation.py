"""Revoked sessions: logout of one token, and "revoke every session of this wallet".

Session tokens are stateless (HMAC-signed), so refusing one before it expires needs state:
the token ids of logged-out sessions (kept until the token would have expired anyway) and a
per-address cutoff (sessions issued at or before it are refused). Both are database rows,
so every API worker sees them, mirrored in memory so that checking a request costs no
query. This process sees its own revocations at once; other workers' within
``refresh_s`` (the mirror reloads the live rows that often).
"""

import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, delete, select

from market.auth.session import Session
from market.db.models import RevokedSession, SessionCutoff
from oracle.types import Address

if TYPE_CHECKING:
    from market.platform import Platform

DEFAULT_REFRESH_S: Final = 1.0


class SessionRevocations:
    """Which sessions are refused although their tokens verify. Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        *,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token_ids: set[str] = set()
        self._local: dict[str, float] = {}  # token id -> when this process revoked it
        self._cutoffs: dict[str, int] = {}  # address -> unix s
        self._loaded_at: float | None = None

    def is_revoked(self, session: Session) -> bool:
        """Whether ``session`` was logged out or issued before its wallet's cutoff."""
        self._refresh_if_stale()
        with self._lock:
            if session.token_id in self._token_ids:
                return True
            cutoff = self._cutoffs.get(session.address)
        return cutoff is not None and int(session.issued_at.timestamp()) <= cutoff

    def revoke_token(self, session: Session) -> None:
        """Log ``session`` out; rows of tokens that expired meanwhile are dropped."""
        now_s = int(datetime.now(UTC).timestamp())
        with DbSession(self._engine) as db:
            db.exec(delete(RevokedSession).where(col(RevokedSession.expires_at) <= now_s))
            if db.get(RevokedSession, session.token_id) is None:
                db.add(
                    RevokedSession(
                        token_id=session.token_id,
                        address=session.address,
                        expires_at=int(session.expires_at.timestamp()),
                    )
                )
            db.commit()
        with self._lock:
            self._token_ids.add(session.token_id)
            self._local[session.token_id] = self._clock()

    def revoke_all(self, address: Address, *, by: Address, now: datetime) -> int:
        """Refuse every session of ``address`` issued up to ``now``; the cutoff, unix s.

        A wallet signs in again afterwards (in a later second) to get a working session.
        """
        not_before = int(now.timestamp())
        with DbSession(self._engine) as db:
            row = db.get(SessionCutoff, address)
            if row is None:
                row = SessionCutoff(address=address, not_before=not_before, revoked_by=by)
            else:
                row.not_before, row.revoked_by = max(row.not_before, not_before), by
                row.updated_at = datetime.now(UTC)
            db.add(row)
            db.commit()
            not_before = row.not_before
        with self._lock:
            self._cutoffs[address] = not_before
        return not_before

    def _refresh_if_stale(self) -> None:
        now = self._clock()
        with self._lock:
            if self._loaded_at is not None and now - self._loaded_at < self._refresh_s:
                return
            self._loaded_at = now
        now_s = int(datetime.now(UTC).timestamp())
        with DbSession(self._engine) as db:
            token_ids = set(
                db.exec(
                    select(RevokedSession.token_id).where(col(RevokedSession.expires_at) > now_s)
                ).all()
            )
            cutoffs = {row.address: row.not_before for row in db.exec(select(SessionCutoff))}
        with self._lock:
            # A local logout committed after the query began is kept; expired ids go.
            self._local = {t: at for t, at in self._local.items() if now - at < self._refresh_s}
            self._token_ids = token_ids | set(self._local)
            for address, not_before in cutoffs.items():
                self._cutoffs[address] = max(not_before, self._cutoffs.get(address, 0))


_REVOCATIONS: dict[int, SessionRevocations] = {}
_MADE = threading.Lock()


def revocations_of(platform: "Platform") -> SessionRevocations:
    """The platform's revocation mirror, made on first use and dropped with the platform."""
    key = id(platform)
    with _MADE:
        if key not in _REVOCATIONS:
            _REVOCATIONS[key] = SessionRevocations(platform.engine)
            weakref.finalize(platform, _REVOCATIONS.pop, key, None)
        return _REVOCATIONS[key]
