"""A pandapower network uploaded as JSON, read by a strict schema of our own.

pandapower's own reader (``from_json_string``) is not safe for untrusted input: it imports
any module a document names, hands table options straight to ``pandas.read_json`` (which
reads a path-like ``_object`` from the server's disk) and its errors quote what it read. So
an upload is never given to it. Instead the text is read with :func:`json.loads` and only
the exact structure ``pandapower.to_json`` (3.x) writes is accepted::

    {"_module": "pandapower.auxiliary", "_class": "pandapowerNet",
     "_object": {"bus": {"_module": "pandas.core.frame", "_class": "DataFrame",
                         "_object": "<JSON text, orient split>", "orient": "split",
                         "dtype": {...}, "is_multiindex": false, "is_multicolumn": false},
                 ..., "name": "..."}}

Only the tables and columns the node tree needs are read (``TABLES``), each value checked
for its type and range, every bus reference checked against the bus table, and the
:class:`pandapowerNet` is built from DataFrames of the checked values. Other tables and
columns are ignored unread. Errors name the field (``pandapower_json.bus.vn_kv[3]``, the
row position in brackets) with our own message; no parser's text is ever passed on.
"""

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from market.errors import MarketValueError

FIELD = "pandapower_json"
NET_TYPE = ("pandapower.auxiliary", "pandapowerNet")
FRAME_TYPE = ("pandas.core.frame", "DataFrame")
FRAME_KEYS = frozenset(
    {"_module", "_class", "_object", "orient", "dtype", "is_multiindex", "is_multicolumn"}
)
SPLIT_KEYS = frozenset({"columns", "index", "data"})
MAX_JSON_DEPTH = 64  # to_json nests 4 levels (plus a table's own 3): far below any limit
MAX_ROWS = 50_000  # per table; an import publishes at most 10,000 nodes
MAX_CONTAINERS = MAX_ROWS + 1_000  # per parse: a table's rows, or the file's tables
MAX_INDEX = 2**32 - 2  # node id = bus index + 1 must fit in uint32
MAX_TEXT_CHARS = 200  # names; longer ones are no label anyone reads
MAX_GEO_CHARS = 400  # a GeoJSON Point with three coordinates is well under this
MAX_COORDINATE = 1e6  # as market.grid_sources: schematic layouts exceed degrees
MAX_VOLTAGE_KV = 1200.0
SWITCH_KINDS = {"b": "bus", "l": "line", "t": "trafo", "t3": "trafo3w"}
# Anything a file system or URL reader could act on: absolute or home paths, parent steps,
# Windows drives and UNC shares, URL schemes, NUL.
PATH_LIKE = re.compile(r"^\s*(?:[/\\~]|[A-Za-z]:[/\\])|\.\.[/\\]|^[A-Za-z][A-Za-z0-9+.-]*:|\x00")


class _Invalid(Exception):
    """A value that fails its column's check; the caller adds where it was."""


Check = Callable[[object], object]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    check: Check
    dtype: str  # of the DataFrame column we build
    required: bool = True
    default: object = None


