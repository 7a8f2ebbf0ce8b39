"""The one place that calls didkit: JSON in and out, errors as lists, an exit guard.

didkit 0.3.3 exposes only coroutines and returns JSON strings. Its Rust worker thread
hands each result back to the event loop while holding the GIL, and can still be inside
that hand-back when the interpreter starts to finalise; a process that exits right after
its last didkit call then dies with "PyGILState_Release: thread state must be current"
(SIGABRT or SIGSEGV, about two runs in three in our measurement). The first call here
therefore registers an ``atexit`` pause that lets the worker finish first.
"""

import atexit
import base64
import json
import time
from collections.abc import Mapping
from typing import Any, Final, cast

import didkit
from eth_keys.datatypes import PrivateKey

from oracle.identity.keystore import Signer

#: How long the exit guard waits; 10 ms sufficed in 30 of 30 runs, this leaves margin.
_EXIT_PAUSE_S: Final = 0.05
_guard_registered = False
# the stub declares an instance; at run time it is the exception class
_DIDKIT_ERROR = cast(type[Exception], didkit.DIDKitException)


class DidkitRefusal(Exception):
    """didkit refused to sign; internal, turned into a domain error by the caller."""


def _guard_exit() -> None:
    """Register the exit pause once, before the first didkit call."""
    global _guard_registered
    if not _guard_registered:
        atexit.register(time.sleep, _EXIT_PAUSE_S)
        _guard_registered = True


def signer_jwk(signer: Signer) -> str:
    """The signer's key as the secp256k1 JWK didkit signs with (private part included)."""
    private_key = signer.private_key
    public = PrivateKey(private_key).public_key.to_bytes()
    jwk = {
        "kty": "EC",
        "crv": "secp256k1",
        "x": _b64url(public[:32]),
        "y": _b64url(public[32:]),
        "d": _b64url(private_key),
    }
    return json.dumps(jwk)


async def issue_credential(
    credential: Mapping[str, Any], options: Mapping[str, Any], signer: Signer
) -> dict[str, Any]:
    """Sign a credential; raises :class:`DidkitRefusal` with didkit's reason."""
    _guard_exit()
    try:
        signed = await didkit.issue_credential(
            json.dumps(credential), json.dumps(options), signer_jwk(signer)
        )
    except _DIDKIT_ERROR as error:
        raise DidkitRefusal(str(error)) from None
    return cast(dict[str, Any], json.loads(signed))


async def issue_presentation(
    presentation: Mapping[str, Any], options: Mapping[str, Any], signer: Signer
) -> dict[str, Any]:
    """Sign a presentation; raises :class:`DidkitRefusal` with didkit's reason."""
    _guard_exit()
    try:
        signed = await didkit.issue_presentation(
            json.dumps(presentation), json.dumps(options), signer_jwk(signer)
        )
    except _DIDKIT_ERROR as error:
        raise DidkitRefusal(str(error)) from None
    return cast(dict[str, Any], json.loads(signed))


async def verify_credential(credential: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """didkit's errors for a credential; empty when its proof checks out."""
    _guard_exit()
    try:
        report = await didkit.verify_credential(json.dumps(credential), json.dumps(options))
    except _DIDKIT_ERROR as error:
        return [str(error)]
    return _errors(report)


async def verify_presentation(
    presentation: Mapping[str, Any], options: Mapping[str, Any]
) -> list[str]:
    """didkit's errors for a presentation; empty when its proof checks out."""
    _guard_exit()
    try:
        report = await didkit.verify_presentation(json.dumps(presentation), json.dumps(options))
    except _DIDKIT_ERROR as error:
        return [str(error)]
    return _errors(report)


def _errors(report_json: str) -> list[str]:
    """The error list of a didkit verification report; no checked proof is an error too."""
    report = json.loads(report_json)
    errors = [str(error) for error in report.get("errors", [])]
    if not errors and "proof" not in report.get("checks", []):
        errors.append("no proof was checked")
    return errors


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
