"""Delivering persisted messages to the chain, exactly once.

One round (:meth:`Dispatcher.run_once`):

1. *Reconcile* transactions already signed: re-broadcast those never acknowledged (the
   same raw bytes, so the same hash and nonce), and confirm those with a receipt and
   enough confirmations. A reverted or dropped transaction sends its messages back.
2. *Dispatch* ready messages: group them by kind and sender, check them against the chain,
   pre-flight the call (a revert isolates the offending message and rejects it with the
   decoded error), sign with the sender's next nonce, persist the raw transaction and
   link its messages, and only then broadcast.

While the chain is unreachable nothing is lost: messages stay pending, signed
transactions stay signed, and the round reports ``chain_unavailable`` so the caller
backs off. (The chain provider raises ChainUnavailableError itself; see oracle/chain/rpc.py.)
"""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from web3.exceptions import ContractLogicError, TransactionNotFound

from oracle.bindings import ContractSuite
from oracle.errors import ChainUnavailableError, ContractRevertError, OracleValueError
from oracle.messages import MessageRegistry, MessageSpec, Payload
from oracle.outbox.models import (
    MessageStatus,
    OutboxMessage,
    OutboxTransaction,
    TransactionStatus,
    utc_now,
)
from oracle.relay import RelayedTransaction
from oracle.types import Address, web3_address
from oracle.views import CachedChainView

OPEN_MESSAGE_STATES = (MessageStatus.PENDING, MessageStatus.IN_FLIGHT)
OPEN_TRANSACTION_STATES = (TransactionStatus.SIGNED, TransactionStatus.SENT)
GAS_HEADROOM = 1.25  # estimates can fall short when state moves between estimate and mining


class SignerBook(Protocol):
    def account_for(self, address: Address) -> LocalAccount: ...


@dataclass(slots=True)
class RoundReport:
    sent_transactions: int = 0
    sent_messages: int = 0
    confirmed_messages: int = 0
    rejected_messages: int = 0
    requeued_messages: int = 0
    chain_unavailable: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return self.sent_transactions == 0 and self.confirmed_messages == 0


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    confirmations: int = 0
    batch_size: int = 500
    max_attempts: int = 20
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    messages_per_round: int = 5000
    # py-evm's estimate_gas runs a binary search of ~15 executions (0.6 s for a trade), and
    # even one pre-flight eth_call costs as much as the transaction. On the embedded chain a
    # revert costs no money, so messages go out optimistically with a fixed gas limit and
    # only a message that already failed once is pre-flighted (to isolate and reject it).
    estimate_gas: bool = True
    optimistic: bool = False
    fixed_gas: int = 7_500_000

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_base_s * 2**attempts, self.backoff_max_s))


