"""The committed artifacts are what the pinned compiler makes from the committed sources."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from contracts import ARTIFACTS_DIR, CONTRACT_NAMES, Artifact, load_artifact
from contracts import build as contract_build
from oracle.errors import ArtifactError

# Opcodes that London (Energy Web Chain, Volta) does not have.
FORBIDDEN_OPCODES = {0x5F: "PUSH0", 0x5E: "MCOPY", 0x5C: "TLOAD", 0x5D: "TSTORE"}
PUSH1, PUSH32 = 0x60, 0x7F


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _toolchain_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (contract_build.SOLC_DIR / "node_modules" / "solc").is_dir():
        return "contracts/solc/node_modules is missing (run npm ci there)"
    return None


def strip_metadata(code: bytes) -> bytes:
    """The code without its trailing CBOR metadata (whose length is in the last two bytes)."""
    length = int.from_bytes(code[-2:], "big")
    return code[: -(length + 2)]


def opcodes(code: bytes) -> list[int]:
    """The opcodes of ``code``, skipping the immediate data of PUSH1..PUSH32."""
    ops, pc = [], 0
    while pc < len(code):
        op = code[pc]
        ops.append(op)
        pc += 1 + (op - PUSH1 + 1 if PUSH1 <= op <= PUSH32 else 0)
    return ops


def test_opcode_parser_skips_push_data() -> None:
    # PUSH2 0x5f5f, then PUSH0: only the last 0x5f is an opcode.
    assert opcodes(bytes([0x61, 0x5F, 0x5F, 0x5F])) == [0x61, 0x5F]
    assert opcodes(bytes([0x7F]) + b"\x5e" * 32 + b"\x00") == [0x7F, 0x00]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_has_no_post_london_opcodes(name: str) -> None:
    artifact = load_artifact(name)
    for field in (artifact.bytecode, artifact.deployed_bytecode):
        code = strip_metadata(bytes.fromhex(field[2:]))
        found = {FORBIDDEN_OPCODES[op] for op in opcodes(code) if op in FORBIDDEN_OPCODES}
        assert not found, f"{name} uses {sorted(found)}"


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_says_how_it_was_made(name: str) -> None:
    data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    assert data["compilerVersion"].startswith("0.8.28+commit.7893614a")
    assert data["evmVersion"] == "london"
    assert data["optimizer"]["enabled"] is True
    assert data["sourceName"] == f"src/{name}.sol"
    # Our own sources can be checked without Node: a stale artifact fails here.
    for unit, digest in data["sources"].items():
        if unit.startswith("src/"):
            text = (contract_build.CONTRACTS_DIR / unit).read_bytes()
            assert hashlib.sha256(text).hexdigest() == digest, f"{name}: {unit} changed"


def test_every_source_contract_has_an_artifact() -> None:
    assert {p.stem for p in ARTIFACTS_DIR.glob("*.json")} == set(CONTRACT_NAMES)


def test_load_artifact_returns_typed_artifact() -> None:
    artifact = load_artifact("FlexMarket")
    assert isinstance(artifact, Artifact)
    assert artifact.bytecode.startswith("0x") and len(artifact.deployed_bytecode) > 1000
    assert artifact.evm_version == "london"
    assert len(artifact.source_hash) == 64
    assert any(entry.get("name") == "placeOrder" for entry in artifact.abi)


def test_load_artifact_missing_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no artifact for contract 'Nope'.*FlexMarket"):
        load_artifact("Nope")
    (tmp_path / "Broken.json").write_text('{"abi": []}')
    with pytest.raises(ArtifactError, match="lacks bytecode"):
        load_artifact("Broken", tmp_path)
    (tmp_path / "Garbled.json").write_text("{")
    with pytest.raises(ArtifactError, match="cannot be read"):
        load_artifact("Garbled", tmp_path)


def test_import_resolution_follows_solidity_rules() -> None:
    resolve = contract_build._resolve_import
    assert resolve("src/FlexMarket.sol", "./interfaces/IFlexMarket.sol") == (
        "src/interfaces/IFlexMarket.sol"
    )
    oz = "solc/node_modules/@openzeppelin/contracts/utils/cryptography/ECDSA.sol"
    assert resolve("src/A.sol", "@openzeppelin/contracts/utils/cryptography/ECDSA.sol") == oz
    assert resolve(oz, "../math/Math.sol") == (
        "solc/node_modules/@openzeppelin/contracts/utils/math/Math.sol"
    )
    source = (
        '// import "x.sol";\n/* import "y.sol"; */\nimport {A} from "./a.sol";\nstring s = "//";'
    )
    stripped = contract_build._strip_comments(source)
    assert contract_build._IMPORT.findall(stripped) == ["./a.sol"]


def test_rebuild_from_source_equals_committed_artifacts() -> None:
    missing = _toolchain_missing()
    if missing and not _in_ci():
        pytest.skip(f"cannot rebuild here: {missing}")
    assert missing is None, f"CI must be able to rebuild the contracts: {missing}"
    assert contract_build.check() == []
