"""Role credentials and presentations: each check refuses with its own reason."""

import asyncio
import copy
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from oracle.errors import CredentialError, OracleValueError
from oracle.identity import (
    ROLE_CREDENTIAL_TYPE,
    CredentialHash,
    CredentialRejectedError,
    EthrDid,
    Rejection,
    Signer,
    _didkit,
    canonical_json,
    credential_hash,
    issue_role_credential,
    issue_role_credential_async,
    present,
    present_async,
    verify_presentation,
    verify_presentation_async,
    verify_role_credential,
    verify_role_credential_async,
)
from oracle.types import Role

VOLTA = 73799
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROLE = "https://w3id.org/flexledger#role"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)

OPERATOR = Signer("operator", b"\x01" * 32, network="volta")
DSO = Signer("dso", b"\x02" * 32, network=VOLTA)
FSP = Signer("fsp", b"\x03" * 32, network=VOLTA)
ROGUE = Signer("rogue", b"\x04" * 32, network=VOLTA)


def issue(
    subject: Signer = DSO, role: Role = Role.DSO, issuer: Signer = OPERATOR
) -> dict[str, Any]:
    return issue_role_credential(issuer, subject.did, role, START, END, VOLTA, REGISTRY)


def verify(vc: dict[str, Any], **overrides: Any) -> Any:
    options: dict[str, Any] = {"trusted_issuers": [OPERATOR.did], "now": NOW, **overrides}
    return verify_role_credential(vc, **options)


def rejected(reason: Rejection) -> Any:
    return pytest.raises(CredentialRejectedError, match=f"^{reason.value}: ")


@pytest.fixture(scope="module")
def vc() -> dict[str, Any]:
    return issue()


# --- issuing and the credential shape --------------------------------------------------


def test_issued_credential_has_the_agreed_shape(vc: dict[str, Any]) -> None:
    operator = f"did:ethr:0x12047:{OPERATOR.address}"  # volta spelled the way didkit resolves
    assert vc["@context"] == ["https://www.w3.org/2018/credentials/v1"]
    assert vc["type"] == ["VerifiableCredential", ROLE_CREDENTIAL_TYPE]
    assert vc["id"].startswith("urn:uuid:")
    assert vc["issuer"] == operator
    assert vc["issuanceDate"] == "2025-01-01T00:00:00Z"
    assert vc["expirationDate"] == "2026-01-01T00:00:00Z"
    assert vc["credentialSubject"] == {
        "id": DSO.did,
        ROLE: "DSO",
        "https://w3id.org/flexledger#chainId": VOLTA,
        "https://w3id.org/flexledger#roleRegistry": REGISTRY,
    }
    assert vc["proof"]["type"] == "EthereumEip712Signature2021"
    assert vc["proof"]["proofPurpose"] == "assertionMethod"
    assert vc["proof"]["verificationMethod"] == f"{operator}#controller"


def test_verify_returns_typed_claims_and_the_anchor_hash(vc: dict[str, Any]) -> None:
    verified = verify(vc, expected_role=Role.DSO, expected_subject=DSO.did)
    assert verified.role is Role.DSO
    assert verified.subject == EthrDid(DSO.address, VOLTA)  # type: ignore[arg-type]
    assert verified.issuer.address == OPERATOR.address
    assert verified.chain_id == VOLTA
    assert verified.registry_address == REGISTRY
    assert (verified.valid_from, verified.valid_until) == (START, END)
    assert verified.credential_hash == credential_hash(vc)
    assert len(verified.credential_hash) == 32


def test_trusted_issuer_may_be_listed_in_any_spelling(vc: dict[str, Any]) -> None:
    spelled = f"did:ethr:volta:{OPERATOR.address.lower()}"
    assert verify(vc, trusted_issuers=[spelled]).role is Role.DSO


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"valid_from": datetime(2025, 1, 1)}, "valid_from"),
        ({"valid_until": START}, "valid_until"),
        ({"subject_did": f"did:ethr:ewc:{DSO.address}"}, "subject_did"),
        ({"registry_address": "0x1234"}, "registry_address"),
        ({"role": 2}, "role"),
    ],
)
def test_issuing_refuses_unsound_claims(change: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "issuer": OPERATOR,
        "subject_did": DSO.did,
        "role": Role.DSO,
        "valid_from": START,
        "valid_until": END,
        "chain_id": VOLTA,
        "registry_address": REGISTRY,
        **change,
    }
    with pytest.raises(OracleValueError) as caught:
        issue_role_credential(**arguments)
    assert caught.value.field == field


