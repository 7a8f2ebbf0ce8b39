"""Signature recovery for the auditor: lower-case addresses, each (digest, signature) once.

The auditor recovers two signatures per trade, and a divisible buy filled by many offers
repeats the same order and signature in every trade. Recovery is a pure function of the
digest and the signature, so it is cached; and the address is returned in lower case
(the auditor compares lower case), which saves eth-keys' checksum keccak per recovery.
The acceptance rules are OpenZeppelin ECDSA's, as in :func:`oracle.order_hashing.recover_signer`.
"""

from functools import lru_cache

from coincurve import PublicKey

from oracle.hashing import keccak256

_SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
_CACHE_ENTRIES = 65_536  # bounded: a few MB at most, whatever the chain holds


@lru_cache(maxsize=_CACHE_ENTRIES)
def recover_signer_lower(digest: bytes, signature: bytes) -> str | None:
    """The signing address in lower case, or None for a malformed or malleable signature
    (length not 65, s above n/2, v not 27 or 28, or no recoverable key)."""
    if len(signature) != 65 or len(digest) != 32:
        return None
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > _SECP256K1_HALF_N or v not in (27, 28):
        return None
    try:
        key = PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), digest, hasher=None
        )
    except Exception:  # coincurve raises a bare Exception when no key recovers
        return None
    return "0x" + keccak256(key.format(compressed=False)[1:])[-20:].hex()
