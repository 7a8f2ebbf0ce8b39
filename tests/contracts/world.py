"""Plain factories for contract tests and the gas report: a py-evm chain, the deployed contracts,
a small grid with assets, and signed orders.

The chain runs py-evm's Paris rules: the EVM of London (what Energy Web Chain and Volta run:
no PUSH0, MCOPY or transient storage, and London gas costs, no EIP-7623 calldata floor) under
proof of stake, which eth-tester can mine.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth.vm.forks import ParisVM
from eth_abi import decode
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.providers.eth_tester import EthereumTesterProvider

from contracts import load_artifact
from oracle.eip712 import ZERO_ADDRESS, Order, order_digest, sign_order
from oracle.types import Address, ChainId, Direction, Role, Side

SLOT_S = 900
PENALTY_FACTOR_BPS = 15_000
ATTESTATION_WINDOW_S = 86_400
DISPUTE_WINDOW_S = 172_800
TX_GAS = 12_000_000

# Grid: 1 (TSO root) -> 2 (DSO) -> 3, 4 (DSO); 10 (DSO2 root)
NODE_TSO_ROOT = 1
NODE_DSO = 2
NODE_DSO_LEFT = 3
NODE_DSO_RIGHT = 4
NODE_OTHER_ROOT = 10

ASSET_BATTERY = Address(to_checksum_address("0x" + "a5" * 19 + "01"))
ASSET_HEATPUMP = Address(to_checksum_address("0x" + "a5" * 19 + "02"))
ASSET_ELSEWHERE = Address(to_checksum_address("0x" + "a5" * 19 + "03"))
# Up and down capacity of every test asset: room for many 2 MW trades in one slot; the
# capacity tests lower it with updateAssetCapacity.
ASSET_CAPACITY_W = 1_000_000_000


@dataclass
class Participant:
    """An account with its key (the eth-tester accounts are unlocked, the key signs orders)."""

    name: str
    address: Address
    key: bytes


@dataclass
class World:
    """A deployed market with its participants."""

    w3: Web3
    tester: EthereumTester
    people: dict[str, Participant]
    roles: Contract
    dids: Contract
    grid: Contract
    market: Contract
    settlement: Contract
    baselines: Contract
    nonces: dict[str, int] = field(default_factory=dict)

    @property
    def chain_id(self) -> ChainId:
        return ChainId(self.w3.eth.chain_id)

    def __getattr__(self, name: str) -> Participant:
        try:
            return self.__dict__["people"][name]
        except KeyError:
            raise AttributeError(name) from None

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """The next transaction's block gets a timestamp at or just after ``timestamp``."""
        if timestamp > self.now():
            self.tester.time_travel(timestamp)

    def at(self, timestamp: int) -> int:
        """The next transaction is mined with exactly ``timestamp`` (must be in the future)."""
        self.tester.time_travel(timestamp)
        return timestamp

    def next_nonce(self, who: Participant) -> int:
        self.nonces[who.name] = self.nonces.get(who.name, 0) + 1
        return self.nonces[who.name]


PEOPLE = ("operator", "dso", "tso", "fsp", "fsp2", "oracle", "auditor", "outsider", "dso2", "spare")


def make_chain() -> tuple[Web3, EthereumTester, dict[str, Participant]]:
    backend = PyEVMBackend(vm_configuration=((0, ParisVM),))
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    people = {}
    for name, key in zip(PEOPLE, backend.account_keys, strict=True):
        address = Address(Account.from_key(key.to_bytes()).address)
        people[name] = Participant(name, address, key.to_bytes())
    return w3, tester, people


def deploy(w3: Web3, name: str, *args: Any, sender: Participant) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).transact({"from": sender.address, "gas": TX_GAS})
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=artifact.abi)


_DRY_RUN = [True]


@contextmanager
def without_dry_runs() -> Iterator[None]:
    """Skips the dry run in ``send`` (halves the EVM work where every transaction must succeed)."""
    _DRY_RUN[0] = False
    try:
        yield
    finally:
        _DRY_RUN[0] = True


