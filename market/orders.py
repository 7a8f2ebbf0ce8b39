"""Signed orders: checked, then stored together with their chain commitment; cancelled.

An order arrives exactly as the maker's wallet signed it (EIP-712, on-chain units: W, euro
cents per MWh, unix s). The platform checks what the contract checks at trade time and what
only the platform knows (gate closure, licence area, prequalified capacity, nonce reuse),
then stores the :class:`MarketOrder` (id = the EIP-712 order hash) and its
``market.order.commit`` outbox message in one database transaction: the oracle commits
order hashes in Merkle batches, and a trade later proves each side against its batch root.

No check costs a chain call per order: the maker's roles and DID owner come from the
oracle's cached view once per request, everything else from the platform's tables (one
query per kind of row for a whole batch), and signatures are recovered with the fast
:mod:`oracle.order_hashing`. A batch is all-or-nothing: the first bad order is named as
``orders.<i>.<field>`` and nothing is stored.
"""

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market import outbox_rows
from market.db.models import (
    Asset,
    AssetStatus,
    GridNode,
    MarketOrder,
    OrderStatus,
    Organisation,
    OrganisationStatus,
    utc_now,
)
from market.errors import ConflictError, ForbiddenError, MarketValueError, NotFoundError
from market.gates import MarketSpec
from market.grid_service import area_node_ids
from market.intake import IntakeEntry
from market.order_capacity import OfferedPower, lock_assets, offered_power, recheck
from market.platform import Platform
from market.registration import of_address
from oracle.eip712 import ZERO_ADDRESS, Order
from oracle.order_hashing import domain_separator, order_hash, recover_signer
from oracle.outbox.models import OutboxMessage
from oracle.payloads import OrderCommitment, OrderFields
from oracle.types import SLOT_SECONDS, Address, Direction, Role, Side

COMMIT_KIND = "market.order.commit"
MAX_SLOTS = 96  # one day of 15-minute slots per order
MAX_PRICE_CENTS_PER_MWH = 1_000_000  # 10,000 EUR/MWh, above any European price cap
BATCH_LIMIT = 500
LATEST_SLOT_START = 4_102_444_800  # 2100-01-01 UTC; keeps gate times within datetime range


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """An order as signed, and its 65-byte signature as 0x-hex."""

    order: Order
    signature: str


@dataclass(frozen=True, slots=True)
class _Context:
    """Everything the checks read, looked up once per request."""

    organisation: Organisation
    market: MarketSpec
    now: int
    separator: bytes
    owner: str  # the maker's DID owner (lower case): whoever may sign for it
    may_buy: bool
    may_sell: bool
    nodes: dict[int, GridNode]
    licence: set[int]
    assets: dict[str, Asset]
    used_nonces: set[int]
    offered: OfferedPower  # what the assets' stored sells hold per slot (and this batch's)


@dataclass(frozen=True, slots=True)
class _Accepted:
    signed: SignedOrder
    order_hash: str
    gate_closure: int


def commit_key(order_id: str) -> str:
    """The outbox key of an order's commitment message."""
    return f"order:{order_id}"


def place_orders(
    session: Session,
    platform: Platform,
    *,
    maker: Address,
    market: str,
    orders: Sequence[SignedOrder],
    batch: bool,
) -> list[str]:
    """Checks every order, then stores all of them with their commitments, or none;
    returns the order hashes (the orders' ids) in the order given."""
    outbox_rows.require_shared_database(platform)
    seen_at = platform.intake.sequence if platform.intake is not None else 0  # before reads
    context = _context(session, platform, maker, market, orders)
    accepted = []
    for index, signed in enumerate(orders):
        prefix = f"orders.{index}." if batch else ""
        accepted.append(_check(context, maker, signed, prefix))
        context.used_nonces.add(signed.order.nonce)
    return _store(session, platform, context, accepted, seen_at)


