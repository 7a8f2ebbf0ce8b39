"""Chain state rebuilt from events alone.

Every state change of the flexledger contracts emits an event, so replaying the events
in chain order reproduces the contracts' state at every point: who owned a DID, which
roles were valid, where each asset sat, how much of each order was filled.
"""

from dataclasses import dataclass, field

from oracle.types import Role

MAX_NODE_DEPTH = 64


@dataclass(slots=True)
class RoleWindow:
    valid_from: int
    valid_until: int
    revoked: bool = False

    def valid_at(self, timestamp: int) -> bool:
        return not self.revoked and self.valid_from <= timestamp < self.valid_until


@dataclass(slots=True)
class AssetState:
    owner: str
    confirmed_node: int = 0
    retired: bool = False
    up_w: int = 0
    down_w: int = 0

    def capacity_w(self, direction: int) -> int:
        """Prequalified capacity in ``direction`` (0 up, 1 down), W."""
        return self.down_w if direction == 1 else self.up_w


@dataclass(frozen=True, slots=True)
class TradeTerms:
    direction: int
    slot_start: int
    slot_count: int
    power_w: int
    price_cents_per_mwh: int
    buyer: str
    seller: str
    attestation_window_s: int = 0  # the windows in force when the trade was recorded
    dispute_window_s: int = 0

    @property
    def delivery_end(self) -> int:
        return self.slot_start + self.slot_count * 900

    @property
    def attestation_closes(self) -> int:
        return self.delivery_end + self.attestation_window_s

    @property
    def dispute_deadline(self) -> int:
        return self.attestation_closes + self.dispute_window_s


@dataclass(slots=True)
class SettlementState:
    attested: bool = False
    disputed: bool = False
    resolved: bool = False
    finalised: bool = False
    deadline: int = 0


@dataclass(slots=True)
class ReplayedState:
    """The contracts' state as of the last replayed event."""

    owners: dict[str, str] = field(default_factory=dict)
    roles: dict[tuple[str, int], RoleWindow] = field(default_factory=dict)
    node_parents: dict[int, int] = field(default_factory=dict)
    assets: dict[str, AssetState] = field(default_factory=dict)
    placed_orders: set[bytes] = field(default_factory=set)
    committed_roots: set[bytes] = field(default_factory=set)
    cancelled: set[bytes] = field(default_factory=set)
    filled: dict[bytes, int] = field(default_factory=dict)
    nonce_claims: dict[tuple[str, int], bytes] = field(default_factory=dict)
    trades: dict[int, TradeTerms] = field(default_factory=dict)
    trade_count: int = 0
    windows_events: int = 0
    # power sold per (asset, direction, slot index = slot start / 900), W
    sold_w: dict[tuple[str, int, int], int] = field(default_factory=dict)
    settlements: dict[int, SettlementState] = field(default_factory=dict)
    penalty_factor_bps: int = 0
    attestation_window_s: int = 0
    dispute_window_s: int = 0
    baseline_locks: dict[bytes, int] = field(default_factory=dict)  # hash -> lock time

    def owner_of(self, identity: str) -> str:
        return self.owners.get(identity.lower(), identity)

    def has_role(self, identity: str, role: Role, timestamp: int) -> bool:
        window = self.roles.get((identity.lower(), int(role)))
        return window is not None and window.valid_at(timestamp)

    def is_at_or_below(self, node: int, ancestor: int) -> bool:
        for _ in range(MAX_NODE_DEPTH):
            if node == ancestor:
                return True
            if node not in self.node_parents or node == 0:
                return False
            node = self.node_parents[node]
        return False
