"""A role credential counts while its hash is anchored, unrevoked, in the RoleRegistry."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oracle.credential_anchor import anchored_grant_check
from oracle.identity import (
    CredentialRejectedError,
    Rejection,
    Signer,
    credential_hash,
    issue_role_credential,
    verify_role_credential,
)
from oracle.types import Role
from tests.world import World, new_world, world_settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = new_world(world_settings(Path(tmp_path_factory.mktemp("anchor"))))
    yield world
    world.close()


def signer(world: World, name: str) -> Signer:
    return Signer(name, bytes(world.accounts[name].key), network=world.manifest.chain_id)


def chain_now(world: World) -> datetime:
    timestamp = world.connection.w3.eth.get_block("latest")["timestamp"]
    return datetime.fromtimestamp(timestamp, UTC)


def issue(world: World, subject: str, role: Role) -> dict[str, object]:
    now = chain_now(world)
    return issue_role_credential(
        signer(world, "operator"),
        signer(world, subject).did,
        role,
        now - timedelta(minutes=1),
        now + timedelta(days=30),
        world.manifest.chain_id,
        world.manifest.address_of("RoleRegistry"),
    )


def anchor(world: World, subject: str, role: Role, vc: dict[str, object], key: str) -> None:
    now = int(chain_now(world).timestamp())
    world.oracle.publish(
        "role.grant",
        {
            "identity": world.accounts[subject].address,
            "role": int(role),
            "credential_hash": "0x" + bytes(credential_hash(vc)).hex(),
            "valid_from": now - 60,
            "valid_until": now + 30 * 86400,
        },
        sender=world.accounts["operator"].address,
        key=key,
    )
    assert world.oracle.drain().confirmed_messages == 1


def verify(world: World, vc: dict[str, object], subject: str, role: Role) -> None:
    check = anchored_grant_check(world.oracle.suite, world.accounts[subject].address, role)
    verify_role_credential(
        vc,
        trusted_issuers=[signer(world, "operator").did],
        now=chain_now(world),
        expected_role=role,
        is_revoked=check,
    )


def test_anchored_credential_verifies_then_revocation_is_honoured(world: World) -> None:
    vc = issue(world, "fsp", Role.AUDITOR)
    with pytest.raises(CredentialRejectedError) as not_anchored:
        verify(world, vc, "fsp", Role.AUDITOR)
    assert not_anchored.value.reason is Rejection.REVOKED

    anchor(world, "fsp", Role.AUDITOR, vc, key="anchor-auditor")
    verify(world, vc, "fsp", Role.AUDITOR)

    world.oracle.publish(
        "role.revoke",
        {"identity": world.accounts["fsp"].address, "role": int(Role.AUDITOR)},
        sender=world.accounts["operator"].address,
        key="revoke-auditor",
    )
    assert world.oracle.drain().confirmed_messages == 1
    with pytest.raises(CredentialRejectedError) as revoked:
        verify(world, vc, "fsp", Role.AUDITOR)
    assert revoked.value.reason is Rejection.REVOKED


def test_a_replaced_credential_no_longer_counts(world: World) -> None:
    old = issue(world, "dso", Role.TSO)
    anchor(world, "dso", Role.TSO, old, key="anchor-tso-1")
    new = issue(world, "dso", Role.TSO)
    anchor(world, "dso", Role.TSO, new, key="anchor-tso-2")
    verify(world, new, "dso", Role.TSO)
    with pytest.raises(CredentialRejectedError) as replaced:
        verify(world, old, "dso", Role.TSO)
    assert replaced.value.reason is Rejection.REVOKED
