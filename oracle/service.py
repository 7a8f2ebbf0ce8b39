"""The oracle as one object: validate, persist, dispatch, index.

This is what the market, grid analytics and device gateways use to write to the chain:
``publish`` validates a payload (schema, units, ranges, signatures, the sender's role) and
persists it in the outbox; ``drain`` delivers; ``index`` reads events back.
"""

import json
from contextlib import suppress
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from oracle.bindings import ContractSuite
from oracle.chain import ChainConnection
from oracle.errors import ChainUnavailableError, OracleValueError
from oracle.indexer.indexer import EventIndexer, IndexReport
from oracle.merkle import MerkleTree
from oracle.messages import MessageRegistry, Payload
from oracle.outbox.dispatcher import Dispatcher, DispatchPolicy, RoundReport, SignerBook
from oracle.outbox.models import MessageStatus, OutboxMessage
from oracle.outbox.store import OutboxStore
from oracle.payloads import builtin_registry
from oracle.types import Address
from oracle.views import CachedChainView

VIEW_TTL_S = 5.0  # publish-time checks may be this stale; the dispatcher checks again


@dataclass(frozen=True, slots=True)
class Commitment:
    """Where a committed order sits: its batch root and Merkle proof."""

    root: bytes
    proof: list[bytes]


@dataclass
class OracleService:
    connection: ChainConnection
    suite: ContractSuite
    engine: Engine
    signers: SignerBook
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    registry: MessageRegistry = field(default_factory=builtin_registry)

    def __post_init__(self) -> None:
        self.store = OutboxStore(self.engine, self.registry)
        self.dispatcher = Dispatcher(
            self.engine, self.suite, self.registry, self.signers, self.policy
        )
        self.view = CachedChainView(self.suite, ttl_s=VIEW_TTL_S)
        self._trees: dict[int, tuple[list[int | None], MerkleTree]] = {}
        self.indexer = EventIndexer(self.engine, self.suite, self.connection.confirmations)

    def publish(
        self, kind: str, payload: dict[str, object] | Payload, *, sender: Address, key: str
    ) -> OutboxMessage:
        """Validate and persist; the chain checks run now when the chain answers, and
        again before sending in any case."""
        spec = self.registry.spec(kind)
        parsed = spec.parse(payload)
        existing = self.store.get(key)
        if existing is not None:
            # A retried publish gets the stored message back, even if the chain has moved
            # on since (a baseline locked, an order committed); a different payload is refused.
            return self.store.publish(kind=kind, payload=parsed, sender=sender, key=key)
        self.check_on_chain(kind, parsed, sender)
        return self.store.publish(kind=kind, payload=parsed, sender=sender, key=key)

    def validate(self, kind: str, payload: dict[str, object] | Payload, sender: Address) -> Payload:
        """Every check :meth:`publish` makes, without persisting: for publishers that write
        the outbox row in their own database transaction (:meth:`OutboxStore.message_row`)."""
        parsed = self.registry.spec(kind).parse(payload)
        self.check_on_chain(kind, parsed, sender)
        return parsed

    def check_on_chain(self, kind: str, payload: Payload, sender: Address) -> None:
        """The sender's role and the payload's chain checks, from the cached view; a chain
        that does not answer defers them to the dispatcher, which checks again anyway."""
        spec = self.registry.spec(kind)
        with suppress(ChainUnavailableError):
            spec.check_sender(self.view, sender)
            payload.check_on_chain(self.view, sender)

    def close(self) -> None:
        """Release the database connections (the chain connection belongs to the caller)."""
        self.engine.dispose()

    def drain(self, timeout_s: float = 120.0) -> RoundReport:
        return self.dispatcher.run_until_idle(timeout_s=timeout_s)

    def index(self) -> IndexReport:
        return self.indexer.run_once()

    def status_of(self, key: str) -> OutboxMessage:
        message = self.store.get(key)
        if message is None:
            raise OracleValueError("key", f"no message {key!r} in the outbox")
        return message

    def commitment_of(self, key: str) -> Commitment:
        """Root and proof of a confirmed ``market.order.commit`` message."""
        message = self.status_of(key)
        if message.status != MessageStatus.CONFIRMED or message.transaction_id is None:
            raise OracleValueError("key", f"order {key!r} is not committed yet ({message.status})")
        ids, tree = self._batch_tree(message.transaction_id)
        return Commitment(root=tree.root, proof=tree.proof(ids.index(message.id)))

    def _batch_tree(self, transaction_id: int) -> tuple[list[int | None], MerkleTree]:
        # A confirmed batch never changes, so its tree is built once and kept.
        if transaction_id not in self._trees:
            siblings = self.store.messages_of(transaction_id)
            leaves = [_order_hash(m) for m in siblings]
            self._trees[transaction_id] = ([m.id for m in siblings], MerkleTree(leaves))
        return self._trees[transaction_id]


def _order_hash(message: OutboxMessage) -> bytes:
    order_hash: str = json.loads(message.payload)["order_hash"]
    return bytes.fromhex(order_hash[2:])
