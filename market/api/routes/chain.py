"""The chain as participants see it: contracts, their wallet's nonce, relayed transactions."""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlmodel import col, select

from market import registry_relay
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.db.models import ChainFlag
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


class ChainFlagOut(BaseModel):
    id: int
    event_id: int = Field(description="The indexed event's id.")
    event: str
    args: dict[str, Any] = Field(description="The event's arguments as the chain logged them.")
    tx_hash: str
    block_number: int
    reason: str = Field(description="Why the platform did not apply it.")
    created_at: datetime

    @classmethod
    def of(cls, flag: ChainFlag) -> "ChainFlagOut":
        assert flag.id is not None
        return cls(
            id=flag.id,
            event_id=flag.event_id,
            event=flag.event,
            args=json.loads(flag.args),
            tx_hash=flag.tx_hash,
            block_number=flag.block_number,
            reason=flag.reason,
            created_at=flag.created_at,
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
def relay(
    body: RawTransaction, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> RelayOut:
    participant.require(Role.FSP, Role.DSO, Role.TSO)  # auditors and visitors write nothing
    message = registry_relay.relay(platform, session, participant.address, body.raw_transaction)
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


@router.get(
    "/chain/flags",
    summary="Registry events the platform flagged instead of applying (operator, auditors)",
)
def flags(
    participant: ParticipantDep,
    session: SessionDep,
    event: Annotated[
        str | None, Query(max_length=64, description="e.g. AssetNodeConfirmed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ChainFlagOut]:
    if not participant.is_operator:
        participant.require(Role.AUDITOR)
    query = select(ChainFlag)
    if event is not None:
        query = query.where(ChainFlag.event == event)
    query = query.order_by(col(ChainFlag.id)).offset(offset).limit(limit)
    return [ChainFlagOut.of(flag) for flag in session.exec(query).all()]
