"""Build the contract artifacts in contracts/artifacts/ from contracts/src/*.sol.

Usage::

    (cd contracts/solc && npm ci)        # once: pinned solc 0.8.28 (solcjs) and OpenZeppelin 5.4.0
    python -m contracts.build            # rebuild contracts/artifacts/*.json
    python -m contracts.build --check    # rebuild in a temp dir; exit 1 if any byte differs

How it compiles: py-solc-x (``solcx.compile_standard``) drives ``contracts/solc/solc-wrapper``, a
small node script that makes the pinned solcjs look like a native solc binary. The standard-json
input carries every source by content: our ``src/**/*.sol`` and the OpenZeppelin files they
import, found by following import statements. Source unit names are paths relative to
``contracts/`` (``src/FlexMarket.sol``,
``solc/node_modules/@openzeppelin/contracts/utils/cryptography/ECDSA.sol``) with the remapping
``@openzeppelin/contracts/=solc/node_modules/@openzeppelin/contracts/``, so a native solc run in
``contracts/`` after ``npm ci`` resolves exactly the same files. Settings: evmVersion "london"
(Energy Web Chain and Volta have no PUSH0, MCOPY or transient storage), optimizer on
(10,000 runs), viaIR.

Each artifact ``<ContractName>.json`` holds: abi, bytecode, deployedBytecode,
immutableReferences ([start, length] byte ranges of the runtime code set by the
constructor), compilerVersion
(the compiler's full version string), evmVersion, optimizer, sourceName, sources (sha256 of every
source unit the contract was compiled from, as listed in its compiler metadata) and sourceHash.

``sourceHash`` is the sha256 (hex) of the exact source text of that contract's source units,
OpenZeppelin imports included: of the UTF-8 bytes of
``json.dumps({unit_name: source_text, ...}, sort_keys=True, separators=(",", ":"))``.
Files are written with sorted keys and two-space indentation, so a rebuild is byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent
SRC_DIR = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
SOLC_DIR = CONTRACTS_DIR / "solc"
SOLC_WRAPPER = SOLC_DIR / "solc-wrapper"

EVM_VERSION = "london"
OPTIMIZER = {"enabled": True, "runs": 10000}
VIA_IR = True
OZ_IMPORT_PREFIX = "@openzeppelin/contracts/"
OZ_UNIT_PREFIX = "solc/node_modules/@openzeppelin/contracts/"
REMAPPINGS = [f"{OZ_IMPORT_PREFIX}={OZ_UNIT_PREFIX}"]
OUTPUT_SELECTION = [
    "abi",
    "evm.bytecode.object",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.immutableReferences",
    "metadata",
]

_TOKEN = re.compile(
    r'"(?:\\.|[^"\\\n])*"'  # double-quoted string
    r"|'(?:\\.|[^'\\\n])*'"  # single-quoted string
    r"|//[^\n]*"  # line comment
    r"|/\*.*?\*/",  # block comment
    re.DOTALL,
)
_IMPORT = re.compile(r"\bimport\s+(?:[^;\"']*?\bfrom\s+)?[\"']([^\"']+)[\"']\s*;", re.DOTALL)


class BuildError(RuntimeError):
    """The artifacts cannot be built; the message says what to do."""


def _strip_comments(source: str) -> str:
    """The source with comments blanked out (strings kept), so commented imports are ignored."""

    def keep_strings(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token[0] in "\"'" else " "

    return _TOKEN.sub(keep_strings, source)


def _resolve_import(importer: str, import_path: str) -> str:
    """The source unit name an import statement in ``importer`` refers to."""
    if import_path.startswith(("./", "../")):
        parts: list[str] = []
        for part in (PurePosixPath(importer).parent / import_path).parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)
    for remapping in REMAPPINGS:
        prefix, target = remapping.split("=", 1)
        if import_path.startswith(prefix):
            return target + import_path[len(prefix) :]
    return import_path


def _root_units() -> list[str]:
    units = sorted(p.relative_to(CONTRACTS_DIR).as_posix() for p in SRC_DIR.rglob("*.sol"))
    if not units:
        raise BuildError(f"no Solidity sources under {SRC_DIR}")
    return units


def collect_sources(roots: Iterable[str]) -> dict[str, str]:
    """Every source unit reachable from ``roots`` through imports, by unit name."""
    sources: dict[str, str] = {}
    pending = list(roots)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = CONTRACTS_DIR / unit
        if not path.is_file():
            hint = " (run `npm ci` in contracts/solc)" if unit.startswith("solc/") else ""
            raise BuildError(f"source {unit} not found{hint}")
        text = path.read_text(encoding="utf-8")
        sources[unit] = text
        for import_path in _IMPORT.findall(_strip_comments(text)):
            pending.append(_resolve_import(unit, import_path))
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str]) -> dict[str, Any]:
    """The compiler's standard-json input."""
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": OPTIMIZER,
            "viaIR": VIA_IR,
            "remappings": REMAPPINGS,
            "outputSelection": {"*": {"*": OUTPUT_SELECTION}},
        },
    }