class Dispatcher:
    """Sends outbox messages as transactions and confirms them."""

    def __init__(
        self,
        engine: Engine,
        suite: ContractSuite,
        registry: MessageRegistry,
        signers: SignerBook,
        policy: DispatchPolicy = DispatchPolicy(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.suite = suite
        self.registry = registry
        self.signers = signers
        self.policy = policy
        self.clock = clock
        self.view = CachedChainView(suite, ttl_s=float("inf"))

    # -- the loop -------------------------------------------------------------------

    def run_once(self) -> RoundReport:
        report = RoundReport()
        self.view.forget()  # role and DID answers are cached for one round only
        try:
            self._reconcile(report)
            self._dispatch(report)
        except ChainUnavailableError as error:
            report.chain_unavailable = True
            report.errors.append(str(error))
            self._delay_ready_messages()
        return report

    def run_until_idle(self, timeout_s: float = 60.0, sleep_s: float = 0.05) -> RoundReport:
        """Run rounds until nothing is pending or in flight; used by CLI jobs and tests."""
        total = RoundReport()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            report = self.run_once()
            _accumulate(total, report)
            if not self._has_work():
                return total
            if report.idle:
                time.sleep(sleep_s)
        total.errors.append(f"outbox not drained after {timeout_s:.0f} s")
        return total

    def _has_work(self) -> bool:
        with Session(self.engine) as session:
            pending = session.exec(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    col(OutboxMessage.status).in_([MessageStatus.PENDING, MessageStatus.IN_FLIGHT])
                )
            ).one()
        return bool(pending)

    # -- reconcile signed transactions ---------------------------------------------------

    def _reconcile(self, report: RoundReport) -> None:
        with Session(self.engine) as session:
            open_txs = session.exec(
                select(OutboxTransaction)
                .where(
                    col(OutboxTransaction.status).in_(
                        [TransactionStatus.SIGNED, TransactionStatus.SENT]
                    )
                )
                .order_by(col(OutboxTransaction.sender), col(OutboxTransaction.nonce))
            ).all()
            for tx in open_txs:
                self._reconcile_one(session, tx, report)
                session.commit()

    def _reconcile_one(self, session: Session, tx: OutboxTransaction, report: RoundReport) -> None:
        receipt = self._receipt(tx.tx_hash)
        if receipt is None:
            self._handle_missing_receipt(session, tx, report)
            return
        if not self._confirmed_enough(int(receipt["blockNumber"])):
            return
        tx.block_number = int(receipt["blockNumber"])
        tx.gas_used = int(receipt["gasUsed"])
        tx.confirmed_at = self.clock()
        if int(receipt["status"]) == 1:
            tx.status = TransactionStatus.CONFIRMED
            report.confirmed_messages += self._settle_messages(session, tx, MessageStatus.CONFIRMED)
        else:
            tx.status = TransactionStatus.REVERTED
            tx.error = "reverted on chain after a successful pre-flight"
            report.requeued_messages += self._requeue_messages(session, tx, tx.error)
        session.add(tx)

    def _handle_missing_receipt(
        self, session: Session, tx: OutboxTransaction, report: RoundReport
    ) -> None:
        mined_nonce = self.suite.w3.eth.get_transaction_count(web3_address(tx.sender), "latest")
        if mined_nonce > tx.nonce:
            # The nonce was used by a transaction that is not ours (or ours was replaced).
            tx.status = TransactionStatus.DROPPED
            tx.error = f"nonce {tx.nonce} was used by another transaction"
            report.requeued_messages += self._requeue_messages(session, tx, tx.error)
            session.add(tx)
            return
        self._broadcast(tx)
        if tx.status == TransactionStatus.SIGNED:
            tx.status = TransactionStatus.SENT
            tx.sent_at = self.clock()
        session.add(tx)

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return dict(self.suite.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def _confirmed_enough(self, block_number: int) -> bool:
        if self.policy.confirmations <= 1:
            return True
        head = self.suite.w3.eth.block_number
        return head - block_number + 1 >= self.policy.confirmations

    def _settle_messages(
        self, session: Session, tx: OutboxTransaction, status: MessageStatus
    ) -> int:
        messages = _messages_of(session, tx)
        for message in messages:
            message.status = status
            message.confirmed_at = self.clock()
            session.add(message)
        return len(messages)

    def _requeue_messages(self, session: Session, tx: OutboxTransaction, reason: str) -> int:
        messages = _messages_of(session, tx)
        for message in messages:
            message.attempts += 1
            message.last_error = reason
            message.transaction_id = None
            # Only the wallet can sign a relayed transaction again, so it is not retried.
            final = (
                message.attempts >= self.policy.max_attempts
                or self.registry.spec(message.kind).presigned
            )
            message.status = MessageStatus.REJECTED if final else MessageStatus.PENDING
            message.next_attempt_at = self.clock() + self.policy.backoff(message.attempts)
            session.add(message)
        return len(messages)

    # -- dispatch ready messages ---------------------------------------------------------

    def _dispatch(self, report: RoundReport) -> None:
        ready = _ready(self.engine, self.clock(), self.policy.messages_per_round)
        for group in _groups(ready):
            spec = self.registry.spec(group[0].kind)
            size = min(spec.max_batch, self.policy.batch_size) if spec.batchable else 1
            for start in range(0, len(group), size):
                self._dispatch_chunk(spec, group[start : start + size], report)

    def _dispatch_chunk(
        self, spec: MessageSpec, chunk: Sequence[OutboxMessage], report: RoundReport
    ) -> None:
        sender = Address(chunk[0].sender)
        try:
            spec.check_sender(self.view, sender)
        except OracleValueError as error:
            for message in chunk:
                self._reject(message, str(error), report)
            return
        accepted: list[tuple[OutboxMessage, Payload]] = []
        for message in chunk:
            payload = self._validated(spec, message, sender, report)
            if payload is not None:
                accepted.append((message, payload))
        while accepted:
            dropped = self._send(spec, sender, accepted, report)
            accepted = [pair for pair in accepted if pair[0].id not in dropped]

    def _validated(
        self, spec: MessageSpec, message: OutboxMessage, sender: Address, report: RoundReport
    ) -> Payload | None:
        try:
            payload = spec.parse(json.loads(message.payload))
            payload.check_on_chain(self.view, sender)
        except (OracleValueError, ContractRevertError) as error:
            self._reject(message, str(error), report)
            return None
        return payload

    def _send(
        self,
        spec: MessageSpec,
        sender: Address,
        accepted: Sequence[tuple[OutboxMessage, Payload]],
        report: RoundReport,
    ) -> set[int]:
        """Pre-flight, sign, persist and broadcast; returns the ids not sent this time."""
        if spec.presigned:
            return self._relay(spec, sender, accepted, report)
        data = self._call_data(spec, [p for _, p in accepted])
        try:
            gas = self._gas_limit(spec.contract, sender, data, accepted)
        except ContractRevertError as error:
            return self._isolate(spec, sender, accepted, error, report)
        tx = self._sign_and_store(spec, sender, data, gas, [m for m, _ in accepted])
        self._broadcast(tx)
        self._mark_sent(tx)
        report.sent_transactions += 1
        report.sent_messages += len(accepted)
        return {_id(m) for m, _ in accepted}

    def _relay(
        self,
        spec: MessageSpec,
        sender: Address,
        accepted: Sequence[tuple[OutboxMessage, Payload]],
        report: RoundReport,
    ) -> set[int]:
        message, payload = accepted[0]
        assert isinstance(payload, RelayedTransaction)
        decoded = payload.decoded()
        call = {"from": sender, "to": decoded.to, "data": "0x" + decoded.data.hex()}
        try:
            self.suite.w3.eth.call(call)  # type: ignore[arg-type]
        except ContractLogicError as error:
            self._reject(message, str(self.suite.revert_of(error)), report)
            return {_id(message)}
        with Session(self.engine) as session:
            tx = OutboxTransaction(
                sender=sender,
                nonce=decoded.nonce,
                kind=spec.kind,
                message_count=1,
                tx_hash=decoded.tx_hash,
                raw_tx=payload.raw_transaction,
            )
            session.add(tx)
            session.flush()
            stored = session.get(OutboxMessage, message.id)
            assert stored is not None and stored.status == MessageStatus.PENDING
            stored.status = MessageStatus.IN_FLIGHT
            stored.transaction_id = tx.id
            stored.attempts += 1
            session.add(stored)
            session.commit()
            session.refresh(tx)
        try:
            self._broadcast(tx)
        except ChainUnavailableError:
            raise
        except Exception as error:  # a nonce the wallet spent, too little gas money, ...
            self._drop_relayed(tx, f"the node refused the wallet's transaction: {error}", report)
            return {_id(message)}
        self._mark_sent(tx)
        report.sent_transactions += 1
        report.sent_messages += 1
        return {_id(message)}

    def _drop_relayed(self, tx: OutboxTransaction, reason: str, report: RoundReport) -> None:
        with Session(self.engine) as session:
            stored = session.get(OutboxTransaction, tx.id)
            assert stored is not None
            stored.status = TransactionStatus.DROPPED
            stored.error = reason
            session.add(stored)
            self._requeue_messages(session, stored, reason)
            session.commit()
        report.rejected_messages += 1

    def _call_data(self, spec: MessageSpec, payloads: Sequence[Payload]) -> str:
        if len(payloads) > 1 and spec.batch_function is not None:
            batch_args = spec.batch_call_args(payloads)
            return self.suite.encode_call(spec.contract, spec.batch_function, batch_args)
        return self.suite.encode_call(spec.contract, spec.function, payloads[0].call_args())

    def _isolate(
        self,
        spec: MessageSpec,
        sender: Address,
        accepted: Sequence[tuple[OutboxMessage, Payload]],
        error: ContractRevertError,
        report: RoundReport,
    ) -> set[int]:
        if len(accepted) == 1:
            self._reject(accepted[0][0], str(error), report)
            return {_id(accepted[0][0])}
        for message, payload in accepted:
            data = self._call_data(spec, [payload])
            try:
                self._estimate(spec.contract, sender, data)
            except ContractRevertError as single_error:
                self._reject(message, str(single_error), report)
                return {_id(message)}
        # Each message passes alone but the batch fails as a whole (two trades filling one
        # order, say): send the first alone now; the rest stay pending for the next round.
        return {_id(m) for m, _ in accepted[1:]}

    def _gas_limit(
        self,
        contract: str,
        sender: Address,
        data: str,
        accepted: Sequence[tuple[OutboxMessage, Payload]],
    ) -> int:
        first_try = all(message.attempts == 0 for message, _ in accepted)
        if self.policy.optimistic and first_try:
            return self.policy.fixed_gas
        return self._estimate(contract, sender, data)

    def _estimate(self, contract: str, sender: Address, data: str) -> int:
        """Pre-flight the call; a revert becomes ContractRevertError. Returns the gas limit."""
        call = {"from": sender, "to": self.suite.manifest.address_of(contract), "data": data}
        try:
            if not self.policy.estimate_gas:
                self.suite.w3.eth.call(call)  # type: ignore[arg-type]
                return self.policy.fixed_gas
            gas = self.suite.w3.eth.estimate_gas(call)  # type: ignore[arg-type]
        except ContractLogicError as error:
            raise self.suite.revert_of(error) from None
        return int(gas * GAS_HEADROOM)

    def _sign_and_store(
        self,
        spec: MessageSpec,
        sender: Address,
        data: str,
        gas: int,
        messages: Sequence[OutboxMessage],
    ) -> OutboxTransaction:
        account = self.signers.account_for(sender)
        with Session(self.engine) as session:
            nonce = self._next_nonce(session, sender)
            tx_fields = self._transaction_fields(spec.contract, nonce, gas, data)
            signed = account.sign_transaction(tx_fields)
            tx = OutboxTransaction(
                sender=sender,
                nonce=nonce,
                kind=spec.kind,
                message_count=len(messages),
                tx_hash="0x" + bytes(signed.hash).hex(),
                raw_tx="0x" + bytes(signed.raw_transaction).hex(),
            )
            session.add(tx)
            session.flush()
            for message in messages:
                stored = session.get(OutboxMessage, message.id)
                assert stored is not None and stored.status == MessageStatus.PENDING
                stored.status = MessageStatus.IN_FLIGHT
                stored.transaction_id = tx.id
                stored.attempts += 1
                session.add(stored)
            session.commit()
            session.refresh(tx)
            return tx

    def _next_nonce(self, session: Session, sender: Address) -> int:
        highest = session.exec(
            select(func.max(OutboxTransaction.nonce))
            .where(OutboxTransaction.sender == sender)
            .where(col(OutboxTransaction.status) != TransactionStatus.DROPPED)
        ).one()
        on_chain = self.suite.w3.eth.get_transaction_count(web3_address(sender), "pending")
        return max(int(on_chain), -1 if highest is None else int(highest) + 1)

    def _transaction_fields(self, contract: str, nonce: int, gas: int, data: str) -> dict[str, Any]:
        w3 = self.suite.w3
        base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
        fields: dict[str, Any] = {
            "to": self.suite.manifest.address_of(contract),
            "data": data,
            "nonce": nonce,
            "gas": gas,
            "chainId": self.suite.manifest.chain_id,
            "value": 0,
        }
        if base_fee is None:
            fields["gasPrice"] = w3.eth.gas_price
            return fields
        priority = w3.eth.max_priority_fee
        fields["maxPriorityFeePerGas"] = priority
        fields["maxFeePerGas"] = 2 * int(base_fee) + priority
        return fields

    def _broadcast(self, tx: OutboxTransaction) -> None:
        try:
            self.suite.w3.eth.send_raw_transaction(HexStr(tx.raw_tx))
        except ChainUnavailableError:
            raise
        except Exception as error:
            if not _already_known(error):
                raise

    def _mark_sent(self, tx: OutboxTransaction) -> None:
        with Session(self.engine) as session:
            stored = session.get(OutboxTransaction, tx.id)
            assert stored is not None
            if stored.status == TransactionStatus.SIGNED:
                stored.status = TransactionStatus.SENT
                stored.sent_at = self.clock()
                session.add(stored)
                session.commit()

    def _reject(self, message: OutboxMessage, reason: str, report: RoundReport) -> None:
        with Session(self.engine) as session:
            stored = session.get(OutboxMessage, message.id)
            assert stored is not None
            stored.status = MessageStatus.REJECTED
            stored.last_error = reason
            session.add(stored)
            session.commit()
        report.rejected_messages += 1

    def _delay_ready_messages(self) -> None:
        with Session(self.engine) as session:
            ready = session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING)
                .where(OutboxMessage.next_attempt_at <= self.clock())
            ).all()
            for message in ready:
                message.attempts += 1
                message.next_attempt_at = self.clock() + self.policy.backoff(message.attempts)
                session.add(message)
            session.commit()


