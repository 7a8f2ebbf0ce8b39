"""A small, fast ABI decoder for event data.

eth-abi validates every word through several layers of objects, which made decoding
the auditor's single biggest cost (a TradeRecorded log with two signed orders takes
~1 ms). Event data is untrusted input, so this decoder still checks every offset and
length against the buffer and raises ValueError on anything out of bounds; a test pins
it to eth-abi on random values.

Supported: uintN, intN, bool, address, bytesN, bytes, string, T[] and tuples, nested.
"""

from typing import Any

WORD = 32
_DYNAMIC = "_flexledger_dynamic"  # memo keys stored on the ABI entry dicts
_ELEMENT = "_flexledger_element"


def is_dynamic(entry: dict[str, Any]) -> bool:
    cached = entry.get(_DYNAMIC)
    if cached is None:
        cached = entry[_DYNAMIC] = _compute_dynamic(entry)  # ABI entries are decoded often
    return bool(cached)


def _compute_dynamic(entry: dict[str, Any]) -> bool:
    kind = entry["type"]
    if kind in ("bytes", "string") or kind.endswith("[]"):
        return True
    if kind == "tuple":
        return any(is_dynamic(c) for c in entry["components"])
    return False


def decode_data(entries: list[dict[str, Any]], data: bytes) -> list[Any]:
    """The values of ``entries`` (ABI inputs) encoded as one tuple in ``data``."""
    return _decode_tuple(entries, data, 0)


def _word(data: bytes, position: int) -> int:
    if position < 0 or position + WORD > len(data):
        raise ValueError(f"word at {position} lies outside {len(data)} bytes of data")
    return int.from_bytes(data[position : position + WORD], "big")


def _decode_tuple(entries: list[dict[str, Any]], data: bytes, base: int) -> list[Any]:
    values, head = [], base
    for entry in entries:
        if is_dynamic(entry):
            values.append(_decode(entry, data, base + _word(data, head)))
            head += WORD
        else:
            values.append(_decode(entry, data, head))
            head += _static_size(entry)
    return values


def _static_size(entry: dict[str, Any]) -> int:
    if entry["type"] == "tuple":
        return sum(_static_size(c) for c in entry["components"])
    return WORD


def _decode(entry: dict[str, Any], data: bytes, position: int) -> Any:
    kind: str = entry["type"]
    if kind.endswith("[]"):
        return _decode_array(_element_of(entry), data, position)
    if kind == "tuple":
        return tuple(_decode_tuple(entry["components"], data, position))
    if kind in ("bytes", "string"):
        raw = _dynamic_bytes(data, position)
        return raw.decode("utf-8") if kind == "string" else raw
    return _decode_static(kind, data, position)


def _element_of(array: dict[str, Any]) -> dict[str, Any]:
    element = array.get(_ELEMENT)
    if element is None:
        plain = {k: v for k, v in array.items() if k not in (_DYNAMIC, _ELEMENT)}
        element = array[_ELEMENT] = {**plain, "type": array["type"][:-2]}
    return element


def _decode_array(element: dict[str, Any], data: bytes, position: int) -> list[Any]:
    count = _word(data, position)
    start = position + WORD
    if count > (len(data) - start) // WORD:
        raise ValueError(f"array of {count} elements does not fit in the data")
    if is_dynamic(element):
        return [_decode(element, data, start + _word(data, start + i * WORD)) for i in range(count)]
    size = _static_size(element)
    return [_decode(element, data, start + i * size) for i in range(count)]


def _dynamic_bytes(data: bytes, position: int) -> bytes:
    length = _word(data, position)
    start = position + WORD
    if start + length > len(data):
        raise ValueError(f"{length} bytes at {start} lie outside the data")
    return data[start : start + length]


def _decode_static(kind: str, data: bytes, position: int) -> Any:
    value = _word(data, position)
    if kind == "address":
        if value >> 160:
            raise ValueError("address word has non-zero high bytes")
        return "0x" + data[position + 12 : position + WORD].hex()
    if kind == "bool":
        if value > 1:
            raise ValueError(f"bool word holds {value}")
        return bool(value)
    if kind.startswith("uint"):
        if value >> int(kind[4:] or 256):
            raise ValueError(f"{kind} out of range")
        return value
    if kind.startswith("int"):
        bits = int(kind[3:] or 256)
        signed = value - (1 << 256) if value >> 255 else value
        if not -(1 << (bits - 1)) <= signed < (1 << (bits - 1)):
            raise ValueError(f"{kind} out of range")
        return signed
    if kind.startswith("bytes"):
        return data[position : position + int(kind[5:])]
    raise ValueError(f"unsupported ABI type {kind}")


def decode_topic(kind: str, topic: bytes) -> Any:
    """An indexed static parameter (address, uintN, bytes32…) from its 32-byte topic."""
    if len(topic) != WORD:
        raise ValueError(f"a topic has 32 bytes, not {len(topic)}")
    return _decode_static(kind, topic, 0)
