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
from web3 import Web3

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
FALLBACK_GAS = 400_000  # when the call cannot be estimated yet (its role grant is in flight)
GAS_MARGIN = 1.25  # over the estimate: the state may change a little before it is mined
# GridRegistry's batch bounds (MAX_NODE_BATCH, MAX_ASSET_BATCH, MAX_CONFIRM_BATCH on chain).
MAX_NODE_BATCH, MAX_ASSET_BATCH, MAX_CONFIRM_BATCH = 100, 50, 200
# Gas to offer a batch whose estimate fails (an earlier batch it builds on is not mined yet):
# measured per item (benchmarks in tests/contracts/test_grid_registry.py) with headroom.
BATCH_GAS_PER_ITEM = {
    "registerNodes": 35_000,
    "registerAssets": 85_000,
    "confirmAssetNodes": 25_000,
}
BATCH_GAS_BASE = 60_000

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
    fallback_gas: int = FALLBACK_GAS,
) -> dict[str, Any]:
    """The transaction a wallet signs to call ``contract.function(*args)``, as JSON values.
    Its gas limit is the chain's estimate with a margin, or ``fallback_gas`` when the call
    cannot be estimated yet (it builds on a transaction still in the outbox)."""
    suite = platform.oracle.suite
    to = suite.manifest.address_of(contract)
    with platform.chain_lock:
        data = suite.encode_call(contract, function, args)
        w3 = suite.w3
        nonce = next_wallet_nonce(platform.engine, w3, sender)
        block = w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas") or 0)
        priority = int(w3.eth.max_priority_fee)
        gas = _gas_limit(w3, sender, to, data, fallback_gas, int(block.get("gasLimit") or 0))
    return {
        "from": sender,
        "to": to,
        "data": data,
        "nonce": nonce,
        "gas": gas,
        "chainId": platform.chain_id,
        "value": 0,
        "maxFeePerGas": 2 * base_fee + priority,
        "maxPriorityFeePerGas": priority,
        "type": 2,
    }


def batch_fallback_gas(function: str, items: int) -> int:
    """The gas to offer a batch of ``items`` when the chain cannot estimate it yet."""
    return BATCH_GAS_BASE + BATCH_GAS_PER_ITEM.get(function, FALLBACK_GAS) * items


def _gas_limit(
    w3: Web3, sender: Address, to: str, data: str, fallback_gas: int, block_gas_limit: int
) -> int:
    try:
        call: Any = {"from": sender, "to": to, "data": data}
        estimate = int(w3.eth.estimate_gas(call))
    except Exception:  # it reverts now (a dependency is not mined yet), or no gas money yet:
        # chains report these as several exception types (web3, eth-tester, py-evm)
        return min(max(fallback_gas, FALLBACK_GAS), block_gas_limit or fallback_gas)
    gas = max(FALLBACK_GAS, int(estimate * GAS_MARGIN))
    return min(gas, block_gas_limit) if block_gas_limit else gas
