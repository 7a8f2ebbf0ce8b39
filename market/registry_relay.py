"""The relay of wallet-signed registry transactions: ``POST /transactions``.

The wallet signs the transaction, so the platform cannot change it; but it decides whether
to relay it. A transaction is relayed only if it calls a registry function participants call
(:data:`market.transactions.RELAYABLE`), with arguments the platform's own records agree
with (the same rules the endpoints that build these calls apply, see
:mod:`market.registry_checks`), and with a gas limit and fees that can work on this chain.
Refusals are 4xx errors naming the argument: ``raw_transaction.nodeId``, or
``raw_transaction.assets.3.upW`` for the fourth item of a batch.
"""

from typing import Any

from sqlmodel import Session
from web3 import Web3

from market import registry_checks
from market.errors import ForbiddenError, MarketValueError
from market.platform import Platform
from market.transactions import RELAYABLE, SELECTORS
from oracle.outbox.models import OutboxMessage
from oracle.relay import RELAY_KIND, DecodedTransaction, decode_transaction
from oracle.types import Address, web3_address

FIELD = "raw_transaction"
TX_GAS = 21_000
CALLDATA_ZERO_GAS, CALLDATA_NONZERO_GAS = 4, 16  # per byte (EIP-2028)


def relay(
    platform: Platform, session: Session, sender: Address, raw_transaction: str
) -> OutboxMessage:
    """Check a wallet-signed transaction and put it in the outbox; returns the message."""
    decoded = _decoded(raw_transaction)
    if decoded.signer != sender:
        raise ForbiddenError(FIELD, f"signed by {decoded.signer}, not by the signed-in {sender}")
    allowed = {platform.oracle.suite.manifest.address_of(name) for name in RELAYABLE}
    if decoded.to not in allowed or decoded.data[:4] not in SELECTORS:
        raise MarketValueError(FIELD, "may only call the registry functions participants call")
    function, args = _call_of(platform, decoded)
    registry_checks.check_call(session, sender, function, args)
    with platform.chain_lock:
        check_gas_and_fees(platform.oracle.suite.w3, decoded)
        return platform.oracle.publish(
            RELAY_KIND,
            {"raw_transaction": raw_transaction},
            sender=sender,
            key=f"tx:{decoded.tx_hash}",
        )


def _decoded(raw_transaction: str) -> DecodedTransaction:
    try:
        raw = bytes.fromhex(raw_transaction.removeprefix("0x"))
    except ValueError:
        raise MarketValueError(FIELD, "is not hex") from None
    return decode_transaction(raw)


def _call_of(platform: Platform, decoded: DecodedTransaction) -> tuple[str, dict[str, Any]]:
    """The function's name and its arguments by name, decoded with the registry's ABI."""
    contract = platform.oracle.suite.contract("GridRegistry")
    try:
        function, args = contract.decode_function_input(decoded.data)
    except Exception:  # eth-abi raises several types for truncated or malformed arguments
        raise MarketValueError(
            FIELD, "its call data does not decode as the function's arguments"
        ) from None
    # The implementation names some parameters with a trailing underscore (``asset_``).
    return str(function.fn_name), {name.rstrip("_"): value for name, value in args.items()}


def check_gas_and_fees(w3: Web3, decoded: DecodedTransaction) -> None:
    """Refuse at submission what the chain could never include or would only revert for
    lack of gas: a gas limit below the intrinsic gas or what the call needs or above the block's,
    fee caps below the base fee or upside down, a sender that cannot pay gas × max fee."""
    block = w3.eth.get_block("latest")
    intrinsic = intrinsic_gas(decoded.data)
    if decoded.gas < intrinsic:
        raise MarketValueError(
            f"{FIELD}.gas", f"{decoded.gas} is below the intrinsic gas {intrinsic} of this call"
        )
    block_gas_limit = int(block.get("gasLimit") or 0)
    if block_gas_limit and decoded.gas > block_gas_limit:
        raise MarketValueError(
            f"{FIELD}.gas",
            f"{decoded.gas} is above the block gas limit {block_gas_limit}; split the batch",
        )
    _check_fees(decoded, int(block.get("baseFeePerGas") or 0))
    _check_balance(w3, decoded)
    _check_enough_gas(w3, decoded)


def intrinsic_gas(data: bytes) -> int:
    """Gas every transaction with this call data costs before it runs (no access list)."""
    zeros = data.count(0)
    return TX_GAS + CALLDATA_ZERO_GAS * zeros + CALLDATA_NONZERO_GAS * (len(data) - zeros)


def _check_fees(decoded: DecodedTransaction, base_fee: int) -> None:
    name = "maxFeePerGas" if decoded.typed_fees else "gasPrice"
    if decoded.max_fee_per_gas < base_fee:
        raise MarketValueError(
            f"{FIELD}.{name}",
            f"{decoded.max_fee_per_gas} wei is below the current base fee {base_fee} wei; "
            "ask for a new unsigned transaction",
        )
    if decoded.max_priority_fee_per_gas > decoded.max_fee_per_gas:
        raise MarketValueError(
            f"{FIELD}.maxPriorityFeePerGas",
            f"{decoded.max_priority_fee_per_gas} wei is above maxFeePerGas "
            f"{decoded.max_fee_per_gas} wei",
        )


def _check_balance(w3: Web3, decoded: DecodedTransaction) -> None:
    needed = decoded.gas * decoded.max_fee_per_gas + decoded.value
    balance = int(w3.eth.get_balance(web3_address(decoded.signer)))
    if balance < needed:
        raise MarketValueError(
            f"{FIELD}.gas",
            f"the wallet holds {balance} wei, less than gas × maxFeePerGas + value = {needed} wei",
        )


def _check_enough_gas(w3: Web3, decoded: DecodedTransaction) -> None:
    """Run the call once with the transaction's own gas limit: if it runs out of gas it
    would on chain too. (An estimate is a binary search of such runs: seconds for a batch
    on py-evm.) A call that reverts for another reason now is not judged here: it may build
    on a transaction still in the outbox, and the chain decides."""
    call: Any = {
        "from": web3_address(decoded.signer),
        "to": decoded.to,
        "data": decoded.data,
        "gas": decoded.gas,
    }
    try:
        w3.eth.call(call)
    except Exception as error:  # chains report failures as several exception types
        if "out of gas" in str(error).lower():
            raise MarketValueError(
                f"{FIELD}.gas", f"{decoded.gas} gas is not enough: the call runs out of gas"
            ) from None
