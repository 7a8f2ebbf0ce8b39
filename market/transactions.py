"""Registry writes that the participant's wallet signs, and their relay through the outbox.

An endpoint that needs a registry write returns an unsigned transaction (the wallet's next
nonce, gas and fees filled in); the wallet signs it and posts it to ``/transactions``, which
checks that it calls one of the functions participants may call and hands it to the oracle's
outbox. Nothing else may be relayed, so the platform cannot be used to send arbitrary
transactions.
"""

from typing import Any

from eth_utils.crypto import keccak

from market.errors import ForbiddenError, MarketValueError
from market.platform import Platform
from oracle.outbox.models import OutboxMessage
from oracle.relay import RELAY_KIND, decode_transaction, next_wallet_nonce
from oracle.types import Address

RELAYABLE: dict[str, tuple[str, ...]] = {
    "GridRegistry": (
        "registerNode(uint32,uint32,address)",
        "registerAsset(address,bytes32,uint32,uint32,uint8,uint32)",
        "confirmAssetNode(address,uint32)",
        "updateAssetCapacity(address,uint32,uint32)",
        "retireAsset(address)",
    ),
}
FALLBACK_GAS = 400_000  # when the call cannot be estimated yet (its role grant is in flight)


def _selectors() -> set[bytes]:
    return {
        keccak(text=signature)[:4] for functions in RELAYABLE.values() for signature in functions
    }


SELECTORS = _selectors()


def unsigned_call(
    platform: Platform, sender: Address, contract: str, function: str, args: tuple[Any, ...]
) -> dict[str, Any]:
    """The transaction a wallet signs to call ``contract.function(*args)``, as JSON values."""
    suite = platform.oracle.suite
    with platform.chain_lock:
        data = suite.encode_call(contract, function, args)
        w3 = suite.w3
        nonce = next_wallet_nonce(platform.engine, w3, sender)
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        priority = int(w3.eth.max_priority_fee)
    return {
        "from": sender,
        "to": suite.manifest.address_of(contract),
        "data": data,
        "nonce": nonce,
        "gas": FALLBACK_GAS,
        "chainId": platform.chain_id,
        "value": 0,
        "maxFeePerGas": 2 * base_fee + priority,
        "maxPriorityFeePerGas": priority,
        "type": 2,
    }


def relay(platform: Platform, sender: Address, raw_transaction: str) -> OutboxMessage:
    """Check a wallet-signed transaction and put it in the outbox; returns the message."""
    try:
        decoded = decode_transaction(bytes.fromhex(raw_transaction.removeprefix("0x")))
    except ValueError:
        raise MarketValueError("raw_transaction", "is not hex") from None
    if decoded.signer != sender:
        raise ForbiddenError(
            "raw_transaction", f"signed by {decoded.signer}, not by the signed-in {sender}"
        )
    allowed = {platform.oracle.suite.manifest.address_of(name) for name in RELAYABLE}
    if decoded.to not in allowed or decoded.data[:4] not in SELECTORS:
        raise MarketValueError(
            "raw_transaction", "may only call the registry functions participants call"
        )
    with platform.chain_lock:
        return platform.oracle.publish(
            RELAY_KIND,
            {"raw_transaction": raw_transaction},
            sender=sender,
            key=f"tx:{decoded.tx_hash}",
        )
