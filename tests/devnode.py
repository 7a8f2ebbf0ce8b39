"""Chain test helpers: a real JSON-RPC dev node, and a suite every chain backend must pass.

``devnode()`` starts Hardhat 2 from tools/devnode on a free local port (London rules,
8,000,000 gas limit, the funded accounts of tools/devnode/devnode.json) and stops it on
exit; ``devnode_fixture`` wraps it for pytest. ``ChainConformance`` holds the tests that
the embedded chain and the JSON-RPC node must both pass (one suite per interchangeable
backend); a test module subclasses it and provides a ``target`` fixture.

When node_modules is missing it runs ``npm ci`` first. Without node or npm the tests are
skipped on a developer's machine but FAIL when ``CI=true``: CI must never go green by
silently not testing the RPC path.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.datastructures import SignedTransaction
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

from oracle.chain import (
    ChainReorgError,
    ConfirmationWatch,
    ReceiptTimeoutError,
    get_logs_range,
    iter_log_chunks,
    wait_for_receipt,
)

DEVNODE_DIR = Path(__file__).resolve().parent.parent / "tools" / "devnode"
HARDHAT = DEVNODE_DIR / "node_modules" / ".bin" / "hardhat"
CONFIG = json.loads((DEVNODE_DIR / "devnode.json").read_text())


@dataclass(frozen=True)
class DevNode:
    """A running dev node: where it listens and the keys of its funded accounts."""

    url: str
    chain_id: int
    private_keys: tuple[str, ...]
    accounts: tuple[str, ...]

    def rpc(self, method: str, *params: object) -> object:
        """Call a raw JSON-RPC method (evm_mine, evm_snapshot...) and return its result."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        reply = requests.post(self.url, json=body, timeout=10).json()
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"dev node unavailable in CI: {reason}")
    pytest.skip(f"dev node unavailable: {reason}")