def cancel_order(
    session: Session, platform: Platform, *, caller: Address, order_id: str
) -> MarketOrder:
    """The maker cancels an open order before its gate closes (off chain: clearing skips it)."""
    order = session.get(MarketOrder, order_id)
    if order is None or order.maker != caller:
        raise NotFoundError("order_hash", f"no order {order_id} of yours")
    if order.status != OrderStatus.OPEN:
        raise ConflictError("order_hash", f"the order is {order.status}; only an open one cancels")
    if now_of(platform) >= order.gate_closure:
        raise ConflictError("order_hash", f"gate closed at {iso(order.gate_closure)}")
    order.status = OrderStatus.CANCELLED
    session.add(order)
    session.commit()
    session.refresh(order)
    return order


def now_of(platform: Platform) -> int:
    """The platform's time (on a development chain, the chain's latest block's)."""
    return platform.now()


def iso(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat()


# -- the request's context ------------------------------------------------------------------


def _context(
    session: Session, platform: Platform, maker: Address, market: str, orders: Sequence[SignedOrder]
) -> _Context:
    spec = platform.markets.get(market)
    organisation = _active_organisation(session, maker)
    may_buy, may_sell = _sides_allowed(platform, maker)
    outbox_rows.check_sender(platform, COMMIT_KIND, platform.oracle_address)
    owner = platform.oracle.view.identity_owner(maker)  # a cached read: no chain lock
    return _Context(
        organisation=organisation,
        market=spec,
        now=now_of(platform),
        separator=domain_separator(platform.chain_id, platform.oracle.view.market_address),
        owner=owner.lower(),
        may_buy=may_buy,
        may_sell=may_sell,
        nodes=_nodes(session, {s.order.node_id for s in orders}),
        licence=area_node_ids(session, organisation) if may_buy else set(),
        assets=_assets(session, {s.order.asset for s in orders if s.order.side == Side.SELL}),
        used_nonces=_used_nonces(session, maker, [s.order.nonce for s in orders]),
        offered=offered_power(session, [s.order for s in orders]),
    )


def _active_organisation(session: Session, maker: Address) -> Organisation:
    organisation = of_address(session, maker)
    if organisation is None or organisation.status != OrganisationStatus.ACTIVE:
        raise ForbiddenError("authorization", f"{maker} has no active organisation")
    return organisation


def _sides_allowed(platform: Platform, maker: Address) -> tuple[bool, bool]:
    may_buy = platform.has_role(maker, Role.DSO) or platform.has_role(maker, Role.TSO)
    may_sell = platform.has_role(maker, Role.FSP)
    if not (may_buy or may_sell):
        raise ForbiddenError(
            "authorization", f"{maker} holds none of the roles DSO/TSO/FSP on chain"
        )
    return may_buy, may_sell


def _nodes(session: Session, node_ids: set[int]) -> dict[int, GridNode]:
    rows = session.exec(select(GridNode).where(col(GridNode.node_id).in_(node_ids))).all()
    return {node.node_id: node for node in rows}


def _assets(session: Session, asset_ids: set[Address]) -> dict[str, Asset]:
    if not asset_ids:
        return {}
    rows = session.exec(select(Asset).where(col(Asset.id).in_(asset_ids))).all()
    return {asset.id.lower(): asset for asset in rows}


def _used_nonces(session: Session, maker: Address, nonces: Iterable[int]) -> set[int]:
    query = (
        select(MarketOrder.nonce)
        .where(MarketOrder.maker == maker)
        .where(col(MarketOrder.nonce).in_(set(nonces)))
    )
    return set(session.exec(query).all())


# -- the checks, cheapest first --------------------------------------------------------------


def _check(context: _Context, maker: Address, signed: SignedOrder, prefix: str) -> _Accepted:
    order = signed.order
    if order.maker.lower() != maker.lower():
        raise ForbiddenError(f"{prefix}order.maker", f"must be your wallet {maker}")
    _check_shape(order, f"{prefix}order.")
    _check_node(context, order, f"{prefix}order.")
    if order.side == Side.BUY:
        _check_buy(context, order, f"{prefix}order.")
    else:
        _check_sell(context, order, f"{prefix}order.")
    gate = _check_times(context, order, f"{prefix}order.")
    if order.nonce in context.used_nonces:
        raise ConflictError(f"{prefix}order.nonce", f"nonce {order.nonce} is already used")
    digest = _check_signature(context, signed, f"{prefix}signature")
    return _Accepted(signed, "0x" + digest.hex(), gate)


def _check_shape(order: Order, at: str) -> None:
    if order.slot_start % SLOT_SECONDS:
        raise MarketValueError(f"{at}slot_start", f"must be a multiple of {SLOT_SECONDS} s")
    if not 1 <= order.slot_count <= MAX_SLOTS:
        raise MarketValueError(f"{at}slot_count", f"must be 1 to {MAX_SLOTS} slots")
    if order.divisible and not 0 < order.min_power_w <= order.power_w:
        raise MarketValueError(
            f"{at}min_power_w", "a divisible order needs 0 < min_power_w <= power_w"
        )
    if not order.divisible and order.min_power_w != order.power_w:
        raise MarketValueError(
            f"{at}min_power_w", "an all-or-nothing order needs min_power_w == power_w"
        )
    if not 0 < order.price_cents_per_mwh <= MAX_PRICE_CENTS_PER_MWH:
        raise MarketValueError(
            f"{at}price_cents_per_mwh", f"must be 1 to {MAX_PRICE_CENTS_PER_MWH} cents/MWh"
        )


def _check_node(context: _Context, order: Order, at: str) -> None:
    node = context.nodes.get(order.node_id)
    if node is None or not node.on_chain:
        raise NotFoundError(f"{at}node_id", f"no grid node {order.node_id} registered on chain")


def _check_buy(context: _Context, order: Order, at: str) -> None:
    if not context.may_buy:
        raise ForbiddenError(f"{at}side", "a buy order needs the DSO or TSO role on chain")
    if order.asset.lower() != ZERO_ADDRESS.lower():
        raise MarketValueError(f"{at}asset", f"a buy order names no asset: use {ZERO_ADDRESS}")
    if order.node_id not in context.licence:
        raise ForbiddenError(f"{at}node_id", f"node {order.node_id} is outside your licence area")


def _check_sell(context: _Context, order: Order, at: str) -> None:
    if not context.may_sell:
        raise ForbiddenError(f"{at}side", "a sell order needs the FSP role on chain")
    asset = context.assets.get(order.asset.lower())
    if asset is None:
        raise NotFoundError(f"{at}asset", f"no asset {order.asset}")
    if asset.owner_id != context.organisation.id:
        raise ForbiddenError(f"{at}asset", f"asset {order.asset} belongs to another FSP")
    if asset.status != AssetStatus.MAPPED:
        raise ConflictError(
            f"{at}asset", f"asset is {asset.status}; offer it once the DSO has confirmed its node"
        )
    if asset.node_id != order.node_id:
        raise MarketValueError(f"{at}node_id", f"the asset sits at node {asset.node_id}")
    capacity = asset.up_w if order.direction == Direction.UP else asset.down_w
    if order.power_w > capacity:
        direction = Direction(order.direction).name.lower()
        raise MarketValueError(
            f"{at}power_w", f"exceeds the asset's prequalified {direction} capacity {capacity} W"
        )
    context.offered.check(order, capacity, f"{at}power_w")  # with the asset's other sells


def _check_times(context: _Context, order: Order, at: str) -> int:
    gate = context.market.gate_closure(order.slot_start)
    if context.now >= gate:
        raise ConflictError(f"{at}slot_start", f"gate closed at {iso(gate)}")
    if order.expiry < order.slot_start or order.expiry <= gate:
        raise MarketValueError(
            f"{at}expiry",
            f"must be at least slot_start ({order.slot_start}) and after the gate closure "
            f"({gate}): trades are recorded between gate closure and delivery",
        )
    return gate


def _check_signature(context: _Context, signed: SignedOrder, at: str) -> bytes:
    digest = order_hash(signed.order.as_message(), context.separator)
    signer = recover_signer(digest, bytes.fromhex(signed.signature[2:]))
    if signer is None:
        raise MarketValueError(at, "is not a valid signature (65 bytes r||s||v, low s, v 27/28)")
    if signer.lower() != context.owner:
        raise ForbiddenError(at, f"signed by {signer}, not by the maker's wallet")
    return digest


# -- storing ---------------------------------------------------------------------------------


def _store(
    session: Session,
    platform: Platform,
    context: _Context,
    accepted: Sequence[_Accepted],
    seen_at: int,
) -> list[str]:
    """Stores the orders with their commitments in one transaction, in which the power the
    sells' assets offer is checked again (:mod:`market.order_capacity`): another request
    may have stored sells of the same asset since this one read."""
    orders = [_order_row(context, item) for item in accepted]
    messages = [_commit_row(platform, item) for item in accepted]
    capacity = _CapacityCheck([item.signed.order for item in accepted], context.assets)
    if platform.intake is not None:
        session.rollback()  # end this request's reads; the writer commits on its own
        platform.intake.write(_intake_entry(orders, messages, capacity, seen_at))
        return [item.order_hash for item in accepted]
    try:
        lock_assets(session, capacity.asset_ids)
        session.exec(insert(MarketOrder), params=orders)
        outbox_rows.insert_rows(session, messages)
        capacity(session)
        session.commit()
    except ConflictError:
        session.rollback()
        raise
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            "order.nonce", "an order with this nonce or hash was stored meanwhile"
        ) from None
    return [item.order_hash for item in accepted]


