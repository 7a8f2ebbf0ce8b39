"""Builds the oracle's parts from the settings; the CLI's commands are thin calls here."""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console

from flexledger.errors import SettingsError
from flexledger.participants import SCENARIO_PARTICIPANTS, open_participants
from flexledger.settings import ChainKind, Settings
from oracle.audit import Auditor, AuditReport
from oracle.bindings import ContractSuite
from oracle.chain import ChainConnection, connect, connect_rpc
from oracle.db import make_engine
from oracle.deploy import balance_wei, deploy_suite, deployment_cost_wei, fund_accounts
from oracle.errors import AuditError, OracleError
from oracle.identity import Keystore
from oracle.manifest import Manifest
from oracle.outbox.dispatcher import DispatchPolicy
from oracle.outbox.store import OutboxStore
from oracle.payloads import builtin_registry
from oracle.service import OracleService
from oracle.signers import AccountBook
from oracle.types import Address
from oracle.views import CachedChainView

if TYPE_CHECKING:
    from market.platform import Platform
    from market.scheduler import SchedulerThread


def dispatch_policy(settings: Settings) -> DispatchPolicy:
    return DispatchPolicy(
        estimate_gas=settings.chain is not ChainKind.EMBEDDED,
        optimistic=settings.chain is ChainKind.EMBEDDED,
        confirmations=settings.confirmations,
        batch_size=settings.outbox_batch_size,
        max_attempts=settings.outbox_max_attempts,
        backoff_base_s=settings.outbox_backoff_base_s,
        backoff_max_s=settings.outbox_backoff_max_s,
    )


def oracle_service(
    settings: Settings, connection: ChainConnection, manifest: Manifest, signers: AccountBook
) -> OracleService:
    manifest.check_chain(connection.chain_id)
    service = OracleService(
        connection=connection,
        suite=ContractSuite(connection.w3, manifest),
        engine=make_engine(settings.resolved_database_url),
        signers=signers,
        policy=dispatch_policy(settings),
    )
    # Each cache miss is an eth_call that waits for the chain (50 ms on py-evm, behind any
    # block being mined): with a short TTL, 64 makers' role and owner answers expire every
    # few seconds and the misses alone saturate the chain. The sync flushes the cache on
    # every role grant or revocation it applies, and the contracts check roles again.
    service.view = CachedChainView(service.suite, ttl_s=settings.view_cache_ttl_s)
    return service


def keystore(settings: Settings) -> Keystore:
    return Keystore(settings.keystore_dir, scrypt_n=settings.keystore_scrypt_n)


@dataclass(frozen=True, slots=True)
class Deployment:
    manifest: Manifest
    accounts: list[tuple[str, Address, int]]  # (what it is, address, balance in wei)
    funded: dict[Address, int]  # wei the funder sent


def deploy(settings: Settings, *, force: bool, funder: LocalAccount | None = None) -> Deployment:
    """Deploy the suite with the market operator's key; a funder first tops the operator
    and the oracle up (the deployment's cost plus ``fund_wei``, and ``fund_wei``)."""
    path = settings.resolved_manifest_path
    if path.exists() and not force:
        raise SettingsError(f"{path} exists; pass --force to deploy a new set of contracts")
    with connect(settings) as connection:
        signers = open_participants(
            keystore(settings),
            settings.keystore_password,
            connection.chain_id,
            SCENARIO_PARTICIPANTS[:2],
        )
        operator, oracle = signers["market-operator"], signers["oracle"]
        if connection.embedded is not None and balance_wei(connection, operator.address) == 0:
            connection.dev_chain.fund(operator.address, 10 * 10**18)
        funded: dict[Address, int] = {}
        if funder is not None:
            targets = {
                operator.address: deployment_cost_wei(connection) + settings.fund_wei,
                oracle.address: settings.fund_wei,
            }
            funded = fund_accounts(connection, funder, targets)
        manifest = deploy_suite(connection, operator.account)
        accounts = [
            ("market operator (deployer, trust anchor)", operator.address),
            ("oracle (ORACLE role from the platform's start: commits, attests)", oracle.address),
        ]
        if funder is not None:
            accounts.append(("funder (paid the gas money)", Address(funder.address)))
        balances = [(what, a, balance_wei(connection, a)) for what, a in accounts]
    manifest.write(path)
    return Deployment(manifest, balances, funded)


