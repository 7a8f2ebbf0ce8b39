"""The deployment manifest: which contracts live where on which chain.

``flexledger chain deploy`` writes it; every other command (the oracle, the indexer, the
auditor) reads it, so that an auditor needs nothing but an RPC URL and this file.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from oracle.errors import ChainMismatchError, OracleValueError
from oracle.types import Address, BlockNumber, ChainId

MANIFEST_VERSION = 1

# What each contract of the suite holds, for printouts (``flexledger chain deploy``).
CONTRACT_ROLES: dict[str, str] = {
    "DIDRegistry": "did:ethr identities (ERC-1056): DID owners and attributes",
    "RoleRegistry": "role grants (DSO, TSO, FSP, ORACLE, AUDITOR) and credential hashes",
    "GridRegistry": "grid nodes and assets (owner, node, prequalified capacity)",
    "FlexMarket": "orders and trades; the verifyingContract of signed orders (EIP-712)",
    "FlexSettlement": "attestations and settlements (payment, penalty, disputes)",
    "BaselineRegistry": "locked hashes of nominated baselines",
}


@dataclass(frozen=True, slots=True)
class DeployedContract:
    name: str
    address: Address
    deploy_block: BlockNumber
    deploy_tx: str
    artifact_hash: str  # sha256 of the artifact's runtime bytecode + ABI
    source_hash: str


@dataclass(frozen=True, slots=True)
class Manifest:
    chain_id: ChainId
    contracts: dict[str, DeployedContract]
    deployer: Address
    version: int = MANIFEST_VERSION
    parameters: dict[str, int] = field(default_factory=dict)

    def address_of(self, name: str) -> Address:
        return self.contract(name).address

    def contract(self, name: str) -> DeployedContract:
        try:
            return self.contracts[name]
        except KeyError:
            raise OracleValueError(
                "manifest.contracts", f"no contract named {name!r} in the manifest"
            ) from None

    def describe(self) -> list[tuple[str, Address, str]]:
        """(name, address, what it is) for every contract and the deployer."""
        rows = [
            (name, c.address, CONTRACT_ROLES.get(name, "contract"))
            for name, c in self.contracts.items()
        ]
        deployer = "deployer: holds MARKET_OPERATOR in RoleRegistry from deployment"
        return [*rows, ("deployer", self.deployer, deployer)]

    @property
    def first_block(self) -> BlockNumber:
        return BlockNumber(min(c.deploy_block for c in self.contracts.values()))

    def check_chain(self, chain_id: int) -> None:
        if chain_id != self.chain_id:
            raise ChainMismatchError(
                f"the manifest is for chain {self.chain_id} but the node reports chain {chain_id}"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(self.to_json(), encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OracleValueError(
                "manifest", f"{path} does not exist; run `flexledger chain deploy` first"
            ) from None
        except json.JSONDecodeError as error:
            raise OracleValueError("manifest", f"{path} is not valid JSON: {error}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Manifest":
        if raw.get("version") != MANIFEST_VERSION:
            raise OracleValueError(
                "manifest.version", f"expected {MANIFEST_VERSION}, got {raw.get('version')!r}"
            )
        try:
            contracts = {
                name: DeployedContract(**entry) for name, entry in raw["contracts"].items()
            }
            return cls(
                chain_id=ChainId(int(raw["chain_id"])),
                contracts=contracts,
                deployer=Address(raw["deployer"]),
                parameters={k: int(v) for k, v in raw.get("parameters", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise OracleValueError("manifest", f"malformed manifest: {error}") from None
