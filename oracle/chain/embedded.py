"""The embedded development chain: eth-tester and py-evm inside the flexledger process.

Why it looks the way it does:

* **London rules from block 0, nothing later.** Energy Web Chain and Volta run London-era
  EVMs; code compiled for Shanghai (``PUSH0``) must fail here as it would fail there.
* **A block gas limit of 8,000,000 that stays put.** py-evm would otherwise let the limit
  drift block by block; a PoA chain has a fixed limit, and contract sizes are tested
  against it.
* **State survives a restart.** Given a path, the chain lives in a SQLite file
  (:class:`~oracle.chain.sqlite_db.SqliteDB`) and is reopened from its canonical head on the
  next start. Writes commit once per mined block, so a crash loses at most the block being
  built, never the chain, and by default each commit is flushed to disk before the
  transaction's hash is returned: a receipt you saw is on disk, even through a power cut.
  ``fsync_each_block=False`` skips that flush (still crash-safe, not power-cut-safe) for
  bulk development loads; benchmarks/embedded_chain.py measures both. Without a path the
  chain lives in memory.
* **One process, one thread at a time.** A lock file next to the database refuses a second
  process; a lock around the provider serialises calls from several threads.

The ten funded genesis accounts are eth-tester's well-known development keys: for
development only, which is why :func:`fund` exists to hand ether to participants.
"""

import ast
import fcntl
import os
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from eth.abc import AtomicDatabaseAPI, BlockAPI, BlockHeaderAPI, SignedTransactionAPI
from eth.chains.base import MiningChain
from eth.consensus.applier import ConsensusApplier
from eth.consensus.noproof import NoProofConsensus
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.exceptions import CanonicalHeadNotFound
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.vm.forks.london import LondonVM
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import (
    PyEVMBackend,
    generate_genesis_state_for_keys,
    get_default_account_keys,
)
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionFailed, TransactionNotFound
from eth_typing import Hash32
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS, static_return
from web3.types import RPCEndpoint, RPCResponse

from oracle.chain.sqlite_db import SqliteDB
from oracle.errors import ChainError, ChainMismatchError, ChainUnavailableError, OracleValueError
from oracle.types import Address, BlockNumber, ChainId, TxHash, Wei

DEFAULT_CHAIN_ID = ChainId(1337)
BLOCK_GAS_LIMIT = 8_000_000
DEV_ACCOUNT_COUNT = 10
STORAGE_FORMAT = "1"

_GENESIS_DIFFICULTY = 131_072  # the frontier minimum; London here is pre-merge, so PoW fields
_GENESIS_NONCE = (42).to_bytes(8, "big")


@cache
def _london_chain_class(chain_id: int) -> type[MiningChain]:
    """A py-evm chain class for ``chain_id``: London from block 0, no seal, fixed gas limit."""
    vm_configuration = ConsensusApplier(NoProofConsensus).amend_vm_configuration(((0, LondonVM),))
    return type(
        f"FlexledgerLondonChain{chain_id}",
        (_FixedGasLimitChain,),
        {"chain_id": chain_id, "vm_configuration": vm_configuration},
    )


class _FixedGasLimitChain(MiningChain):
    """A mining chain whose every block inherits its parent's gas limit unchanged."""

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)

    def get_transaction_builder(self) -> Any:
        """eth-tester builds unsigned transactions through this (its own chain class has it)."""
        return self.get_vm().get_transaction_builder()


