"""Incremental event indexer.

Logs are read from the block after the cursor up to ``head - confirmations``, in bounded
chunks: asking eth-tester (and many public nodes) for logs from block 0 on every poll
grows quadratically with chain length. Events and the advanced cursor are written in one
database transaction per chunk, so a crash never skips or duplicates an event.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from eth_typing import ABIElement, ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from web3.types import LogReceipt

from oracle.bindings import CONTRACT_NAMES, ContractSuite
from oracle.indexer.models import IndexedEvent, IndexerCursor
from oracle.types import web3_address

DEFAULT_CHUNK_BLOCKS = 500


@dataclass(slots=True)
class IndexReport:
    from_block: int
    to_block: int
    events: int


class EventIndexer:
    """Copies every event of the flexledger contracts into ``indexed_event``."""

    def __init__(
        self,
        engine: Engine,
        suite: ContractSuite,
        confirmations: int = 0,
        chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    ) -> None:
        self.engine = engine
        self.suite = suite
        self.confirmations = confirmations
        self.chunk_blocks = chunk_blocks
        self._names_by_address = {
            suite.manifest.address_of(name).lower(): name for name in CONTRACT_NAMES
        }
        self._events_by_topic = {
            HexBytes(event_abi_to_log_topic(entry)): (name, entry["name"])
            for name in CONTRACT_NAMES
            for entry in suite.contract(name).abi
            if _is_event(entry)
        }

    def run_once(self) -> IndexReport:
        """Index everything new up to the confirmed head."""
        start = self._cursor() + 1
        head = self.suite.w3.eth.block_number - max(self.confirmations - 1, 0)
        total = 0
        for chunk_start in range(start, head + 1, self.chunk_blocks):
            chunk_end = min(chunk_start + self.chunk_blocks - 1, head)
            total += self._index_range(chunk_start, chunk_end)
        return IndexReport(from_block=start, to_block=head, events=total)

    def _cursor(self) -> int:
        with Session(self.engine) as session:
            cursor = session.get(IndexerCursor, (self.suite.chain_id, self._cursor_key))
        return cursor.last_block if cursor else self.suite.manifest.first_block - 1

    @property
    def _cursor_key(self) -> str:
        return self.suite.manifest.address_of("FlexMarket").lower()

    def _index_range(self, from_block: int, to_block: int) -> int:
        logs = self.suite.w3.eth.get_logs(
            {
                "fromBlock": from_block,
                "toBlock": to_block,
                "address": [
                    web3_address(self.suite.manifest.address_of(n)) for n in CONTRACT_NAMES
                ],
            }
        )
        rows = [self._row(log) for log in logs]
        with Session(self.engine) as session:
            for row in rows:
                if not _already_indexed(session, row):
                    session.add(row)
            cursor = session.get(IndexerCursor, (self.suite.chain_id, self._cursor_key))
            cursor = cursor or IndexerCursor(
                chain_id=self.suite.chain_id, address=self._cursor_key, last_block=to_block
            )
            cursor.last_block = to_block
            session.add(cursor)
            session.commit()
        return len(rows)

    def _row(self, log: LogReceipt) -> IndexedEvent:
        contract_name, event_name = self._events_by_topic[HexBytes(log["topics"][0])]
        decoded = self.suite.contract(contract_name).events[event_name]().process_log(log)
        return IndexedEvent(
            chain_id=self.suite.chain_id,
            contract=contract_name,
            event=event_name,
            block_number=int(log["blockNumber"]),
            block_hash="0x" + bytes(log["blockHash"]).hex(),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            log_index=int(log["logIndex"]),
            args=json.dumps(to_jsonable(dict(decoded["args"])), sort_keys=True),
        )

    def events(self, event: str | None = None) -> list[IndexedEvent]:
        with Session(self.engine) as session:
            query = select(IndexedEvent).where(IndexedEvent.chain_id == self.suite.chain_id)
            if event is not None:
                query = query.where(IndexedEvent.event == event)
            return list(session.exec(query.order_by(col(IndexedEvent.block_number))).all())


def _is_event(entry: ABIElement) -> TypeGuard[ABIEvent]:
    return entry.get("type") == "event"


def _already_indexed(session: Session, row: IndexedEvent) -> bool:
    query = select(IndexedEvent.id).where(
        IndexedEvent.chain_id == row.chain_id,
        IndexedEvent.tx_hash == row.tx_hash,
        IndexedEvent.log_index == row.log_index,
    )
    return session.exec(query).first() is not None


def to_jsonable(value: Any) -> Any:
    """Event arguments as plain JSON: bytes as 0x-hex, tuples as lists, big ints as ints."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value