def _integer(value: object, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(f"must be a whole number from {low} to {high}")
    return value


def _index(value: object) -> object:
    return _integer(value, 0, MAX_INDEX)


def _voltage_kv(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("must be a number of kV")
    if not (math.isfinite(value) and 0 < value <= MAX_VOLTAGE_KV):
        raise _Invalid(f"must be above 0 and at most {MAX_VOLTAGE_KV:g} kV")
    return float(value)


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _text(value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise _Invalid(f"must be text of at most {MAX_TEXT_CHARS} characters")
    _plain(value)
    return value


def _plain(value: str) -> None:
    if PATH_LIKE.search(value) or any(ord(char) < 32 for char in value):
        raise _Invalid("must be a plain label, not a path, URL or control characters")


def _switch_kind(value: object) -> object:
    if value not in SWITCH_KINDS:
        raise _Invalid(f"must be one of {', '.join(SWITCH_KINDS)}")
    return value


def _geo(value: object) -> object:
    """A GeoJSON Point as pandapower 3 keeps it (a string), rewritten canonically."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_GEO_CHARS:
        raise _Invalid(f"must be a GeoJSON Point of at most {MAX_GEO_CHARS} characters")
    try:
        shape = json.loads(value, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise _Invalid("must be a GeoJSON Point") from None
    if not isinstance(shape, dict) or set(shape) != {"type", "coordinates"}:
        raise _Invalid('must be {"type": "Point", "coordinates": [x, y]}')
    if shape["type"] != "Point":
        raise _Invalid('must be {"type": "Point", "coordinates": [x, y]}')
    return json.dumps({"type": "Point", "coordinates": _position(shape["coordinates"])})


def _position(coordinates: object) -> list[float]:
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise _Invalid("coordinates must be [x, y] or [x, y, z]")
    for value in coordinates:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid("coordinates must be numbers")
        if not (math.isfinite(value) and abs(value) <= MAX_COORDINATE):
            raise _Invalid(f"coordinates must be finite and within ±{MAX_COORDINATE:g}")
    return [float(value) for value in coordinates]


def _bus(name: str) -> Column:
    return Column(name, _index, "int64")


IN_SERVICE = Column("in_service", _flag, "bool")
TABLES: dict[str, tuple[Column, ...]] = {
    "bus": (
        Column("vn_kv", _voltage_kv, "float64"),
        IN_SERVICE,
        Column("name", _text, "object", required=False),
        Column("geo", _geo, "object", required=False),
    ),
    "ext_grid": (_bus("bus"), IN_SERVICE),
    "line": (_bus("from_bus"), _bus("to_bus"), IN_SERVICE),
    "trafo": (_bus("hv_bus"), _bus("lv_bus"), IN_SERVICE),
    "trafo3w": (_bus("hv_bus"), _bus("mv_bus"), _bus("lv_bus"), IN_SERVICE),
    "impedance": (_bus("from_bus"), _bus("to_bus"), IN_SERVICE),
    "switch": (
        _bus("bus"),
        Column("element", _index, "int64"),
        Column("et", _switch_kind, "object"),
        Column("closed", _flag, "bool"),
    ),
}
REQUIRED_TABLES = ("bus", "ext_grid")
BUS_COLUMNS = {
    "ext_grid": ("bus",),
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus"),
    "impedance": ("from_bus", "to_bus"),
    "switch": ("bus",),
}


@dataclass(frozen=True, slots=True)
class Table:
    index: list[int]
    columns: dict[str, list[object]]


def read_pandapower_json(text: str) -> pandapowerNet:
    """The network of an uploaded ``pandapower.to_json`` text, checked value by value."""
    document = _loads(text, FIELD)
    tables_doc = _net_object(document)
    tables = {name: _table(tables_doc, name) for name in TABLES}
    _check_references(tables)
    return _network(tables, _network_name(tables_doc))


def _no_constant(name: str) -> object:
    raise ValueError(name)  # NaN and Infinity are not JSON; pandas writes null for NaN


def _loads(text: str, field: str) -> Any:
    """``json.loads`` after a nesting check (deep nesting would exhaust the C stack)."""
    _check_depth(text, field)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MarketValueError(field, "is not valid JSON (NaN and Infinity are not JSON)") from None


def _check_depth(text: str, field: str) -> None:
    """Refuse deep nesting and more containers than any table needs, before parsing.

    Vectorised over the UTF-8 bytes (multi-byte characters never contain ASCII bytes):
    quotes not escaped by an odd run of backslashes open and close strings, and only
    brackets outside strings count. A 16 MB text takes a fraction of a second.
    """
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if raw.size == 0:
        return
    outside = _outside_strings(raw)
    opens = outside & ((raw == ord("[")) | (raw == ord("{")))
    closes = outside & ((raw == ord("]")) | (raw == ord("}")))
    if int(opens.sum()) > MAX_CONTAINERS:
        raise MarketValueError(field, f"holds more than {MAX_CONTAINERS} arrays and objects")
    depth = np.cumsum(opens.astype(np.int8) - closes.astype(np.int8), dtype=np.int32)
    if int(depth.max()) > MAX_JSON_DEPTH:
        raise MarketValueError(field, f"nests deeper than {MAX_JSON_DEPTH} levels")


def _outside_strings(
    raw: np.ndarray[Any, np.dtype[np.uint8]],
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which bytes lie outside JSON strings (the quotes themselves count as inside)."""
    positions = np.arange(raw.size, dtype=np.int32)  # 16 MB fits; int32 halves memory
    backslash = raw == ord("\\")
    last_other = np.maximum.accumulate(np.where(backslash, np.int32(-1), positions))
    run_before = np.zeros(raw.size, dtype=np.int32)
    run_before[1:] = positions[:-1] - last_other[:-1]  # backslashes just before each byte
    quote = (raw == ord('"')) & (run_before % 2 == 0)
    inside = np.cumsum(quote, dtype=np.int32) % 2 == 1
    outside: np.ndarray[Any, np.dtype[np.bool_]] = ~(inside | quote)
    return outside


def _net_object(document: object) -> dict[str, Any]:
    expected = f"a {NET_TYPE[0]}.{NET_TYPE[1]} as pandapower.to_json writes it"
    if not isinstance(document, dict) or set(document) != {"_module", "_class", "_object"}:
        raise MarketValueError(FIELD, f"must be {expected}")
    if (document["_module"], document["_class"]) != NET_TYPE:
        raise MarketValueError(FIELD, f"must be {expected} (only that type is read)")
    tables = document["_object"]
    if not isinstance(tables, dict):
        raise MarketValueError(f"{FIELD}._object", "must be an object of tables")
    return tables


def _network_name(tables: dict[str, Any]) -> str:
    name = tables.get("name")
    try:
        checked = _text(name) if isinstance(name, str) else None
    except _Invalid as error:
        raise MarketValueError(f"{FIELD}.name", str(error)) from None
    return checked if isinstance(checked, str) else ""


def _table(tables: dict[str, Any], name: str) -> Table:
    field = f"{FIELD}.{name}"
    frame = tables.get(name)
    if frame is None:
        if name in REQUIRED_TABLES:
            raise MarketValueError(field, f"is missing; a network needs a {name} table")
        return Table([], {column.name: [] for column in TABLES[name]})
    split = _split(_frame_text(frame, field), field)
    return _checked_table(split, TABLES[name], field)


def _frame_text(frame: object, field: str) -> str:
    if not isinstance(frame, dict) or not set(frame) <= FRAME_KEYS:
        raise MarketValueError(field, "must be a pandas DataFrame as pandapower.to_json writes it")
    if (frame.get("_module"), frame.get("_class")) != FRAME_TYPE:
        raise MarketValueError(field, f"must be a {FRAME_TYPE[0]}.{FRAME_TYPE[1]}")
    if frame.get("orient") != "split":
        raise MarketValueError(f"{field}.orient", 'must be "split"')
    if frame.get("is_multiindex", False) is not False:
        raise MarketValueError(f"{field}.is_multiindex", "must be false")
    if frame.get("is_multicolumn", False) is not False:
        raise MarketValueError(f"{field}.is_multicolumn", "must be false")
    dtype = frame.get("dtype", {})
    if not isinstance(dtype, dict) or not all(isinstance(v, str) for v in dtype.values()):
        raise MarketValueError(f"{field}.dtype", "must map column names to type names")
    text = frame.get("_object")
    if not isinstance(text, str):
        raise MarketValueError(f"{field}._object", "must be the table as JSON text")
    return text


def _split(text: str, field: str) -> dict[str, Any]:
    split = _loads(text, f"{field}._object")
    if not isinstance(split, dict) or set(split) != SPLIT_KEYS:
        raise MarketValueError(f"{field}._object", "must hold columns, index and data")
    columns, index, data = split["columns"], split["index"], split["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise MarketValueError(f"{field}.columns", "must be a list of column names")
    if len(set(columns)) != len(columns):
        raise MarketValueError(f"{field}.columns", "must not repeat a column")
    if not isinstance(index, list) or not isinstance(data, list) or len(index) != len(data):
        raise MarketValueError(f"{field}.index", "must list one index per data row")
    if len(index) > MAX_ROWS:
        raise MarketValueError(field, f"has {len(index)} rows; at most {MAX_ROWS}")
    return split


def _checked_table(split: dict[str, Any], columns: tuple[Column, ...], field: str) -> Table:
    names: list[str] = split["columns"]
    index = _checked_index(split["index"], field)
    rows: list[Any] = split["data"]
    for position, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise MarketValueError(f"{field}.data[{position}]", f"must hold {len(names)} values")
    return Table(index, {column.name: _values(column, names, rows, field) for column in columns})


def _checked_index(index: list[Any], field: str) -> list[int]:
    checked = [
        _at(_index, value, f"{field}.index[{position}]") for position, value in enumerate(index)
    ]
    if len(set(checked)) != len(checked):
        raise MarketValueError(f"{field}.index", "must not repeat an index")
    return [int(value) for value in checked]  # type: ignore[call-overload]


def _values(column: Column, names: list[str], rows: list[Any], field: str) -> list[object]:
    if column.name not in names:
        if column.required:
            raise MarketValueError(f"{field}.{column.name}", "is a required column")
        return [column.default] * len(rows)
    at = names.index(column.name)
    where = f"{field}.{column.name}"
    return [_at(column.check, row[at], f"{where}[{position}]") for position, row in enumerate(rows)]


def _at(check: Check, value: object, field: str) -> object:
    try:
        return check(value)
    except _Invalid as error:
        raise MarketValueError(field, str(error)) from None


def _check_references(tables: dict[str, Table]) -> None:
    """Every bus a branch, switch or feed names is in the bus table; so is a switch's element."""
    buses = set(tables["bus"].index)
    if not buses:
        raise MarketValueError(f"{FIELD}.bus", "holds no buses")
    for name, columns in BUS_COLUMNS.items():
        for column in columns:
            _check_in(tables[name].columns[column], buses, f"{FIELD}.{name}.{column}", "bus")
    switch = tables["switch"].columns
    indexes = {target: set(tables[target].index) for target in SWITCH_KINDS.values()}
    for position, (kind, element) in enumerate(zip(switch["et"], switch["element"], strict=True)):
        target = SWITCH_KINDS[str(kind)]
        if element not in indexes[target]:
            raise MarketValueError(
                f"{FIELD}.switch.element[{position}]", f"names no {target} of this network"
            )


def _check_in(values: Iterable[object], known: set[int], field: str, what: str) -> None:
    for position, value in enumerate(values):
        if value not in known:
            raise MarketValueError(f"{field}[{position}]", f"names no {what} of this network")


def _network(tables: dict[str, Table], name: str) -> pandapowerNet:
    net = pp.create_empty_network(name=name)
    for table_name, table in tables.items():
        net[table_name] = _frame(table, TABLES[table_name])
    return net


def _frame(table: Table, columns: tuple[Column, ...]) -> pd.DataFrame:
    data = {
        column.name: pd.Series(table.columns[column.name], dtype=column.dtype) for column in columns
    }
    frame = pd.DataFrame(data)
    frame.index = pd.Index(np.asarray(table.index, dtype=np.int64))
    return frame
