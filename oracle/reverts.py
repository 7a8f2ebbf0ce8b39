"""The one place where contract reverts become typed Python errors.

Every custom error of every flexledger contract is looked up by its 4-byte selector and
decoded with its argument names, so a caller sees ``RoleMissing(account=0x…, role=4)``
instead of raw hex.
"""

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from oracle.errors import ContractRevertError

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")


def abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in entry["components"])
        return f"({inner}){entry['type'][5:]}"
    return str(entry["type"])


class RevertDecoder:
    """Decodes revert data against the custom errors of a set of ABIs."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") == "error":
                    self._register(entry)

    def _register(self, entry: dict[str, Any]) -> None:
        types = [abi_type(i) for i in entry["inputs"]]
        names = [i["name"] or f"arg{n}" for n, i in enumerate(entry["inputs"])]
        selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
        self._errors[selector] = (entry["name"], names, types)

    def decode(self, data: bytes) -> ContractRevertError:
        selector, body = data[:4], data[4:]
        if selector == ERROR_STRING_SELECTOR:
            (reason,) = decode(["string"], body)
            return ContractRevertError("Error", {"reason": reason}, data)
        if selector == PANIC_SELECTOR:
            (code,) = decode(["uint256"], body)
            return ContractRevertError("Panic", {"code": code}, data)
        if selector not in self._errors:
            return ContractRevertError("UnknownError", {"data": "0x" + data.hex()}, data)
        name, names, types = self._errors[selector]
        values = decode(types, body)
        return ContractRevertError(name, dict(zip(names, map(_plain, values), strict=True)), data)

    def from_exception(self, error: ContractLogicError) -> ContractRevertError:
        """Turn web3's revert exception into our typed error."""
        raw = _revert_bytes(error)
        if raw:
            return self.decode(raw)
        if isinstance(error, ContractPanicError):
            return ContractRevertError("Panic", {"message": error.message or ""})
        return ContractRevertError("Reverted", {"message": error.message or str(error)})


def _revert_bytes(error: ContractLogicError) -> bytes:
    data = error.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:])
    if isinstance(error, ContractCustomError) and isinstance(error.message, str):
        text = error.message
        if text.startswith("0x"):
            return bytes.fromhex(text[2:])
    return b""


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
