"""A running platform for API tests: embedded chain, deployed contracts, the API in process.

Plain functions and one dataclass; the fixtures in conftest.py decide the scope.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from flexledger.participants import open_participants
from flexledger.platform_wiring import PLATFORM_ACCOUNTS, build_platform, gas_faucet
from flexledger.settings import Settings
from flexledger.wiring import keystore
from market.api import create_app
from market.db.models import OrganisationKind
from market.platform import Platform
from market.wallet import Wallet
from oracle.chain import ChainConnection, connect
from oracle.deploy import deploy_suite

COMPANY = {
    "legal_name": "Example GmbH",
    "registration_number": "HRB 12345",
    "country": "DE",
    "email": "ops@example.org",
}


@dataclass
class Actor:
    """A wallet with a session, and its organisation once registered."""

    wallet: Wallet
    headers: dict[str, str]
    organisation_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.wallet.address


@dataclass
class PlatformWorld:
    settings: Settings
    connection: ChainConnection
    platform: Platform
    client: TestClient
    operator: Actor

    def close(self) -> None:
        self.client.close()
        self.platform.close()
        self.connection.close()

    def settle(self) -> None:
        report, _ = self.platform.settle()
        assert not report.errors, report.errors

    def sign_in(self, wallet: Wallet) -> Actor:
        return Actor(wallet, sign_in(self.client, wallet))

    def new_actor(self) -> Actor:
        return self.sign_in(Wallet.create(self.platform.chain_id))

    def onboard(
        self, kind: OrganisationKind, name: str, *, licence_area_nodes: list[int] | None = None
    ) -> Actor:
        """Register, approve and confirm on chain: an active organisation with its role."""
        actor = self.new_actor()
        body: dict[str, Any] = {"kind": kind.value, "company": {"name": name, **COMPANY}}
        if licence_area_nodes is not None:
            body["licence_area_nodes"] = licence_area_nodes
        response = self.client.post("/api/v1/organisations", json=body, headers=actor.headers)
        assert response.status_code == 201, response.text
        actor.organisation_id = response.json()["id"]
        approved = self.client.post(
            f"/api/v1/organisations/{actor.organisation_id}/approve",
            headers=self.operator.headers,
        )
        assert approved.status_code == 200, approved.text
        self.settle()
        return actor


def sign_in(client: TestClient, wallet: Wallet) -> dict[str, str]:
    challenge = client.get("/api/v1/auth/nonce").json()
    message, signature = wallet.sign_in_message(
        challenge["domain"], challenge["uri"], challenge["nonce"], statement="Sign in to flexledger"
    )
    response = client.post(
        "/api/v1/auth/sign-in", json={"message": message, "signature": signature}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def start(data_dir: Path, **settings: Any) -> PlatformWorld:
    # The tests' webhook receivers listen on 127.0.0.1: allowed here explicitly.
    settings = {"webhook_allow_loopback": True, **settings}
    settings_ = Settings(data_dir=data_dir, keystore_scrypt_n=1024, **settings)
    connection = connect(settings_)
    signers = open_participants(
        keystore(settings_), settings_.keystore_password, connection.chain_id, PLATFORM_ACCOUNTS
    )
    operator, oracle = signers["market-operator"], signers["oracle"]
    fund = gas_faucet(connection)
    assert fund is not None
    fund(operator.address)
    fund(oracle.address)
    manifest = deploy_suite(connection, operator.account)
    manifest.write(settings_.resolved_manifest_path)
    platform = build_platform(settings_, connection, manifest, operator, oracle)
    client = TestClient(create_app(platform, fund=fund), base_url=settings_.resolved_public_url)
    operator_wallet = Wallet(operator.private_key, platform.chain_id)
    return PlatformWorld(
        settings_,
        connection,
        platform,
        client,
        Actor(operator_wallet, sign_in(client, operator_wallet)),
    )
