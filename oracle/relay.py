"""Transactions that a participant's own wallet signed, relayed through the outbox.

Registry writes must come from the participant's account (an FSP registers its assets, a
system operator its nodes and node mappings), and the platform never holds those keys. So
the wallet signs the transaction (MetaMask's ``eth_signTransaction``, or
:meth:`market.wallet.Wallet.sign_transaction`) and the platform relays the signed bytes.
They are persisted before they are broadcast like every other outbox message, broadcast
again after a crash, and confirmed by receipt; a relayed transaction that reverts or whose
nonce the wallet spent elsewhere is rejected, since only the wallet could sign a new one.
"""

import json
from functools import lru_cache
from typing import Any

import rlp
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pydantic import Field
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from web3 import Web3

from oracle.errors import OracleValueError
from oracle.messages import ChainView, MessageSpec, Payload
from oracle.outbox.models import (
    MessageStatus,
    OutboxMessage,
    OutboxTransaction,
    TransactionStatus,
)
from oracle.types import Address, web3_address

RELAY_KIND = "wallet.transaction"
MAX_RAW_BYTES = 64 * 1024


class RelayedTransaction(Payload):
    """A signed EIP-1559 or legacy transaction, as 0x-hex."""

    raw_transaction: str = Field(pattern=r"^0x[0-9a-fA-F]+$", max_length=2 + 2 * MAX_RAW_BYTES)

    def check_offline(self) -> None:
        self.decoded()

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        decoded = self.decoded()
        if decoded.signer != sender:
            raise OracleValueError(
                "raw_transaction", f"signed by {decoded.signer}, not by the sender {sender}"
            )
        if decoded.chain_id != view.chain_id:
            raise OracleValueError(
                "raw_transaction",
                f"signed for chain {decoded.chain_id}; this market runs on chain {view.chain_id}",
            )

    def decoded(self) -> "DecodedTransaction":
        return decode_transaction(bytes.fromhex(self.raw_transaction[2:]))

    def call_args(self) -> tuple[Any, ...]:
        raise OracleValueError("raw_transaction", "a relayed transaction is sent as signed")


class DecodedTransaction:
    """The fields of a signed transaction the relay checks. ``max_fee_per_gas`` and
    ``max_priority_fee_per_gas`` are both the gas price for a legacy or EIP-2930 one."""

    __slots__ = (
        "chain_id",
        "data",
        "gas",
        "max_fee_per_gas",
        "max_priority_fee_per_gas",
        "nonce",
        "raw",
        "signer",
        "to",
        "tx_hash",
        "typed_fees",
        "value",
    )

    def __init__(
        self,
        raw: bytes,
        signer: Address,
        nonce: int,
        to: Address | None,
        data: bytes,
        chain_id: int,
        fees: "GasFields",
    ) -> None:
        self.raw, self.signer, self.nonce = raw, signer, nonce
        self.to, self.data, self.chain_id = to, data, chain_id
        self.gas, self.value = fees.gas, fees.value
        self.max_fee_per_gas = fees.max_fee_per_gas
        self.max_priority_fee_per_gas = fees.max_priority_fee_per_gas
        self.typed_fees = fees.typed_fees
        self.tx_hash = "0x" + keccak(raw).hex()


class GasFields:
    """Gas limit, fee caps (wei per gas) and value (wei) of a signed transaction."""

    __slots__ = ("gas", "max_fee_per_gas", "max_priority_fee_per_gas", "typed_fees", "value")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.gas = int(fields.get("gas", 0))
        self.value = int(fields.get("value", 0))
        self.typed_fees = "maxFeePerGas" in fields  # EIP-1559 caps, not one gas price
        price = int(fields.get("gasPrice", 0))
        self.max_fee_per_gas = int(fields.get("maxFeePerGas", price))
        self.max_priority_fee_per_gas = int(fields.get("maxPriorityFeePerGas", price))


def decode_transaction(raw: bytes) -> DecodedTransaction:
    """Decode and recover the signer; errors name ``raw_transaction``."""
    try:
        signer = Address(Account.recover_transaction(raw))
        fields = _fields(raw)
    except Exception as error:  # eth-account raises many types for malformed bytes
        raise OracleValueError(
            "raw_transaction", f"not a signed Ethereum transaction ({error})"
        ) from None
    to = fields.get("to")
    chain_id = fields.get("chainId")
    if chain_id is None:
        raise OracleValueError("raw_transaction", "must name a chain id (EIP-155 or typed)")
    return DecodedTransaction(
        raw=raw,
        signer=signer,
        nonce=int(fields["nonce"]),
        to=Address(to_checksum_address(to)) if to else None,
        data=bytes(fields.get("data", b"")),
        chain_id=int(chain_id),
        fees=GasFields(fields),
    )


def _fields(raw: bytes) -> dict[str, Any]:
    if raw and raw[0] <= 0x7F:  # EIP-2718 typed transaction
        typed = TypedTransaction.from_bytes(HexBytes(raw))
        return dict(typed.as_dict())
    # Legacy transactions: [nonce, gasPrice, gas, to, value, data, v, r, s].
    nonce, price, gas, to, value, data, v, _r, _s = rlp.decode(raw)
    v_int = int.from_bytes(v, "big")
    chain_id = (v_int - 35) // 2 if v_int >= 35 else None
    return {
        "nonce": int.from_bytes(nonce, "big"),
        "gasPrice": int.from_bytes(price, "big"),
        "gas": int.from_bytes(gas, "big"),
        "to": to or None,
        "value": int.from_bytes(value, "big"),
        "data": data,
        "chainId": chain_id,
    }


def next_wallet_nonce(engine: Engine, w3: Web3, address: Address) -> int:
    """The nonce a wallet should sign next: past its pending chain count and past every
    relayed transaction still waiting in the outbox (queued or signed, not yet mined)."""
    with Session(engine) as session:
        highest = session.exec(
            select(func.max(OutboxTransaction.nonce))
            .where(OutboxTransaction.sender == address)
            .where(
                col(OutboxTransaction.status).in_(
                    [TransactionStatus.SIGNED, TransactionStatus.SENT]
                )
            )
        ).one()
        queued = session.exec(
            select(OutboxMessage.payload)
            .where(OutboxMessage.sender == address)
            .where(OutboxMessage.kind == RELAY_KIND)
            .where(OutboxMessage.status == MessageStatus.PENDING)
        ).all()
    nonces = [-1 if highest is None else int(highest)]
    nonces += [_queued_nonce(payload) for payload in queued]
    on_chain = int(w3.eth.get_transaction_count(web3_address(address), "pending"))
    return max(on_chain, max(nonces) + 1)


@lru_cache(maxsize=16_384)
def _queued_nonce(payload: str) -> int:
    # Every unsigned call reads the wallet's whole queue; a stored payload never changes, so
    # each is decoded once, and without recovering its signer (checked when it was relayed).
    raw = json.loads(payload)["raw_transaction"]
    return int(_fields(bytes.fromhex(raw[2:]))["nonce"])


def relay_spec() -> MessageSpec:
    """The outbox spec of relayed wallet transactions (any sender; it pays its own gas)."""
    return MessageSpec(RELAY_KIND, RelayedTransaction, "", "", frozenset(), presigned=True)