def send(fn: Any, who: Participant) -> dict[str, Any]:
    """Sends a contract call as ``who``; returns the receipt of the successful transaction.

    The call is first run against the pending block (the one the transaction will be mined in,
    same timestamp), so a revert raises with its data instead of being mined with status 0.
    """
    if _DRY_RUN[0]:
        fn.call({"from": who.address, "gas": TX_GAS}, block_identifier="pending")
    tx = fn.transact({"from": who.address, "gas": TX_GAS})
    receipt = dict(fn.w3.eth.get_transaction_receipt(tx))
    assert receipt["status"] == 1, f"transaction failed after a successful dry run: {receipt}"
    return receipt


def deploy_world() -> World:
    """Deploys all six contracts, grants the roles and registers a small grid with assets.

    BaselineRegistry is deployed last, so the other contracts keep their addresses."""
    w3, tester, people = make_chain()
    op = people["operator"]
    roles = deploy(w3, "RoleRegistry", sender=op)
    dids = deploy(w3, "DIDRegistry", sender=op)
    grid = deploy(w3, "GridRegistry", roles.address, sender=op)
    market = deploy(w3, "FlexMarket", roles.address, dids.address, grid.address, sender=op)
    settlement = deploy(
        w3,
        "FlexSettlement",
        roles.address,
        market.address,
        PENALTY_FACTOR_BPS,
        DISPUTE_WINDOW_S,
        ATTESTATION_WINDOW_S,
        sender=op,
    )
    baselines = deploy(w3, "BaselineRegistry", roles.address, sender=op)
    world = World(w3, tester, people, roles, dids, grid, market, settlement, baselines)
    _grant_roles(world)
    _register_grid(world)
    return world


def _grant_roles(world: World) -> None:
    grants = [
        ("dso", Role.DSO),
        ("dso2", Role.DSO),
        ("tso", Role.TSO),
        ("fsp", Role.FSP),
        ("fsp2", Role.FSP),
        ("oracle", Role.ORACLE),
        ("auditor", Role.AUDITOR),
    ]
    for name, role in grants:
        credential = keccak(text=f"credential:{name}:{role.name}")
        fn = world.roles.functions.grantRole(
            world.people[name].address, int(role), credential, 0, 2**64 - 1
        )
        send(fn, world.operator)


def _register_grid(world: World) -> None:
    g = world.grid.functions
    send(g.registerNode(NODE_TSO_ROOT, 0, world.tso.address), world.tso)
    # The DSO's tree hangs under the TSO's node: only the market operator connects the two.
    send(g.registerNode(NODE_DSO, NODE_TSO_ROOT, world.dso.address), world.operator)
    send(g.registerNode(NODE_DSO_LEFT, NODE_DSO, world.dso.address), world.dso)
    send(g.registerNode(NODE_DSO_RIGHT, NODE_DSO, world.dso.address), world.dso)
    send(g.registerNode(NODE_OTHER_ROOT, 0, world.dso2.address), world.dso2)
    assets = [
        (ASSET_BATTERY, world.fsp, NODE_DSO_LEFT, world.dso),
        (ASSET_HEATPUMP, world.fsp2, NODE_DSO_RIGHT, world.dso),
        (ASSET_ELSEWHERE, world.fsp, NODE_OTHER_ROOT, world.dso2),
    ]
    for asset, owner, node, operator in assets:
        meter = keccak(text=f"meter:{asset}")
        send(g.registerAsset(asset, meter, ASSET_CAPACITY_W, ASSET_CAPACITY_W, 1, node), owner)
        send(g.confirmAssetNode(asset, node), operator)


