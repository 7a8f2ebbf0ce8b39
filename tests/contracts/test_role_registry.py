"""RoleRegistry: grants with credential hash and validity window, revocation, last operator."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from oracle.types import Role
from tests.contracts.world import World, deploy, events, reverts, send

FOREVER = 2**64 - 1
CREDENTIAL = keccak(text="vc:dso-licence")


def test_role_ids_match_oracle_types(world: World) -> None:
    r = world.roles.functions
    assert [
        r.MARKET_OPERATOR().call(),
        r.DSO().call(),
        r.TSO().call(),
        r.FSP().call(),
        r.ORACLE().call(),
        r.AUDITOR().call(),
    ] == [int(x) for x in Role]


def test_deployer_is_market_operator_forever(world: World) -> None:
    roles = deploy(world.w3, "RoleRegistry", sender=world.outsider)
    grant = roles.functions.roleGrant(world.outsider.address, Role.MARKET_OPERATOR).call()
    assert grant[0] == b"\0" * 32 and grant[2] == FOREVER and grant[3] is False
    assert roles.functions.hasRole(world.outsider.address, Role.MARKET_OPERATOR).call()
    assert roles.functions.marketOperatorCount().call() == 1
    logs = roles.events.RoleGranted().get_logs(from_block=0)
    assert [dict(e["args"]) for e in logs] == [
        {
            "identity": world.outsider.address,
            "role": 1,
            "credentialHash": b"\0" * 32,
            "validFrom": grant[1],
            "validUntil": FOREVER,
            "grantedBy": world.outsider.address,
        }
    ]


def test_grant_sets_window_and_emits(world: World) -> None:
    now = world.now()
    fn = world.roles.functions.grantRole(world.spare.address, Role.DSO, CREDENTIAL, now, now + 1000)
    receipt = send(fn, world.operator)
    assert events(world.roles, receipt, "RoleGranted") == [
        {
            "identity": world.spare.address,
            "role": 2,
            "credentialHash": CREDENTIAL,
            "validFrom": now,
            "validUntil": now + 1000,
            "grantedBy": world.operator.address,
        }
    ]
    assert world.roles.functions.roleGrant(world.spare.address, Role.DSO).call() == (
        CREDENTIAL,
        now,
        now + 1000,
        False,
    )
    assert world.roles.functions.hasRole(world.spare.address, Role.DSO).call()
    assert not world.roles.functions.hasRole(world.spare.address, Role.TSO).call()


def test_role_held_only_inside_window(world: World) -> None:
    start = world.now() + 100
    send(
        world.roles.functions.grantRole(
            world.spare.address, Role.FSP, CREDENTIAL, start, start + 50
        ),
        world.operator,
    )
    has = world.roles.functions.hasRole(world.spare.address, Role.FSP)
    assert not has.call(block_identifier="pending")
    world.travel_to(start)
    assert has.call(block_identifier="pending")
    world.travel_to(start + 49)
    assert has.call(block_identifier="pending")
    world.travel_to(start + 50)
    assert not has.call(block_identifier="pending")


def test_revoke_and_regrant(world: World) -> None:
    roles = world.roles.functions
    receipt = send(roles.revokeRole(world.dso.address, Role.DSO), world.operator)
    assert events(world.roles, receipt, "RoleRevoked") == [
        {
            "identity": world.dso.address,
            "role": 2,
            "credentialHash": keccak(text="credential:dso:DSO"),
            "revokedBy": world.operator.address,
        }
    ]
    assert not roles.hasRole(world.dso.address, Role.DSO).call()
    assert roles.roleGrant(world.dso.address, Role.DSO).call()[3] is True
    with reverts(world.roles, "RoleNotGranted", world.dso.address, 2):
        send(roles.revokeRole(world.dso.address, Role.DSO), world.operator)
    send(roles.grantRole(world.dso.address, Role.DSO, CREDENTIAL, 0, FOREVER), world.operator)
    assert roles.hasRole(world.dso.address, Role.DSO).call()


def test_grant_and_revoke_need_market_operator(world: World) -> None:
    roles = world.roles.functions
    with reverts(world.roles, "MissingRole", world.dso.address, 1):
        send(roles.grantRole(world.spare.address, Role.FSP, CREDENTIAL, 0, FOREVER), world.dso)
    with reverts(world.roles, "MissingRole", world.dso.address, 1):
        send(roles.revokeRole(world.fsp.address, Role.FSP), world.dso)


@pytest.mark.parametrize("role", [0, 7, 255])
def test_unknown_role(world: World, role: int) -> None:
    roles = world.roles.functions
    with reverts(world.roles, "UnknownRole", role):
        send(roles.grantRole(world.spare.address, role, CREDENTIAL, 0, FOREVER), world.operator)
    with reverts(world.roles, "UnknownRole", role):
        send(roles.revokeRole(world.spare.address, role), world.operator)


def test_grant_rejects_bad_input(world: World) -> None:
    roles = world.roles.functions
    zero = "0x" + "00" * 20
    with reverts(world.roles, "InvalidIdentity", zero):
        send(roles.grantRole(zero, Role.FSP, CREDENTIAL, 0, FOREVER), world.operator)
    with reverts(world.roles, "InvalidValidity", 10, 10):
        send(roles.grantRole(world.spare.address, Role.FSP, CREDENTIAL, 10, 10), world.operator)
    with reverts(world.roles, "RoleNotGranted", world.spare.address, 4):
        send(roles.revokeRole(world.spare.address, Role.FSP), world.operator)


def test_last_market_operator_cannot_be_revoked(world: World) -> None:
    roles = world.roles.functions
    with reverts(world.roles, "LastMarketOperator", world.operator.address):
        send(roles.revokeRole(world.operator.address, Role.MARKET_OPERATOR), world.operator)
    send(
        roles.grantRole(world.spare.address, Role.MARKET_OPERATOR, CREDENTIAL, 0, FOREVER),
        world.operator,
    )
    # re-granting an active operator does not count twice
    send(
        roles.grantRole(world.spare.address, Role.MARKET_OPERATOR, CREDENTIAL, 0, FOREVER),
        world.operator,
    )
    assert roles.marketOperatorCount().call() == 2
    send(roles.revokeRole(world.operator.address, Role.MARKET_OPERATOR), world.spare)
    assert roles.marketOperatorCount().call() == 1
    with reverts(world.roles, "LastMarketOperator", world.spare.address):
        send(roles.revokeRole(world.spare.address, Role.MARKET_OPERATOR), world.spare)
    with reverts(world.roles, "MissingRole", world.operator.address, 1):
        send(roles.grantRole(world.fsp.address, Role.FSP, CREDENTIAL, 0, FOREVER), world.operator)
