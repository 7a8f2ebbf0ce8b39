"""Development controls of a test chain: funding accounts and moving time forward.

The embedded chain has them built in; a JSON-RPC dev node (Hardhat) offers them through
``evm_increaseTime``/``evm_mine`` and a funded key. Real networks have neither.
"""

from typing import Protocol

from eth_account import Account
from web3 import Web3

from oracle.chain import ChainConnection
from oracle.errors import ChainError


class DevControls(Protocol):
    def fund(self, address: str, wei: int) -> None: ...

    def advance_time(self, seconds: int) -> int: ...


class EmbeddedControls:
    def __init__(self, connection: ChainConnection) -> None:
        self._chain = connection.dev_chain

    def fund(self, address: str, wei: int) -> None:
        self._chain.fund(address, wei)

    def advance_time(self, seconds: int) -> int:
        return self._chain.advance_time(seconds)


class DevNodeControls:
    """Hardhat-style dev node: a funded key pays, evm_increaseTime moves the clock."""

    def __init__(self, connection: ChainConnection, funder_key: bytes) -> None:
        self._connection = connection
        self._funder = Account.from_key(funder_key)

    def fund(self, address: str, wei: int) -> None:
        w3 = self._connection.w3
        tx = {
            "to": Web3.to_checksum_address(address),
            "value": wei,
            "gas": 21_000,
            "nonce": w3.eth.get_transaction_count(self._funder.address, "pending"),
            "chainId": self._connection.chain_id,
            "maxFeePerGas": 2 * int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
            + w3.eth.max_priority_fee,
            "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        }
        tx_hash = w3.eth.send_raw_transaction(self._funder.sign_transaction(tx).raw_transaction)
        if self._connection.wait_for_receipt(bytes(tx_hash))["status"] != 1:
            raise ChainError(f"funding {address} failed")

    def advance_time(self, seconds: int) -> int:
        w3 = self._connection.w3
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return int(w3.eth.get_block("latest")["timestamp"])


def controls_for(connection: ChainConnection, funder_key: bytes | None = None) -> DevControls:
    if connection.embedded is not None:
        return EmbeddedControls(connection)
    if funder_key is None:
        raise ChainError(
            "a JSON-RPC dev node needs a funded key for development controls: pass "
            "--funder-keystore PATH or set FLEXLEDGER_FUNDER_KEY"
        )
    return DevNodeControls(connection, funder_key)