def compiler_version() -> str:
    """The compiler's full version string, e.g. ``0.8.28+commit.7893614a.Emscripten.clang``."""
    output = subprocess.run(
        [str(SOLC_WRAPPER), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Version:\s*(\S+)", output)
    if match is None:
        raise BuildError(f"cannot read the compiler version from: {output!r}")
    return match.group(1)


def _check_toolchain() -> None:
    if shutil.which("node") is None:
        raise BuildError("node is not installed; rebuilding the contracts needs Node.js")
    if not (SOLC_DIR / "node_modules" / "solc").is_dir():
        raise BuildError("solcjs is not installed: run `npm ci` in contracts/solc")


def compile_sources(sources: dict[str, str]) -> dict[str, Any]:
    """Compiles with py-solc-x through the solcjs wrapper; fails on any warning in src/."""
    import solcx  # imported here: only rebuilding needs the compiler toolchain

    _check_toolchain()
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_input(sources), solc_binary=str(SOLC_WRAPPER)
        )
    except solcx.exceptions.SolcError as exc:
        raise BuildError(f"compilation failed:\n{exc.message}") from None
    ours = [
        e["formattedMessage"]
        for e in output.get("errors", [])
        if e.get("sourceLocation", {}).get("file", "").startswith("src/")
    ]
    if ours:
        raise BuildError("compiler warnings in our sources:\n" + "\n".join(ours))
    return output


def source_hash(units: Iterable[str], sources: dict[str, str]) -> str:
    """sha256 of the canonical JSON ``{unit: text}`` of ``units`` (see module docstring)."""
    selected = {unit: sources[unit] for unit in units}
    canonical = json.dumps(selected, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_artifacts(
    output: dict[str, Any], sources: dict[str, str], version: str
) -> dict[str, dict[str, Any]]:
    """One artifact per contract defined in a top-level ``src/*.sol`` file, by contract name."""
    artifacts: dict[str, dict[str, Any]] = {}
    for unit, contracts in sorted(output["contracts"].items()):
        if PurePosixPath(unit).parent != PurePosixPath("src"):
            continue
        for name, compiled in sorted(contracts.items()):
            bytecode = compiled["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # abstract contract or interface
            units = sorted(json.loads(compiled["metadata"])["sources"])
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "abi": compiled["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                "immutableReferences": _immutable_ranges(compiled["evm"]["deployedBytecode"]),
                "compilerVersion": version,
                "evmVersion": EVM_VERSION,
                "optimizer": OPTIMIZER,
                "sources": {u: hashlib.sha256(sources[u].encode()).hexdigest() for u in units},
                "sourceHash": source_hash(units, sources),
            }
    return artifacts


def _immutable_ranges(deployed: dict[str, Any]) -> list[list[int]]:
    """Byte ranges [start, length] of the runtime code that the constructor fills in
    (immutables); an auditor masks them to compare deployed code with the artifact."""
    references = deployed.get("immutableReferences", {})
    ranges = {(r["start"], r["length"]) for refs in references.values() for r in refs}
    return [list(r) for r in sorted(ranges)]


def render(artifact: dict[str, Any]) -> str:
    """The artifact file's exact text."""
    return json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build(out_dir: Path) -> list[Path]:
    """Compiles every contract and writes its artifact into ``out_dir``; returns the files."""
    sources = collect_sources(_root_units())
    output = compile_sources(sources)
    artifacts = make_artifacts(output, sources, compiler_version())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in artifacts.items():
        path = out_dir / f"{name}.json"
        path.write_text(render(artifact), encoding="utf-8")
        written.append(path)
    return written


def check() -> list[str]:
    """Rebuilds in a temp dir; returns what differs from contracts/artifacts (empty if none)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p.read_bytes() for p in build(Path(tmp))}
    committed = {p.name: p.read_bytes() for p in ARTIFACTS_DIR.glob("*.json")}
    problems = [
        f"{n}: missing from contracts/artifacts" for n in sorted(fresh.keys() - committed.keys())
    ]
    problems += [
        f"{n}: no longer built from source" for n in sorted(committed.keys() - fresh.keys())
    ]
    problems += [
        f"{n}: differs from a fresh build"
        for n in sorted(fresh.keys() & committed.keys())
        if fresh[n] != committed[n]
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="verify committed artifacts; write nothing"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for problem in problems:
                print(f"contracts.build --check: {problem}", file=sys.stderr)
            if problems:
                print("rebuild with: python -m contracts.build", file=sys.stderr)
                return 1
            print("contract artifacts match their sources")
            return 0
        for path in build(ARTIFACTS_DIR):
            print(f"wrote {path.relative_to(CONTRACTS_DIR.parent)}")
        return 0
    except BuildError as exc:
        print(f"contracts.build: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