class _EmbeddedBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester ships no types
    """eth-tester's py-evm backend around a chain we built (fresh or reopened).

    It commits the database after every mined block, looks transactions up through
    py-evm's hash index instead of scanning every block from the head down (which made
    receipts, and so ``eth_getLogs``, quadratic in chain length), and stamps idle pending
    blocks with the current time so block timestamps follow the wall clock.
    """

    def __init__(
        self, chain: MiningChain, account_keys: tuple[Any, ...], commit: Callable[[], None]
    ) -> None:
        # PyEVMBackend.__init__ would build a fresh in-memory genesis; we bring our own chain.
        self.chain = chain
        self.account_keys = account_keys
        self._commit = commit
        self.head_timestamp = int(chain.get_canonical_head().timestamp)

    def _note_head(self) -> None:
        """Remember the new head's time: readers get it without waiting for the lock."""
        self.head_timestamp = int(self.chain.get_canonical_head().timestamp)

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("delete the embedded chain file to start a new chain")

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\x00" * 20) -> tuple[bytes, ...]:
        hashes: list[bytes] = []
        for _ in range(num_blocks):
            hashes.extend(super().mine_blocks(1, coinbase))
            self._commit()
            self._note_head()
        return tuple(hashes)

    def revert_to_snapshot(self, snapshot: bytes) -> None:
        super().revert_to_snapshot(snapshot)
        self._commit()
        self._note_head()

    def time_travel(self, to_timestamp: int) -> int:
        self.set_next_block_timestamp(to_timestamp)
        self.mine_blocks()
        return to_timestamp

    def set_next_block_timestamp(self, timestamp: int | None) -> None:
        """Rebuild the empty pending header, at ``timestamp`` or else at the current time."""
        if self.chain.header.transaction_root != BLANK_ROOT_HASH:
            raise ChainError("cannot restamp a pending block that already holds transactions")
        head = self.chain.get_canonical_head()
        params = {} if timestamp is None else {"timestamp": timestamp}
        self.chain.header = self.chain.create_header_from_parent(head, **params)

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        self._restamp_if_idle()
        return bytes(super().send_raw_transaction(raw_transaction))

    def send_signed_transaction(
        self, signed_transaction: Any, block_number: Any = "latest"
    ) -> bytes:
        self._restamp_if_idle()
        return bytes(super().send_signed_transaction(signed_transaction, block_number))

    def send_transaction(self, transaction: Any) -> bytes:
        self._restamp_if_idle()
        return bytes(super().send_transaction(transaction))

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find_transaction(transaction_hash)
        return serialize_transaction(block, transaction, index, self._is_pending(block))

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find_transaction(transaction_hash)
        receipts = block.get_receipts(self.chain.chaindb)
        pending = self._is_pending(block)
        vm = self.chain.get_vm()
        return serialize_transaction_receipt(block, receipts, transaction, index, pending, vm)

    def _restamp_if_idle(self) -> None:
        if self.chain.header.transaction_root == BLANK_ROOT_HASH:
            self.set_next_block_timestamp(None)

    def _is_pending(self, block: BlockAPI) -> bool:
        return bool(block.number == self.chain.header.block_number)

    def _find_transaction(self, tx_hash: bytes) -> tuple[BlockAPI, SignedTransactionAPI, int]:
        if self.chain.header.transaction_root != BLANK_ROOT_HASH:
            pending = self.chain.get_block()
            for index, transaction in enumerate(pending.transactions):
                if transaction.hash == tx_hash:
                    return pending, transaction, index
        try:
            number, index = self.chain.chaindb.get_transaction_index(Hash32(tx_hash))
        except EVMTransactionNotFound as exc:
            raise TransactionNotFound(f"no transaction 0x{tx_hash.hex()}") from exc
        block = self.chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index


def _as_contract_logic_error(failure: TransactionFailed) -> ContractLogicError:
    """A revert as a JSON-RPC node reports it: ContractLogicError with the raw revert data.

    web3's eth-tester glue re-raises the revert with its data rendered as text; the raw
    bytes survive only on the original exception it was handling.
    """
    original: object = failure.__context__ or failure
    raw = original.args[0] if isinstance(original, Exception) and original.args else b""
    if isinstance(raw, Exception) and raw.args:
        raw = raw.args[0]
    if isinstance(raw, str) and raw[:2] in ("b'", 'b"'):
        raw = ast.literal_eval(raw)  # eth-tester hands the revert bytes over as their repr
    if isinstance(raw, bytes):
        return ContractLogicError("execution reverted", data="0x" + raw.hex())
    return ContractLogicError(f"execution reverted: {raw}", data=None)


