"""Deploying the six contracts and writing the manifest.

Deployment is the bootstrap that precedes the outbox (the outbox needs the manifest), so
it signs and sends directly with the deployer's key and waits for each receipt with the
connection's confirmations.
"""

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from contracts import load_artifact
from oracle.bindings import artifact_hash
from oracle.chain import ChainConnection
from oracle.errors import ChainError
from oracle.manifest import DeployedContract, Manifest
from oracle.types import Address, BlockNumber, ChainId

DEPLOY_GAS_LIMIT = 7_000_000  # under the 8M block limit of Energy Web Chain


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
    had before it existed.
    """
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


def _send(connection: ChainConnection, account: LocalAccount, fields: dict[str, Any]) -> TxReceipt:
    w3 = connection.w3
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    tx = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": ChainId(connection.chain_id),
        "gas": DEPLOY_GAS_LIMIT,
        "maxFeePerGas": 2 * base_fee + w3.eth.max_priority_fee,
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "value": 0,
        **fields,
    }
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return connection.wait_for_receipt(bytes(tx_hash))
