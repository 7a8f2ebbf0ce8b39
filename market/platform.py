"""The market platform as one object: its database, its oracle, its markets and its clock.

The REST API, the CLI and the demo all work through a :class:`Platform`. It owns no chain
connection of its own: every chain write is an outbox message of its
:class:`~oracle.service.OracleService`, and chain state comes back through the oracle's event
indexer (:meth:`pump`), which :mod:`market.sync` applies to the platform's tables.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from market.auth import MemoryNonceStore
from market.db.migrate import upgrade
from market.gates import MarketCatalogue
from market.intake import GroupCommitter
from market.sync import EventSync, SyncReport
from market.webhooks import WebhookTargets
from oracle.identity import Signer
from oracle.outbox.dispatcher import RoundReport
from oracle.relay import relay_spec
from oracle.service import OracleService
from oracle.types import Address, Role


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Sign-in (EIP-4361) and session settings."""

    domain: str  # the host[:port] wallets sign in to, e.g. "localhost:8000"
    uri: str  # the platform's base URI, e.g. "http://localhost:8000"
    session_secret: bytes
    session_ttl: timedelta = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket per participant: ``burst`` requests at once, ``per_second`` refill."""

    per_second: float = 200.0
    burst: int = 400


@dataclass
class Platform:
    engine: Engine
    oracle: OracleService
    operator: Signer  # the market operator: trust anchor, records trades, finalises
    oracle_address: Address  # holds the ORACLE role: commits orders, attests metering
    auth: AuthConfig
    markets: MarketCatalogue = field(default_factory=MarketCatalogue)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    pricing: str = "pay_as_bid"
    # Where webhooks may post: never loopback or private networks unless this says so.
    webhook_targets: WebhookTargets = field(default_factory=WebhookTargets)
    # The single writer that commits accepted orders in groups (market/intake.py); None:
    # each request commits its own transaction (scripts, tests that want it).
    intake: GroupCommitter | None = None

    def __post_init__(self) -> None:
        upgrade(self.engine)
        if "wallet.transaction" not in self.oracle.registry.kinds():
            self.oracle.registry.register(relay_spec())
        self.nonces = MemoryNonceStore()
        self.sync = EventSync(self.engine, self.oracle)
        # The dispatcher is not thread-safe: the background pump and every chain write
        # (publish, relay, moving a development chain's clock) take this lock. A single
        # read does not: each provider answers one request at a time (the embedded chain
        # serialises its own), so the API's checks never wait for a whole pump round.
        self.chain_lock = threading.RLock()
        # Steps that follow chain state, run after every sync (e.g. activating the sellers
        # of newly recorded trades); the composition root registers them.
        self.after_sync: list[Callable[[Platform], object]] = []

    @property
    def chain_id(self) -> int:
        return self.oracle.suite.chain_id

    @property
    def operator_address(self) -> Address:
        return self.operator.address

    def now(self) -> int:
        """The platform's time in unix seconds (the chain's time in a development demo)."""
        return self.clock()

    def has_role(self, address: Address, role: Role) -> bool:
        """From the oracle's cached view: a read, so no chain lock (see ``chain_lock``)."""
        return self.oracle.view.has_role(address, role)

    def pump(self) -> tuple[RoundReport, SyncReport]:
        """One round: send and confirm outbox messages, index events, apply them."""
        with self.chain_lock:
            report = self.oracle.dispatcher.run_once()
            self.oracle.index()
            synced = self._apply_events()
        return report, synced

    def settle(self, timeout_s: float = 120.0) -> tuple[RoundReport, SyncReport]:
        """Pump until the outbox is idle (CLI jobs, the demo, tests)."""
        with self.chain_lock:
            report = self.oracle.drain(timeout_s=timeout_s)
            self.oracle.index()
            synced = self._apply_events()
        return report, synced

    def _apply_events(self) -> SyncReport:
        synced = self.sync.run_once()
        if {"RoleGranted", "RoleRevoked"} & synced.by_event.keys():
            self.oracle.view.forget()  # role answers are cached; a grant must count at once
        for hook in self.after_sync:
            hook(self)
        return synced

    def close(self) -> None:
        if self.intake is not None:
            self.intake.close()
        self.oracle.close()