# --- every refusal has its reason ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ("credentialSubject", ROLE),
        ("credentialSubject", "id"),
        ("expirationDate",),
        ("issuanceDate",),
        ("id",),
    ],
)
def test_tampering_breaks_the_proof(vc: dict[str, Any], path: tuple[str, ...]) -> None:
    replacements = {
        ROLE: "TSO",
        "id": f"did:ethr:0x12047:{FSP.address}" if path[0] == "credentialSubject" else "urn:x",
        "expirationDate": "2099-01-01T00:00:00Z",
        "issuanceDate": "2024-01-01T00:00:00Z",
    }
    forged = copy.deepcopy(vc)
    target = forged
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacements[path[-1]]
    with rejected(Rejection.BAD_PROOF):
        verify(forged)


def test_untrusted_issuer_is_refused() -> None:
    with rejected(Rejection.UNTRUSTED_ISSUER):
        verify(issue(issuer=ROGUE))


def test_impersonating_the_trusted_issuer_breaks_the_proof() -> None:
    forged = issue(issuer=ROGUE)
    forged["issuer"] = OPERATOR.did
    forged["proof"]["verificationMethod"] = f"{OPERATOR.did}#controller"
    with rejected(Rejection.BAD_PROOF):
        verify(forged)


def test_proof_by_another_key_than_the_issuers_controller_is_refused(vc: dict[str, Any]) -> None:
    forged = copy.deepcopy(vc)
    forged["proof"]["verificationMethod"] = f"{ROGUE.did}#controller"
    with rejected(Rejection.BAD_PROOF) as caught:
        verify(forged)
    assert "issuer's #controller" in str(caught.value)


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (START - timedelta(seconds=1), Rejection.NOT_YET_VALID),
        (END, Rejection.EXPIRED),
        (END + timedelta(days=400), Rejection.EXPIRED),
    ],
)
def test_validity_window(vc: dict[str, Any], now: datetime, reason: Rejection) -> None:
    with rejected(reason):
        verify(vc, now=now)


def test_window_bounds_are_inclusive_then_exclusive(vc: dict[str, Any]) -> None:
    assert verify(vc, now=START).role is Role.DSO
    assert verify(vc, now=END - timedelta(seconds=1)).role is Role.DSO


def test_didkit_alone_accepts_an_expired_credential(vc: dict[str, Any]) -> None:
    """Why the window is checked here: didkit 0.3.3 ignores both dates."""
    errors = asyncio.run(_didkit.verify_credential(vc, {"proofPurpose": "assertionMethod"}))
    assert errors == []
    with rejected(Rejection.EXPIRED):
        verify(vc, now=datetime(2030, 1, 1, tzinfo=UTC))


def test_revocation_callback_gets_the_credential_hash(vc: dict[str, Any]) -> None:
    asked: list[CredentialHash] = []

    def revoked(digest: CredentialHash) -> bool:
        asked.append(digest)
        return True

    with rejected(Rejection.REVOKED):
        verify(vc, is_revoked=revoked)
    assert asked == [keccak(canonical_json(vc))]
    assert verify(vc, is_revoked=lambda digest: False).role is Role.DSO


def test_async_revocation_callback_is_awaited(vc: dict[str, Any]) -> None:
    async def revoked(digest: CredentialHash) -> bool:
        await asyncio.sleep(0)
        return True

    with rejected(Rejection.REVOKED):
        verify(vc, is_revoked=revoked)


