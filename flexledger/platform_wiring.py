"""Builds the market platform from the settings: chain, contracts, oracle, database, API."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flexledger import wiring
from flexledger.participants import SCENARIO_PARTICIPANTS, open_participants
from flexledger.settings import ChainKind, Settings
from market.activation import dispatch_new_activations
from market.gates import MarketCatalogue
from market.intake import GroupCommitter
from market.platform import AuthConfig, Platform, RateLimit
from market.trade_failures import fail_rejected_trades
from market.webhooks import WebhookTargets
from oracle.chain import ChainConnection, connect
from oracle.deploy import deploy_suite
from oracle.errors import OracleError
from oracle.identity import Signer, credential_hash, issue_role_credential
from oracle.manifest import Manifest
from oracle.signers import AccountBook
from oracle.types import Address, Role, web3_address

ETHER = 10**18
PLATFORM_ACCOUNTS = SCENARIO_PARTICIPANTS[:2]  # the market operator and the oracle
ORACLE_CREDENTIAL_DAYS = 365


def chain_clock(connection: ChainConnection) -> Callable[[], int]:
    """Wall time on a real network; on a development chain, never behind its latest block
    (the demo moves the chain's clock forward to reach delivery and settlement)."""
    if connection.embedded is None and connection.kind is ChainKind.RPC:
        return lambda: int(time.time())
    embedded = connection.embedded
    if embedded is not None:
        return lambda: max(int(time.time()), embedded.latest_timestamp)

    def now() -> int:
        latest = int(connection.w3.eth.get_block("latest")["timestamp"])
        return max(int(time.time()), latest)

    return now


def build_platform(
    settings: Settings,
    connection: ChainConnection,
    manifest: Manifest,
    operator: Signer,
    oracle: Signer,
    *,
    clock: Callable[[], int] | None = None,
) -> Platform:
    book = AccountBook([operator.account, oracle.account])
    service = wiring.oracle_service(settings, connection, manifest, book)
    platform = Platform(
        engine=service.engine,
        oracle=service,
        operator=operator,
        oracle_address=oracle.address,
        auth=AuthConfig(
            domain=settings.resolved_public_url.split("://", 1)[-1].rstrip("/"),
            uri=settings.resolved_public_url,
            session_secret=settings.session_secret.encode(),
        ),
        markets=MarketCatalogue(),
        rate_limit=RateLimit(settings.rate_limit_per_s, settings.rate_limit_burst),
        clock=clock or chain_clock(connection),
        pricing=settings.pricing,
        webhook_targets=WebhookTargets(allow_loopback=settings.webhook_allow_loopback),
    )
    platform.after_sync.append(fail_rejected_trades)
    platform.after_sync.append(dispatch_new_activations)
    grant_oracle_role(platform, oracle)
    if settings.intake_group_commit:
        platform.intake = GroupCommitter(
            platform.engine,
            max_group=settings.intake_max_group,
            linger_s=settings.intake_linger_s,
        ).start()
    return platform


def grant_oracle_role(platform: Platform, oracle: Signer) -> None:
    """The platform's oracle account needs the ORACLE role; the operator grants it once."""
    if platform.has_role(oracle.address, Role.ORACLE):
        return
    now = datetime.fromtimestamp(platform.now(), UTC)
    until = now + timedelta(days=ORACLE_CREDENTIAL_DAYS)
    registry = platform.oracle.suite.manifest.address_of("RoleRegistry")
    vc = issue_role_credential(
        platform.operator, oracle.did, Role.ORACLE, now, until, platform.chain_id, registry
    )
    platform.oracle.publish(
        "role.grant",
        {
            "identity": oracle.address,
            "role": int(Role.ORACLE),
            "credential_hash": "0x" + bytes(credential_hash(vc)).hex(),
            "valid_from": int(now.timestamp()),
            "valid_until": int(until.timestamp()),
        },
        sender=platform.operator_address,
        key=f"role:oracle:{oracle.address}",
    )
    report, _ = platform.settle()
    platform.oracle.view.forget()  # the cached "no" would refuse the oracle for a while
    if report.rejected_messages or report.errors:
        raise OracleError(f"granting the oracle role failed: {report.errors}")


def gas_faucet(connection: ChainConnection) -> Callable[[Address], None] | None:
    """On the embedded development chain, approved wallets get gas money; elsewhere none."""
    if connection.embedded is None:
        return None
    chain = connection.dev_chain

    def fund(address: Address) -> None:
        if connection.w3.eth.get_balance(web3_address(address)) < ETHER:
            chain.fund(address, 10 * ETHER)

    return fund


@contextmanager
def open_platform(settings: Settings) -> Iterator[tuple[Platform, ChainConnection]]:
    """Connect, deploy the contracts if this embedded chain has none yet, build the platform."""
    with connect(settings) as connection:
        signers = open_participants(
            wiring.keystore(settings),
            settings.keystore_password,
            connection.chain_id,
            PLATFORM_ACCOUNTS,
        )
        operator, oracle = signers["market-operator"], signers["oracle"]
        fund = gas_faucet(connection)
        if fund is not None:
            fund(operator.address)
            fund(oracle.address)
        manifest = _manifest(settings, connection, operator)
        platform = build_platform(settings, connection, manifest, operator, oracle)
        try:
            yield platform, connection
        finally:
            platform.close()


def _manifest(settings: Settings, connection: ChainConnection, operator: Signer) -> Manifest:
    path = settings.resolved_manifest_path
    if path.exists():
        manifest = Manifest.read(path)
        manifest.check_chain(connection.chain_id)
        return manifest
    if connection.embedded is None:
        raise OracleError(f"{path} does not exist; run `flexledger chain deploy` first")
    manifest = deploy_suite(connection, operator.account)
    manifest.write(path)
    return manifest
