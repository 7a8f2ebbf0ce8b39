"""What may be published to the chain, and how each kind of message becomes a call.

A publisher (the market, grid analytics, an FSP's HEMS later on) describes a kind of
message once, as a :class:`MessageSpec`: its payload model, the roles its sender must
hold, the contract function that applies one message and, where the contract offers one,
the batch function that applies many. The outbox and dispatcher only ever talk to specs,
so a new publisher registers a spec and changes nothing in the oracle's core.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from web3 import Web3

from oracle.errors import OracleValueError
from oracle.types import Address, Role

UInt16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
PositiveUInt32 = Annotated[int, Field(ge=1, le=2**32 - 1)]
Bytes32Hex = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
# Addresses are stored checksummed, so a payload has one canonical form (and one hash).
AddressHex = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(Web3.to_checksum_address)
]


class ChainView(Protocol):
    """What payload checks may ask the chain (implemented by ContractSuite)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def market_address(self) -> Address: ...

    def has_role(self, identity: Address, role: Role) -> bool: ...

    def identity_owner(self, identity: Address) -> Address: ...

    def baseline_locked_at(self, baseline_hash: bytes) -> int:
        """Unix seconds the baseline hash was locked on chain; 0 if it is not locked."""
        ...


class Payload(BaseModel):
    """Base of every message payload: strict, immutable, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    def call_args(self) -> tuple[Any, ...]:
        """Arguments of the single-message contract function."""
        raise NotImplementedError

    def batch_item(self) -> Any:
        """This message's element in the batch function's array argument."""
        return self.call_args()

    def check_offline(self) -> None:
        """Checks that need no chain (signature recovery, cross-field rules)."""

    def check_on_chain(self, view: ChainView, sender: Address) -> None:
        """Checks against chain state (roles, identity owners); raise OracleValueError."""

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        return "0x" + hashlib.sha256(self.canonical_json().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """How one kind of message is validated and applied on chain."""

    kind: str
    payload_model: type[Payload]
    contract: str
    function: str
    sender_roles: frozenset[Role]  # empty: anyone may send
    batch_function: str | None = None
    max_batch: int = 1
    presigned: bool = False  # the payload carries a transaction its sender's wallet signed

    def parse(self, raw: dict[str, Any] | Payload) -> Payload:
        """Validate a raw payload; the error names the first offending field."""
        if isinstance(raw, self.payload_model):
            payload = raw
        else:
            data = raw.model_dump() if isinstance(raw, BaseModel) else raw
            try:
                payload = self.payload_model.model_validate(data)
            except ValidationError as error:
                raise _field_error(error) from None
        payload.check_offline()
        return payload

    def batch_call_args(self, payloads: Sequence[Payload]) -> tuple[Any, ...]:
        return ([p.batch_item() for p in payloads],)

    def check_sender(self, view: ChainView, sender: Address) -> None:
        """The sender must hold one of the spec's roles (any sender if none are named)."""
        if not self.sender_roles:
            return
        if any(view.has_role(sender, role) for role in self.sender_roles):
            return
        roles = "/".join(role.name for role in sorted(self.sender_roles))
        raise OracleValueError("sender", f"{sender} holds none of the roles {roles}")

    @property
    def batchable(self) -> bool:
        return self.batch_function is not None and self.max_batch > 1


def _field_error(error: ValidationError) -> OracleValueError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return OracleValueError(field, f"{first['msg']}{extra}")


class MessageRegistry:
    """The kinds of message the oracle accepts; publishers register theirs."""

    _builtin_loaded: ClassVar[bool] = False

    def __init__(self, specs: Sequence[MessageSpec] = ()) -> None:
        self._specs: dict[str, MessageSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: MessageSpec) -> None:
        if spec.kind in self._specs:
            raise OracleValueError("kind", f"message kind {spec.kind!r} is already registered")
        self._specs[spec.kind] = spec

    def spec(self, kind: str) -> MessageSpec:
        try:
            return self._specs[kind]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise OracleValueError(
                "kind", f"unknown message kind {kind!r}; known: {known}"
            ) from None

    def kinds(self) -> list[str]:
        return sorted(self._specs)
