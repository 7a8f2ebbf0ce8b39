"""The chain as participants see it: contracts, their wallet's nonce, relayed transactions."""

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from market import transactions
from market.api.deps import ParticipantDep, PlatformDep
from market.errors import NotFoundError
from oracle.errors import OracleValueError
from oracle.outbox.models import OutboxMessage
from oracle.types import Role

router = APIRouter(tags=["chain"])


class ChainOut(BaseModel):
    chain_id: int
    block: int
    contracts: dict[str, str]
    market_operator: str
    oracle: str


class RawTransaction(BaseModel):
    raw_transaction: str = Field(
        pattern=r"^0x[0-9a-fA-F]+$", max_length=131_074, description="eth_signTransaction output."
    )


class RelayOut(BaseModel):
    tx_hash: str
    status: str
    error: str | None = None

    @classmethod
    def of(cls, message: OutboxMessage) -> "RelayOut":
        return cls(
            tx_hash=message.key.removeprefix("tx:"),
            status=str(message.status),
            error=message.last_error,
        )


@router.get("/chain", summary="Chain id, head and contract addresses")
def chain(platform: PlatformDep) -> ChainOut:
    suite = platform.oracle.suite
    with platform.chain_lock:
        block = int(suite.w3.eth.block_number)
    return ChainOut(
        chain_id=platform.chain_id,
        block=block,
        contracts={name: c.address for name, c in suite.manifest.contracts.items()},
        market_operator=platform.operator_address,
        oracle=platform.oracle_address,
    )


@router.post(
    "/transactions", status_code=202, summary="Relay a registry transaction your wallet signed"
)
def relay(body: RawTransaction, participant: ParticipantDep, platform: PlatformDep) -> RelayOut:
    participant.require(Role.FSP, Role.DSO, Role.TSO)  # auditors and visitors write nothing
    message = transactions.relay(platform, participant.address, body.raw_transaction)
    return RelayOut.of(message)


@router.get(
    "/transactions/{tx_hash}",
    summary="Where a relayed transaction stands (yours; market operator and auditors: all)",
)
def relayed(
    tx_hash: Annotated[
        str, PathParam(pattern=r"^0x[0-9a-fA-F]{64}$", description="The transaction's hash.")
    ],
    participant: ParticipantDep,
    platform: PlatformDep,
) -> RelayOut:
    hidden = NotFoundError("tx_hash", "no relayed transaction with this hash that you may read")
    try:
        message = platform.oracle.status_of(f"tx:{tx_hash.lower()}")
    except OracleValueError:
        raise hidden from None
    sees_all = participant.is_operator or participant.holds(Role.AUDITOR)
    if message.sender != participant.address and not sees_all:
        raise hidden
    return RelayOut.of(message)