def test_issuer_check_callback(vc: dict[str, Any]) -> None:
    seen: list[EthrDid] = []

    def still_in_control(did: EthrDid) -> bool:
        seen.append(did)
        return False

    with rejected(Rejection.ISSUER_NOT_CURRENT):
        verify(vc, check_issuer=still_in_control)
    assert seen == [EthrDid(OPERATOR.address, VOLTA)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"expected_role": Role.FSP}, Rejection.WRONG_ROLE),
        ({"expected_subject": FSP.did}, Rejection.WRONG_SUBJECT),
        ({"expected_chain_id": 246}, Rejection.WRONG_DEPLOYMENT),
        ({"expected_registry": "0x" + "11" * 20}, Rejection.WRONG_DEPLOYMENT),
    ],
)
def test_expectations(vc: dict[str, Any], overrides: dict[str, Any], reason: Rejection) -> None:
    with rejected(reason):
        verify(vc, **overrides)


@pytest.mark.parametrize(
    "damage",
    [
        lambda vc: vc.pop("proof"),
        lambda vc: vc["credentialSubject"].update({ROLE: "PLUMBER"}),
        lambda vc: vc["credentialSubject"].update({"https://w3id.org/flexledger#chainId": True}),
        lambda vc: vc.update({"type": ["VerifiableCredential"]}),
        lambda vc: vc.update({"issuer": "did:web:example.com"}),
        lambda vc: vc.update({"expirationDate": "2026-01-01T00:00:00"}),
        lambda vc: vc.update({"issuer": f"did:ethr:ewc:{OPERATOR.address}"}),
    ],
)
def test_malformed_credentials(vc: dict[str, Any], damage: Any) -> None:
    broken = copy.deepcopy(vc)
    damage(broken)
    with rejected(Rejection.MALFORMED):
        verify(broken)


def test_rejections_are_credential_errors(vc: dict[str, Any]) -> None:
    with pytest.raises(CredentialError) as caught:
        verify(vc, expected_role=Role.TSO)
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason is Rejection.WRONG_ROLE  # type: ignore[attr-defined]


# --- hashing ---------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["é", {"d": None, "c": True}]}) == (
        '{"a":["é",{"c":true,"d":null}],"b":1}'.encode()
    )


def test_credential_hash_ignores_key_order_but_not_content(vc: dict[str, Any]) -> None:
    reordered = dict(reversed(list(vc.items())))
    assert credential_hash(reordered) == credential_hash(vc)
    changed = copy.deepcopy(vc)
    changed["id"] = "urn:uuid:other"
    assert credential_hash(changed) != credential_hash(vc)


# --- presentations ---------------------------------------------------------------------


def verify_vp(vp: dict[str, Any], **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "challenge": "nonce-1",
        "domain": "api.flexledger.test",
        "trusted_issuers": [OPERATOR.did],
        "now": NOW,
        **overrides,
    }
    return verify_presentation(vp, **options)


@pytest.fixture(scope="module")
def vp(vc: dict[str, Any]) -> dict[str, Any]:
    return present(vc, DSO, "nonce-1", "api.flexledger.test")


def test_presentation_proves_the_holder_and_carries_the_credential(
    vp: dict[str, Any], vc: dict[str, Any]
) -> None:
    verified = verify_vp(vp, expected_role=Role.DSO)
    assert verified.holder.address == DSO.address
    assert (verified.challenge, verified.domain) == ("nonce-1", "api.flexledger.test")
    assert verified.credential.credential_hash == credential_hash(vc)
    assert vp["proof"]["type"] == "EcdsaSecp256k1RecoverySignature2020"


def test_wrong_challenge_is_refused(vp: dict[str, Any]) -> None:
    with rejected(Rejection.WRONG_CHALLENGE):
        verify_vp(vp, challenge="nonce-2")


def test_wrong_domain_is_refused(vp: dict[str, Any]) -> None:
    with rejected(Rejection.WRONG_DOMAIN):
        verify_vp(vp, domain="evil.example")


