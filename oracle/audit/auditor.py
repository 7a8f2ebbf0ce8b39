"""``flexledger audit``: recompute every settlement from chain logs alone.

The auditor trusts nothing but the chain and the contract addresses in the manifest. It
first checks that the code at each address is the committed artifact's (immutables
masked) and that the contracts point at each other as the manifest says. It then
reads every event of the six contracts in bounded chunks, replays them in chain order
(see state.py) and, at each trade and settlement, checks what the contracts should have
enforced: order hashes and EIP-712 signatures by the maker's DID owner at that moment,
roles valid at the block's time, commitment of each order (placed, or in a committed
Merkle batch), grid location, price, slot, direction and volume rules, and the settlement
arithmetic (oracle/settlement_math.py). Baseline locks are counted and checked too: by an
oracle, at the block's time, each hash once. Every disagreement is reported; none is fatal.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

from web3 import Web3
from web3.types import LogReceipt

from oracle.audit.deployment import check_deployment
from oracle.audit.logsource import chunks_with_timestamps
from oracle.audit.report import AuditReport, Mismatch
from oracle.audit.signatures import recover_signer_lower
from oracle.audit.state import AssetState, ReplayedState, RoleWindow, SettlementState, TradeTerms
from oracle.errors import AuditError, ChainUnavailableError
from oracle.events import DecodedEvent, EventDecoder, MalformedEventError, as_int
from oracle.manifest import Manifest
from oracle.merkle import verify_proof
from oracle.order_hashing import domain_separator, order_hash
from oracle.settlement_math import settle, unpack_attested_records
from oracle.types import Role, Side

ZERO_ROOT = b"\x00" * 32
Handler = Callable[[DecodedEvent, int], None]


class Auditor:
    """Replays one deployment's events and reports every mismatch."""

    def __init__(self, w3: Web3, manifest: Manifest, chunk_blocks: int = 250) -> None:
        self.w3 = w3
        self.manifest = manifest
        self.chunk_blocks = chunk_blocks
        self.decoder = EventDecoder(manifest)
        self.state = ReplayedState()
        self.separator = domain_separator(manifest.chain_id, manifest.address_of("FlexMarket"))
        self._timestamps: dict[int, int] = {}
        self._proven: set[tuple[bytes, bytes]] = set()
        self._report = AuditReport(
            chain_id=manifest.chain_id,
            market=manifest.address_of("FlexMarket"),
            from_block=manifest.first_block,
            to_block=manifest.first_block,
        )
        self._handlers: dict[str, Handler] = {
            "DIDOwnerChanged": self._on_owner_changed,
            "RoleGranted": self._on_role_granted,
            "RoleRevoked": self._on_role_revoked,
            "NodeRegistered": self._on_node_registered,
            "AssetRegistered": self._on_asset_registered,
            "AssetNodeConfirmed": self._on_asset_node_confirmed,
            "AssetRetired": self._on_asset_retired,
            "AssetCapacityUpdated": self._on_asset_capacity,
            "OrderPlaced": self._on_order_placed,
            "OrderBatchCommitted": self._on_batch_committed,
            "OrderCancelled": self._on_order_cancelled,
            "TradeRecorded": self._on_trade,
            "PenaltyFactorChanged": self._on_penalty_factor,
            "WindowsChanged": self._on_windows,
            "SettlementAttested": self._on_attested,
            "SettlementsAttested": self._on_attested_batch,
            "SettlementDisputed": self._on_disputed,
            "SettlementResolved": self._on_resolved,
            "SettlementFinalised": self._on_finalised,
            "BaselineLocked": self._on_baseline_locked,
        }

    def run(self) -> AuditReport:
        started = time.perf_counter()
        try:
            self._check_chain()
            for events in self._event_chunks():
                self._replay(events)
        except ChainUnavailableError as error:
            raise AuditError(f"cannot read the chain: {error}") from error
        self._report.duration_s = time.perf_counter() - started
        return self._report

    # -- reading -----------------------------------------------------------------------

    def _check_chain(self) -> None:
        chain_id = self.w3.eth.chain_id
        if chain_id != self.manifest.chain_id:
            raise AuditError(
                f"the manifest is for chain {self.manifest.chain_id}, the node serves {chain_id}"
            )
        self._head = self.w3.eth.block_number
        self._report.mismatches.extend(check_deployment(self.w3, self.manifest, self._head))

    def _event_chunks(self) -> Iterable[list[DecodedEvent]]:
        head = self._head
        self._report.to_block = head
        chunks = chunks_with_timestamps(
            self.w3, self.decoder.addresses, self.manifest.first_block, head, self.chunk_blocks
        )
        for logs, timestamps in chunks:
            self._timestamps = timestamps  # the chunk's events sit in these blocks only
            yield [e for e in map(self._decode, logs) if e is not None]

    def _decode(self, log: LogReceipt) -> DecodedEvent | None:
        try:
            return self.decoder.decode(log)
        except MalformedEventError as error:
            self._report.mismatches.append(
                Mismatch(
                    "log",
                    "decodes against the ABI",
                    "well-formed",
                    str(error),
                    as_int(log["blockNumber"]),
                )
            )
            return None

    def _replay(self, events: list[DecodedEvent]) -> None:
        for event in events:
            self._report.events += 1
            handler = self._handlers.get(event.name)
            if handler is not None:
                handler(event, self._timestamps.get(event.block_number, 0))

    def _mismatch(
        self, event: DecodedEvent, subject: str, check: str, expected: Any, actual: Any
    ) -> None:
        self._report.mismatches.append(
            Mismatch(subject, check, _plain(expected), _plain(actual), event.block_number)
        )

    # -- identity, roles, grid -----------------------------------------------------------

    def _on_owner_changed(self, event: DecodedEvent, _: int) -> None:
        self.state.owners[event.args["identity"].lower()] = event.args["owner"]

    def _on_role_granted(self, event: DecodedEvent, _: int) -> None:
        key = (event.args["identity"].lower(), int(event.args["role"]))
        self.state.roles[key] = RoleWindow(event.args["validFrom"], event.args["validUntil"])

    def _on_role_revoked(self, event: DecodedEvent, _: int) -> None:
        window = self.state.roles.get((event.args["identity"].lower(), int(event.args["role"])))
        if window is not None:
            window.revoked = True

    def _on_node_registered(self, event: DecodedEvent, _: int) -> None:
        self.state.node_parents[int(event.args["nodeId"])] = int(event.args["parentId"])

    def _on_asset_registered(self, event: DecodedEvent, _: int) -> None:
        self.state.assets[event.args["asset"].lower()] = AssetState(
            owner=event.args["owner"],
            up_w=int(event.args["upW"]),
            down_w=int(event.args["downW"]),
        )

    def _on_asset_capacity(self, event: DecodedEvent, _: int) -> None:
        asset = self.state.assets.get(event.args["asset"].lower())
        if asset is not None:
            asset.up_w, asset.down_w = int(event.args["upW"]), int(event.args["downW"])

    def _on_asset_node_confirmed(self, event: DecodedEvent, _: int) -> None:
        asset = self.state.assets.get(event.args["asset"].lower())
        if asset is not None:
            asset.confirmed_node = int(event.args["nodeId"])

    def _on_asset_retired(self, event: DecodedEvent, _: int) -> None:
        asset = self.state.assets.get(event.args["asset"].lower())
        if asset is not None:
            asset.retired = True

    # -- orders and trades ---------------------------------------------------------------

    def _on_order_placed(self, event: DecodedEvent, _: int) -> None:
        # The log names the hash only; the order, its signature, role and asset are checked
        # at its trades, whose logs carry it in full.
        self.state.placed_orders.add(event.args["orderHash"])

    def _on_batch_committed(self, event: DecodedEvent, _: int) -> None:
        self.state.committed_roots.add(event.args["root"])

    def _on_order_cancelled(self, event: DecodedEvent, _: int) -> None:
        self.state.cancelled.add(event.args["orderHash"])

    def _on_trade(self, event: DecodedEvent, timestamp: int) -> None:
        self._report.trades += 1
        trade_id = int(event.args["tradeId"])
        subject = f"trade {trade_id}"
        buy, sell = event.args["buy"], event.args["sell"]
        power, price = int(event.args["powerW"]), int(event.args["priceCentsPerMWh"])
        for side_name, signed, expected_hash in (
            ("buy", buy, event.args["buyHash"]),
            ("sell", sell, event.args["sellHash"]),
        ):
            self._check_trade_order(event, subject, side_name, signed, expected_hash, timestamp)
        self._check_match(event, subject, buy["order"], sell["order"], power, price)
        self._check_location(event, subject, buy["order"], sell["order"])
        self._check_fills(
            event, subject, (buy, event.args["buyHash"]), (sell, event.args["sellHash"]), power
        )
        self._check_capacity(event, subject, sell["order"], power)
        order = buy["order"]
        if trade_id != self.state.trade_count + 1:
            self._mismatch(
                event, subject, "consecutive trade id", self.state.trade_count + 1, trade_id
            )
        self.state.trade_count = max(self.state.trade_count, trade_id)
        self.state.trades[trade_id] = TradeTerms(
            direction=int(order["direction"]),
            slot_start=int(order["slotStart"]),
            slot_count=int(order["slotCount"]),
            power_w=power,
            price_cents_per_mwh=price,
            buyer=order["maker"],
            seller=sell["order"]["maker"],
            attestation_window_s=self.state.attestation_window_s,
            dispute_window_s=self.state.dispute_window_s,
        )

    def _check_capacity(
        self, event: DecodedEvent, subject: str, sell: dict[str, Any], power: int
    ) -> None:
        """The power sold from one asset per slot and direction stays within its capacity."""
        asset_id, direction = sell["asset"].lower(), int(sell["direction"])
        asset = self.state.assets.get(asset_id)
        capacity_w = asset.capacity_w(direction) if asset is not None else 0
        first = int(sell["slotStart"]) // 900
        for slot in range(first, first + int(sell["slotCount"])):
            key = (asset_id, direction, slot)
            sold_w = self.state.sold_w.get(key, 0) + power
            if sold_w > capacity_w:
                where = f"{subject} asset {sell['asset']} slot {slot * 900} direction {direction}"
                self._mismatch(event, where, "sold power within capacity", capacity_w, sold_w)
            self.state.sold_w[key] = sold_w

    def _check_trade_order(
        self,
        event: DecodedEvent,
        subject: str,
        side_name: str,
        signed: dict[str, Any],
        expected_hash: bytes,
        timestamp: int,
    ) -> None:
        order = signed["order"]
        label = f"{subject} {side_name}"
        digest = order_hash(order, self.separator)
        if digest != expected_hash:
            self._mismatch(event, label, "order hash", digest, expected_hash)
        self._report.orders_verified += 1
        self._check_signature(event, label, order, signed["signature"], digest)
        self._check_maker_role(event, label, order, timestamp)
        if int(order["expiry"]) <= timestamp:
            self._mismatch(event, label, "order not expired", f"> {timestamp}", order["expiry"])
        if digest in self.state.cancelled:
            self._mismatch(event, label, "order not cancelled", False, True)
        self._check_commitment(event, label, signed, digest)

    def _check_signature(
        self,
        event: DecodedEvent,
        label: str,
        order: dict[str, Any],
        signature: bytes,
        digest: bytes,
    ) -> None:
        signer = recover_signer_lower(digest, bytes(signature))
        owner = self.state.owner_of(order["maker"])
        if signer is None or signer != owner.lower():
            self._mismatch(event, label, "signed by the maker's DID owner", owner, signer)

    def _check_maker_role(
        self, event: DecodedEvent, label: str, order: dict[str, Any], timestamp: int
    ) -> None:
        roles = (Role.DSO, Role.TSO) if int(order["side"]) == Side.BUY else (Role.FSP,)
        if not any(self.state.has_role(order["maker"], r, timestamp) for r in roles):
            names = "/".join(r.name for r in roles)
            self._mismatch(event, label, "maker role valid", names, "missing")

    def _check_commitment(
        self, event: DecodedEvent, label: str, signed: dict[str, Any], digest: bytes
    ) -> None:
        root = signed["root"]
        if root == ZERO_ROOT:
            if digest not in self.state.placed_orders:
                self._mismatch(event, label, "order placed on chain", "OrderPlaced", "none")
            return
        if root not in self.state.committed_roots:
            self._mismatch(event, label, "batch root committed", root, "not committed")
        elif (root, digest) not in self._proven and not verify_proof(signed["proof"], root, digest):
            self._mismatch(event, label, "Merkle proof", "valid", "invalid")
        else:
            self._proven.add((root, digest))  # a buy filled by many trades is proven once

    def _check_match(
        self,
        event: DecodedEvent,
        subject: str,
        buy: dict[str, Any],
        sell: dict[str, Any],
        power: int,
        price: int,
    ) -> None:
        if (int(buy["side"]), int(sell["side"])) != (Side.BUY, Side.SELL):
            self._mismatch(event, subject, "sides", (0, 1), (buy["side"], sell["side"]))
        buy_terms = (buy["slotStart"], buy["slotCount"], buy["direction"])
        sell_terms = (sell["slotStart"], sell["slotCount"], sell["direction"])
        if buy_terms != sell_terms:
            self._mismatch(event, subject, "same slots and direction", buy_terms, sell_terms)
        if not sell["priceCentsPerMWh"] <= price <= buy["priceCentsPerMWh"]:
            band = (sell["priceCentsPerMWh"], buy["priceCentsPerMWh"])
            self._mismatch(event, subject, "price within [sell, buy]", band, price)
        if power <= 0:
            self._mismatch(event, subject, "positive power", "> 0", power)

    def _check_location(
        self, event: DecodedEvent, subject: str, buy: dict[str, Any], sell: dict[str, Any]
    ) -> None:
        asset = self.state.assets.get(sell["asset"].lower())
        if asset is None:
            self._mismatch(event, subject, "asset registered", sell["asset"], "unknown")
            return
        if asset.owner.lower() != sell["maker"].lower() or asset.retired:
            self._mismatch(event, subject, "asset owned by seller", sell["maker"], asset.owner)
        if asset.confirmed_node != int(sell["nodeId"]):
            self._mismatch(event, subject, "asset node", sell["nodeId"], asset.confirmed_node)
        if not self.state.is_at_or_below(asset.confirmed_node, int(buy["nodeId"])):
            where = f"node {asset.confirmed_node} under {buy['nodeId']}"
            self._mismatch(event, subject, "asset at or below buy node", where, "not below")

    def _check_fills(
        self,
        event: DecodedEvent,
        subject: str,
        buy: tuple[dict[str, Any], bytes],
        sell: tuple[dict[str, Any], bytes],
        power: int,
    ) -> None:
        for signed, digest in (buy, sell):
            order = signed["order"]
            before = self.state.filled.get(digest, 0)
            if before + power > int(order["powerW"]):
                self._mismatch(
                    event, subject, "volume within order", order["powerW"], before + power
                )
            if not order["divisible"] and power != int(order["powerW"]):
                self._mismatch(event, subject, "all-or-nothing fill", order["powerW"], power)
            remaining = int(order["powerW"]) - before
            if order["divisible"] and power < int(order["minPowerW"]) and power != remaining:
                self._mismatch(event, subject, "fill >= minimum", order["minPowerW"], power)
            claim = (order["maker"].lower(), int(order["nonce"]))
            claimed = self.state.nonce_claims.setdefault(claim, digest)
            if claimed != digest:
                self._mismatch(event, subject, "nonce backs one order", claimed, digest)
            self.state.filled[digest] = before + power

    # -- settlement ----------------------------------------------------------------------

    def _on_penalty_factor(self, event: DecodedEvent, _: int) -> None:
        self.state.penalty_factor_bps = int(event.args["penaltyFactorBps"])

    def _on_windows(self, event: DecodedEvent, _: int) -> None:
        # New windows apply to the trades recorded after the change, never to earlier ones.
        expected = self.state.trade_count + 1 if self.state.windows_events else 0
        if int(event.args["fromTradeId"]) != expected:
            self._mismatch(
                event, "windows", "apply from the next trade", expected, event.args["fromTradeId"]
            )
        self.state.windows_events += 1
        self.state.attestation_window_s = int(event.args["attestationWindowS"])
        self.state.dispute_window_s = int(event.args["disputeWindowS"])

    def _on_attested(self, event: DecodedEvent, timestamp: int) -> None:
        settlement = self._attest_one(event, event.args, event.args["oracle"], timestamp)
        if settlement is not None and int(event.args["disputeDeadline"]) != settlement.deadline:
            self._mismatch(
                event,
                f"settlement {event.args['tradeId']}",
                "dispute deadline",
                settlement.deadline,
                event.args["disputeDeadline"],
            )

    def _on_attested_batch(self, event: DecodedEvent, timestamp: int) -> None:
        try:
            records = unpack_attested_records([int(word) for word in event.args["records"]])
        except ValueError as error:
            self._mismatch(
                event, "attestation batch", "two words per settlement", "even", str(error)
            )
            return
        factor = {"penaltyFactorBps": event.args["penaltyFactorBps"]}
        for record in records:
            self._attest_one(event, record | factor, event.args["oracle"], timestamp)

    def _attest_one(
        self, event: DecodedEvent, args: dict[str, Any], oracle: str, timestamp: int
    ) -> SettlementState | None:
        self._report.settlements += 1
        trade_id = int(args["tradeId"])
        subject = f"settlement {trade_id}"
        terms = self.state.trades.get(trade_id)
        if terms is None:
            self._mismatch(event, subject, "trade exists", trade_id, "unknown")
            return None
        settlement = self.state.settlements.setdefault(trade_id, SettlementState())
        if settlement.attested:
            self._mismatch(event, subject, "settled once", 1, 2)
        if not self.state.has_role(oracle, Role.ORACLE, timestamp):
            self._mismatch(event, subject, "attested by an oracle", "ORACLE", oracle)
        self._check_attestation_time(event, subject, terms, timestamp)
        self._check_outcome(event, subject, terms, args)
        settlement.attested = True
        settlement.deadline = terms.dispute_deadline
        return settlement

    def _check_attestation_time(
        self, event: DecodedEvent, subject: str, terms: TradeTerms, timestamp: int
    ) -> None:
        if not terms.delivery_end <= timestamp <= terms.attestation_closes:
            window = (terms.delivery_end, terms.attestation_closes)
            self._mismatch(event, subject, "attested within its window", window, timestamp)

    def _check_outcome(
        self,
        event: DecodedEvent,
        subject: str,
        terms: TradeTerms,
        args: dict[str, Any] | None = None,
    ) -> None:
        args = event.args if args is None else args
        if int(args["penaltyFactorBps"]) != self.state.penalty_factor_bps:
            self._mismatch(
                event,
                subject,
                "penalty factor",
                self.state.penalty_factor_bps,
                args["penaltyFactorBps"],
            )
        outcome = settle(
            direction=terms.direction,
            power_w=terms.power_w,
            slot_count=terms.slot_count,
            price_cents_per_mwh=terms.price_cents_per_mwh,
            penalty_factor_bps=self.state.penalty_factor_bps,
            baseline_wh=int(args["baselineWh"]),
            metered_wh=int(args["meteredWh"]),
        )
        for field_name, expected in (
            ("tradedWh", outcome.traded_wh),
            ("deliveredWh", outcome.delivered_wh),
            ("shortfallWh", outcome.shortfall_wh),
            ("paymentCents", outcome.payment_cents),
            ("penaltyCents", outcome.penalty_cents),
        ):
            if int(args[field_name]) != expected:
                self._mismatch(event, subject, field_name, expected, args[field_name])

    def _on_disputed(self, event: DecodedEvent, timestamp: int) -> None:
        self._report.disputed += 1
        trade_id = int(event.args["tradeId"])
        settlement = self.state.settlements.get(trade_id)
        terms = self.state.trades.get(trade_id)
        subject = f"settlement {trade_id}"
        if settlement is None or not settlement.attested or terms is None:
            self._mismatch(event, subject, "disputed after attestation", "attested", "not attested")
            return
        parties = {
            self.state.owner_of(terms.buyer).lower(),
            self.state.owner_of(terms.seller).lower(),
        }
        parties |= {terms.buyer.lower(), terms.seller.lower()}
        if event.args["disputant"].lower() not in parties:
            self._mismatch(
                event, subject, "disputed by a party", sorted(parties), event.args["disputant"]
            )
        if timestamp > settlement.deadline:
            self._mismatch(
                event, subject, "disputed before deadline", settlement.deadline, timestamp
            )
        settlement.disputed = True

    def _on_resolved(self, event: DecodedEvent, timestamp: int) -> None:
        trade_id = int(event.args["tradeId"])
        subject = f"settlement {trade_id} resolution"
        settlement = self.state.settlements.get(trade_id)
        terms = self.state.trades.get(trade_id)
        if settlement is None or not settlement.disputed or terms is None:
            self._mismatch(event, subject, "resolves a dispute", "disputed", "not disputed")
            return
        if not self.state.has_role(event.args["resolver"], Role.MARKET_OPERATOR, timestamp):
            self._mismatch(
                event,
                subject,
                "resolved by market operator",
                "MARKET_OPERATOR",
                event.args["resolver"],
            )
        self._check_outcome(event, subject, terms)
        settlement.resolved = True

    def _on_finalised(self, event: DecodedEvent, timestamp: int) -> None:
        self._report.finalised += 1
        trade_id = int(event.args["tradeId"])
        subject = f"settlement {trade_id} finalisation"
        settlement = self.state.settlements.get(trade_id)
        if settlement is None or not settlement.attested:
            self._mismatch(event, subject, "finalises an attested settlement", "attested", "none")
            return
        if settlement.finalised:
            self._mismatch(event, subject, "finalised once", "open", "already final")
        elif settlement.resolved:
            pass  # a resolution finalises at once, whatever the deadline
        elif settlement.disputed:
            self._mismatch(event, subject, "disputes resolved first", "resolved", "disputed")
        elif timestamp < settlement.deadline:
            self._mismatch(
                event, subject, "finalised after the deadline", settlement.deadline, timestamp
            )
        settlement.finalised = True

    # -- baselines -----------------------------------------------------------------------

    def _on_baseline_locked(self, event: DecodedEvent, timestamp: int) -> None:
        self._report.baselines_locked += 1
        baseline_hash: bytes = event.args["baselineHash"]
        subject = f"baseline 0x{baseline_hash.hex()}"
        if not self.state.has_role(event.args["oracle"], Role.ORACLE, timestamp):
            self._mismatch(event, subject, "locked by an oracle", "ORACLE", event.args["oracle"])
        locked_at = int(event.args["lockedAt"])
        if locked_at != timestamp:
            self._mismatch(event, subject, "locked at the block's time", timestamp, locked_at)
        if baseline_hash in self.state.baseline_locks:
            self._mismatch(event, subject, "locked once", 1, 2)
        else:
            self.state.baseline_locks[baseline_hash] = locked_at


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
