"""A deployed flexledger world for oracle tests: chain, contracts, participants, oracle.

Plain functions (no fixtures hidden here): tests decide the chain and the database.
"""

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from flexledger.settings import Settings
from flexledger.wiring import oracle_service
from oracle.chain import ChainConnection, connect
from oracle.deploy import deploy_suite
from oracle.manifest import Manifest
from oracle.service import OracleService
from oracle.signers import AccountBook
from oracle.types import Role

ETHER = 10**18
TEST_KEYS = {  # fixed keys so a subprocess can rebuild the same world
    "operator": "0x" + "11" * 32,
    "oracle": "0x" + "22" * 32,
    "dso": "0x" + "33" * 32,
    "fsp": "0x" + "44" * 32,
}


@dataclass
class World:
    settings: Settings
    connection: ChainConnection
    manifest: Manifest
    accounts: dict[str, LocalAccount]
    oracle: OracleService

    def close(self) -> None:
        self.oracle.close()
        self.connection.close()


def accounts() -> dict[str, LocalAccount]:
    return {name: Account.from_key(key) for name, key in TEST_KEYS.items()}


def world_settings(data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, keystore_scrypt_n=1024, **extra)  # type: ignore[arg-type]


def open_world(settings: Settings) -> World:
    """Reopen a world whose manifest exists under the settings' data directory."""
    connection = connect(settings)
    manifest = Manifest.read(settings.resolved_manifest_path)
    book = AccountBook(accounts().values())
    return World(
        settings,
        connection,
        manifest,
        accounts(),
        oracle_service(settings, connection, manifest, book),
    )


def new_world(settings: Settings) -> World:
    """Deploy on the settings' (embedded) chain and grant the oracle and DSO roles."""
    connection = connect(settings)
    named = accounts()
    for account in named.values():
        connection.dev_chain.fund(account.address, 10 * ETHER)
    manifest = deploy_suite(connection, named["operator"])
    manifest.write(settings.resolved_manifest_path)
    world = World(
        settings,
        connection,
        manifest,
        named,
        oracle_service(settings, connection, manifest, AccountBook(named.values())),
    )
    for name, role in (("oracle", Role.ORACLE), ("dso", Role.DSO), ("fsp", Role.FSP)):
        grant_role(world, named[name].address, role, key=f"setup-{name}")
    report = world.oracle.drain()
    assert report.confirmed_messages == 3, report
    return world


def grant_role(
    world: World, identity: str, role: Role, *, key: str, now: int | None = None
) -> None:
    if now is None:
        now = int(world.connection.w3.eth.get_block("latest")["timestamp"])
    payload = {
        "identity": identity,
        "role": int(role),
        "credential_hash": "0x" + "ab" * 32,
        "valid_from": now - 60,
        "valid_until": now + 365 * 86400,
    }
    world.oracle.publish("role.grant", payload, sender=world.accounts["operator"].address, key=key)


def publish_nodes(world: World, node_ids: range, *, prefix: str = "node") -> None:
    dso = world.accounts["dso"].address
    for node_id in node_ids:
        world.oracle.publish(
            "grid.node",
            {"node_id": node_id, "parent_id": 0, "operator": dso},
            sender=dso,
            key=f"{prefix}-{node_id}",
        )


def events_named(world: World, contract: str, event: str) -> list[dict[str, object]]:
    logs = getattr(world.oracle.suite.contract(contract).events, event)().get_logs(
        from_block=world.manifest.first_block
    )
    return [dict(log["args"]) for log in logs]
