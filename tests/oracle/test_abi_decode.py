"""The fast event decoder agrees with eth-abi, and arbitrary bytes only raise ValueError."""

import contextlib
from typing import Any

from eth_abi.abi import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import load_artifact
from oracle.abi_decode import decode_data
from oracle.reverts import abi_type


def event_inputs(contract: str, event: str) -> list[dict[str, Any]]:
    entry = next(e for e in load_artifact(contract).abi if e.get("name") == event)
    return [i for i in entry["inputs"] if not i["indexed"]]


TRADE = event_inputs("FlexMarket", "TradeRecorded")
ATTESTED = event_inputs("FlexSettlement", "SettlementAttested")
BATCH_ATTESTED = event_inputs("FlexSettlement", "SettlementsAttested")


def strategy(entry: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = entry["type"]
    if kind.endswith("[]"):
        return st.lists(strategy({**entry, "type": kind[:-2]}), max_size=4)
    if kind == "tuple":
        return st.tuples(*(strategy(c) for c in entry["components"]))
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind == "bool":
        return st.booleans()
    if kind == "bytes":
        return st.binary(max_size=80)
    if kind.startswith("bytes"):
        size = int(kind[5:])
        return st.binary(min_size=size, max_size=size)
    return st.integers(0, 2 ** int(kind[4:]) - 1)


def values_for(entries: list[dict[str, Any]]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(*(strategy(e) for e in entries))


def normalised(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [normalised(v) for v in value]
    return value.lower() if isinstance(value, str) else value


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_agrees_with_eth_abi(data: st.DataObject) -> None:
    for entries in (TRADE, ATTESTED, BATCH_ATTESTED):
        values = data.draw(values_for(entries))
        types = [abi_type(e) for e in entries]
        encoded = encode(types, list(values))
        assert normalised(decode_data(entries, encoded)) == normalised(list(decode(types, encoded)))


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=2048))
def test_arbitrary_bytes_only_raise_value_error(noise: bytes) -> None:
    for entries in (TRADE, ATTESTED, BATCH_ATTESTED):
        with contextlib.suppress(ValueError):
            decode_data(entries, noise)
