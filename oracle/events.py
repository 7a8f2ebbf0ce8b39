"""Decoding flexledger contract logs into named events, fast and without web3 contracts.

Both the indexer and the auditor read every log of the six contracts; decoding with
eth-abi directly keeps the auditor above a thousand settlements per second.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from web3.types import LogReceipt

from contracts import CONTRACT_NAMES, load_artifact
from oracle.abi_decode import decode_data, decode_topic
from oracle.errors import OracleError
from oracle.manifest import Manifest
from oracle.reverts import abi_type


class MalformedEventError(OracleError, ValueError):
    """A log from one of our contracts does not decode against that contract's ABI."""


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: bytes
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class _EventShape:
    name: str
    indexed: list[tuple[str, str]]
    data: list[tuple[str, str, dict[str, Any]]]


class EventDecoder:
    """Decodes logs emitted by the contracts of one deployment."""

    def __init__(self, manifest: Manifest) -> None:
        self._contract_by_address = {
            manifest.address_of(name).lower(): name for name in CONTRACT_NAMES
        }
        self._shapes: dict[tuple[str, bytes], _EventShape] = {}
        for name in CONTRACT_NAMES:
            for entry in load_artifact(name).abi:
                if entry.get("type") == "event":
                    topic = event_abi_to_log_topic(cast(ABIEvent, entry))
                    self._shapes[(name, topic)] = _shape(entry)

    @property
    def addresses(self) -> list[str]:
        return [to_checksum_address(a) for a in self._contract_by_address]

    def decode(self, log: LogReceipt | Mapping[str, Any]) -> DecodedEvent | None:
        """The event, or None for a log that is not one of ours.

        ``log`` is a web3 log or a raw JSON-RPC log (hex strings); both decode the same.
        """
        contract = self._contract_by_address.get(str(log["address"]).lower())
        topics = [as_bytes(topic) for topic in log["topics"]]
        if contract is None or not topics:
            return None
        shape = self._shapes.get((contract, topics[0]))
        if shape is None:
            return None
        try:
            args = _decode_args(shape, topics[1:], as_bytes(log["data"]))
        except ValueError as error:
            raise MalformedEventError(
                f"{contract}.{shape.name} log {log['transactionHash']!r}:{log['logIndex']} "
                f"does not match the ABI: {error}"
            ) from None
        return DecodedEvent(
            contract=contract,
            name=shape.name,
            args=args,
            block_number=as_int(log["blockNumber"]),
            log_index=as_int(log["logIndex"]),
            tx_hash=as_bytes(log["transactionHash"]),
            block_hash=as_bytes(log["blockHash"]),
        )


def as_bytes(value: str | bytes) -> bytes:
    """Bytes from a JSON-RPC hex string or from web3's HexBytes."""
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def as_int(value: str | int) -> int:
    """An int from a JSON-RPC hex quantity or from web3's int."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _decode_args(shape: _EventShape, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for (name, topic_type), topic in zip(shape.indexed, topics, strict=True):
        args[name] = decode_topic(topic_type, bytes(topic))
    values = decode_data([entry for _, _, entry in shape.data], data)
    for (name, _, entry), value in zip(shape.data, values, strict=True):
        args[name] = _named(entry, value)
    return args


def _shape(entry: dict[str, Any]) -> _EventShape:
    indexed = [(i["name"], abi_type(i)) for i in entry["inputs"] if i["indexed"]]
    data = [(i["name"], abi_type(i), i) for i in entry["inputs"] if not i["indexed"]]
    return _EventShape(entry["name"], indexed, data)


def _named(entry: dict[str, Any], value: Any) -> Any:
    """Tuples become dicts keyed by component name, recursively."""
    kind = entry["type"]
    if kind == "tuple":
        return {c["name"]: _named(c, v) for c, v in zip(entry["components"], value, strict=True)}
    if kind.endswith("[]"):
        inner = {**entry, "type": kind[:-2]}
        return [_named(inner, v) for v in value]
    return value  # addresses stay lower-case hex: checksumming costs a keccak each
