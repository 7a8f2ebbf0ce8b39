"""The strict reader of uploaded pandapower JSON: what it accepts, what it refuses and how."""

import json
import sys
from pathlib import Path
from typing import Any

import pandapower as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grid.networks import load_network
from grid.topology import node_tree
from market.errors import MarketValueError
from market.pandapower_upload import MAX_JSON_DEPTH, read_pandapower_json

PROBE_MODULE = "tabnanny"  # a standard module nothing here imports


def network_document(name: str = "kerber-landnetz-kabel-1") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(pp.to_json(load_network(name)))
    return document


def table(document: dict[str, Any], name: str) -> dict[str, Any]:
    split: dict[str, Any] = json.loads(document["_object"][name]["_object"])
    return split


def with_table(document: dict[str, Any], name: str, split: dict[str, Any]) -> str:
    document["_object"][name]["_object"] = json.dumps(split)
    return json.dumps(document)


def refusal(text: str) -> MarketValueError:
    with pytest.raises(MarketValueError) as refused:
        read_pandapower_json(text)
    return refused.value


@pytest.mark.parametrize("name", ["cigre-lv", "cigre-mv", "kerber-landnetz-kabel-1"])
def test_a_network_written_by_pandapower_reads_to_the_same_tree(name: str) -> None:
    net = load_network(name)
    ours = read_pandapower_json(pp.to_json(net))
    assert node_tree(ours) == node_tree(net) and ours.name == name


def test_a_table_that_names_a_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    bus = table(network_document(), "bus")
    bus["data"][0][bus["columns"].index("name")] = "TOPSECRET-42"
    secret.write_text(json.dumps(bus))
    document = network_document()
    document["_object"]["bus"]["_object"] = str(secret)
    error = refusal(json.dumps(document))
    assert error.field == "pandapower_json.bus._object"
    assert "TOPSECRET" not in str(error) and str(tmp_path) not in str(error)


def test_foreign_modules_in_a_table_are_never_imported() -> None:
    assert PROBE_MODULE not in sys.modules
    document = network_document()
    bus = table(document, "bus")
    probe = {"_module": PROBE_MODULE, "_class": "Probe", "_object": "{}"}
    bus["data"][0][bus["columns"].index("name")] = probe
    document["_object"]["bus"]["_object"] = " " + json.dumps(bus)  # slipped past the old check
    error = refusal(json.dumps(document))
    assert error.field == "pandapower_json.bus.name[0]"
    assert PROBE_MODULE not in sys.modules and PROBE_MODULE not in str(error)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(_module="os"), "pandapower_json"),
        (lambda d: d.update(_class="function"), "pandapower_json"),
        (lambda d: d["_object"]["bus"].update(_module="builtins"), "pandapower_json.bus"),
        (lambda d: d["_object"]["bus"].update(compression="gzip"), "pandapower_json.bus"),
        (lambda d: d["_object"]["bus"].update(orient="columns"), "pandapower_json.bus.orient"),
        (
            lambda d: d["_object"]["bus"].update(is_multiindex=True),
            "pandapower_json.bus.is_multiindex",
        ),
        (lambda d: d["_object"].pop("ext_grid"), "pandapower_json.ext_grid"),
        (lambda d: d["_object"].update(name="/etc/passwd"), "pandapower_json.name"),
    ],
)
def test_anything_but_the_exact_structure_is_refused(change: Any, field: str) -> None:
    document = network_document()
    change(document)
    assert refusal(json.dumps(document)).field == field


def _set(name: str, column: str, row: int, value: object) -> tuple[str, str]:
    document = network_document()
    split = table(document, name)
    split["data"][row][split["columns"].index(column)] = value
    return with_table(document, name, split), f"pandapower_json.{name}.{column}[{row}]"


