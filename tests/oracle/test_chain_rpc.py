"""The JSON-RPC path against a real node (Hardhat 2, London): connection checks, error
mapping, confirmations and reorgs, chunked logs; plus the suite every backend passes."""

import socket
import time
from collections.abc import Iterator

import pytest
from web3 import Web3

from flexledger.settings import ChainKind, Settings
from oracle.chain import (
    ReceiptTimeoutError,
    connect,
    connect_rpc,
    wait_for_receipt,
)
from oracle.chain.rpc import close_rpc, needs_poa_middleware
from oracle.errors import ChainMismatchError, ChainUnavailableError
from tests.devnode import (
    BURN_ADDRESS,
    ChainConformance,
    ChainTarget,
    DevNode,
    devnode_fixture,
    ensure_installed,
    send_tx,
)

pytestmark = pytest.mark.devnode

node = devnode_fixture


@pytest.fixture
def w3(node: DevNode) -> Iterator[Web3]:
    connected = connect_rpc(node.url, expected_chain_id=node.chain_id, timeout_s=5)
    yield connected
    close_rpc(connected)


def _mine(node: DevNode, blocks: int) -> None:
    for _ in range(blocks):
        node.rpc("evm_mine")


class TestDevnodeConformance(ChainConformance):
    @pytest.fixture
    def target(self, node: DevNode, w3: Web3) -> ChainTarget:
        return ChainTarget(
            w3=w3, private_keys=node.private_keys, mine=lambda n: _mine(node, n), rpc=node.rpc
        )


# --- connecting ---------------------------------------------------------------------------


def test_connect_checks_the_chain_id(node: DevNode) -> None:
    settings = Settings(chain=ChainKind.RPC, rpc_url=node.url, chain_id=31337, confirmations=3)
    with connect(settings) as conn:
        assert (conn.kind, conn.chain_id, conn.confirmations) == (ChainKind.RPC, 31337, 3)
        assert conn.embedded is None
        assert conn.safe_block_number() == max(0, conn.w3.eth.block_number - 2)
    with pytest.raises(ChainMismatchError, match="31337"):
        connect_rpc(node.url, expected_chain_id=246, timeout_s=5)


def test_refused_connection_is_unavailable_at_once() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/secret-api-key"
    started = time.monotonic()
    with pytest.raises(ChainUnavailableError) as caught:
        connect_rpc(url, expected_chain_id=None, timeout_s=5)
    assert time.monotonic() - started < 1.0
    assert "secret-api-key" not in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections (the kernel does) but never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_silent_node_times_out_as_unavailable(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ChainUnavailableError, match="Timeout"):
        connect_rpc(silent_server, expected_chain_id=None, timeout_s=0.3)
    assert time.monotonic() - started < 2.0


def test_poa_middleware_only_when_extra_data_needs_it(node: DevNode, w3: Web3) -> None:
    assert not needs_poa_middleware(w3)
    poa = connect_rpc(node.url, expected_chain_id=None, timeout_s=5, poa=True)
    assert "proofOfAuthorityData" in poa.eth.get_block("latest")
    assert "extraData" in w3.eth.get_block("latest")
    close_rpc(poa)


# --- confirmations and reorgs -------------------------------------------------------------


def test_wait_for_receipt_with_confirmations(node: DevNode, w3: Web3) -> None:
    receipt = send_tx(w3, node.private_keys[4], to=BURN_ADDRESS, value=1)
    tx_hash = receipt["transactionHash"]
    assert wait_for_receipt(w3, tx_hash, confirmations=1, timeout_s=1)["status"] == 1
    with pytest.raises(ReceiptTimeoutError):
        wait_for_receipt(w3, tx_hash, confirmations=4, timeout_s=0.3, poll_interval_s=0.05)
    _mine(node, 3)
    assert wait_for_receipt(w3, tx_hash, confirmations=4, timeout_s=1) == receipt


def test_wait_for_an_unknown_transaction_times_out(w3: Web3) -> None:
    with pytest.raises(ReceiptTimeoutError):
        wait_for_receipt(w3, b"\x22" * 32, timeout_s=0.2, poll_interval_s=0.05)


# --- the fixture itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_node_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr("tests.devnode.shutil.which", lambda name: None)
    with pytest.raises(outcome, match="node and npm"):
        ensure_installed()
