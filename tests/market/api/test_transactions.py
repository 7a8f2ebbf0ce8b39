"""Wallet-signed registry transactions relayed through the oracle's outbox."""

from eth_account import Account
from eth_utils.crypto import keccak

from market.db.models import OrganisationKind
from market.transactions import unsigned_call
from oracle.outbox.models import MessageStatus
from tests.market.api.platform_world import Actor, PlatformWorld


def _register_asset_tx(world: PlatformWorld, actor: Actor, node_id: int = 0) -> dict[str, object]:
    asset = Account.create().address
    args = (asset, keccak(text="meter"), 10_000, 0, 1, node_id)
    tx = unsigned_call(world.platform, actor.address, "GridRegistry", "registerAsset", args)
    return {k: v for k, v in tx.items() if k != "from"}


def _node_tx(world: PlatformWorld, dso: Actor, node_id: int, parent: int) -> dict[str, object]:
    tx = unsigned_call(
        world.platform, dso.address, "GridRegistry", "registerNode", (node_id, parent, dso.address)
    )
    return {k: v for k, v in tx.items() if k != "from"}


def _relay(world: PlatformWorld, actor: Actor, tx: dict[str, object]) -> dict[str, str]:
    raw = actor.wallet.sign_transaction(tx)
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
    )
    assert response.status_code == 202, response.text
    relayed: dict[str, str] = response.json()
    return relayed


def _status(world: PlatformWorld, actor: Actor, tx_hash: str) -> str:
    response = world.client.get(f"/api/v1/transactions/{tx_hash}", headers=actor.headers)
    status: str = response.json()["status"]
    return status


def test_a_wallet_signed_registration_lands_on_chain(world: PlatformWorld) -> None:
    dso = world.onboard(OrganisationKind.DSO, "DSO Relay")
    first = _relay(world, dso, _node_tx(world, dso, 9_001, 0))
    second = _relay(world, dso, _node_tx(world, dso, 9_002, 9_001))  # nonce counts the first
    world.settle()
    assert _status(world, dso, first["tx_hash"]) == MessageStatus.CONFIRMED
    assert _status(world, dso, second["tx_hash"]) == MessageStatus.CONFIRMED
    suite = world.platform.oracle.suite
    assert suite.read("GridRegistry", "isAtOrBelow", 9_002, 9_001)


def test_a_call_the_contract_refuses_is_rejected_with_its_error(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "FSP Relay")
    relayed = _relay(world, fsp, _node_tx(world, fsp, 9_100, 0))  # only system operators may
    world.settle()
    response = world.client.get(
        f"/api/v1/transactions/{relayed['tx_hash']}", headers=fsp.headers
    ).json()
    assert response["status"] == MessageStatus.REJECTED
    assert "NotSystemOperator" in response["error"] and fsp.address in response["error"]


def test_wallets_without_a_participant_role_relay_nothing(world: PlatformWorld) -> None:
    stranger = world.new_actor()
    raw = stranger.wallet.sign_transaction(_register_asset_tx(world, stranger))
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=stranger.headers
    )
    assert response.status_code == 403
    assert world.platform.oracle.store.count_by_status().get("pending", 0) == 0


def test_someone_elses_transaction_is_refused(world: PlatformWorld) -> None:
    signer, caller = world.new_actor(), world.onboard(OrganisationKind.FSP, "FSP Caller")
    raw = signer.wallet.sign_transaction(_register_asset_tx(world, signer))
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=caller.headers
    )
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "raw_transaction"]


def test_only_registry_functions_may_be_relayed(world: PlatformWorld) -> None:
    actor = world.onboard(OrganisationKind.FSP, "FSP Foreign")
    tx = _register_asset_tx(world, actor)
    tx["to"] = world.platform.oracle.suite.manifest.address_of("FlexSettlement")
    raw = actor.wallet.sign_transaction(tx)
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
    )
    assert response.status_code == 422
    assert world.platform.oracle.store.count_by_status().get("pending", 0) == 0


def test_garbage_is_refused_naming_the_field(world: PlatformWorld) -> None:
    actor = world.onboard(OrganisationKind.FSP, "FSP Garbage")
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": "0x02abcdef"}, headers=actor.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "raw_transaction"]
