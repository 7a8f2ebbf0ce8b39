"""The end-to-end chain scenario, the README's main job until the market platform lands.

On one chain (the embedded one by default) it runs a small market day through the trust
layer only: deploy; issue role credentials (W3C VCs) and anchor their hashes; publish a
grid; register assets; sign buy and sell orders (EIP-712); commit them (one by a wallet
directly, the rest in a Merkle batch); record trades; attest metering (one FSP
under-delivers, one settlement is disputed and resolved); finalise; index; audit.
Every chain write after deployment goes through the oracle outbox.
"""

import shutil
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from flexledger import wiring
from flexledger.devtools import DevControls, controls_for
from flexledger.participants import SCENARIO_PARTICIPANTS, account_book, open_participants
from flexledger.scenario_market import MarketDay
from flexledger.settings import ChainKind, Settings
from oracle.audit import Auditor, AuditReport
from oracle.chain import ChainConnection, connect
from oracle.deploy import balance_wei, deploy_suite
from oracle.identity import Keystore, Signer

ETHER = 10**18


@dataclass
class ScenarioResult:
    audit: AuditReport
    trades: int
    settlements: list[dict[str, int]] = field(default_factory=list)

    @property
    def audit_clean(self) -> bool:
        return self.audit.clean


def run(
    settings: Settings,
    *,
    fresh: bool = False,
    console: Console | None = None,
    funder_key: bytes | None = None,
) -> ScenarioResult:
    """Run the scenario on the chain the settings name; returns the audit and outcome."""
    console = console or Console(quiet=True)
    if fresh:
        _wipe(settings)
    with connect(settings) as connection:
        return _run_on(settings, connection, console, funder_key)


def _run_on(
    settings: Settings, connection: ChainConnection, console: Console, funder_key: bytes | None
) -> ScenarioResult:
    controls = controls_for(connection, funder_key)
    signers = _participants(settings, connection, controls, console)
    manifest = deploy_suite(connection, signers["market-operator"].account)
    manifest.write(settings.resolved_manifest_path)
    console.print(f"[green]deployed[/] the six contracts on chain {connection.chain_id}")
    oracle = wiring.oracle_service(settings, connection, manifest, account_book(signers))
    day = MarketDay(oracle, signers, controls, console)
    try:
        outcome = day.run()
        oracle.index()
    finally:
        oracle.close()
    audit = Auditor(connection.w3, manifest).run()
    _print_summary(console, outcome, audit)
    return ScenarioResult(audit=audit, trades=len(outcome), settlements=outcome)


def _participants(
    settings: Settings, connection: ChainConnection, controls: DevControls, console: Console
) -> dict[str, Signer]:
    keystore = Keystore(settings.keystore_dir, scrypt_n=settings.keystore_scrypt_n)
    signers = open_participants(
        keystore, settings.keystore_password, connection.chain_id, SCENARIO_PARTICIPANTS
    )
    for signer in signers.values():
        if balance_wei(connection, signer.address) < ETHER:
            controls.fund(signer.address, 10 * ETHER)
    console.print(f"[green]opened[/] {len(signers)} participant keystores in {keystore.directory}")
    return signers


def _wipe(settings: Settings) -> None:
    if settings.chain is ChainKind.EMBEDDED and settings.embedded_chain_path.exists():
        settings.embedded_chain_path.unlink()
        for suffix in ("-wal", "-shm"):
            settings.embedded_chain_path.with_name(
                settings.embedded_chain_path.name + suffix
            ).unlink(missing_ok=True)
    database = settings.data_dir / "flexledger.db"
    for path in (
        database,
        database.with_name("flexledger.db-wal"),
        settings.resolved_manifest_path,
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(settings.keystore_dir, ignore_errors=True)


def _print_summary(console: Console, outcome: list[dict[str, int]], audit: AuditReport) -> None:
    table = Table(
        "trade",
        "seller",
        "kW",
        "EUR/MWh",
        "traded kWh",
        "delivered kWh",
        "pay EUR",
        "penalty EUR",
        title="Settlements on chain",
    )
    for row in outcome:
        table.add_row(
            str(row["trade_id"]),
            str(row["seller"]),
            f"{row['power_w'] / 1000:.1f}",
            f"{row['price_cents_per_mwh'] / 100:.2f}",
            f"{row['traded_wh'] / 1000:.2f}",
            f"{row['delivered_wh'] / 1000:.2f}",
            f"{row['payment_cents'] / 100:.2f}",
            f"{row['penalty_cents'] / 100:.2f}",
        )
    console.print(table)
    verdict = (
        "[bold green]clean[/]"
        if audit.clean
        else f"[bold red]{len(audit.mismatches)} mismatches[/]"
    )
    console.print(
        f"audit from chain logs: {audit.trades} trades, {audit.settlements} settlements, "
        f"{audit.orders_verified} order signatures verified in {audit.duration_s:.2f} s: {verdict}"
    )
    for mismatch in audit.mismatches:
        console.print(
            f"  [red]{mismatch.subject}[/]: {mismatch.check}: "
            f"expected {mismatch.expected}, got {mismatch.actual}"
        )
