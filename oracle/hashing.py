"""keccak-256 as fast as this machine allows.

The auditor hashes every order and every Merkle proof step: pysha3's C keccak costs
about 2 µs a call against 15 µs through eth-hash's pycryptodome backend. Both give the
same digest; the fallback keeps flexledger working where the C module is missing.
"""

from collections.abc import Callable

try:
    from sha3 import keccak_256 as _keccak_256

    def keccak256(data: bytes) -> bytes:
        return bytes(_keccak_256(data).digest())

except ImportError:  # pragma: no cover - safe-pysha3 is a declared dependency
    from eth_utils.crypto import keccak as _eth_keccak

    keccak256: Callable[[bytes], bytes] = _eth_keccak  # type: ignore[no-redef]