def _ready(engine: Engine, now: datetime, limit: int) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING)
                .where(OutboxMessage.next_attempt_at <= now)
                .order_by(col(OutboxMessage.id))
                .limit(limit)
            ).all()
        )


def _groups(messages: Sequence[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Consecutive runs of one kind and sender, so order between kinds is kept."""
    groups: list[list[OutboxMessage]] = []
    for message in messages:
        if groups and (groups[-1][0].kind, groups[-1][0].sender) == (message.kind, message.sender):
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _messages_of(session: Session, tx: OutboxTransaction) -> list[OutboxMessage]:
    return list(
        session.exec(select(OutboxMessage).where(OutboxMessage.transaction_id == tx.id)).all()
    )


def _already_known(error: Exception) -> bool:
    text = str(error).lower()
    return any(
        marker in text
        for marker in ("already known", "known transaction", "already imported", "nonce too low")
    )


def _id(message: OutboxMessage) -> int:
    assert message.id is not None
    return message.id


def _accumulate(total: RoundReport, report: RoundReport) -> None:
    total.sent_transactions += report.sent_transactions
    total.sent_messages += report.sent_messages
    total.confirmed_messages += report.confirmed_messages
    total.rejected_messages += report.rejected_messages
    total.requeued_messages += report.requeued_messages
    total.chain_unavailable = total.chain_unavailable or report.chain_unavailable
    total.errors.extend(report.errors)
