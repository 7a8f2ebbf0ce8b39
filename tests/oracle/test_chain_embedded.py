"""The embedded chain: London rules, fixed gas limit, dev controls, and state that survives
a restart (in a new process) and a kill -9 in the middle of writing."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import eth._utils.headers
import pytest
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.types import RPCEndpoint

from flexledger.settings import ChainKind, Settings
from oracle.chain import (
    ChainConnection,
    ConfirmationWatch,
    EmbeddedChain,
    connect,
    iter_log_chunks,
)
from oracle.chain.logs import block_ranges
from oracle.chain.sqlite_db import SqliteDB
from oracle.errors import ChainError, ChainMismatchError, ChainUnavailableError, OracleValueError
from tests.devnode import (
    BURN_ADDRESS,
    STORED_TOPIC,
    ChainConformance,
    ChainTarget,
    deploy_storage_contract,
    send_tx,
    store,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PARTICIPANT = Web3.to_checksum_address("0x" + "ab" * 20)


def _hex_key(chain: EmbeddedChain, index: int) -> str:
    return "0x" + chain.dev_private_keys[index].hex()


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    with EmbeddedChain.open(tmp_path / "chain.sqlite") as opened:
        yield opened


class TestEmbeddedConformance(ChainConformance):
    @pytest.fixture
    def target(self, chain: EmbeddedChain) -> ChainTarget:
        keys = tuple(_hex_key(chain, i) for i in range(4))
        return ChainTarget(
            w3=chain.w3, private_keys=keys, mine=lambda n: _mine(chain, n), rpc=_rpc(chain)
        )


def _mine(chain: EmbeddedChain, blocks: int) -> None:
    if blocks:
        chain.mine(blocks)


def _rpc(chain: EmbeddedChain) -> Callable[..., Any]:
    def call(method: str, *params: Any) -> Any:
        return chain.w3.provider.make_request(RPCEndpoint(method), list(params))["result"]

    return call


# --- chain identity and dev controls ------------------------------------------------------


def test_chain_id_is_1337_by_default_and_configurable() -> None:
    with EmbeddedChain.open() as default, EmbeddedChain.open(chain_id=4242) as custom:
        assert default.w3.eth.chain_id == 1337
        assert custom.w3.eth.chain_id == 4242
        assert send_tx(custom.w3, _hex_key(custom, 0), to=BURN_ADDRESS, value=1)["status"] == 1


def test_fund_moves_ether_from_dev_accounts(chain: EmbeddedChain) -> None:
    tx_hash = chain.fund(PARTICIPANT, 10**18)
    assert chain.w3.eth.get_balance(PARTICIPANT) == 10**18
    assert chain.w3.eth.get_transaction(tx_hash)["from"] == chain.dev_accounts[0]


@pytest.mark.parametrize(
    ("address", "wei", "field"), [("nope", 1, "address"), (PARTICIPANT, 0, "wei")]
)
def test_fund_refuses_bad_input(chain: EmbeddedChain, address: str, wei: int, field: str) -> None:
    with pytest.raises(OracleValueError) as caught:
        chain.fund(address, wei)
    assert caught.value.field == field


def test_advance_time_moves_block_time_exactly(chain: EmbeddedChain) -> None:
    before = chain.w3.eth.get_block("latest")["timestamp"]
    stamped = chain.advance_time(7 * 24 * 3600)
    assert stamped == before + 7 * 24 * 3600 == chain.w3.eth.get_block("latest")["timestamp"]
    receipt = send_tx(chain.w3, _hex_key(chain, 0), to=BURN_ADDRESS, value=1)
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] > stamped
    with pytest.raises(OracleValueError):
        chain.advance_time(0)


def test_idle_chain_stamps_new_blocks_with_the_wall_clock(
    chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = chain.w3.eth.get_block("latest")["timestamp"] + 5_000
    monkeypatch.setattr(eth._utils.headers, "eth_now", lambda: later)
    receipt = send_tx(chain.w3, _hex_key(chain, 0), to=BURN_ADDRESS, value=1)
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == later


def test_old_transactions_are_found_through_the_hash_index(chain: EmbeddedChain) -> None:
    first = send_tx(chain.w3, _hex_key(chain, 0), to=BURN_ADDRESS, value=1)
    chain.mine(50)
    assert chain.w3.eth.get_transaction_receipt(first["transactionHash"]) == first
    assert chain.w3.eth.get_transaction(first["transactionHash"])["blockNumber"] == 1
    with pytest.raises(TransactionNotFound):
        chain.w3.eth.get_transaction_receipt(b"\x11" * 32)


def test_connect_opens_the_embedded_chain_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, confirmations=2)
    with connect(settings) as conn:
        assert isinstance(conn, ChainConnection)
        assert (conn.kind, conn.chain_id, conn.confirmations) == (ChainKind.EMBEDDED, 1337, 2)
        conn.dev_chain.fund(PARTICIPANT, 5)
        conn.dev_chain.mine(3)
        assert conn.safe_block_number() == conn.w3.eth.block_number - 1
    assert settings.embedded_chain_path.exists()
    with connect(settings) as again:
        assert again.w3.eth.get_balance(PARTICIPANT) == 5


def test_confirmation_watch_on_embedded(chain: EmbeddedChain) -> None:
    receipt = send_tx(chain.w3, _hex_key(chain, 0), to=BURN_ADDRESS, value=1)
    watch = ConfirmationWatch(chain.w3, receipt["transactionHash"], confirmations=2)
    assert watch.poll() is None
    chain.mine(1)
    assert watch.poll() == receipt


# --- persistence --------------------------------------------------------------------------


def chain_state(w3: Web3, contract: str) -> dict[str, object]:
    """What must survive a restart, in a JSON-comparable form."""
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "topics": [STORED_TOPIC]})
    latest = w3.eth.get_block("latest")
    return {
        "block": latest["number"],
        "block_hash": latest["hash"].hex(),
        "timestamp": latest["timestamp"],
        "gas_limit": latest["gasLimit"],
        "stored": w3.eth.get_storage_at(Web3.to_checksum_address(contract), 0).hex(),
        "participant_wei": w3.eth.get_balance(PARTICIPANT),
        "logs": [(log["blockNumber"], log["data"].hex()) for log in logs],
    }


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


REOPEN_AND_EXTEND = """
    import json, sys
    from pathlib import Path
    from oracle.chain import EmbeddedChain
    from tests.devnode import BURN_ADDRESS, send_tx
    from tests.oracle.test_chain_embedded import chain_state

    with EmbeddedChain.open(Path(sys.argv[1])) as chain:
        state = chain_state(chain.w3, sys.argv[2])
        key = "0x" + chain.dev_private_keys[0].hex()
        receipt = send_tx(chain.w3, key, to=BURN_ADDRESS, value=1)
        tx = chain.w3.eth.get_transaction(receipt["transactionHash"])
        print(json.dumps({"state": state, "nonce": tx["nonce"], "block": receipt["blockNumber"]}))