def test_replay_with_an_edited_challenge_breaks_the_proof(vp: dict[str, Any]) -> None:
    replayed = copy.deepcopy(vp)
    replayed["proof"]["challenge"] = "nonce-2"
    with rejected(Rejection.BAD_PROOF):
        verify_vp(replayed, challenge="nonce-2")


def test_tampered_credential_inside_a_presentation_is_refused(vp: dict[str, Any]) -> None:
    tampered = copy.deepcopy(vp)
    tampered["verifiableCredential"]["credentialSubject"][ROLE] = "TSO"
    with rejected(Rejection.BAD_PROOF):
        verify_vp(tampered)


def test_only_the_subject_may_present(vc: dict[str, Any]) -> None:
    with pytest.raises(OracleValueError, match="is not the subject"):
        present(vc, FSP, "nonce-1", "api.flexledger.test")


def test_presentation_of_someone_elses_credential_is_refused(vc: dict[str, Any]) -> None:
    """FSP signs a presentation around the DSO's credential, bypassing present()."""
    holder = f"did:ethr:0x12047:{FSP.address}"
    unsigned = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": vc,
    }
    options = {
        "proofPurpose": "authentication",
        "verificationMethod": f"{holder}#controller",
        "type": "EcdsaSecp256k1RecoverySignature2020",
        "challenge": "nonce-1",
        "domain": "api.flexledger.test",
    }
    stolen = asyncio.run(_didkit.issue_presentation(unsigned, options, FSP))
    with rejected(Rejection.HOLDER_NOT_SUBJECT):
        verify_vp(stolen)


def test_holder_check_callback(vp: dict[str, Any]) -> None:
    with rejected(Rejection.HOLDER_NOT_CURRENT):
        verify_vp(vp, check_holder=lambda did: False)


def test_expired_credential_in_a_fresh_presentation_is_refused(vp: dict[str, Any]) -> None:
    with rejected(Rejection.EXPIRED):
        verify_vp(vp, now=END)


# --- async use and process exit --------------------------------------------------------


def test_async_forms_run_concurrently_in_one_loop() -> None:
    async def scenario() -> list[Role]:
        subjects = [(DSO, Role.DSO), (FSP, Role.FSP)]
        vcs = await asyncio.gather(
            *(
                issue_role_credential_async(OPERATOR, s.did, r, START, END, VOLTA, REGISTRY)
                for s, r in subjects
            )
        )
        vps = await asyncio.gather(
            *(present_async(vc, s, "n", "d") for vc, (s, _) in zip(vcs, subjects, strict=True))
        )
        verified = await asyncio.gather(
            *(
                verify_presentation_async(
                    vp, challenge="n", domain="d", trusted_issuers=[OPERATOR.did], now=NOW
                )
                for vp in vps
            )
        )
        return [v.credential.role for v in verified]

    assert asyncio.run(scenario()) == [Role.DSO, Role.FSP]


def test_blocking_forms_refuse_to_run_inside_an_event_loop(vc: dict[str, Any]) -> None:
    async def inside() -> None:
        verify(vc)

    with pytest.raises(RuntimeError, match="await verify_role_credential_async"):
        asyncio.run(inside())
    result = asyncio.run(verify_role_credential_async(vc, trusted_issuers=[OPERATOR.did], now=NOW))
    assert result.role is Role.DSO


def test_processes_exit_cleanly_right_after_didkit() -> None:
    """didkit's worker thread can crash a process that exits right after a call.

    Without the exit guard about two runs in three abort (SIGABRT/SIGSEGV), so two runs
    catch a missing guard nine times in ten; each run costs a few seconds of imports.
    """
    script = textwrap.dedent(
        f"""
        from datetime import datetime, UTC
        from oracle.identity import Signer, issue_role_credential
        from oracle.types import Role
        op = Signer("op", b"\\x01" * 32, network={VOLTA})
        t0, t1 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        issue_role_credential(op, op.did, Role.MARKET_OPERATOR, t0, t1, {VOLTA}, "{REGISTRY}")
        """
    )
    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=root, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [(run.communicate(timeout=120)[1], run.returncode) for run in runs]
    assert [code for _, code in outcomes] == [0, 0], outcomes
