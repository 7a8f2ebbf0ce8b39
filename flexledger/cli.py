"""The ``flexledger`` command line: verb groups and noun commands.

Failures exit non-zero with a message a user can act on; the audit exits 0 when clean,
1 on mismatches and 2 when it cannot run.
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flexledger.errors import FlexledgerError
from flexledger.grid_cli import grid_app
from flexledger.settings import get_settings

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

app = typer.Typer(help="flexledger: a blockchain-backed local flexibility marketplace.")
chain_app = typer.Typer(help="Deploy and inspect the contracts on a chain.")
oracle_app = typer.Typer(help="Run the oracle: outbox dispatcher and event indexer.")
identity_app = typer.Typer(help="Participants' keystores and DIDs.")
app.add_typer(chain_app, name="chain")
app.add_typer(oracle_app, name="oracle")
app.add_typer(identity_app, name="identity")
app.add_typer(grid_app, name="grid")

console = Console()
errors = Console(stderr=True)


def _fail(error: Exception, code: int = 1) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)  # one line
    return typer.Exit(code)


FUNDER_KEYSTORE_HELP = (
    "V3 keystore of a funded account (unlocked with FLEXLEDGER_KEYSTORE_PASSWORD) that first "
    "sends the market operator and the oracle their gas money; or set FLEXLEDGER_FUNDER_KEY."
)
FunderKeystore = Annotated[
    Path | None, typer.Option(exists=True, dir_okay=False, help=FUNDER_KEYSTORE_HELP)
]


def _funder(keystore_path: Path | None) -> "LocalAccount | None":
    from flexledger import wiring

    try:
        return wiring.funder_account(get_settings(), keystore_path)
    except FlexledgerError as error:
        raise _fail(error, code=2) from None


def _fail_deploy(error: FlexledgerError) -> typer.Exit:
    """Exit 2 (cannot run) when an account lacks gas money, 1 otherwise."""
    from oracle.deploy import InsufficientFundsError

    return _fail(error, code=2 if isinstance(error, InsufficientFundsError) else 1)


@chain_app.command("deploy")
def chain_deploy(
    force: Annotated[bool, typer.Option(help="Deploy again even if a manifest exists.")] = False,
    funder_keystore: FunderKeystore = None,
) -> None:
    """Deploy the six contracts and write the deployment manifest."""
    from flexledger import wiring
    from oracle.deploy import ether

    settings = get_settings()
    funder = _funder(funder_keystore)
    try:
        deployment = wiring.deploy(settings, force=force, funder=funder)
    except FlexledgerError as error:
        raise _fail_deploy(error) from None
    manifest = deployment.manifest
    table = Table("contract", "address", "block", "holds", title=f"chain {manifest.chain_id}")
    blocks = {name: str(c.deploy_block) for name, c in manifest.contracts.items()}
    for name, address, what in manifest.describe():
        table.add_row(name, address, blocks.get(name, ""), what)
    console.print(table)
    accounts = Table("account", "address", "balance", "funded now")
    for what, address, balance in deployment.accounts:
        sent = deployment.funded.get(address)
        accounts.add_row(what, address, ether(balance), ether(sent) if sent else "")
    console.print(accounts)
    console.print(f"manifest written to {settings.resolved_manifest_path}")


@chain_app.command("info")
def chain_info() -> None:
    """Show the chain the settings point at and the deployment on it."""
    from flexledger import wiring

    try:
        info = wiring.chain_info(get_settings())
    except FlexledgerError as error:
        raise _fail(error) from None
    console.print_json(json.dumps(info))


@identity_app.command("new")
def identity_new(
    name: Annotated[str, typer.Argument(help="Participant name, e.g. dso-north.")],
) -> None:
    """Create an encrypted keystore for a participant and print its DID."""
    from flexledger import wiring

    try:
        did = wiring.new_identity(get_settings(), name)
    except FlexledgerError as error:
        raise _fail(error) from None
    console.print(did)


@oracle_app.command("run")
def oracle_run(
    once: Annotated[bool, typer.Option(help="Drain the outbox once, then exit.")] = False,
) -> None:
    """Dispatch outbox messages and index events until interrupted."""
    from flexledger import wiring

    try:
        wiring.run_oracle(get_settings(), once=once, console=console)
    except FlexledgerError as error:
        raise _fail(error) from None


@oracle_app.command("status")
def oracle_status() -> None:
    """Count outbox messages by status."""
    from flexledger import wiring

    try:
        counts = wiring.outbox_status(get_settings())
    except FlexledgerError as error:
        raise _fail(error) from None
    console.print_json(json.dumps(counts))


@app.command("audit")
def audit(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of any node of the chain.")] = None,
    manifest: Annotated[Path | None, typer.Option(help="Deployment manifest (JSON).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the JSON report here too.")] = None,
) -> None:
    """Recompute every settlement from chain logs alone and report mismatches."""
    from flexledger import wiring

    try:
        report = wiring.run_audit(get_settings(), rpc_url=rpc, manifest_path=manifest)
    except FlexledgerError as error:
        raise _fail(error, code=2) from None
    text = json.dumps(report.to_dict(), indent=2, sort_keys=True)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    raise typer.Exit(0 if report.clean else 1)


@app.command("serve")
def serve(
    access_log: Annotated[
        bool, typer.Option(help="Log every request (uvicorn's access log).")
    ] = True,
) -> None:
    """Serve the REST API (FLEXLEDGER_API_HOST/PORT) with the oracle pumping behind it."""
    from flexledger.platform_wiring import gas_faucet, open_platform
    from flexledger.server import serve as serve_api

    settings = get_settings()
    try:
        warning = settings.api_bind_warning()  # refuses the dev secret beyond loopback
        if warning is not None:
            console.print(f"[bold red]{warning}[/bold red]")
        with open_platform(settings) as (platform, connection):
            console.print(
                f"flexledger API on {settings.resolved_public_url}/api/v1/docs "
                f"(chain {platform.chain_id}, database {settings.resolved_database_url})"
            )
            serve_api(
                platform,
                settings.api_host,
                settings.api_port,
                settings.poll_interval_s,
                gas_faucet(connection),
                access_log=access_log,
                threads=settings.api_threads,
            )
    except FlexledgerError as error:
        raise _fail(error) from None


@app.command("demo")
def demo(
    network: Annotated[str, typer.Option(help="pandapower network of the DSO.")] = "cigre-lv",
    homes: Annotated[int, typer.Option(min=1, max=2000, help="Homes per FSP.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of profiles, fleets and noise.")] = 7,
    report: Annotated[Path | None, typer.Option(help="Where to write the HTML report.")] = None,
) -> None:
    """A full market day through the REST API on the embedded chain, audited at the end."""
    from flexledger import demo as demo_module

    settings = get_settings()
    if settings.data_dir == Path("var"):  # keep the demo's chain apart from `serve`'s
        settings = settings.model_copy(update={"data_dir": Path("var/demo")})
    config = demo_module.DemoConfig(
        network=network, homes_per_fsp=homes, seed=seed, report_path=report
    )
    try:
        result = demo_module.run(settings, config, console=console)
    except FlexledgerError as error:
        raise _fail(error) from None
    raise typer.Exit(0 if result.audit_clean else 1)


@app.command("scenario")
def scenario(
    fresh: Annotated[bool, typer.Option(help="Start from an empty embedded chain.")] = False,
    funder_keystore: FunderKeystore = None,
) -> None:
    """Run the end-to-end chain scenario: deploy, register, trade, settle, audit.

    On a JSON-RPC dev node (Hardhat, FLEXLEDGER_CHAIN=rpc) the funder pays every
    participant's gas money and the node's evm_increaseTime moves the clock.
    """
    from flexledger import scenario as scenario_module

    funder = _funder(funder_keystore)
    funder_key = None if funder is None else bytes(funder.key)
    try:
        result = scenario_module.run(
            get_settings(), fresh=fresh, console=console, funder_key=funder_key
        )
    except FlexledgerError as error:
        raise _fail_deploy(error) from None
    raise typer.Exit(0 if result.audit_clean else 1)


if __name__ == "__main__":  # pragma: no cover
    app()
