"""flexledger's Solidity contracts and their committed build artifacts.

``load_artifact("FlexMarket")`` reads ``contracts/artifacts/FlexMarket.json``; no Node.js or
compiler is needed for that. Rebuilding the artifacts does need them: see ``contracts.build``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.errors import ArtifactError

__all__ = ["ARTIFACTS_DIR", "CONTRACT_NAMES", "Artifact", "load_artifact"]

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"

CONTRACT_NAMES: tuple[str, ...] = (
    "DIDRegistry",
    "RoleRegistry",
    "GridRegistry",
    "FlexMarket",
    "FlexSettlement",
    "BaselineRegistry",
)

_REQUIRED = ("abi", "bytecode", "deployedBytecode", "compilerVersion", "evmVersion", "sourceHash")


@dataclass(frozen=True, slots=True)
class Artifact:
    """A compiled contract: ABI, creation and runtime bytecode (0x-hex) and how it was made."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    evm_version: str
    source_hash: str
    immutable_ranges: tuple[tuple[int, int], ...] = ()


def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """The artifact of contract ``name``; raises ArtifactError if missing or unreadable."""
    path = (directory or ARTIFACTS_DIR) / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.json"))) or "none"
        raise ArtifactError(
            f"no artifact for contract {name!r} at {path} (known: {known}); "
            "rebuild with `python -m contracts.build`"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"artifact {path} cannot be read: {exc}") from exc
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ArtifactError(f"artifact {path} lacks {', '.join(missing)}; rebuild it")
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compilerVersion"],
        evm_version=data["evmVersion"],
        immutable_ranges=tuple(
            (int(start), int(length)) for start, length in data.get("immutableReferences", [])
        ),
        source_hash=data["sourceHash"],
    )
