"""Is the deployment the audited code, wired as the manifest says?

The runtime code at each address must equal the committed artifact's, except for the
immutables its constructor filled in (their byte ranges come from the compiler); those
immutables are the addresses of the other contracts, checked through their getters.
"""

from collections.abc import Iterator

from web3 import Web3

from contracts import Artifact, load_artifact
from oracle.audit.report import Mismatch
from oracle.errors import AuditError
from oracle.manifest import Manifest
from oracle.types import web3_address

# (contract, getter, contract whose address the getter must return)
WIRING: tuple[tuple[str, str, str], ...] = (
    ("GridRegistry", "roleRegistry", "RoleRegistry"),
    ("FlexMarket", "roleRegistry", "RoleRegistry"),
    ("FlexMarket", "didRegistry", "DIDRegistry"),
    ("FlexMarket", "gridRegistry", "GridRegistry"),
    ("FlexSettlement", "market", "FlexMarket"),
    ("BaselineRegistry", "roleRegistry", "RoleRegistry"),
)


def check_deployment(w3: Web3, manifest: Manifest, block: int) -> list[Mismatch]:
    """Every way the deployed contracts differ from the artifacts and the manifest."""
    return [*_code_mismatches(w3, manifest, block), *_wiring_mismatches(w3, manifest, block)]


def masked(code: bytes, artifact: Artifact) -> bytes:
    """The code with the immutables' bytes zeroed."""
    buffer = bytearray(code)
    for start, length in artifact.immutable_ranges:
        buffer[start : start + length] = bytes(length)
    return bytes(buffer)


def _code_mismatches(w3: Web3, manifest: Manifest, block: int) -> Iterator[Mismatch]:
    for name, deployed in manifest.contracts.items():
        code = bytes(w3.eth.get_code(web3_address(deployed.address), block))
        if not code:
            raise AuditError(f"no code at {deployed.address} ({name}) on chain {manifest.chain_id}")
        artifact = load_artifact(name)
        expected = bytes.fromhex(artifact.deployed_bytecode[2:])
        if len(code) != len(expected) or masked(code, artifact) != masked(expected, artifact):
            yield Mismatch(
                f"contract {name}",
                "runtime code matches the artifact",
                artifact.source_hash,
                f"different code at {deployed.address}",
                block,
            )


def _wiring_mismatches(w3: Web3, manifest: Manifest, block: int) -> Iterator[Mismatch]:
    for name, getter, target in WIRING:
        contract = w3.eth.contract(
            address=web3_address(manifest.address_of(name)), abi=load_artifact(name).abi
        )
        try:
            actual = contract.get_function_by_name(getter)().call(block_identifier=block)
        except Exception as error:
            actual = f"call failed: {error}"
        expected = manifest.address_of(target)
        if str(actual).lower() != expected.lower():
            yield Mismatch(f"contract {name}", f"{getter}() is {target}", expected, actual, block)
