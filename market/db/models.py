"""Tables of the market platform: what the platform keeps off chain.

Company details, licence areas, grid models, meter time series and baselines stay here;
the chain holds their hashes, the role grants, the registry entries, orders, trades and
settlements. Times of delivery are integer unix seconds (UTC, slot starts multiples of 900);
power is integer W, energy integer Wh, prices integer euro cents per MWh, as on chain.
Row times (created, updated) are timezone-aware UTC datetimes. Quantities that reach 2^31
(nonces, unix seconds after 2038, W and Wh of large portfolios) are 64-bit columns.
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


def _created() -> datetime:
    return Field(default_factory=utc_now, sa_column=Column(DateTime(timezone=True)))  # type: ignore[no-any-return]


class OrganisationKind(StrEnum):
    DSO = "dso"
    TSO = "tso"
    FSP = "fsp"
    AUDITOR = "auditor"


class OrganisationStatus(StrEnum):
    PENDING = "pending"  # registered, waiting for the market operator's approval
    APPROVED = "approved"  # credential issued, role grant in the outbox
    ACTIVE = "active"  # role grant confirmed on chain
    REJECTED = "rejected"
    REVOKED = "revoked"  # its role was revoked on chain (RoleRevoked indexed)


class Organisation(SQLModel, table=True):
    __tablename__ = "market_organisation"

    id: str = Field(primary_key=True, max_length=36)
    kind: OrganisationKind = Field(index=True)
    status: OrganisationStatus = Field(default=OrganisationStatus.PENDING, index=True)
    address: str = Field(unique=True, index=True, max_length=42)  # the wallet that signs
    did: str = Field(max_length=120)
    name: str = Field(max_length=200)
    legal_name: str = Field(max_length=200)
    registration_number: str = Field(max_length=64)
    country: str = Field(max_length=2)
    email: str = Field(max_length=254)
    details_hash: str = Field(max_length=66)  # keccak of the canonical company details
    licence_area_polygon: str | None = None  # GeoJSON Polygon as JSON text
    licence_area_nodes: str | None = None  # JSON list of grid node ids
    # Same-kind operators whose licence areas this one's overlaps (JSON list of ids), as found
    # at registration and again at approval; the ones the market operator accepted.
    licence_conflicts: str | None = None
    overlap_accepted: str | None = None
    credential: str | None = None  # the W3C role credential (JSON) once approved
    credential_hash: str | None = Field(default=None, max_length=66)
    created_at: datetime = _created()


class GridNode(SQLModel, table=True):
    """A node of a system operator's published structure (a bus, a substation)."""

    __tablename__ = "market_grid_node"

    node_id: int = Field(primary_key=True)
    operator_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    parent_id: int = Field(index=True)  # 0 for a root
    name: str = Field(max_length=120)
    kind: str = Field(max_length=32)
    voltage_kv: float
    x: float | None = None
    y: float | None = None
    network: str = Field(max_length=120)  # where it was imported from
    bus: int | None = None  # the pandapower bus index, when imported from pandapower
    on_chain: bool = False


class AssetStatus(StrEnum):
    REGISTERED = "registered"  # stored; on-chain registration in flight
    ON_CHAIN = "on_chain"  # registered on chain, node proposed
    MAPPED = "mapped"  # node confirmed by the system operator
    RETIRED = "retired"


class Asset(SQLModel, table=True):
    __tablename__ = "market_asset"

    id: str = Field(primary_key=True, max_length=42)  # the asset's on-chain address
    owner_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    technology: str = Field(max_length=32)
    meter_point_id: str = Field(unique=True, max_length=34)
    latitude: float
    longitude: float
    up_w: int = Field(sa_type=BigInteger)
    down_w: int = Field(sa_type=BigInteger)
    proposed_node_id: int
    node_id: int | None = Field(default=None, index=True)
    status: AssetStatus = Field(default=AssetStatus.REGISTERED, index=True)
    created_at: datetime = _created()