def first_slot(world: World, hours_ahead: int = 2) -> int:
    """A slot start (multiple of 900 s) a few hours after the latest block."""
    return (world.now() // SLOT_S + 4 * hours_ahead) * SLOT_S


def make_order(
    world: World,
    maker: Participant,
    side: Side,
    *,
    slot_start: int,
    direction: Direction = Direction.UP,
    node_id: int | None = None,
    asset: Address | None = None,
    slot_count: int = 4,
    power_w: int = 2_000_000,
    min_power_w: int | None = None,
    divisible: bool = False,
    price: int = 20_000,
    nonce: int | None = None,
    expiry: int | None = None,
) -> Order:
    """An order with sensible defaults: buys at the DSO node, sells from the FSP's battery."""
    if node_id is None:
        node_id = NODE_DSO if side == Side.BUY else NODE_DSO_LEFT
    if asset is None:
        asset = ZERO_ADDRESS if side == Side.BUY else ASSET_BATTERY
    return Order(
        maker=maker.address,
        side=side,
        direction=direction,
        node_id=node_id,
        asset=asset,
        slot_start=slot_start,
        slot_count=slot_count,
        power_w=power_w,
        min_power_w=power_w if min_power_w is None else min_power_w,
        divisible=divisible,
        price_cents_per_mwh=price,
        nonce=world.next_nonce(maker) if nonce is None else nonce,
        expiry=slot_start if expiry is None else expiry,
    )


def sign(world: World, order: Order, signer: Participant) -> bytes:
    return sign_order(order, signer.key, world.chain_id, Address(world.market.address))


def digest(world: World, order: Order) -> bytes:
    return order_digest(order, world.chain_id, Address(world.market.address))


def signed(
    world: World,
    order: Order,
    signer: Participant,
    *,
    root: bytes = b"\0" * 32,
    proof: list[bytes] | None = None,
) -> tuple[Any, ...]:
    """The SignedOrder tuple the market takes."""
    return (order.as_tuple(), sign(world, order, signer), root, proof or [])


def place(world: World, order: Order, signer: Participant | None = None) -> dict[str, Any]:
    """Places ``order`` on the wallet path, signed and sent by its maker (or ``signer``)."""
    who = signer or world.people[_name_of(world, order.maker)]
    fn = world.market.functions.placeOrder(order.as_tuple(), sign(world, order, who))
    return send(fn, who)


def _name_of(world: World, address: str) -> str:
    return next(p.name for p in world.people.values() if p.address == address)


# --- revert decoding -------------------------------------------------------------------------


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data carried by a failed call or transaction."""
    current: BaseException | None = exc
    while current is not None:
        data = getattr(current, "data", None)
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        for arg in current.args:
            if isinstance(arg, bytes):
                return arg
        current = current.__cause__ or current.__context__
    prefix = "execution reverted: "
    text = str(exc)
    if text.startswith(prefix):
        value = ast.literal_eval(text[len(prefix) :])
        if isinstance(value, bytes):
            return value
    raise AssertionError(f"no revert data in {exc!r}")


def decode_error(abi: list[dict[str, Any]], data: bytes) -> tuple[str, tuple[Any, ...]]:
    """(name, args) of the custom error in ``abi`` that ``data`` encodes."""
    for entry in abi:
        if entry["type"] != "error":
            continue
        types = [item["type"] for item in entry["inputs"]]
        selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
        if data[:4] == selector:
            return entry["name"], tuple(decode(types, data[4:]))
    raise AssertionError(f"revert data {data.hex()} matches no error of the ABI")


def _normalise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, bytes) and len(value) == 20:
        return "0x" + value.hex()
    return value


@contextmanager
def reverts(contract: Contract, name: str, *args: Any) -> Iterator[None]:
    """Asserts the block reverts with custom error ``name`` of ``contract`` and exactly ``args``."""
    with pytest.raises(Exception) as info:
        yield
    got_name, got_args = decode_error(contract.abi, revert_data(info.value))
    assert got_name == name, f"reverted with {got_name}{got_args}, expected {name}{args}"
    assert tuple(map(_normalise, got_args)) == tuple(map(_normalise, args)), (
        f"{name} args {got_args} != expected {args}"
    )


def events(contract: Contract, receipt: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Decoded ``name`` events of ``contract`` in ``receipt`` (their args as dicts)."""
    event: Callable[..., Any] = getattr(contract.events, name)
    return [dict(log["args"]) for log in event().process_receipt(receipt, errors=DISCARD)]
