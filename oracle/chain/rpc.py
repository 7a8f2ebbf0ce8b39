"""Any EVM JSON-RPC node by URL: Energy Web Chain (246), Volta (73799), Besu/Nethermind PoA.

Three things differ from talking to the embedded chain, and this module owns them:

* **The network fails.** Transport errors (refused, timed out, HTTP 5xx) become
  :class:`~oracle.errors.ChainUnavailableError` in exactly one place,
  :func:`_transport_errors_as_unavailable`; web3's own retry loop is switched off so a dead
  node is reported within ``timeout_s`` and the outbox decides when to retry.
* **The node may be another chain.** :func:`connect_rpc` checks ``eth_chainId`` against the
  configured id before anything is signed for it.
* **Blocks are not final at once.** Aura has no instant finality, so
  :func:`wait_for_receipt` waits for N blocks on top of the receipt's block and notices
  when a reorganisation takes the transaction away.

Clique and IBFT/QBFT chains put more than 32 bytes in ``extraData``; web3 rejects such blocks
unless ``ExtraDataToPOAMiddleware`` renames the field to ``proofOfAuthorityData``. It is
added when the node's latest block needs it (Aura's extraData fits and is left alone).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from oracle.chain.errors import ChainReorgError, ReceiptTimeoutError
from oracle.errors import ChainMismatchError, ChainUnavailableError
from oracle.types import BlockNumber, ChainId

MAX_PLAIN_EXTRA_DATA_BYTES = 32  # web3 refuses longer extraData without the PoA middleware


def _redacted(url: str) -> str:
    """scheme://host:port only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


@contextmanager
def _transport_errors_as_unavailable(url: str) -> Iterator[None]:
    """The one place where a failing transport becomes ChainUnavailableError."""
    try:
        yield
    except (requests.RequestException, OSError) as exc:
        raise ChainUnavailableError(
            f"chain node {_redacted(url)} unavailable: {type(exc).__name__}"
        ) from exc


class _GuardedHTTPProvider(HTTPProvider):
    """HTTPProvider that fails fast (no retries) with flexledger's error types."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self._session = requests.Session()
        super().__init__(
            url,
            request_kwargs={"timeout": timeout_s},
            session=self._session,
            exception_retry_configuration=None,
        )
        self._url = url

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._session.close()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with _transport_errors_as_unavailable(self._url):
            return super().make_request(method, params)

    def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        with _transport_errors_as_unavailable(self._url):
            return super().make_batch_request(batch_requests)


def check_chain_id(actual: int, expected: int | None) -> ChainId:
    """Return ``actual``, or raise ChainMismatchError when an expected id differs."""
    if expected is not None and actual != expected:
        raise ChainMismatchError(
            f"the node is on chain id {actual}, but FLEXLEDGER_CHAIN_ID is {expected}"
        )
    return ChainId(actual)


def needs_poa_middleware(w3: Web3) -> bool:
    """True when the latest block's extraData is longer than web3 accepts (Clique, IBFT)."""
    response = w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), ["latest", False])
    block = response.get("result") or {}
    return len(HexBytes(block.get("extraData", "0x"))) > MAX_PLAIN_EXTRA_DATA_BYTES


def connect_rpc(
    url: str, *, expected_chain_id: int | None, timeout_s: float, poa: bool | None = None
) -> Web3:
    """A Web3 on ``url`` whose chain id has been checked; ``poa=None`` detects PoA extraData.

    Raises ChainUnavailableError when the node cannot be reached within ``timeout_s``,
    ChainMismatchError when it serves another chain.
    """
    provider = _GuardedHTTPProvider(url, timeout_s)
    w3 = Web3(provider)
    try:
        check_chain_id(w3.eth.chain_id, expected_chain_id)
        if needs_poa_middleware(w3) if poa is None else poa:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    except BaseException:
        provider.close()
        raise
    return w3


def close_rpc(w3: Web3) -> None:
    """Release the HTTP connections of a Web3 made by :func:`connect_rpc`."""
    if isinstance(w3.provider, _GuardedHTTPProvider):
        w3.provider.close()


class ConfirmationWatch:
    """Non-blocking progress of one transaction towards N confirmations.

    ``confirmations`` counts the receipt's block itself and every block on top of it, as
    the outbox and the indexer do: 0 and 1 mean "in a block", 3 means the block and two
    successors exist. Call :meth:`poll` as often as
    you like (the outbox can watch many transactions this way); :func:`wait_for_receipt`
    is the blocking loop around it.
    """

    def __init__(self, w3: Web3, tx_hash: bytes, confirmations: int) -> None:
        if confirmations < 0:
            raise ValueError(f"confirmations must be >= 0, got {confirmations}")
        self.w3 = w3
        self.tx_hash = HexBytes(tx_hash)
        self.confirmations = confirmations
        self._seen: tuple[BlockNumber, HexBytes] | None = None

    def poll(self) -> TxReceipt | None:
        """The receipt once confirmed, else None; raises ChainReorgError if it was undone."""
        receipt = self._receipt()
        if receipt is None:
            self._check_not_dropped()
            return None
        number, block_hash = BlockNumber(receipt["blockNumber"]), HexBytes(receipt["blockHash"])
        self._check_same_block(block_hash)
        self._seen = (number, block_hash)
        if self.w3.eth.block_number - number + 1 < self.confirmations:
            return None
        self._check_same_block(HexBytes(self.w3.eth.get_block(number)["hash"]))
        return receipt

    def _receipt(self) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(self.tx_hash)
        except TransactionNotFound:
            return None

    def _check_not_dropped(self) -> None:
        if self._seen is not None:
            raise ChainReorgError(self.tx_hash, *self._seen, new_block_hash=None)

    def _check_same_block(self, block_hash: HexBytes) -> None:
        if self._seen is not None and self._seen[1] != block_hash:
            raise ChainReorgError(self.tx_hash, *self._seen, new_block_hash=block_hash)


def wait_for_receipt(
    w3: Web3,
    tx_hash: bytes,
    *,
    confirmations: int = 0,
    timeout_s: float = 120.0,
    poll_interval_s: float = 0.5,
) -> TxReceipt:
    """Block until ``tx_hash`` is ``confirmations`` blocks deep (its own block counts).

    Raises ReceiptTimeoutError after ``timeout_s``; ChainReorgError when a receipt seen
    earlier disappears or changes block (the transaction may return: wait again). A node
    that is briefly unreachable is polled again; ChainUnavailableError is raised only if it
    still is at the deadline.
    """
    watch = ConfirmationWatch(w3, tx_hash, confirmations)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            receipt = watch.poll()
        except ChainUnavailableError:
            if time.monotonic() >= deadline:
                raise
            receipt = None
        if receipt is not None:
            return receipt
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReceiptTimeoutError(
                f"0x{bytes(tx_hash).hex()} not {confirmations} blocks deep within {timeout_s} s"
            )
        time.sleep(min(poll_interval_s, remaining))
