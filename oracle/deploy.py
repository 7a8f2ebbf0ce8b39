"""Deploying the six contracts and writing the manifest.

Deployment is the bootstrap that precedes the outbox (the outbox needs the manifest), so
it signs and sends directly with the deployer's key and waits for each receipt with the
connection's confirmations.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from contracts import load_artifact
from oracle.bindings import artifact_hash
from oracle.chain import ChainConnection
from oracle.errors import ChainError
from oracle.manifest import DeployedContract, Manifest
from oracle.types import Address, BlockNumber, ChainId

DEPLOY_GAS_LIMIT = 7_000_000  # under the 8M block limit of Energy Web Chain
SUITE_SIZE = 6  # contracts, one transaction each
TRANSFER_GAS = 21_000
WEI_PER_ETHER = 10**18
FUNDING_HINT = (
    "fund it: send the chain's native token to it from a funded account, or pass "
    "`--funder-keystore PATH` (or set FLEXLEDGER_FUNDER_KEY) so that flexledger sends it first"
)


class InsufficientFundsError(ChainError):
    """An account cannot pay for what it must send; the message says how to fund it."""

    def __init__(self, who: str, address: str, balance_wei: int, needed_wei: int) -> None:
        self.address, self.balance_wei, self.needed_wei = address, balance_wei, needed_wei
        super().__init__(
            f"the {who} {address} has {ether(balance_wei)} but needs {ether(needed_wei)} "
            f"of gas money; {FUNDING_HINT}"
        )


def ether(wei: int) -> str:
    """Wei as a short decimal of the native token (ETH, EWT, VT), for error lines."""
    return f"{Decimal(wei) / WEI_PER_ETHER:.6f}".rstrip("0").rstrip(".") + " ETH"


@dataclass(frozen=True, slots=True)
class SettlementParameters:
    penalty_factor_bps: int = 15_000  # USEF-style: shortfall penalised at 1.5 × trade price
    dispute_window_s: int = 2 * 24 * 3600
    attestation_window_s: int = 7 * 24 * 3600


def deploy_suite(
    connection: ChainConnection,
    deployer: LocalAccount,
    parameters: SettlementParameters = SettlementParameters(),
) -> Manifest:
    """Deploy DIDRegistry, RoleRegistry, GridRegistry, FlexMarket, FlexSettlement and
    BaselineRegistry.

    BaselineRegistry goes last, so the other five keep the addresses (deployer nonces) they
    had before it existed. A deployer that cannot pay for all six transactions is refused
    before the first is sent (:class:`InsufficientFundsError`), so no half suite is left.
    """
    require_funds(
        connection, "deployer", Address(deployer.address), deployment_cost_wei(connection)
    )
    deployed: dict[str, DeployedContract] = {}

    def put(name: str, *args: Any) -> Address:
        deployed[name] = _deploy(connection, deployer, name, args)
        return deployed[name].address

    dids = put("DIDRegistry")
    roles = put("RoleRegistry")
    grid = put("GridRegistry", roles)
    market = put("FlexMarket", roles, dids, grid)
    put(
        "FlexSettlement",
        roles,
        market,
        parameters.penalty_factor_bps,
        parameters.dispute_window_s,
        parameters.attestation_window_s,
    )
    put("BaselineRegistry", roles)
    return Manifest(
        chain_id=connection.chain_id,
        contracts=deployed,
        deployer=Address(deployer.address),
        parameters={
            "penalty_factor_bps": parameters.penalty_factor_bps,
            "dispute_window_s": parameters.dispute_window_s,
            "attestation_window_s": parameters.attestation_window_s,
        },
    )


def _deploy(
    connection: ChainConnection, deployer: LocalAccount, name: str, args: tuple[Any, ...]
) -> DeployedContract:
    artifact = load_artifact(name)
    factory = connection.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    receipt = _send(connection, deployer, {"data": data})
    address = receipt["contractAddress"]
    if address is None or receipt["status"] != 1:
        raise ChainError(f"deploying {name} failed in transaction {receipt['transactionHash']!r}")
    return DeployedContract(
        name=name,
        address=Address(address),
        deploy_block=BlockNumber(receipt["blockNumber"]),
        deploy_tx="0x" + bytes(receipt["transactionHash"]).hex(),
        artifact_hash=artifact_hash(artifact),
        source_hash=artifact.source_hash,
    )


def max_fee_per_gas(connection: ChainConnection) -> int:
    """What the deployment offers per gas: twice the latest base fee plus the tip."""
    w3 = connection.w3
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    return 2 * base_fee + int(w3.eth.max_priority_fee)


def deployment_cost_wei(connection: ChainConnection) -> int:
    """The most the six deployments can cost: each may use its whole gas limit at the max
    fee (the node refuses a transaction the balance cannot cover that way)."""
    return SUITE_SIZE * DEPLOY_GAS_LIMIT * max_fee_per_gas(connection)


def balance_wei(connection: ChainConnection, address: Address) -> int:
    return int(connection.w3.eth.get_balance(Web3.to_checksum_address(address)))


def require_funds(connection: ChainConnection, who: str, address: Address, needed_wei: int) -> None:
    balance = balance_wei(connection, address)
    if balance < needed_wei:
        raise InsufficientFundsError(who, address, balance, needed_wei)


def fund_accounts(
    connection: ChainConnection, funder: LocalAccount, targets: Mapping[Address, int]
) -> dict[Address, int]:
    """Top each address up to its target balance (wei) from ``funder``; returns what was sent.

    The funder's balance is checked for the whole top-up first, so either every account
    gets its money or none is sent.
    """
    shortfalls = {
        address: target - balance_wei(connection, address) for address, target in targets.items()
    }
    due = {address: wei for address, wei in shortfalls.items() if wei > 0}
    if not due:
        return {}
    fees = len(due) * TRANSFER_GAS * max_fee_per_gas(connection)
    require_funds(connection, "funder", Address(funder.address), sum(due.values()) + fees)
    for address, wei in due.items():
        receipt = _send(
            connection,
            funder,
            {"to": Web3.to_checksum_address(address), "value": wei},
            gas=TRANSFER_GAS,
        )
        if receipt["status"] != 1:
            raise ChainError(f"funding {address} from {funder.address} failed")
    return due


def _send(
    connection: ChainConnection,
    account: LocalAccount,
    fields: dict[str, Any],
    gas: int = DEPLOY_GAS_LIMIT,
) -> TxReceipt:
    w3 = connection.w3
    tx = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": ChainId(connection.chain_id),
        "gas": gas,
        "maxFeePerGas": max_fee_per_gas(connection),
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "value": 0,
        **fields,
    }
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return connection.wait_for_receipt(bytes(tx_hash))