class Baseline(SQLModel, table=True):
    """One baseline of an asset for a delivery period; ``values`` is JSON {slot: Wh}."""

    __tablename__ = "market_baseline"
    __table_args__ = (UniqueConstraint("asset_id", "period_start", "method"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_id: str = Field(foreign_key="market_asset.id", index=True, max_length=42)
    owner_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    method: str = Field(max_length=32)
    period_start: int = Field(index=True, sa_type=BigInteger)
    slot_count: int
    values: str
    baseline_hash: str = Field(max_length=66, index=True)
    locked: bool = False  # its hash confirmed on chain
    created_at: datetime = _created()
    # Outside what the meter history suggests (market.baselines.bounds): for the DSO to see.
    flagged: bool = Field(default=False, index=True)
    flag_reason: str | None = Field(default=None, max_length=500)
    # Disputed by the system operator of the asset's area: settlement does not use it.
    disputed_by: str | None = Field(default=None, max_length=36)
    dispute_reason: str | None = Field(default=None, max_length=1000)
    disputed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    CLOSED = "closed"  # the gate closed with the order (partly) unmatched


class MarketOrder(SQLModel, table=True):
    """A signed order as the wallet signed it (EIP-712) plus the platform's bookkeeping."""

    __tablename__ = "market_order"
    __table_args__ = (UniqueConstraint("maker", "nonce"),)

    id: str = Field(primary_key=True, max_length=66)  # the EIP-712 order hash
    market: str = Field(index=True, max_length=32)
    organisation_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    maker: str = Field(index=True, max_length=42)
    side: int
    direction: int
    node_id: int = Field(index=True)
    asset: str = Field(max_length=42, index=True)  # capacity checks read by asset
    slot_start: int = Field(index=True, sa_type=BigInteger)
    slot_count: int
    power_w: int = Field(sa_type=BigInteger)
    min_power_w: int = Field(sa_type=BigInteger)
    divisible: bool
    price_cents_per_mwh: int = Field(sa_type=BigInteger)
    nonce: int = Field(sa_type=BigInteger)
    expiry: int = Field(sa_type=BigInteger)
    signature: str = Field(max_length=132)
    status: OrderStatus = Field(default=OrderStatus.OPEN, index=True)
    filled_w: int = Field(default=0, sa_type=BigInteger)
    gate_closure: int = Field(
        sa_type=BigInteger
    )  # unix seconds; the order can be cancelled and is cleared before it
    created_at: datetime = _created()


class ClearingRun(SQLModel, table=True):
    __tablename__ = "market_clearing_run"

    id: int | None = Field(default=None, primary_key=True)
    market: str = Field(index=True, max_length=32)
    period_start: int = Field(sa_type=BigInteger)
    period_end: int = Field(sa_type=BigInteger)
    pricing: str = Field(max_length=16)
    orders: int
    trades: int
    created_at: datetime = _created()


class OrderExplanation(SQLModel, table=True):
    __tablename__ = "market_order_explanation"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="market_clearing_run.id", index=True)
    order_id: str = Field(foreign_key="market_order.id", index=True, max_length=66)
    reason: str = Field(max_length=40)
    filled_w: int = Field(sa_type=BigInteger)
    remaining_w: int = Field(sa_type=BigInteger)
    text: str


class TradeStatus(StrEnum):
    PENDING = "pending"  # in the outbox
    RECORDED = "recorded"  # on chain, trade id known
    SETTLED = "settled"  # attested on chain
    FINALISED = "finalised"
    FAILED = "failed"  # the chain refused to record it; its orders' fills were given back


class MarketTrade(SQLModel, table=True):
    __tablename__ = "market_trade"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="market_clearing_run.id", index=True)
    buy_order_id: str = Field(foreign_key="market_order.id", index=True, max_length=66)
    sell_order_id: str = Field(foreign_key="market_order.id", index=True, max_length=66)
    buyer_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    seller_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    asset: str = Field(max_length=42, index=True)
    node_id: int
    direction: int
    slot_start: int = Field(index=True, sa_type=BigInteger)
    slot_count: int
    power_w: int = Field(sa_type=BigInteger)
    price_cents_per_mwh: int = Field(sa_type=BigInteger)
    outbox_key: str = Field(unique=True, max_length=200)
    chain_trade_id: int | None = Field(default=None, unique=True, sa_type=BigInteger)
    status: TradeStatus = Field(default=TradeStatus.PENDING, index=True)
    created_at: datetime = _created()


