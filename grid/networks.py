"""Where a DSO's grid model comes from: pandapower's reference grids, a pandapower JSON file,
or a CIM/CGMES file set.

The catalogue holds pandapower's own networks (``pandapower.networks``); every call returns a
fresh copy, so callers may change theirs freely.
"""

import copy
import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import pandapower as pp
import pandapower.networks as pn
from pandapower.auxiliary import pandapowerNet

from grid.errors import NetworkImportError, UnknownNetworkError

NETWORKS: dict[str, str] = {
    "cigre-lv": (
        "CIGRE European LV benchmark: 20 kV feed, three 0.4 kV feeders (residential, "
        "industrial, commercial), 44 buses, schematic coordinates"
    ),
    "cigre-lv-pv": (
        "cigre-lv with rooftop PV at every residential and commercial load bus, 1.5 kWp per "
        "kW of the load's peak (type 'PV')"
    ),
    "cigre-mv": (
        "CIGRE European MV benchmark with PV and wind: 110 kV feed, two 20 kV feeders with "
        "open ring switches, 15 buses, schematic coordinates"
    ),
    "kerber-landnetz-kabel-1": (
        "Kerber rural LV cable grid 1: 10 kV feed, 0.1 MVA substation, 8 households on "
        "two branches, 18 buses, no coordinates"
    ),
    "kerber-extrem-landnetz-kabel": (
        "Kerber 'extreme' rural LV cable grid: 10 kV feed, 0.25 MVA substation, 26 households "
        "on one long feeder, 54 buses, no coordinates"
    ),
}

_PV_KWP_PER_KW = 1.5  # rooftop PV sized well above the load: midday feed-in dominates

_BUILDERS: dict[str, Callable[[], pandapowerNet]] = {
    "cigre-lv": pn.create_cigre_network_lv,
    "cigre-lv-pv": lambda: _with_rooftop_pv(pn.create_cigre_network_lv()),
    "cigre-mv": lambda: pn.create_cigre_network_mv(with_der="pv_wind"),
    "kerber-landnetz-kabel-1": pn.create_kerber_landnetz_kabel_1,
    "kerber-extrem-landnetz-kabel": pn.kb_extrem_landnetz_kabel,
}


def load_network(name: str) -> pandapowerNet:
    """A fresh copy of the catalogue network ``name`` (see ``NETWORKS``)."""
    if name not in _BUILDERS:
        allowed = ", ".join(sorted(NETWORKS))
        raise UnknownNetworkError("name", f"unknown network {name!r}; use one of: {allowed}")
    return copy.deepcopy(_built(name))


@functools.cache
def _built(name: str) -> pandapowerNet:
    """Each network is built once per process (pandapower takes about half a second); callers
    get deep copies, so they may change theirs freely."""
    net = _BUILDERS[name]()
    net.name = name
    return net


def _with_rooftop_pv(net: pandapowerNet) -> pandapowerNet:
    """Adds PV (``_PV_KWP_PER_KW`` kWp per kW of load peak) at residential and commercial
    loads, the CIGRE ``Load R…``/``Load C…`` ones."""
    for _, load in net.load.iterrows():
        if str(load["name"]).startswith(("Load R", "Load C")):
            name = f"PV {str(load['name']).removeprefix('Load ')}"
            pp.create_sgen(net, load.bus, p_mw=_PV_KWP_PER_KW * load.p_mw, type="PV", name=name)
    return net


SIMBENCH_PREFIX = "simbench:"


def open_network(source: str) -> pandapowerNet:
    """The network a user names: a catalogue name (``NETWORKS``), ``simbench:<code>`` (a
    SimBench grid, e.g. ``simbench:1-LV-rural1--0-sw``, profiles attached), or the path of a
    pandapower JSON file."""
    if source in _BUILDERS:
        return load_network(source)
    if source.startswith(SIMBENCH_PREFIX):
        return load_simbench(source.removeprefix(SIMBENCH_PREFIX))
    if source.endswith(".json"):
        return load_network_file(source)
    allowed = ", ".join(sorted(NETWORKS))
    raise UnknownNetworkError(
        "network",
        f"unknown network {source!r}; use one of {allowed}, simbench:<code> or a .json file",
    )


def load_simbench(code: str) -> pandapowerNet:
    """A fresh copy of the SimBench grid ``code`` with its year of 15-minute profiles
    (``net.profiles``); codes as ``simbench.collect_all_simbench_codes()`` lists them."""
    return copy.deepcopy(_simbench(code))


@functools.cache
def _simbench(code: str) -> pandapowerNet:
    import simbench  # late: reading its CSV files takes seconds

    if code not in simbench.collect_all_simbench_codes():
        raise UnknownNetworkError(
            "network", f"unknown SimBench code {code!r}; e.g. 1-LV-rural1--0-sw, 1-MV-urban--0-sw"
        )
    net = simbench.get_simbench_net(code)
    net.name = SIMBENCH_PREFIX + code
    return net


def load_network_file(path: str | Path) -> pandapowerNet:
    """A network saved with ``pandapower.to_json``."""
    file = Path(path)
    # pandapower.from_json would read a missing path as JSON text and fail obscurely.
    if not file.is_file():
        raise NetworkImportError(f"path: no such file {str(file)!r}")
    try:
        net = pp.from_json(str(file))
    except Exception as error:  # the JSON reader raises many kinds; all mean "unreadable"
        raise NetworkImportError(
            f"path: {str(file)!r} is not a pandapower JSON network ({error})"
        ) from error
    return _checked(net, str(file))


def load_cim(
    paths: str | Path | Sequence[str | Path], cgmes_version: str = "2.4.15"
) -> pandapowerNet:
    """A network converted from CIM/CGMES XML (or zipped) files by pandapower's cim2pp.

    ``cgmes_version`` is one of "2.4.15", "3.0" or "LTDS" (pandapower's names). The
    converter needs the ``lxml`` package (pandapower's ``converter`` extra).
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise NetworkImportError("paths: give at least one CIM/CGMES file")
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        raise NetworkImportError(f"paths: no such file(s): {', '.join(missing)}")
    from_cim = _cim_converter()
    try:
        net = from_cim(
            file_list=[str(file) for file in files],
            cgmes_version=cgmes_version,
            ignore_errors=False,
        )
    except Exception as error:  # cim2pp raises whatever its parsers raise; wrap them all
        raise NetworkImportError(
            f"paths: the CIM/CGMES files could not be converted ({error})"
        ) from error
    return _checked(net, ", ".join(str(file) for file in files))


def cim_available() -> bool:
    """Whether CIM/CGMES import works here (pandapower's converter needs ``lxml``)."""
    try:
        _cim_converter()
    except NetworkImportError:
        return False
    return True


def _cim_converter() -> Callable[..., pandapowerNet]:
    """pandapower's CIM importer, imported late: it needs lxml, which is optional."""
    try:
        from pandapower.converter.cim.cim2pp.from_cim import from_cim
    except ImportError as error:
        raise NetworkImportError(
            f"paths: CIM/CGMES import needs pandapower's converter extra ({error}); "
            "install it with `pip install 'pandapower[converter]'`"
        ) from error
    return from_cim  # type: ignore[no-any-return]


def _checked(net: object, source: str) -> pandapowerNet:
    if not isinstance(net, pandapowerNet) or len(net.bus) == 0:
        raise NetworkImportError(f"path: {source!r} holds no pandapower network with buses")
    return net
