"""The one shape every grid service returns: typed rows and the key figures that sum them up.

A service computes a result object of its own (frames, arrays, whatever its callers need) and
offers ``table() -> ResultTable[Row]``: the rows a control room reads (one frozen dataclass per
row, so every column has a type), plus a handful of key figures (counts, worst values) that
fit on chain when the result is published. The CLI prints the rows, ``--json`` prints
:meth:`ResultTable.to_json_dict`, the REST API returns that dict, and the oracle hashes its
canonical JSON (:meth:`ResultTable.canonical_json`), so all three show the same numbers.
"""

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

import pandas as pd

from grid.errors import GridInputError

Row = TypeVar("Row")
KeyFigure = int | float | str | bool | None


@dataclass(frozen=True)
class ResultTable(Generic[Row]):
    """A service's result for people and machines.

    ``service`` names the service (e.g. ``"forecast"``), ``title`` says what the rows are,
    ``rows`` are frozen dataclass instances of one type, ``key_figures`` the summary numbers
    (plain scalars), and ``units`` maps column or key-figure names to their units.
    """

    service: str
    title: str
    rows: Sequence[Row]
    key_figures: Mapping[str, KeyFigure] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kinds = {type(row) for row in self.rows}
        if len(kinds) > 1:
            raise GridInputError("rows", f"rows must be of one type, got {sorted(map(str, kinds))}")
        for row in self.rows:
            if not dataclasses.is_dataclass(row):
                raise GridInputError("rows", f"rows must be dataclass instances, got {type(row)}")
        for name, value in self.key_figures.items():
            if not isinstance(value, int | float | str | bool) and value is not None:
                raise GridInputError(f"key_figures.{name}", "must be a plain scalar")

    @property
    def columns(self) -> list[str]:
        if not self.rows:
            return []
        return [f.name for f in dataclasses.fields(self.rows[0])]  # type: ignore[arg-type]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts of JSON-ready values (dates as ISO text, NaN as None)."""
        return [
            {name: _plain(value) for name, value in dataclasses.asdict(row).items()}  # type: ignore[call-overload]
            for row in self.rows
        ]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.records(), columns=self.columns)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "title": self.title,
            "columns": self.columns,
            "units": dict(self.units),
            "key_figures": {name: _plain(value) for name, value in self.key_figures.items()},
            "rows": self.records(),
        }

    def canonical_json(self) -> str:
        """Sorted keys, no spaces: the bytes a publication's hash is taken over."""
        return json.dumps(
            self.to_json_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False
        )


def _plain(value: Any) -> Any:
    """A JSON-ready value: NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item())
    return value
