"""Reading event logs in bounded block ranges.

One ``eth_getLogs`` over a whole chain is the wrong shape for every backend: public RPC
nodes cap the range or the result size, and eth-tester walks every block of the range
for each call (its stock receipt lookup also scanned the chain from the head, making a
read from block 0 quadratic; the embedded backend fixes that, see embedded.py). Reading
in chunks keeps each call small and lets an indexer checkpoint after every chunk.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from web3 import Web3
from web3.types import FilterParams, LogReceipt, TopicFilter

from oracle.types import BlockNumber

DEFAULT_LOG_CHUNK_BLOCKS = 1_000


@dataclass(frozen=True)
class LogChunk:
    """The logs of blocks ``from_block``..``to_block`` (both included), in chain order."""

    from_block: BlockNumber
    to_block: BlockNumber
    logs: tuple[LogReceipt, ...]


def block_ranges(
    from_block: int, to_block: int, chunk_size: int
) -> Iterator[tuple[BlockNumber, BlockNumber]]:
    """Consecutive closed ranges of at most ``chunk_size`` blocks covering the span."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(from_block, to_block + 1, chunk_size):
        yield BlockNumber(start), BlockNumber(min(start + chunk_size - 1, to_block))


def iter_log_chunks(
    w3: Web3,
    address: str | Sequence[str] | None,
    from_block: int,
    to_block: int | Literal["latest"],
    topics: Sequence[TopicFilter] | None = None,
    *,
    chunk_size: int = DEFAULT_LOG_CHUNK_BLOCKS,
) -> Iterator[LogChunk]:
    """Yield one :class:`LogChunk` per block range; ``"latest"`` is fixed when it starts.

    Empty chunks are yielded too, so a caller can record how far it has read.
    """
    last = w3.eth.block_number if to_block == "latest" else to_block
    base = _filter_params(address, topics)
    for start, end in block_ranges(from_block, last, chunk_size):
        logs = w3.eth.get_logs({**base, "fromBlock": start, "toBlock": end})
        yield LogChunk(start, end, tuple(logs))


def get_logs_range(
    w3: Web3,
    address: str | Sequence[str] | None,
    from_block: int,
    to_block: int | Literal["latest"],
    topics: Sequence[TopicFilter] | None = None,
    *,
    chunk_size: int = DEFAULT_LOG_CHUNK_BLOCKS,
) -> Iterator[LogReceipt]:
    """Every matching log of the range, in chain order, fetched ``chunk_size`` blocks at a time."""
    for chunk in iter_log_chunks(w3, address, from_block, to_block, topics, chunk_size=chunk_size):
        yield from chunk.logs


def _filter_params(
    address: str | Sequence[str] | None, topics: Sequence[TopicFilter] | None
) -> FilterParams:
    params = FilterParams()
    if isinstance(address, str):
        params["address"] = Web3.to_checksum_address(address)
    elif address is not None:
        params["address"] = [Web3.to_checksum_address(a) for a in address]
    if topics is not None:
        params["topics"] = list(topics)
    return params
