"""The baseline hash: locked on chain before gate closure, recomputed at settlement.

Canonical encoding (Solidity ``abi.encode``, so a contract or any ABI library can rebuild it)::

    keccak256(abi.encode(
        string  "flexledger.baseline.v1",   // domain tag: a new encoding gets a new tag
        address fsp,                        // the FSP's account (case does not matter)
        string  subjectId,                  // asset id or portfolio id, UTF-8, as given
        string  method,                     // a BaselineMethod value, e.g. "x_of_y"
        uint64[] slotStarts,                // ascending unix seconds, UTC, multiples of 900
        int64[]  energyWh                   // the baseline of each slot, same order
    ))

Slots are sorted before encoding, so the hash depends on the values, not on mapping order.
"""

from collections.abc import Mapping

from eth_abi.abi import encode
from eth_utils.address import is_hex_address
from eth_utils.crypto import keccak

from market.baselines.errors import BaselineError
from market.baselines.series import check_slot, iso
from market.baselines.vocab import BaselineMethod

DOMAIN_TAG = "flexledger.baseline.v1"
_INT64 = 2**63


def baseline_hash(
    fsp_address: str,
    subject_id: str,
    method: BaselineMethod | str,
    baseline_wh: Mapping[int, int],
) -> bytes:
    """keccak256 of the canonical encoding above (32 bytes)."""
    if not is_hex_address(fsp_address):
        raise BaselineError("fsp_address", f"{fsp_address!r} is not a 0x-prefixed address")
    if not subject_id:
        raise BaselineError("subject_id", "is empty; pass the asset or portfolio id")
    checked = _method(method)
    slots = sorted(baseline_wh)
    if not slots:
        raise BaselineError("baseline_wh", "no slots; a baseline covers at least one slot")
    for slot in slots:
        check_slot("baseline_wh", slot)
        _check_int64(slot, baseline_wh[slot])
    encoded = encode(
        ["string", "address", "string", "string", "uint64[]", "int64[]"],
        [
            DOMAIN_TAG,
            fsp_address.lower(),
            subject_id,
            checked.value,
            slots,
            [baseline_wh[slot] for slot in slots],
        ],
    )
    return keccak(encoded)


def _method(method: BaselineMethod | str) -> BaselineMethod:
    try:
        return BaselineMethod(method)
    except ValueError as exc:
        names = ", ".join(m.value for m in BaselineMethod)
        raise BaselineError("method", f"{method!r} is not one of {names}") from exc


def _check_int64(slot: int, energy_wh: int) -> None:
    if isinstance(energy_wh, bool) or not isinstance(energy_wh, int):
        raise BaselineError("baseline_wh", f"{iso(slot)}: {energy_wh!r} is not an integer Wh")
    if not -_INT64 <= energy_wh < _INT64:
        raise BaselineError("baseline_wh", f"{iso(slot)}: {energy_wh} Wh does not fit int64")
