"""The chain connection: one entry point for the embedded dev chain and any JSON-RPC node.

``connect(settings)`` is all most callers need; the rest of oracle/ works on the
``ChainConnection.w3`` it returns and never asks which kind of chain is underneath, except
for the development extras (``fund``, ``advance_time``) that only the embedded chain has.
"""

from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from web3 import Web3
from web3.types import TxReceipt

from flexledger.settings import ChainKind, Settings
from oracle.chain.embedded import BLOCK_GAS_LIMIT, DEFAULT_CHAIN_ID, EmbeddedChain
from oracle.chain.errors import ChainReorgError, ReceiptTimeoutError
from oracle.chain.logs import (
    DEFAULT_LOG_CHUNK_BLOCKS,
    LogChunk,
    get_logs_range,
    iter_log_chunks,
)
from oracle.chain.rpc import (
    ConfirmationWatch,
    close_rpc,
    connect_rpc,
    wait_for_receipt,
)
from oracle.errors import ChainError
from oracle.types import BlockNumber, ChainId

__all__ = [
    "BLOCK_GAS_LIMIT",
    "DEFAULT_CHAIN_ID",
    "DEFAULT_LOG_CHUNK_BLOCKS",
    "ChainConnection",
    "ChainKind",
    "ChainReorgError",
    "ConfirmationWatch",
    "EmbeddedChain",
    "LogChunk",
    "ReceiptTimeoutError",
    "close_rpc",
    "connect",
    "connect_rpc",
    "get_logs_range",
    "iter_log_chunks",
    "wait_for_receipt",
]


@dataclass
class ChainConnection:
    """A connected, chain-id-checked Web3 plus what it takes to use it well."""

    w3: Web3
    chain_id: ChainId
    confirmations: int
    kind: ChainKind
    poll_interval_s: float = 0.5
    embedded: EmbeddedChain | None = field(default=None, repr=False)

    @property
    def dev_chain(self) -> EmbeddedChain:
        """The embedded chain behind this connection, for ``fund`` and ``advance_time``."""
        if self.embedded is None:
            raise ChainError(f"a {self.kind} chain has no development controls")
        return self.embedded

    def safe_block_number(self) -> BlockNumber:
        """The newest block that is ``confirmations`` deep (counting itself): indexers stop here."""
        depth = max(self.confirmations - 1, 0)
        return BlockNumber(max(0, self.w3.eth.block_number - depth))

    def wait_for_receipt(self, tx_hash: bytes, *, timeout_s: float = 120.0) -> TxReceipt:
        """:func:`wait_for_receipt` with this connection's confirmations and poll interval."""
        return wait_for_receipt(
            self.w3,
            tx_hash,
            confirmations=self.confirmations,
            timeout_s=timeout_s,
            poll_interval_s=self.poll_interval_s,
        )

    def close(self) -> None:
        """Release the node connection or the embedded chain's file."""
        if self.embedded is not None:
            self.embedded.close()
        else:
            close_rpc(self.w3)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(settings: Settings) -> ChainConnection:
    """Open the chain the settings name: the embedded one at its path, or the RPC node.

    Raises ChainUnavailableError (node unreachable, chain file in use) or
    ChainMismatchError (chain id differs from ``settings.chain_id``).
    """
    if settings.chain is ChainKind.EMBEDDED:
        return _connect_embedded(settings)
    return _connect_node(settings)


def _connect_embedded(settings: Settings) -> ChainConnection:
    chain_id = settings.chain_id if settings.chain_id is not None else DEFAULT_CHAIN_ID
    chain = EmbeddedChain.open(settings.embedded_chain_path, chain_id=chain_id)
    return ChainConnection(
        w3=chain.w3,
        chain_id=chain.chain_id,
        confirmations=settings.confirmations,
        kind=ChainKind.EMBEDDED,
        poll_interval_s=settings.poll_interval_s,
        embedded=chain,
    )


def _connect_node(settings: Settings) -> ChainConnection:
    if not settings.rpc_url:
        raise ChainError("FLEXLEDGER_RPC_URL is required when FLEXLEDGER_CHAIN=rpc")
    w3 = connect_rpc(
        settings.rpc_url, expected_chain_id=settings.chain_id, timeout_s=settings.rpc_timeout_s
    )
    return ChainConnection(
        w3=w3,
        chain_id=ChainId(w3.eth.chain_id),
        confirmations=settings.confirmations,
        kind=ChainKind.RPC,
        poll_interval_s=settings.poll_interval_s,
    )