class ActivationStatus(StrEnum):
    SCHEDULED = "scheduled"
    ACKNOWLEDGED = "acknowledged"


class Activation(SQLModel, table=True):
    """What an FSP must deliver for one trade: W per slot at one asset."""

    __tablename__ = "market_activation"

    id: int | None = Field(default=None, primary_key=True)
    trade_id: int = Field(foreign_key="market_trade.id", unique=True)
    fsp_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    asset: str = Field(max_length=42)
    direction: int
    schedule: str  # JSON [{"slot_start": s, "power_w": w}, ...]
    status: ActivationStatus = Field(default=ActivationStatus.SCHEDULED, index=True)
    pushed: int = 0  # webhook deliveries that succeeded
    created_at: datetime = _created()


class Webhook(SQLModel, table=True):
    __tablename__ = "market_webhook"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=128)  # HMAC key for the X-Flexledger-Signature header
    created_at: datetime = _created()


class MeterReading(SQLModel, table=True):
    """Metered energy of one meter point in one 15-minute slot (consumption positive)."""

    __tablename__ = "market_meter_reading"
    __table_args__ = (UniqueConstraint("meter_point_id", "slot_start"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_point_id: str = Field(index=True, max_length=34)
    slot_start: int = Field(index=True, sa_type=BigInteger)
    energy_wh: int = Field(sa_type=BigInteger)
    submitted_by: str = Field(foreign_key="market_organisation.id", max_length=36)
    created_at: datetime = _created()


class MeterCorrection(SQLModel, table=True):
    """A stored meter reading replaced by its system operator (``correct=true``): the audit
    trail of every correction, old and new value, who and why."""

    __tablename__ = "market_meter_correction"

    id: int | None = Field(default=None, primary_key=True)
    meter_point_id: str = Field(index=True, max_length=34)
    slot_start: int = Field(index=True, sa_type=BigInteger)
    old_wh: int = Field(sa_type=BigInteger)
    new_wh: int = Field(sa_type=BigInteger)
    note: str = Field(max_length=1000)
    corrected_by: str = Field(foreign_key="market_organisation.id", max_length=36)
    created_at: datetime = _created()


class SettlementStatus(StrEnum):
    ATTESTING = "attesting"  # attestation in the outbox
    ATTESTED = "attested"  # settled on chain, dispute window open
    FINALISED = "finalised"


class SettlementRecord(SQLModel, table=True):
    __tablename__ = "market_settlement"

    trade_id: int = Field(foreign_key="market_trade.id", primary_key=True)
    chain_trade_id: int = Field(unique=True, sa_type=BigInteger)
    baseline_wh: int = Field(sa_type=BigInteger)
    metered_wh: int = Field(sa_type=BigInteger)
    baseline_method: str = Field(default="nominated", max_length=32)  # what set baseline_wh
    traded_wh: int | None = Field(default=None, sa_type=BigInteger)
    delivered_wh: int | None = Field(default=None, sa_type=BigInteger)
    payment_cents: int | None = Field(default=None, sa_type=BigInteger)
    penalty_cents: int | None = Field(default=None, sa_type=BigInteger)
    status: SettlementStatus = Field(default=SettlementStatus.ATTESTING, index=True)
    outbox_key: str = Field(unique=True, max_length=200)
    created_at: datetime = _created()


TABLES: tuple[type[SQLModel], ...] = (
    Organisation,
    GridNode,
    Asset,
    Baseline,
    MarketOrder,
    ClearingRun,
    OrderExplanation,
    MarketTrade,
    Activation,
    Webhook,
    MeterReading,
    MeterCorrection,
    SettlementRecord,
)


class SyncCursor(SQLModel, table=True):
    """How far the platform has applied the indexed chain events to its own tables."""

    __tablename__ = "market_sync_cursor"

    name: str = Field(primary_key=True, max_length=32)
    last_event_id: int = 0


TABLES = (*TABLES, SyncCursor)


class SchedulerJob(SQLModel, table=True):
    """A market job the scheduler has done, once per (job, market, period): its claim.

    Inserted in the same transaction as the clearing run it claims, so a restart, a second
    scheduler or a second worker never clears the period again (the primary key refuses it).
    ``run_id`` is filled in right after that transaction.
    """

    __tablename__ = "market_scheduler_job"

    job: str = Field(primary_key=True, max_length=16)  # "clear"
    market: str = Field(primary_key=True, max_length=32)
    period_start: int = Field(primary_key=True, sa_type=BigInteger)  # unix s
    period_end: int = Field(sa_type=BigInteger)  # unix s, exclusive
    run_id: int | None = Field(default=None, foreign_key="market_clearing_run.id")
    created_at: datetime = _created()


TABLES = (*TABLES, SchedulerJob)


class RevokedSession(SQLModel, table=True):
    """A session token refused before it expires (logout), kept until it would expire."""

    __tablename__ = "market_revoked_session"

    token_id: str = Field(primary_key=True, max_length=32)  # the token's random id, hex
    address: str = Field(max_length=42)
    expires_at: int = Field(sa_type=BigInteger)  # unix s; afterwards the row may go
    revoked_at: datetime = _created()


class SessionCutoff(SQLModel, table=True):
    """Every session of ``address`` issued at or before ``not_before`` is refused: how the
    market operator (or the wallet itself) revokes all sessions of a wallet at once."""

    __tablename__ = "market_session_cutoff"

    address: str = Field(primary_key=True, max_length=42)
    not_before: int = Field(sa_type=BigInteger)  # unix s
    revoked_by: str = Field(max_length=42)
    updated_at: datetime = _created()


TABLES = (*TABLES, RevokedSession, SessionCutoff)


class ChainFlag(SQLModel, table=True):
    """A chain event the platform did not apply because it disagrees with the platform's
    records (market.sync): for the market operator and auditors to look into."""

    __tablename__ = "market_chain_flag"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(unique=True)  # the indexed_event row; flagged at most once
    event: str = Field(index=True, max_length=64)
    args: str  # the event's arguments as JSON
    tx_hash: str = Field(max_length=66)
    block_number: int = Field(sa_type=BigInteger)
    reason: str = Field(max_length=500)
    created_at: datetime = _created()


TABLES = (*TABLES, ChainFlag)


class Portfolio(SQLModel, table=True):
    """A named group of one FSP's assets that trades as one asset (market.portfolios).

    ``asset_id`` is the portfolio's own registered asset: its orders name it, its node is
    where clearing places it (every member sits at or below that node), and its baseline
    is nominated once for the whole group.
    """

    __tablename__ = "market_portfolio"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: str = Field(foreign_key="market_organisation.id", index=True, max_length=36)
    name: str = Field(max_length=200)
    asset_id: str = Field(foreign_key="market_asset.id", unique=True, max_length=42)
    created_at: datetime = _created()


class PortfolioMember(SQLModel, table=True):
    """An asset in a portfolio; an asset belongs to at most one (its energy counts once)."""

    __tablename__ = "market_portfolio_member"

    asset_id: str = Field(foreign_key="market_asset.id", primary_key=True, max_length=42)
    portfolio_id: int = Field(foreign_key="market_portfolio.id", index=True)


TABLES = (*TABLES, Portfolio, PortfolioMember)