"""


def test_state_survives_a_restart_in_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    with EmbeddedChain.open(path) as chain:
        key = _hex_key(chain, 0)
        contract = deploy_storage_contract(chain.w3, key)
        store(chain.w3, key, contract, 42)
        chain.fund(PARTICIPANT, 10**18)
        chain.advance_time(3600)
        before = json.loads(json.dumps(chain_state(chain.w3, contract)))
        nonce = chain.w3.eth.get_transaction_count(chain.dev_accounts[0])

    child = _python(REOPEN_AND_EXTEND, str(path), contract)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    report = json.loads(out)

    assert report["state"] == before
    assert before["stored"] == (42).to_bytes(32, "big").hex()
    assert (report["nonce"], report["block"]) == (nonce, before["block"] + 1)
    with EmbeddedChain.open(path) as reopened:
        assert reopened.w3.eth.block_number == before["block"] + 1
        assert reopened.w3.eth.get_transaction_count(reopened.dev_accounts[0]) == nonce + 1


WRITE_FOREVER = """
    import sys
    from pathlib import Path
    from oracle.chain import EmbeddedChain
    from tests.devnode import BURN_ADDRESS, send_tx

    chain = EmbeddedChain.open(Path(sys.argv[1]))
    key = "0x" + chain.dev_private_keys[1].hex()
    while True:
        receipt = send_tx(chain.w3, key, to=BURN_ADDRESS, value=1)
        print(receipt["blockNumber"], flush=True)