class _SerialTesterProvider(EthereumTesterProvider):
    """The eth-tester provider, answering our chain id and one request at a time."""

    def __init__(self, tester: EthereumTester, chain_id: int, lock: threading.RLock) -> None:
        endpoints = {name: dict(methods) for name, methods in API_ENDPOINTS.items()}
        endpoints["eth"]["chainId"] = static_return(chain_id)
        endpoints["net"]["version"] = static_return(str(chain_id))
        super().__init__(tester, api_endpoints=endpoints)
        self._lock = lock
        self._chain_id = chain_id
        self.closed = False

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_chainId" and not self.closed:
            # A constant, which web3 asks for before every call and transaction: answered
            # without queueing behind a block being mined.
            return cast(RPCResponse, {"id": "0", "jsonrpc": "2.0", "result": hex(self._chain_id)})
        with self._lock:
            if self.closed:
                raise ChainUnavailableError("the embedded chain has been closed")
            try:
                return super().make_request(method, params)
            except TransactionFailed as failure:
                raise _as_contract_logic_error(failure) from None


class _FileLock:
    """An exclusive ``flock`` on ``<db>.lock``: two processes must not extend one chain."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            raise ChainUnavailableError(
                f"embedded chain {db_path} is open in another process; stop it or use a "
                "different FLEXLEDGER_DATA_DIR"
            ) from exc

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _genesis_params(gas_limit: int) -> dict[str, Any]:
    """Pre-merge London genesis header fields (py-evm derives the rest)."""
    return {
        "coinbase": b"\x00" * 20,
        "difficulty": _GENESIS_DIFFICULTY,
        "extra_data": b"",
        "gas_limit": gas_limit,
        "mix_hash": b"\x00" * 32,
        "nonce": _GENESIS_NONCE,
        "receipt_root": BLANK_ROOT_HASH,
        "timestamp": int(time.time()),
        "transaction_root": BLANK_ROOT_HASH,
    }


def _create_chain(
    db: AtomicDatabaseAPI, chain_id: int, gas_limit: int, keys: tuple[Any, ...]
) -> MiningChain:
    """Write a fresh genesis (funded dev accounts) into ``db``."""
    chain_class = _london_chain_class(chain_id)
    genesis_state = generate_genesis_state_for_keys(keys)
    chain = chain_class.from_genesis(db, _genesis_params(gas_limit), genesis_state)
    assert isinstance(chain, MiningChain)
    return chain


def _stored_head(db: SqliteDB) -> BlockHeaderAPI | None:
    """The canonical head if ``db`` already holds a chain, else None."""
    try:
        return ChainDB(db).get_canonical_head()
    except CanonicalHeadNotFound:
        return None


def _check_stored_chain(db: SqliteDB, chain_id: int, gas_limit: int) -> None:
    """Refuse a database written for another chain id, gas limit or storage format."""
    expected = {"format": STORAGE_FORMAT, "chain_id": str(chain_id), "gas_limit": str(gas_limit)}
    for name, value in expected.items():
        stored = db.get_meta(name)
        if stored is None:
            raise ChainError(f"{db.path} holds a chain without flexledger metadata ({name})")
        if stored != value:
            raise ChainMismatchError(
                f"{db.path} was created with {name}={stored}, but {value} was asked for; "
                "use the original setting or a different FLEXLEDGER_DATA_DIR"
            )


def _open_persistent(
    path: Path, chain_id: int, gas_limit: int, fsync_each_block: bool, keys: tuple[Any, ...]
) -> tuple[SqliteDB, MiningChain]:
    """Reopen the chain stored at ``path``, or create it there (one atomic commit)."""
    db = SqliteDB(path, fsync_each_commit=fsync_each_block)
    try:
        if _stored_head(db) is not None:
            _check_stored_chain(db, chain_id, gas_limit)
            return db, _london_chain_class(chain_id)(db)
        chain = _create_chain(db, chain_id, gas_limit, keys)
        for name, value in (
            ("format", STORAGE_FORMAT),
            ("chain_id", str(chain_id)),
            ("gas_limit", str(gas_limit)),
        ):
            db.set_meta(name, value)
        db.commit()
        return db, chain
    except BaseException:
        db.close(commit=False)
        raise


class EmbeddedChain:
    """A London dev chain in this process, persisted to SQLite when given a path.

    Use :meth:`open`; talk to it through :attr:`w3` like any node. Dev-only extras:
    :meth:`fund`, :meth:`advance_time`, :meth:`mine`.
    """

    def __init__(
        self,
        chain: MiningChain,
        keys: tuple[Any, ...],
        db: SqliteDB | None = None,
        lock: _FileLock | None = None,
    ) -> None:
        self._db = db
        self._file_lock = lock
        self._lock = threading.RLock()
        commit = db.commit if db is not None else _no_commit
        self._backend = _EmbeddedBackend(chain, keys, commit)
        self._tester = EthereumTester(backend=self._backend, auto_mine_transactions=True)
        self.chain_id = ChainId(int(chain.chain_id))
        self._provider = _SerialTesterProvider(self._tester, self.chain_id, self._lock)
        self.w3 = Web3(self._provider)
        self._keys = keys

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        chain_id: int = DEFAULT_CHAIN_ID,
        gas_limit: int = BLOCK_GAS_LIMIT,
        fsync_each_block: bool = True,
    ) -> Self:
        """Reopen the chain at ``path`` (or create it); ``path=None`` keeps it in memory.

        ``fsync_each_block=False`` skips the disk flush after each block: still safe
        against a crash of the process, but a power cut may lose the last blocks.
        Raises ChainMismatchError when the stored chain has another chain id or gas limit,
        ChainUnavailableError when another process has it open.
        """
        keys = tuple(get_default_account_keys(DEV_ACCOUNT_COUNT))
        if path is None:
            return cls(_create_chain(AtomicDB(), chain_id, gas_limit, keys), keys)
        lock = _FileLock(path)
        try:
            db, chain = _open_persistent(path, chain_id, gas_limit, fsync_each_block, keys)
        except BaseException:
            lock.release()
            raise
        return cls(chain, keys, db, lock)

    @property
    def latest_timestamp(self) -> int:
        """The latest mined block's timestamp, read without queueing behind a block being
        mined (``eth_getBlockByNumber("latest")`` waits for the chain and formats the whole
        block: the platform's clock asks on every request)."""
        return int(self._backend.head_timestamp)

    @property
    def path(self) -> Path | None:
        """Where the chain is stored; None for an in-memory chain."""
        return None if self._db is None else self._db.path

    @property
    def dev_accounts(self) -> tuple[Address, ...]:
        """The funded genesis accounts, checksummed."""
        return tuple(
            Address(Web3.to_checksum_address(key.public_key.to_canonical_address()))
            for key in self._keys
        )

    @property
    def dev_private_keys(self) -> tuple[bytes, ...]:
        """Private keys of :attr:`dev_accounts`; public knowledge, development only."""
        return tuple(key.to_bytes() for key in self._keys)

    def fund(self, address: str, wei: int) -> TxHash:
        """Send ``wei`` from the first dev account to ``address``; returns the mined tx hash."""
        if wei <= 0:
            raise OracleValueError("wei", f"must be positive, got {wei}")
        if not Web3.is_address(address):
            raise OracleValueError("address", f"not an address: {address!r}")
        tx = {
            "from": self.dev_accounts[0],
            "to": Web3.to_checksum_address(address),
            "value": Wei(wei),
        }
        tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
        if self.w3.eth.get_transaction_receipt(tx_hash)["status"] != 1:
            raise ChainError(f"funding {address} with {wei} wei failed")
        return TxHash(bytes(tx_hash))

    def advance_time(self, seconds: int) -> int:
        """Mine one block ``seconds`` after the latest one; returns its timestamp.

        Later blocks keep counting from there (or from the wall clock, if that is later):
        this is how tests step over dispute windows.
        """
        if seconds < 1:
            raise OracleValueError("seconds", f"must be at least 1, got {seconds}")
        with self._lock:
            timestamp = int(self.w3.eth.get_block("latest")["timestamp"]) + seconds
            self._backend.set_next_block_timestamp(timestamp)
            self._tester.mine_blocks(1)
        return timestamp

    def mine(self, blocks: int = 1) -> BlockNumber:
        """Mine ``blocks`` empty blocks; returns the new latest block number."""
        with self._lock:
            self._tester.mine_blocks(blocks)
            return BlockNumber(self.w3.eth.block_number)

    def db_size_bytes(self) -> int:
        """Bytes the chain takes on disk (0 in memory)."""
        return 0 if self._db is None else self._db.size_bytes()

    def close(self) -> None:
        """Commit, release the file and its lock; the object is unusable afterwards."""
        with self._lock:
            if self._provider.closed:
                return
            self._provider.closed = True
            if self._db is not None:
                self._db.close()
            if self._file_lock is not None:
                self._file_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _no_commit() -> None:
    """Commit hook of an in-memory chain: nothing to make durable."""
