"""Registry writes that the participant's wallet signs, and their relay through the outbox.

An endpoint that needs a registry write returns an unsigned transaction (the wallet's next
nonce, gas and fees filled in); the wallet signs it and posts it to ``/transactions``
(:mod:`market.registry_relay`), which checks that it calls one of the functions participants
may call, with arguments the platform agrees with, and gas and fees that can work, and hands
it to the oracle's outbox. Nothing else may be relayed, so the platform cannot be used to
send arbitrary transactions.
"""

from typing import TYPE_CHECKING, Any

from eth_utils.crypto import keccak

from oracle.relay import next_wallet_nonce
from oracle.types import Address

RELAYABLE: dict[str, tuple[str, ...]] = {
    "GridRegistry": (
        "registerNode(uint32,uint32,address)",
        "registerNodes(uint32[],uint32[],address)",
        "registerAsset(address,bytes32,uint32,uint32,uint8,uint32)",
        "registerAssets((address,bytes32,uint32,uint32,uint8,uint32)[])",
        "confirmAssetNode(address,uint32)",
        "confirmAssetNodes(address[],uint32[])",
        "updateAssetCapacity(address,uint32,uint32)",
        "retireAsset(address)",
    ),
}
FALLBACK_GAS = 400_000  # a single registry call: ample, and nothing to estimate
# GridRegistry's batch bounds (MAX_NODE_BATCH, MAX_ASSET_BATCH, MAX_CONFIRM_BATCH on chain).
MAX_NODE_BATCH, MAX_ASSET_BATCH, MAX_CONFIRM_BATCH = 100, 50, 200
# Gas limits of batches: measured per item (tests/contracts/test_grid_registry.py: about
# 27k a node, 74k an asset, 11k a mapping whose node the caller operates) with headroom;
# a mapping that walks up the tree to reach a node the caller operates adds WALK_GAS a level.
BATCH_GAS_PER_ITEM = {
    "registerNodes": 35_000,
    "registerAssets": 85_000,
    "confirmAssetNodes": 16_000,
}
BATCH_GAS_BASE = 60_000
WALK_GAS = 2_400  # a cold read of one node on the way up

if TYPE_CHECKING:  # market.platform imports the sync, which imports these modules
    from market.platform import Platform


def _selectors() -> set[bytes]:
    return {
        keccak(text=signature)[:4] for functions in RELAYABLE.values() for signature in functions
    }


SELECTORS = _selectors()


def unsigned_call(
    platform: "Platform",
    sender: Address,
    contract: str,
    function: str,
    args: tuple[Any, ...],
    *,
    gas: int = FALLBACK_GAS,
) -> dict[str, Any]:
    """The transaction a wallet signs to call ``contract.function(*args)``, as JSON values.
    ``gas`` is its limit: the chain cannot estimate a call that builds on a transaction still
    in the outbox, and py-evm's estimate (a binary search of executions) costs seconds for a
    batch, so batches pass a limit from their measured gas per item (:func:`batch_gas`)."""
    suite = platform.oracle.suite
    to = suite.manifest.address_of(contract)
    with platform.chain_lock:
        data = suite.encode_call(contract, function, args)
        w3 = suite.w3
        nonce = next_wallet_nonce(platform.engine, w3, sender)
        block = w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas") or 0)
        priority = int(w3.eth.max_priority_fee)
    block_gas_limit = int(block.get("gasLimit") or gas)
    return {
        "from": sender,
        "to": to,
        "data": data,
        "nonce": nonce,
        "gas": min(gas, block_gas_limit),
        "chainId": platform.chain_id,
        "value": 0,
        "maxFeePerGas": 2 * base_fee + priority,
        "maxPriorityFeePerGas": priority,
        "type": 2,
    }


def batch_gas(function: str, items: int, extra_gas: int = 0) -> int:
    """The gas limit to offer a batch of ``items`` (plus ``extra_gas`` the caller knows of)."""
    return BATCH_GAS_BASE + BATCH_GAS_PER_ITEM[function] * items + extra_gas
