"""Typed values at the chain boundary.

On-chain scales (documented once, used everywhere):

* power: integer watts (``power_w``); energy: integer watt-hours (``energy_wh``)
* prices: integer euro cents per MWh (``price_cents_per_mwh``)
* money: integer euro cents, rounded down (``amount_cents``)
* times: integer unix seconds, UTC; a slot is 900 s and slot starts are multiples of 900

Sign convention: positive power is consumption. "Up" flexibility lowers consumption or
raises generation; "down" flexibility raises consumption or lowers generation.
"""

from enum import IntEnum
from typing import NewType, cast

from eth_typing import ChecksumAddress

Address = NewType("Address", str)  # checksummed 0x-address
Wei = NewType("Wei", int)
BlockNumber = NewType("BlockNumber", int)
ChainId = NewType("ChainId", int)
TradeId = NewType("TradeId", int)
NodeId = NewType("NodeId", int)
OrderHash = NewType("OrderHash", bytes)
TxHash = NewType("TxHash", bytes)

SLOT_SECONDS = 900


def web3_address(address: str) -> ChecksumAddress:
    """An address as web3 types it; no conversion (ours are already checksummed)."""
    return cast(ChecksumAddress, address)


class Role(IntEnum):
    """Roles of the on-chain role registry (values match RoleRegistry.sol)."""

    MARKET_OPERATOR = 1
    DSO = 2
    TSO = 3
    FSP = 4
    ORACLE = 5
    AUDITOR = 6


class Side(IntEnum):
    BUY = 0
    SELL = 1


class Direction(IntEnum):
    UP = 0
    DOWN = 1