"""


def _kill_while_writing(path: Path, blocks: int) -> int:
    """Let a child write ``blocks`` blocks, SIGKILL it mid-flight; the last block it saw."""
    child = _python(WRITE_FOREVER, str(path))
    assert child.stdout is not None
    last = 0
    try:
        while last < blocks:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "child died"
            last = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
    return last


def test_kill_9_mid_write_leaves_a_chain_that_reopens(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    last_seen = _kill_while_writing(path, blocks=15)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with EmbeddedChain.open(path) as chain:
        head = chain.w3.eth.block_number
        assert head >= last_seen
        assert chain.w3.eth.get_balance(BURN_ADDRESS) == head  # one 1-wei transfer per block
        assert chain.w3.eth.get_transaction_count(chain.dev_accounts[1]) == head
        receipt = send_tx(chain.w3, _hex_key(chain, 1), to=BURN_ADDRESS, value=1)
        assert receipt["status"] == 1 and receipt["blockNumber"] == head + 1


def test_a_second_process_cannot_open_the_same_chain(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    with EmbeddedChain.open(path), pytest.raises(ChainUnavailableError):
        EmbeddedChain.open(path)
    EmbeddedChain.open(path).close()


def test_a_closed_chain_says_so(tmp_path: Path) -> None:
    chain = EmbeddedChain.open(tmp_path / "chain.sqlite")
    chain.close()
    chain.close()  # idempotent
    with pytest.raises(ChainUnavailableError, match="closed"):
        chain.w3.eth.block_number  # noqa: B018 - the call is the test


def test_reopen_with_another_chain_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    EmbeddedChain.open(path, chain_id=1337).close()
    with pytest.raises(ChainMismatchError, match="chain_id=1337"):
        EmbeddedChain.open(path, chain_id=73799)
    with pytest.raises(ChainMismatchError):
        connect(Settings(data_dir=tmp_path, chain_id=246))


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    EmbeddedChain.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta")
    conn.commit()
    conn.close()
    with pytest.raises(ChainError, match="without flexledger metadata"):
        EmbeddedChain.open(path)


# --- the SQLite key-value store -----------------------------------------------------------


def test_sqlite_db_batches_roll_back_alone_and_commits_are_explicit(tmp_path: Path) -> None:
    db = SqliteDB(tmp_path / "kv.sqlite")
    db[b"kept"] = b"1"
    with pytest.raises(RuntimeError), db.atomic_batch() as batch:
        batch[b"dropped"] = b"2"
        raise RuntimeError("abort the batch")
    with db.atomic_batch() as batch:
        batch[b"batched"] = b"3"
        del batch[b"kept"]
    assert (b"kept" in db, b"dropped" in db, db[b"batched"]) == (False, False, b"3")
    db.commit()
    db[b"uncommitted"] = b"4"
    db.close(commit=False)

    reopened = SqliteDB(tmp_path / "kv.sqlite")
    assert reopened[b"batched"] == b"3"
    assert b"uncommitted" not in reopened
    with pytest.raises(KeyError):
        del reopened[b"missing"]
    reopened.close()


# --- chunked log reading ------------------------------------------------------------------


def test_block_ranges_cover_the_span_in_bounded_closed_chunks() -> None:
    assert list(block_ranges(5, 14, 4)) == [(5, 8), (9, 12), (13, 14)]
    assert list(block_ranges(7, 7, 100)) == [(7, 7)]
    assert list(block_ranges(8, 7, 100)) == []
    with pytest.raises(ValueError, match="chunk_size"):
        list(block_ranges(0, 10, 0))


def test_iter_log_chunks_reports_empty_chunks_for_checkpointing(chain: EmbeddedChain) -> None:
    chain.mine(9)
    chunks = list(iter_log_chunks(chain.w3, BURN_ADDRESS, 0, "latest", chunk_size=5))
    assert [(c.from_block, c.to_block, c.logs) for c in chunks] == [(0, 4, ()), (5, 9, ())]