@dataclass(frozen=True, slots=True)
class _CapacityCheck:
    """The sells' capacity check inside the storing transaction (409 if it fails)."""

    orders: list[Order]
    assets: dict[str, Asset]

    @property
    def asset_ids(self) -> set[str]:
        return {order.asset for order in self.orders if order.side == Side.SELL}

    def __call__(self, session: Session) -> None:
        recheck(session, self.orders, self.assets, "order.power_w")


def _intake_entry(
    orders: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    capacity: _CapacityCheck,
    seen_at: int,
) -> IntakeEntry:
    """The rows of one request for the group commit: stored with their commitments or not
    at all; an order id or (maker, nonce) already in the group or the table is a 409; the
    capacity check runs in the group's transaction when another entry for one of the same
    assets was written since this request read (or sits earlier in the group)."""
    keys: set[Hashable] = {("order", row["id"]) for row in orders}
    keys |= {("nonce", row["maker"], row["nonce"]) for row in orders}
    assets = frozenset(("asset", asset_id.lower()) for asset_id in capacity.asset_ids)
    return IntakeEntry(
        rows=[(MarketOrder, orders), (OutboxMessage, messages)],
        unique_keys=frozenset(keys),
        conflict=_nonce_conflict,
        check=capacity if assets else None,
        check_keys=assets,
        seen_at=seen_at,
    )


def _nonce_conflict() -> ConflictError:
    return ConflictError("order.nonce", "an order with this nonce or hash was stored meanwhile")


def _order_row(context: _Context, item: _Accepted) -> dict[str, Any]:
    return {
        **item.signed.order.fields(),  # the row's order columns are the Order's fields
        "id": item.order_hash,
        "market": context.market.name,
        "organisation_id": context.organisation.id,
        "signature": item.signed.signature,
        "status": OrderStatus.OPEN,
        "filled_w": 0,
        "gate_closure": item.gate_closure,
        "created_at": utc_now(),
    }


def _commit_row(platform: Platform, item: _Accepted) -> dict[str, Any]:
    # Built from a validated OrderFields, so the payload is not validated a second time.
    payload = OrderCommitment(
        order=OrderFields.from_order(item.signed.order),
        signature=item.signed.signature,
        order_hash=item.order_hash,
    )
    return outbox_rows.message_row(
        COMMIT_KIND, payload, sender=platform.oracle_address, key=commit_key(item.order_hash)
    )


def order_of(row: MarketOrder) -> Order:
    """The order as its maker signed it."""
    return Order.from_attributes(row)
