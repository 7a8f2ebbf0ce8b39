"""Gas used by every state-changing contract function, measured on py-evm.

Run from the repository root::

    python benchmarks/gas_report.py

Prints a table and writes benchmarks/results/gas.json. The chain runs py-evm's Paris rules, whose
gas schedule is London's (Energy Web Chain, Volta): no EIP-7623 calldata floor, no transient
storage. Every figure is a receipt's gasUsed, so it includes the 21,000 intrinsic gas and the
calldata. Batch figures are also given per item (gasUsed / items).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402

from contracts import load_artifact  # noqa: E402
from oracle.settlement_math import pack_attestation  # noqa: E402
from oracle.types import Role, Side  # noqa: E402
from tests.contracts import merkle  # noqa: E402
from tests.contracts.world import (  # noqa: E402
    ASSET_BATTERY,
    NODE_DSO,
    NODE_DSO_RIGHT,
    SLOT_S,
    World,
    deploy_world,
    digest,
    events,
    first_slot,
    make_order,
    send,
    sign,
    signed,
    without_dry_runs,
)

RESULTS = ROOT / "benchmarks" / "results" / "gas.json"
_RNG = random.Random(20_241_126)  # fixed filler hashes: calldata cost, hence gas, is reproducible


def _filler(count: int) -> list[bytes]:
    return [_RNG.randbytes(32) for _ in range(count)]


@dataclass
class Measurement:
    contract: str
    function: str
    case: str
    gas_used: int
    items: int = 1

    @property
    def per_item(self) -> int:
        return round(self.gas_used / self.items)


class Report:
    def __init__(self) -> None:
        self.rows: list[Measurement] = []

    def add(
        self, contract: str, function: str, case: str, receipt: dict[str, Any], items: int = 1
    ) -> None:
        self.rows.append(Measurement(contract, function, case, int(receipt["gasUsed"]), items))

    def table(self) -> str:
        head = (
            f"{'contract':<16} {'function':<24} {'case':<44} "
            f"{'gasUsed':>10} {'items':>6} {'per item':>9}"
        )
        lines = [head, "-" * len(head)]
        for m in self.rows:
            lines.append(
                f"{m.contract:<16} {m.function:<24} {m.case:<44} {m.gas_used:>10,} "
                f"{m.items:>6} {m.per_item:>9,}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        market = load_artifact("FlexMarket")
        return {
            "chain": "py-evm ParisVM (London gas schedule), eth-tester",
            "compilerVersion": market.compiler_version,
            "evmVersion": market.evm_version,
            "measurements": [asdict(m) | {"per_item": m.per_item} for m in self.rows],
        }


def measure_deployments(report: Report, world: World) -> None:
    for name, contract in (
        ("RoleRegistry", world.roles),
        ("DIDRegistry", world.dids),
        ("GridRegistry", world.grid),
        ("FlexMarket", world.market),
        ("FlexSettlement", world.settlement),
        ("BaselineRegistry", world.baselines),
    ):
        creation = world.w3.eth.get_transaction_receipt(_creation_tx(world, contract.address))
        report.add(name, "constructor", "deployment", dict(creation))


def _creation_tx(world: World, address: str) -> bytes:
    latest = world.w3.eth.block_number
    for number in range(latest + 1):
        for tx_hash in world.w3.eth.get_block(number)["transactions"]:
            if world.w3.eth.get_transaction_receipt(tx_hash)["contractAddress"] == address:
                return bytes(tx_hash)
    raise LookupError(address)


def measure_dids(report: Report, world: World) -> None:
    d = world.dids.functions
    vtype, name = b"veriKey".ljust(32, b"\0"), b"did/svc/MessagingService".ljust(32, b"\0")
    who, other = world.fsp2, world.spare
    value = b"https://example.invalid/hub"
    report.add(
        "DIDRegistry",
        "addDelegate",
        "first delegate",
        send(d.addDelegate(who.address, vtype, other.address, 86400), who),
    )
    report.add(
        "DIDRegistry",
        "revokeDelegate",
        "",
        send(d.revokeDelegate(who.address, vtype, other.address), who),
    )
    report.add(
        "DIDRegistry",
        "setAttribute",
        f"{len(value)}-byte value",
        send(d.setAttribute(who.address, name, value, 86400), who),
    )
    report.add(
        "DIDRegistry",
        "revokeAttribute",
        f"{len(value)}-byte value",
        send(d.revokeAttribute(who.address, name, value), who),
    )
    for fn_name, parts, build in _signed_variants(world, who, other, vtype, name, value):
        digest_ = _did_hash(world, who.address, fn_name, *parts)
        sig = Account.unsafe_sign_hash(digest_, who.key)
        receipt = send(
            build(sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")), world.outsider
        )
        report.add("DIDRegistry", f"{fn_name}Signed", "relayed", receipt)
    report.add(
        "DIDRegistry",
        "changeOwner",
        "",
        send(d.changeOwner(world.fsp2.address, world.auditor.address), world.spare),
    )


def _signed_variants(
    world: World, who: Any, other: Any, vtype: bytes, name: bytes, value: bytes
) -> list:
    d = world.dids.functions
    i, o = who.address, other.address
    u = lambda n: n.to_bytes(32, "big")  # noqa: E731
    a = lambda x: bytes.fromhex(x[2:])  # noqa: E731
    return [
        (
            "addDelegate",
            (vtype, a(o), u(600)),
            lambda v, r, s: d.addDelegateSigned(i, v, r, s, vtype, o, 600),
        ),
        (
            "revokeDelegate",
            (vtype, a(o)),
            lambda v, r, s: d.revokeDelegateSigned(i, v, r, s, vtype, o),
        ),
        (
            "setAttribute",
            (name, value, u(600)),
            lambda v, r, s: d.setAttributeSigned(i, v, r, s, name, value, 600),
        ),
        (
            "revokeAttribute",
            (name, value),
            lambda v, r, s: d.revokeAttributeSigned(i, v, r, s, name, value),
        ),
        ("changeOwner", (a(o),), lambda v, r, s: d.changeOwnerSigned(i, v, r, s, o)),
    ]


def _did_hash(world: World, identity: str, fn: str, *parts: bytes) -> bytes:
    d = world.dids.functions
    nonce = d.nonce(d.identityOwner(identity).call()).call()
    packed = (
        b"\x19\x00"
        + bytes.fromhex(world.dids.address[2:])
        + world.chain_id.to_bytes(32, "big")
        + nonce.to_bytes(32, "big")
        + bytes.fromhex(identity[2:])
        + fn.encode()
        + b"".join(parts)
    )
    return keccak(packed)


def measure_roles_and_grid(report: Report, world: World) -> None:
    r, g = world.roles.functions, world.grid.functions
    cred = keccak(text="vc")
    report.add(
        "RoleRegistry",
        "grantRole",
        "new grant",
        send(r.grantRole(world.spare.address, Role.FSP, cred, 0, 2**64 - 1), world.operator),
    )
    report.add(
        "RoleRegistry",
        "revokeRole",
        "",
        send(r.revokeRole(world.spare.address, Role.FSP), world.operator),
    )
    report.add(
        "GridRegistry",
        "registerNode",
        "DSO for itself",
        send(g.registerNode(50, NODE_DSO, world.dso.address), world.dso),
    )
    asset = "0x" + "d1" * 20
    asset = world.w3.to_checksum_address(asset)
    report.add(
        "GridRegistry",
        "registerAsset",
        "FSP",
        send(g.registerAsset(asset, cred, 10, 10, 2, NODE_DSO_RIGHT), world.fsp),
    )
    report.add(
        "GridRegistry",
        "confirmAssetNode",
        "node operator",
        send(g.confirmAssetNode(asset, NODE_DSO_RIGHT), world.dso),
    )
    report.add(
        "GridRegistry",
        "updateAssetCapacity",
        "",
        send(g.updateAssetCapacity(asset, 5, 5), world.fsp),
    )
    report.add("GridRegistry", "retireAsset", "", send(g.retireAsset(asset), world.fsp))


def measure_orders(report: Report, world: World, slot: int) -> tuple[Any, Any]:
    m = world.market.functions
    cases = [
        (world.dso, Side.BUY, "buy, first nonce of a bitmap word"),
        (world.dso, Side.BUY, "buy, bitmap word already in use"),
        (world.fsp, Side.SELL, "sell, first nonce of a bitmap word"),
        (world.fsp, Side.SELL, "sell, bitmap word already in use"),
    ]
    placed = {}
    for maker, side, case in cases:
        order = make_order(
            world, maker, side, slot_start=slot, price=25_000 if side == Side.BUY else 15_000
        )
        receipt = send(m.placeOrder(order.as_tuple(), sign(world, order, maker)), maker)
        report.add("FlexMarket", "placeOrder", case, receipt)
        placed[side] = order
    extra = make_order(world, world.dso, Side.BUY, slot_start=slot)
    report.add("FlexMarket", "cancelOrder", "", send(m.cancelOrder(extra.as_tuple()), world.dso))
    return placed[Side.BUY], placed[Side.SELL]


def measure_batches(report: Report, world: World) -> None:
    for count in (1, 10, 100, 1000, 3000):
        leaves = _filler(count)
        receipt = send(world.market.functions.commitOrderBatch(leaves), world.oracle)
        report.add("FlexMarket", "commitOrderBatch", f"{count} order hashes", receipt, count)


def measure_trades(report: Report, world: World, buy: Any, sell: Any, slot: int) -> list[int]:
    m = world.market.functions
    receipt = send(
        m.recordTrade(
            signed(world, buy, world.dso), signed(world, sell, world.fsp), 2_000_000, 20_000
        ),
        world.operator,
    )
    report.add("FlexMarket", "recordTrade", "both orders placed (wallet path)", receipt)

    # batch path: 1,000 committed hashes, orders proven by Merkle proofs
    buy2 = make_order(world, world.dso, Side.BUY, slot_start=slot, price=25_000)
    sell2 = make_order(world, world.fsp, Side.SELL, slot_start=slot, price=15_000)
    leaves = [*_filler(998), digest(world, buy2), digest(world, sell2)]
    send(m.commitOrderBatch(leaves), world.oracle)
    root = merkle.root(leaves)
    receipt = send(
        m.recordTrade(
            signed(world, buy2, world.dso, root=root, proof=merkle.proof(leaves, 998)),
            signed(world, sell2, world.fsp, root=root, proof=merkle.proof(leaves, 999)),
            2_000_000,
            20_000,
        ),
        world.operator,
    )
    report.add("FlexMarket", "recordTrade", "both orders proven in a 1,000-order batch", receipt)

    trade_ids = [1, 2]
    # The first 8 trades each open a fresh capacity word (their slots 8 apart): what a trade
    # of a new asset and slot costs. The others share one slot, as trades of one asset do.
    starts = [slot + 8 * SLOT_S * i for i in range(8)] + [slot] * (8 * 15)
    inputs = _committed_trade_inputs(world, starts)
    for start in range(0, len(inputs), 8):
        chunk = inputs[start : start + 8]
        with without_dry_runs():
            receipt = send(m.recordTrades(chunk), world.operator)
        trade_ids += [e["tradeId"] for e in events(world.market, receipt, "TradeRecorded")]
        case = {0: "8 trades, each a fresh asset-slot word", 8: "8 trades, capacity word in use"}
        if start in case:
            report.add("FlexMarket", "recordTrades", case[start], receipt, len(chunk))
    return trade_ids


def _committed_trade_inputs(world: World, slot_starts: list[int]) -> list[tuple]:
    pairs = [
        (
            make_order(world, world.dso, Side.BUY, slot_start=start, price=25_000),
            make_order(world, world.fsp, Side.SELL, slot_start=start, price=15_000),
        )
        for start in slot_starts
    ]
    leaves = [digest(world, o) for pair in pairs for o in pair]
    send(world.market.functions.commitOrderBatch(leaves), world.oracle)
    root = merkle.root(leaves)
    return [
        (
            signed(world, b, world.dso, root=root, proof=merkle.proof(leaves, 2 * i)),
            signed(world, s, world.fsp, root=root, proof=merkle.proof(leaves, 2 * i + 1)),
            2_000_000,
            20_000,
        )
        for i, (b, s) in enumerate(pairs)
    ]


def measure_settlement(report: Report, world: World, trade_ids: list[int], slot: int) -> None:
    s = world.settlement.functions
    world.at(slot + 64 * SLOT_S)  # delivery of every trade has ended, all windows still open
    receipt = send(s.attest((trade_ids[0], 10_000_000, 9_000_000)), world.oracle)
    report.add("FlexSettlement", "attest", "first bit of a bitmap word", receipt)
    cursor = 1
    for count in (1, 10, 100):
        batch = [
            pack_attestation(t, 10_000_000, 9_000_000) for t in trade_ids[cursor : cursor + count]
        ]
        cursor += count
        receipt = send(s.attestBatch(batch), world.oracle)
        report.add("FlexSettlement", "attestBatch", f"{count} trades", receipt, count)
    disputed = trade_ids[cursor - 1]
    report.add(
        "FlexSettlement",
        "dispute",
        "by the seller",
        send(s.dispute(disputed, b"\1" * 32), world.fsp),
    )
    report.add(
        "FlexSettlement",
        "resolveDispute",
        "",
        send(s.resolveDispute(disputed, 10_000_000, 8_000_000), world.operator),
    )
    world.at(max(s.disputeDeadline(t).call() for t in trade_ids[:11]))
    report.add("FlexSettlement", "finalise", "", send(s.finalise(trade_ids[0]), world.auditor))
    batch = trade_ids[1:11]
    report.add(
        "FlexSettlement",
        "finaliseBatch",
        f"{len(batch)} trades",
        send(s.finaliseBatch(batch), world.auditor),
        len(batch),
    )
    report.add(
        "FlexSettlement", "setPenaltyFactor", "", send(s.setPenaltyFactor(12_000), world.operator)
    )
    report.add("FlexSettlement", "setWindows", "", send(s.setWindows(7200, 7200), world.operator))


def measure_baselines(report: Report, world: World) -> None:
    b = world.baselines.functions
    (first,) = _filler(1)
    report.add("BaselineRegistry", "lockBaseline", "", send(b.lockBaseline(first), world.oracle))
    for count in (1, 10, 100, 256):
        receipt = send(b.lockBaselines(_filler(count)), world.oracle)
        report.add("BaselineRegistry", "lockBaselines", f"{count} baseline hashes", receipt, count)


def main() -> int:
    world = deploy_world()
    report = Report()
    measure_deployments(report, world)
    measure_roles_and_grid(report, world)
    measure_dids(report, world)
    slot = first_slot(world)
    buy, sell = measure_orders(report, world, slot)
    measure_batches(report, world)
    trade_ids = measure_trades(report, world, buy, sell, slot)
    measure_settlement(report, world, trade_ids, slot)
    measure_baselines(report, world)
    print(report.table())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    _ = ASSET_BATTERY  # the default sell asset of make_order
    return 0


if __name__ == "__main__":
    sys.exit(main())
