"""Errors of waiting for a transaction, under ``ChainError`` (see oracle/errors.py)::

    ChainError
    ├── ChainReorgError                           a receipt seen earlier vanished or moved
    └── ReceiptTimeoutError(ChainError, TimeoutError)   not confirmed in time

They live here until oracle/errors.py takes them in; import them from ``oracle.chain``.
"""

from oracle.errors import ChainError
from oracle.types import BlockNumber


class ChainReorgError(ChainError):
    """A reorganisation dropped or moved a transaction before it was confirmed.

    ``new_block_hash`` is None when the receipt disappeared. The transaction may come
    back in a later block: waiting again is the right reaction, not resending blindly.
    """

    def __init__(
        self,
        tx_hash: bytes,
        block_number: BlockNumber,
        block_hash: bytes,
        new_block_hash: bytes | None,
    ) -> None:
        where = "dropped" if new_block_hash is None else f"moved to block 0x{new_block_hash.hex()}"
        super().__init__(
            f"transaction 0x{tx_hash.hex()} seen in block {block_number} "
            f"(0x{block_hash.hex()}) was {where} by a reorg"
        )
        self.tx_hash = tx_hash
        self.block_number = block_number
        self.block_hash = block_hash
        self.new_block_hash = new_block_hash


class ReceiptTimeoutError(ChainError, TimeoutError):
    """The transaction had no receipt, or not enough confirmations, within the timeout."""