def funder_account(settings: Settings, keystore_path: Path | None) -> LocalAccount | None:
    """The funder: a V3 keystore file (unlocked with FLEXLEDGER_KEYSTORE_PASSWORD) or
    FLEXLEDGER_FUNDER_KEY; None without either."""
    if keystore_path is not None:
        try:
            encrypted = json.loads(keystore_path.read_text(encoding="utf-8"))
            key = Account.decrypt(encrypted, settings.keystore_password)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SettingsError(
                f"--funder-keystore {keystore_path}: cannot open it with "
                f"FLEXLEDGER_KEYSTORE_PASSWORD ({type(error).__name__})"
            ) from None
        account: LocalAccount = Account.from_key(key)
        return account
    if settings.funder_key is None:
        return None
    try:
        account = Account.from_key(settings.funder_key.get_secret_value())
    except (ValueError, TypeError):
        raise SettingsError("FLEXLEDGER_FUNDER_KEY is not a 32-byte hex private key") from None
    return account


def chain_info(settings: Settings) -> dict[str, Any]:
    with connect(settings) as connection:
        info: dict[str, Any] = {
            "chain": settings.chain.value,
            "chain_id": connection.chain_id,
            "block": connection.w3.eth.block_number,
            "confirmations": connection.confirmations,
        }
    path = settings.resolved_manifest_path
    if path.exists():
        manifest = Manifest.read(path)
        info["contracts"] = {name: c.address for name, c in manifest.contracts.items()}
    return info


def new_identity(settings: Settings, name: str) -> str:
    store = keystore(settings)
    chain_id = settings.chain_id or 1337
    signer = store.create(name, settings.keystore_password, network=chain_id)
    return signer.did


def _open_oracle(settings: Settings, connection: ChainConnection) -> OracleService:
    manifest = Manifest.read(settings.resolved_manifest_path)
    store = keystore(settings)
    book = AccountBook(
        store.load(name, settings.keystore_password).account for name in store.names()
    )
    return oracle_service(settings, connection, manifest, book)


def run_oracle(settings: Settings, *, once: bool, console: Console) -> None:
    with connect(settings) as connection:
        oracle = _open_oracle(settings, connection)
        while True:
            report = oracle.dispatcher.run_once()
            indexed = oracle.index()
            if report.sent_transactions or report.confirmed_messages or indexed.events:
                console.print(
                    f"sent {report.sent_messages} messages in {report.sent_transactions} txs, "
                    f"confirmed {report.confirmed_messages}, indexed {indexed.events} events"
                )
            if once and report.idle:
                return
            time.sleep(settings.poll_interval_s * (8 if report.chain_unavailable else 1))


def start_scheduler(platform: "Platform", settings: Settings) -> "SchedulerThread | None":
    """The market scheduler next to the pump (``FLEXLEDGER_SCHEDULER``; None when off)."""
    from market.scheduler import Scheduler, SchedulerConfig, SchedulerThread

    if not settings.scheduler:
        return None
    config = SchedulerConfig(settings.metering_delay_s, settings.scheduler_interval_s)
    thread = SchedulerThread(Scheduler(platform, config), config.interval_s)
    thread.start()
    return thread


def outbox_status(settings: Settings) -> dict[str, int]:
    store = OutboxStore(make_engine(settings.resolved_database_url), builtin_registry())
    return store.count_by_status()


def run_audit(
    settings: Settings, *, rpc_url: str | None, manifest_path: Path | None
) -> AuditReport:
    try:
        manifest = Manifest.read(manifest_path or settings.resolved_manifest_path)
    except OracleError as error:
        raise AuditError(str(error)) from error
    if rpc_url is not None:
        w3 = connect_rpc(
            rpc_url, expected_chain_id=manifest.chain_id, timeout_s=settings.rpc_timeout_s
        )
        return Auditor(w3, manifest).run()
    with connect(settings) as connection:
        return Auditor(connection.w3, manifest).run()
