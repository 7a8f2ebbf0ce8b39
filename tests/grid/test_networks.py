import sys
from pathlib import Path

import pandapower as pp
import pytest

from grid import (
    NETWORKS,
    GridError,
    NetworkImportError,
    UnknownNetworkError,
    load_cim,
    load_network,
    load_network_file,
)

# Reference sizes of pandapower's networks (bus, line, trafo, load, sgen counts).
SIZES = {
    "cigre-lv": (44, 37, 3, 15, 0),
    "cigre-lv-pv": (44, 37, 3, 15, 14),
    "cigre-mv": (15, 15, 2, 18, 9),
    "kerber-landnetz-kabel-1": (18, 16, 1, 8, 0),
    "kerber-extrem-landnetz-kabel": (54, 52, 1, 26, 0),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_catalogue_network_loads_with_its_reference_size(name: str) -> None:
    net = load_network(name)

    sizes = (len(net.bus), len(net.line), len(net.trafo), len(net.load), len(net.sgen))
    assert sizes == SIZES[name]
    assert net.name == name


def test_rooftop_pv_is_sized_from_the_loads_it_sits_with() -> None:
    net = load_network("cigre-lv-pv")

    pv = net.sgen.set_index("bus").p_mw
    loads = net.load.set_index("bus").p_mw
    assert set(net.sgen.type) == {"PV"}
    assert pv[2] == pytest.approx(1.5 * loads[2])  # Load R1 at bus 2
    assert 22 not in pv.index  # the industrial load gets none


def test_each_call_builds_a_fresh_network() -> None:
    first = load_network("cigre-lv")
    first.load.loc[0, "p_mw"] = 99.0

    assert load_network("cigre-lv").load.at[0, "p_mw"] != 99.0


def test_an_unknown_name_lists_the_catalogue() -> None:
    with pytest.raises(UnknownNetworkError, match=r"name: unknown network 'ieee-13'") as caught:
        load_network("ieee-13")

    assert all(name in str(caught.value) for name in NETWORKS)
    assert isinstance(caught.value, GridError) and isinstance(caught.value, ValueError)


def test_a_saved_network_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "grid.json"
    pp.to_json(load_network("kerber-landnetz-kabel-1"), str(path))

    net = load_network_file(path)

    assert len(net.bus) == 18 and len(net.load) == 8


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NetworkImportError, match=r"path: no such file .*missing.json"):
        load_network_file(tmp_path / "missing.json")


def test_a_file_that_is_not_a_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"hello": "world"}')

    with pytest.raises(NetworkImportError, match=r"notes.json"):
        load_network_file(path)


def test_cim_import_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(NetworkImportError, match=r"paths: no such file.*EQ.xml"):
        load_cim([tmp_path / "EQ.xml"])


def test_cim_import_needs_at_least_one_file() -> None:
    with pytest.raises(NetworkImportError, match=r"paths: give at least one"):
        load_cim([])


def test_cim_import_without_the_converter_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "EQ.xml"
    path.write_text("<rdf:RDF/>")
    # None in sys.modules makes the import fail, as it does when lxml is missing.
    monkeypatch.setitem(sys.modules, "pandapower.converter.cim.cim2pp.from_cim", None)

    with pytest.raises(NetworkImportError, match=r"pandapower\[converter\]"):
        load_cim(path)


def test_a_file_that_is_not_cgmes_is_refused(tmp_path: Path) -> None:
    # With lxml installed the converter rejects the file; without it the import is refused.
    # pandapower 3.5.6 ships no CGMES example, and lxml is not a dependency (yet).
    path = tmp_path / "EQ.xml"
    path.write_text("this is not XML")

    with pytest.raises(NetworkImportError, match=r"paths: "):
        load_cim(path)
