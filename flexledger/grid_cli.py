"""``flexledger grid …``: the grid services for system operators, one verb each.

Every verb reads a network (``--network``: a catalogue name, ``simbench:<code>`` or a
pandapower JSON file) and its inputs from files, runs one service of :mod:`grid` and prints
its :class:`grid.results.ResultTable` as a table, or as JSON with ``--json``. The verbs live
in :mod:`flexledger.grid_commands`, one module per service, and register on ``grid_app``.
"""

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flexledger.errors import FlexledgerError
from grid.results import ResultTable

grid_app = typer.Typer(help="Grid services for system operators (DSO/TSO).")

NETWORK_HELP = "A catalogue network (e.g. cigre-mv), simbench:<code>, or a pandapower .json file."
NetworkOption = Annotated[str, typer.Option("--network", "-n", help=NETWORK_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
MAX_PRINTED_ROWS = 200  # a terminal table; --json always has every row

console = Console()
errors = Console(stderr=True)


def fail(error: Exception, code: int = 1) -> typer.Exit:
    """A one-line error for the user, and the exit code to leave with."""
    errors.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
    return typer.Exit(code)


def show(table: ResultTable[Any], as_json: bool) -> None:
    """Print ``table``: JSON on stdout, or its key figures and rows as rich tables."""
    if as_json:
        sys.stdout.write(json.dumps(table.to_json_dict(), indent=2, allow_nan=False) + "\n")
        return
    if table.key_figures:
        figures = Table("key figure", "value", title=f"{table.service}: {table.title}")
        for name, value in table.key_figures.items():
            unit = table.units.get(name, "")
            figures.add_row(name, f"{_cell(value)} {unit}".strip())
        console.print(figures)
    rows = Table(*[_heading(column, table.units) for column in table.columns])
    for record in table.records()[:MAX_PRINTED_ROWS]:
        rows.add_row(*[_cell(value) for value in record.values()])
    console.print(rows)
    if len(table.rows) > MAX_PRINTED_ROWS:
        console.print(f"… {len(table.rows) - MAX_PRINTED_ROWS} more rows (use --json for all)")


def run_service(call: Any, as_json: bool) -> None:
    """Run ``call()`` (returning a ResultTable) and show it; domain errors exit 1."""
    try:
        table = call()
    except FlexledgerError as error:
        raise fail(error) from None
    show(table, as_json)


def _heading(column: str, units: Any) -> str:
    unit = units.get(column)
    return f"{column} [{unit}]" if unit else column


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape("" if value is None else str(value))


def _register_commands() -> None:
    # Imported for their @grid_app.command decorators; each module is one service.
    from flexledger.grid_commands import (  # noqa: F401
        ageing,
        congestion,
        day,
        estimate,
        forecast,
        publications,
        ratings,
    )


_register_commands()