def ensure_installed() -> None:
    """Install Hardhat with ``npm ci`` if needed; skip (or fail in CI) without node/npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node and npm are not on PATH")
    if HARDHAT.exists():
        return
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=DEVNODE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not HARDHAT.exists():
        pytest.fail(f"npm ci in {DEVNODE_DIR} failed:\n{result.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _chain_id_answer(url: str) -> int | None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        return int(requests.post(url, json=body, timeout=1).json()["result"], 16)
    except (requests.RequestException, ValueError, KeyError):
        return None


def _wait_until_ready(
    process: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float
) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hardhat exited with {process.returncode}:\n{_tail(log)}")
        chain_id = _chain_id_answer(url)
        if chain_id is not None:
            return chain_id
        time.sleep(0.1)
    raise TimeoutError(f"hardhat did not answer eth_chainId in {timeout_s} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the node's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def devnode(*, chain_id: int | None = None, startup_timeout_s: float = 60.0) -> Iterator[DevNode]:
    """Start a Hardhat node on a free port, yield it once it answers, stop it on exit."""
    ensure_installed()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    if chain_id is not None:
        env["FLEXLEDGER_DEVNODE_CHAIN_ID"] = str(chain_id)
    with tempfile.TemporaryDirectory(prefix="devnode-") as tmp:
        log = Path(tmp) / "hardhat.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)],
                cwd=DEVNODE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            answered = _wait_until_ready(process, url, log, startup_timeout_s)
            keys = tuple(a["privateKey"] for a in CONFIG["accounts"])
            accounts = tuple(a["address"] for a in CONFIG["accounts"])
            yield DevNode(url=url, chain_id=answered, private_keys=keys, accounts=accounts)
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def devnode_fixture() -> Iterator[DevNode]:
    """One dev node per test module (it starts in about two seconds)."""
    with devnode() as node:
        yield node


# --- transactions and a tiny contract, shared by both backends' tests ---------------------

STORED_TOPIC = bytes(Web3.keccak(text="Stored(uint256)"))
BURN_ADDRESS = Web3.to_checksum_address("0x" + "dead" * 10)  # receives 1-wei test transfers


def storage_contract_init_code() -> bytes:
    """Init code of a hand-assembled contract: any call stores word 0 of calldata in slot 0
    and logs it as ``Stored(uint256)`` (topic STORED_TOPIC, data the value)."""
    runtime = (
        bytes.fromhex("60003580600055600052")  # v = calldata[0]; sstore(0, v); mem[0] = v
        + b"\x7f"
        + STORED_TOPIC  # PUSH32 topic
        + bytes.fromhex("60206000a100")  # log1(mem[0:32], topic); stop
    )
    size = len(runtime).to_bytes(1, "big")
    loader = b"\x60" + size + b"\x60\x0c\x60\x00\x39" + b"\x60" + size + b"\x60\x00\xf3"
    assert len(loader) == 0x0C
    return loader + runtime


@dataclass(frozen=True)
class ChainTarget:
    """What a conformance test needs from a backend."""

    w3: Web3
    private_keys: tuple[str, ...]
    mine: Callable[[int], None]
    rpc: Callable[..., Any]  # raw JSON-RPC (evm_snapshot, evm_revert), returns the result


def sign_tx(
    w3: Web3,
    private_key: str,
    *,
    to: str | None = None,
    data: bytes = b"",
    value: int = 0,
    gas: int = 100_000,
) -> SignedTransaction:
    """An EIP-1559 transaction signed locally, as the outbox signs (fees with headroom)."""
    account = Account.from_key(private_key)
    base_fee = int(w3.eth.get_block("latest")["baseFeePerGas"])
    tx: dict[str, object] = {
        "type": 2,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address),
        "gas": gas,
        "maxFeePerGas": 2 * base_fee + 10**9,
        "maxPriorityFeePerGas": 10**9,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to
    signed: SignedTransaction = account.sign_transaction(tx)
    return signed


def send_signed(w3: Web3, signed: SignedTransaction) -> TxReceipt:
    """Send raw and return the receipt (both backends automine).

    A failing transaction still yields its receipt: Hardhat reports the failure as an RPC
    error after mining it, eth-tester just mines it with status 0.
    """
    with contextlib.suppress(Web3RPCError):
        w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.get_transaction_receipt(signed.hash)


def send_tx(w3: Web3, private_key: str, **fields: Any) -> TxReceipt:
    """:func:`sign_tx` then :func:`send_signed`."""
    return send_signed(w3, sign_tx(w3, private_key, **fields))


def deploy_storage_contract(w3: Web3, private_key: str) -> str:
    receipt = send_tx(w3, private_key, data=storage_contract_init_code(), gas=200_000)
    assert receipt["status"] == 1 and receipt["contractAddress"]
    return str(receipt["contractAddress"])


def store(w3: Web3, private_key: str, contract: str, value: int) -> TxReceipt:
    receipt = send_tx(w3, private_key, to=contract, data=value.to_bytes(32, "big"))
    assert receipt["status"] == 1
    return receipt


class ChainConformance:
    """Behaviour every flexledger chain backend shares (embedded py-evm, Hardhat node)."""

    def test_rejects_push0_like_london(self, target: ChainTarget) -> None:
        key = target.private_keys[0]
        assert send_tx(target.w3, key, data=bytes.fromhex("60006000f3"))["status"] == 1
        assert send_tx(target.w3, key, data=bytes.fromhex("5f5ff3"))["status"] == 0

    def test_block_gas_limit_stays_8m(self, target: ChainTarget) -> None:
        contract = deploy_storage_contract(target.w3, target.private_keys[0])
        for value in range(1, 4):
            store(target.w3, target.private_keys[1], contract, value)
        target.mine(5)
        head = target.w3.eth.block_number
        limits = {target.w3.eth.get_block(n)["gasLimit"] for n in range(0, head + 1)}
        assert limits == {8_000_000}
        assert "baseFeePerGas" in target.w3.eth.get_block(head)

    def test_chunked_logs_equal_one_query(self, target: ChainTarget) -> None:
        w3, key = target.w3, target.private_keys[2]
        contract = deploy_storage_contract(w3, key)
        first = w3.eth.block_number
        for value in range(1, 8):
            store(w3, key, contract, value)
            target.mine(value % 3)
        whole = w3.eth.get_logs({"fromBlock": first, "toBlock": "latest", "address": contract})
        chunks = list(iter_log_chunks(w3, contract, first, "latest", chunk_size=4))
        chunked = [log for chunk in chunks for log in chunk.logs]
        assert [int(log["data"].hex(), 16) for log in chunked] == list(range(1, 8))
        assert chunked == whole
        assert [c.from_block for c in chunks] == list(range(first, w3.eth.block_number + 1, 4))
        topic_only = get_logs_range(w3, [contract], first, "latest", [STORED_TOPIC], chunk_size=3)
        assert len(list(topic_only)) == 7
        assert list(get_logs_range(w3, None, first, "latest", [b"\x01" * 32])) == []

    def test_wait_for_receipt_counts_confirmations(self, target: ChainTarget) -> None:
        receipt = send_tx(target.w3, target.private_keys[3], to=BURN_ADDRESS, value=1)
        tx_hash = receipt["transactionHash"]
        with pytest.raises(ReceiptTimeoutError):
            wait_for_receipt(
                target.w3, tx_hash, confirmations=3, timeout_s=0.2, poll_interval_s=0.05
            )
        target.mine(2)
        confirmed = wait_for_receipt(
            target.w3, tx_hash, confirmations=3, timeout_s=2, poll_interval_s=0.05
        )
        assert confirmed["blockHash"] == receipt["blockHash"]

    def test_reorg_that_drops_the_transaction_is_reported(self, target: ChainTarget) -> None:
        snapshot = target.rpc("evm_snapshot")
        receipt = send_tx(target.w3, target.private_keys[0], to=BURN_ADDRESS, value=1)
        watch = ConfirmationWatch(target.w3, receipt["transactionHash"], confirmations=3)
        assert watch.poll() is None  # seen, one block deep
        target.rpc("evm_revert", snapshot)
        with pytest.raises(ChainReorgError) as caught:
            watch.poll()
        assert caught.value.new_block_hash is None
        assert caught.value.block_hash == receipt["blockHash"]

    def test_reorg_that_moves_the_transaction_is_reported(self, target: ChainTarget) -> None:
        snapshot = target.rpc("evm_snapshot")
        signed = sign_tx(target.w3, target.private_keys[1], to=BURN_ADDRESS, value=1)
        receipt = send_signed(target.w3, signed)
        watch = ConfirmationWatch(target.w3, receipt["transactionHash"], confirmations=3)
        assert watch.poll() is None
        target.rpc("evm_revert", snapshot)
        target.mine(1)  # another block takes the height, the same transaction comes later
        again = send_signed(target.w3, signed)
        assert again["blockNumber"] == receipt["blockNumber"] + 1
        with pytest.raises(ChainReorgError) as caught:
            watch.poll()
        assert caught.value.new_block_hash == again["blockHash"]
        target.mine(2)
        assert ConfirmationWatch(target.w3, signed.hash, confirmations=3).poll() == again
