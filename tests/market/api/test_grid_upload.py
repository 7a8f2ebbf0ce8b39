"""POST /grid/import with hostile pandapower JSON and CIM: refused with our own message,
never a server error, never a file's content or a foreign module import."""

import json
import sys
from pathlib import Path
from typing import Any

import pandapower as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grid.networks import load_network
from market.db.models import OrganisationKind
from tests.market.api.platform_world import Actor, PlatformWorld

PROBE_MODULE = "tabnanny"  # a standard module nothing here imports
SECRET = "TOPSECRET-7f3a"


@pytest.fixture(scope="module")
def dso(world: PlatformWorld) -> Actor:
    return world.onboard(OrganisationKind.DSO, "Upload DSO")


def upload(world: PlatformWorld, dso: Actor, text: str, **fields: Any) -> Any:
    body = {"pandapower_json": text, "node_id_offset": 50_000, **fields}
    return world.client.post("/api/v1/grid/import", json=body, headers=dso.headers)


def kerber() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(pp.to_json(load_network("kerber-landnetz-kabel-1")))
    return document


def bus_split(document: dict[str, Any]) -> dict[str, Any]:
    split: dict[str, Any] = json.loads(document["_object"]["bus"]["_object"])
    return split


def assert_refused(response: Any, field: list[str]) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][: len(field) + 1] == ["body", *field]


def test_a_table_naming_a_server_file_is_refused_and_nothing_is_read(
    world: PlatformWorld, dso: Actor, tmp_path: Path
) -> None:
    document = kerber()
    split = bus_split(document)
    split["data"][0][split["columns"].index("name")] = SECRET
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(split))
    document["_object"]["bus"]["_object"] = str(secret)
    response = upload(world, dso, json.dumps(document))
    assert_refused(response, ["pandapower_json", "bus", "_object"])
    assert SECRET not in response.text and str(tmp_path) not in response.text


def test_a_module_outside_pandapower_is_never_imported(world: PlatformWorld, dso: Actor) -> None:
    assert PROBE_MODULE not in sys.modules
    document = kerber()
    split = bus_split(document)
    probe = {"_module": PROBE_MODULE, "_class": "Probe", "_object": "{}"}
    split["data"][0][split["columns"].index("name")] = probe
    document["_object"]["bus"]["_object"] = " " + json.dumps(split)
    response = upload(world, dso, json.dumps(document))
    assert_refused(response, ["pandapower_json", "bus", "name[0]"])
    assert PROBE_MODULE not in sys.modules and PROBE_MODULE not in response.text


def test_parser_text_is_never_echoed_for_cim(world: PlatformWorld, dso: Actor) -> None:
    body = {"cim": {"files": [{"name": "EQ.xml", "content": f"<rdf:RDF>{SECRET}</nope>"}]}}
    response = world.client.post("/api/v1/grid/import", json=body, headers=dso.headers)
    assert_refused(response, ["cim", "files"])
    assert SECRET not in response.text and "flexledger-cim-" not in response.text


def hostile_strings(world: PlatformWorld) -> list[str]:
    keystores = sorted(str(path) for path in world.settings.keystore_dir.glob("*"))
    return [
        "/etc/passwd",
        "/etc/passwd.json",
        "file:///etc/passwd",
        "../../../etc/passwd",
        str(world.settings.keystore_dir),
        *keystores[:2],
        "http://169.254.169.254/latest/meta-data",
        '{"_module": "subprocess", "_class": "Popen", "_object": "id"}',
    ]


def json_values(hostile: list[str]) -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=6)
        | st.sampled_from(hostile)
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=6,
    )


def mutations(hostile: list[str]) -> st.SearchStrategy[str]:
    values = json_values(hostile)
    base = kerber()

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        document = json.loads(json.dumps(base))
        name = draw(st.sampled_from(["bus", "ext_grid", "line", "trafo", "switch", "load"]))
        where = draw(st.sampled_from(["cell", "string", "wrapper", "table"]))
        if where in ("cell", "string"):
            split = json.loads(document["_object"][name]["_object"])
            value = draw(values if where == "cell" else st.sampled_from(hostile))
            if split["data"]:
                row = draw(st.integers(0, len(split["data"]) - 1))
                split["data"][row][draw(st.integers(0, len(split["columns"]) - 1))] = value
            document["_object"][name]["_object"] = json.dumps(split)
        elif where == "wrapper":
            key = draw(st.sampled_from(["_module", "_class", "_object", "orient", "dtype"]))
            document["_object"][name][key] = draw(values)
        else:
            document["_object"][name] = draw(values)
        return json.dumps(document)

    return mutated() | values.map(json.dumps)


def test_fuzz_the_import_endpoint(world: PlatformWorld, dso: Actor) -> None:
    hostile = hostile_strings(world)
    secrets = ["root:x:", "ciphertext", "kdfparams"]

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(text=mutations(hostile))
    def check(text: str) -> None:
        response = upload(world, dso, text)
        assert response.status_code in (201, 409, 422), response.text
        assert not any(secret in response.text for secret in secrets), response.text
        if response.status_code == 422:
            detail = response.json()["detail"][0]
            assert detail["loc"][:2] == ["body", "pandapower_json"], response.text
            assert not any(path in detail["msg"] for path in hostile), response.text

    check()
