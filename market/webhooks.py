"""FSP webhooks: registration, signed deliveries, retries off the request path.

An FSP registers a URL and receives a secret once. Every delivery is a JSON POST whose raw
body is signed with that secret, ``X-Flexledger-Signature: sha256=<HMAC-SHA256 hex>``, so
the receiver can check it came from the platform (compare in constant time). A delivery that
fails (no answer within the timeout, or a status outside 2xx) is retried with exponential
back-off a few times; each success counts in ``Activation.pushed``.

:class:`WebhookSender` runs the deliveries on one background thread, started when work
arrives and ended when idle, so neither the API nor the platform's pump ever waits on a
receiver.
"""

import hashlib
import heapq
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx2 as httpx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from market.db.models import Activation, Organisation, Webhook
from market.errors import ConflictError, NotFoundError

SIGNATURE_HEADER = "X-Flexledger-Signature"
MAX_WEBHOOKS = 5  # per organisation
IDLE_EXIT_S = 1.0  # the delivery thread ends after this long without work


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Flexledger-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def register_webhook(session: Session, organisation: Organisation, url: str) -> Webhook:
    count = len(webhooks_of(session, organisation.id))
    if count >= MAX_WEBHOOKS:
        raise ConflictError("url", f"at most {MAX_WEBHOOKS} webhooks; delete one first")
    webhook = Webhook(organisation_id=organisation.id, url=url, secret=secrets.token_hex(32))
    session.add(webhook)
    session.commit()
    session.refresh(webhook)
    return webhook


def webhooks_of(session: Session, organisation_id: str) -> list[Webhook]:
    query = select(Webhook).where(Webhook.organisation_id == organisation_id)
    return list(session.exec(query.order_by(col(Webhook.id))).all())


def delete_webhook(session: Session, organisation_id: str, webhook_id: int) -> None:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or webhook.organisation_id != organisation_id:
        raise NotFoundError("webhook_id", f"no webhook {webhook_id} of yours")
    session.delete(webhook)
    session.commit()


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float = 2.0  # per attempt: connect, write and read
    attempts: int = 4
    backoff_s: float = 0.5  # before retry n: backoff_s * 2**(n - 1)


@dataclass(frozen=True, slots=True)
class Delivery:
    activation_id: int
    url: str
    secret: str
    body: bytes
    attempt: int = 0


class WebhookSender:
    """Delivers on a background thread; :meth:`submit` only queues."""

    def __init__(self, engine: Engine, policy: DeliveryPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or DeliveryPolicy()
        self._queue: list[tuple[float, int, Delivery]] = []  # (due, sequence, delivery)
        self._sequence = itertools.count()
        self._changed = threading.Condition()
        self._active = 0
        self._thread: threading.Thread | None = None

    def submit(self, deliveries: Sequence[Delivery]) -> None:
        with self._changed:
            for delivery in deliveries:
                self._push(time.monotonic(), delivery)
            if deliveries and self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="webhook-deliveries", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout_s: float) -> bool:
        """Blocks until nothing is queued or being delivered; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._queue and not self._active, timeout=timeout_s
            )

    def _push(self, due: float, delivery: Delivery) -> None:
        heapq.heappush(self._queue, (due, next(self._sequence), delivery))
        self._changed.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
            while (delivery := self._next()) is not None:
                try:
                    self._deliver(client, delivery)
                finally:
                    with self._changed:
                        self._active -= 1
                        self._changed.notify_all()

    def _next(self) -> Delivery | None:
        """The next due delivery; None (and the thread ends) after an idle spell."""
        with self._changed:
            while True:
                if not self._queue:
                    self._changed.wait(IDLE_EXIT_S)
                    if not self._queue:
                        self._thread = None
                        return None
                    continue
                delay = self._queue[0][0] - time.monotonic()
                if delay <= 0:
                    self._active += 1
                    return heapq.heappop(self._queue)[2]
                self._changed.wait(delay)

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(delivery.secret, delivery.body),
        }
        try:
            response = client.post(delivery.url, content=delivery.body, headers=headers)
            delivered = 200 <= response.status_code < 300
        except httpx.HTTPError:
            delivered = False
        if delivered:
            self._count_push(delivery.activation_id)
        elif delivery.attempt + 1 < self.policy.attempts:
            delay = self.policy.backoff_s * 2**delivery.attempt
            with self._changed:
                self._push(
                    time.monotonic() + delay, replace(delivery, attempt=delivery.attempt + 1)
                )

    def _count_push(self, activation_id: int) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(Activation)
                .where(col(Activation.id) == activation_id)
                .values(pushed=Activation.pushed + 1)
            )
            session.commit()
