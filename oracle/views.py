"""A caching view of the chain for payload checks.

Validating a thousand messages asks the same few questions (does the sender hold the
oracle role, who owns this maker's DID) a thousand times; on py-evm each question is a
50 ms eth_call. The contracts enforce every rule again when the transaction executes, so
the oracle may answer from a cache for a few seconds without weakening anything.
"""

import time
from collections.abc import Callable

from oracle.messages import ChainView
from oracle.types import Address, Role


class CachedChainView:
    """Answers ``has_role``, ``identity_owner`` and ``baseline_locked_at`` from a cache for
    ``ttl_s`` seconds."""

    def __init__(
        self, view: ChainView, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._view = view
        self._ttl_s = ttl_s
        self._clock = clock
        self._roles: dict[tuple[str, Role], tuple[float, bool]] = {}
        self._owners: dict[str, tuple[float, Address]] = {}
        self._locks: dict[bytes, tuple[float, int]] = {}

    @property
    def chain_id(self) -> int:
        return self._view.chain_id

    @property
    def market_address(self) -> Address:
        return self._view.market_address

    def has_role(self, identity: Address, role: Role) -> bool:
        key = (identity.lower(), role)
        cached = self._roles.get(key)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        answer = self._view.has_role(identity, role)
        self._roles[key] = (self._clock(), answer)
        return answer

    def identity_owner(self, identity: Address) -> Address:
        key = identity.lower()
        cached = self._owners.get(key)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        owner = self._view.identity_owner(identity)
        self._owners[key] = (self._clock(), owner)
        return owner

    def baseline_locked_at(self, baseline_hash: bytes) -> int:
        cached = self._locks.get(baseline_hash)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        locked_at = self._view.baseline_locked_at(baseline_hash)
        self._locks[baseline_hash] = (self._clock(), locked_at)
        return locked_at

    def forget(self) -> None:
        self._roles.clear()
        self._owners.clear()
        self._locks.clear()