@pytest.mark.parametrize(
    ("name", "column", "row", "value"),
    [
        ("bus", "vn_kv", 3, -0.4),
        ("bus", "vn_kv", 3, "0.4"),
        ("bus", "vn_kv", 3, 5000.0),
        ("bus", "in_service", 1, "yes"),
        ("bus", "name", 2, "/etc/passwd"),
        ("bus", "name", 2, "file:///etc/passwd"),
        ("bus", "name", 2, "http://169.254.169.254/"),
        ("bus", "name", 2, "..\\..\\keystore"),
        ("bus", "name", 2, "x" * 500),
        ("bus", "geo", 0, '{"type": "Point", "coordinates": [1e9, 0]}'),
        ("bus", "geo", 0, '{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}'),
        ("bus", "geo", 0, "/etc/passwd"),
        ("line", "from_bus", 0, 999),
        ("line", "to_bus", 0, -1),
        ("line", "to_bus", 0, 2**40),
        ("ext_grid", "bus", 0, 12345),
        ("trafo", "lv_bus", 0, True),
    ],
)
def test_a_bad_value_is_refused_naming_its_table_column_and_row(
    name: str, column: str, row: int, value: object
) -> None:
    text, field = _set(name, column, row, value)
    error = refusal(text)
    assert error.field == field
    assert repr(value)[:20] not in error.message


def test_nan_infinity_and_deep_nesting_are_refused() -> None:
    document = network_document()
    bus = table(document, "bus")
    text = with_table(document, "bus", bus).replace("0.4", "NaN", 1)
    assert refusal(text).field.startswith("pandapower_json")
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert "deeper" in refusal(deep).message
    assert "arrays and objects" in refusal("[" * 200_000).message
    assert "arrays and objects" in refusal("[" + "[]," * 60_000 + "1]").message
    in_a_string = refusal('["\\"' + "[" * 100 + '"]')  # brackets after an escaped quote
    assert in_a_string.field == "pandapower_json" and "deeper" not in in_a_string.message


def test_a_switch_must_name_an_element_of_its_kind() -> None:
    document = network_document("cigre-mv")
    switch = table(document, "switch")
    switch["data"][0][switch["columns"].index("element")] = 4000
    error = refusal(with_table(document, "switch", switch))
    assert error.field == "pandapower_json.switch.element[0]"


HOSTILE_STRINGS = st.sampled_from(
    [
        "/etc/passwd",
        "/etc/passwd.json",
        "file:///etc/passwd",
        "../../../../etc/passwd",
        "C:\\Windows\\win.ini",
        "~/.ssh/id_rsa",
        "http://127.0.0.1:8000/",
        '{"_module": "os", "_class": "system", "_object": "id"}',
        " {}",
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | HOSTILE_STRINGS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
TABLES = ["bus", "ext_grid", "line", "trafo", "switch"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid network with one value, wrapper field or table text replaced."""
    document = network_document()
    name = draw(st.sampled_from(TABLES))
    where = draw(st.sampled_from(["cell", "wrapper", "table", "top"]))
    value = draw(JSON_VALUES)
    if where == "cell":
        split = table(document, name)
        if split["data"]:
            row = draw(st.integers(0, len(split["data"]) - 1))
            split["data"][row][draw(st.integers(0, len(split["columns"]) - 1))] = value
        return with_table(document, name, split)
    if where == "wrapper":
        document["_object"][name][
            draw(st.sampled_from(["_module", "_class", "orient", "dtype", "x"]))
        ] = value
    elif where == "table":
        document["_object"][name] = value
    else:
        document[draw(st.sampled_from(["_module", "_class", "_object"]))] = value
    return json.dumps(document)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated() | JSON_VALUES.map(json.dumps))
def test_fuzz_the_reader_refuses_with_a_field_or_reads_a_network(text: str) -> None:
    try:
        net = read_pandapower_json(text)
    except MarketValueError as error:
        assert error.field.startswith("pandapower_json")
        assert "root:" not in error.message and "Traceback" not in error.message
    else:
        assert len(net.bus) > 0
