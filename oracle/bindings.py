"""Typed access to the deployed flexledger contracts.

A :class:`ContractSuite` ties a web3 connection to a deployment manifest and the committed
artifacts; every read goes through :meth:`ContractSuite.read` so that reverts surface as
:class:`oracle.errors.ContractRevertError` with decoded arguments.
"""

import hashlib
import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from contracts import CONTRACT_NAMES, Artifact, load_artifact
from oracle.errors import ArtifactError, ContractRevertError
from oracle.manifest import Manifest
from oracle.reverts import RevertDecoder
from oracle.types import Address, Role, web3_address

__all__ = ["CONTRACT_NAMES", "ContractSuite", "all_abis", "artifact_hash"]


def artifact_hash(artifact: Artifact) -> str:
    """A fingerprint of what was deployed: runtime bytecode plus ABI."""
    digest = hashlib.sha256()
    digest.update(artifact.deployed_bytecode.encode())
    digest.update(json.dumps(artifact.abi, sort_keys=True).encode())
    return digest.hexdigest()


def all_abis() -> list[list[dict[str, Any]]]:
    return [load_artifact(name).abi for name in CONTRACT_NAMES]


VIEW_CALLER = "0x0000000000000000000000000000000000000000"


class ContractSuite:
    """The six flexledger contracts on one chain."""

    def __init__(self, w3: Web3, manifest: Manifest) -> None:
        self.w3 = w3
        self.manifest = manifest
        self._contracts: dict[str, Contract] = {}

    @cached_property
    def decoder(self) -> RevertDecoder:
        return RevertDecoder(all_abis())

    def contract(self, name: str) -> Contract:
        if name not in self._contracts:
            if name not in CONTRACT_NAMES:
                raise ArtifactError(f"{name} is not a flexledger contract")
            abi = load_artifact(name).abi
            address = self.manifest.address_of(name)
            self._contracts[name] = self.w3.eth.contract(address=web3_address(address), abi=abi)
        return self._contracts[name]

    def read(self, name: str, function: str, *args: Any) -> Any:
        """Call a view function; a revert becomes a typed ContractRevertError."""
        try:
            # A view ignores its caller; naming one spares the eth-tester provider three
            # eth_accounts requests per call to guess it (py-evm answers one at a time).
            call = self.contract(name).get_function_by_name(function)(*args)
            return call.call({"from": VIEW_CALLER})
        except ContractLogicError as error:
            raise self.decoder.from_exception(error) from None

    def encode_call(self, name: str, function: str, args: Sequence[Any]) -> str:
        """ABI-encode a call as transaction data (hex)."""
        contract = self.contract(name)
        encoded: str = contract.encode_abi(function, args=list(args))
        return encoded

    def revert_of(self, error: ContractLogicError) -> ContractRevertError:
        return self.decoder.from_exception(error)

    # Role and identity views used by payload validation.

    def has_role(self, identity: Address, role: Role) -> bool:
        return bool(self.read("RoleRegistry", "hasRole", identity, int(role)))

    def identity_owner(self, identity: Address) -> Address:
        return Address(self.read("DIDRegistry", "identityOwner", identity))

    def baseline_locked_at(self, baseline_hash: bytes) -> int:
        return int(self.read("BaselineRegistry", "lockedAt", baseline_hash))

    @property
    def chain_id(self) -> int:
        return self.manifest.chain_id

    @property
    def market_address(self) -> Address:
        return self.manifest.address_of("FlexMarket")
