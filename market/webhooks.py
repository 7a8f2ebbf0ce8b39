"""FSP webhooks: registration, signed deliveries, retries off the request path.

An FSP registers a URL and receives a secret once. Every delivery is a JSON POST whose raw
body is signed with that secret, ``X-Flexledger-Signature: sha256=<HMAC-SHA256 hex>``, so
the receiver can check it came from the platform (compare in constant time). A delivery that
fails (no answer within the timeout, or a status outside 2xx) is retried with exponential
back-off a few times; each success counts in ``Activation.pushed``.

:class:`WebhookSender` runs the deliveries on one background thread, started when work
arrives and ended when idle, so neither the API nor the platform's pump ever waits on a
receiver.

Targets are checked twice, because a webhook is a request the platform makes on an FSP's
behalf (server-side request forgery): at registration (:func:`check_target`: http or https,
no userinfo, a host name, not an IP literal in any spelling, every address it resolves to
global) and again at each delivery, which then connects to the very address it checked
(the URL's host stays in the Host header and TLS server name), so a DNS answer that changes
between check and connect cannot point a delivery at the platform's own network. Loopback
targets are allowed only when :class:`WebhookTargets` says so (tests, local development).
"""

import hashlib
import heapq
import hmac
import ipaddress
import itertools
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import SplitResult, urlsplit

import httpx2 as httpx
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from market.db.models import Activation, Organisation, Webhook
from market.errors import ConflictError, MarketValueError, NotFoundError

SIGNATURE_HEADER = "X-Flexledger-Signature"
MAX_WEBHOOKS = 5  # per organisation
IDLE_EXIT_S = 1.0  # the delivery thread ends after this long without work
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ADDRESSES = 16  # a host name with more resolved addresses is refused
# A host written as numbers: decimal, hex or octal parts, 1 to 4 of them ("2130706433",
# "0x7f.1", "0177.0.0.1", "127.1"); the C resolver reads all of them as IPv4 addresses.
NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), as text; empty when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(entry[4][0]) for entry in found))


@dataclass(frozen=True, slots=True)
class WebhookTargets:
    """Which webhook targets the platform may reach; loopback only when asked for."""

    allow_loopback: bool = False
    resolve: Resolver = field(default=resolve_host)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: where to connect (``address``) and what to name (``host``)."""

    scheme: str
    host: str
    port: int
    path: str
    address: IpAddress

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


def check_target(url: str, targets: WebhookTargets) -> Target:
    """The target of ``url`` if the platform may post to it; else a 422 naming ``url``."""
    parts = _parts(url)
    host = (parts.hostname or "").rstrip(".")
    port = _port(parts)
    literal = _ip_literal(host)
    if literal is not None:
        if not (targets.allow_loopback and literal.is_loopback and str(literal) == host):
            raise MarketValueError("url", "must name a host, not an IP address")
        addresses = [literal]
    else:
        addresses = _resolved(host, port, targets)
    for address in addresses:
        if not _reachable(address, targets):
            raise MarketValueError(
                "url", "resolves to a private, loopback, link-local or reserved address"
            )
    path = parts.path or "/"
    return Target(
        parts.scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), addresses[0]
    )


def _parts(url: str) -> SplitResult:
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise MarketValueError("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise MarketValueError("url", "is not a URL") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise MarketValueError("url", "must be an http or https URL")
    if "@" in parts.netloc:
        raise MarketValueError("url", "must not carry a user name or password")
    if not parts.hostname:
        raise MarketValueError("url", "must name a host")
    return parts


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        raise MarketValueError("url", "has an invalid port") from None
    return DEFAULT_PORTS[parts.scheme] if port is None else port


def _ip_literal(host: str) -> IpAddress | None:
    """The address a host written as an IP literal means, in any spelling; else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if ":" in host:  # an IPv6 literal ipaddress would not read (a zone, odd brackets)
        raise MarketValueError("url", "must name a host, not an IP address")
    if NUMERIC_HOST.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise MarketValueError("url", "must name a host, not an IP address") from None
    return None


def _resolved(host: str, port: int, targets: WebhookTargets) -> list[IpAddress]:
    found = targets.resolve(host, port)
    if not found:
        raise MarketValueError("url", f"the host {host!r} does not resolve")
    if len(found) > MAX_ADDRESSES:
        raise MarketValueError("url", f"the host resolves to more than {MAX_ADDRESSES} addresses")
    try:
        return [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]
    except ValueError:
        raise MarketValueError("url", f"the host {host!r} does not resolve") from None


def _reachable(address: IpAddress, targets: WebhookTargets) -> bool:
    """Global unicast, or loopback where allowed; an IPv4-mapped IPv6 address as its IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return targets.allow_loopback
    return address.is_global and not address.is_multicast


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Flexledger-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def register_webhook(
    session: Session, organisation: Organisation, url: str, targets: WebhookTargets
) -> Webhook:
    """Stores a webhook to a target the platform may reach (see :func:`check_target`)."""
    check_target(url, targets)
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

    def __init__(
        self,
        engine: Engine,
        policy: DeliveryPolicy | None = None,
        targets: WebhookTargets | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy or DeliveryPolicy()
        self.targets = targets or WebhookTargets()
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
        # No proxies from the environment: a proxy would resolve the name again itself.
        with httpx.Client(
            timeout=self.policy.timeout_s, follow_redirects=False, trust_env=False
        ) as client:
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
        try:
            target = check_target(delivery.url, self.targets)  # resolved again, now
        except MarketValueError:
            return  # its host points somewhere the platform may not post to: never retried
        delivered = self._post(client, target, delivery)
        if delivered:
            self._count_push(delivery.activation_id)
        elif delivery.attempt + 1 < self.policy.attempts:
            delay = self.policy.backoff_s * 2**delivery.attempt
            with self._changed:
                self._push(
                    time.monotonic() + delay, replace(delivery, attempt=delivery.attempt + 1)
                )

    def _post(self, client: httpx.Client, target: Target, delivery: Delivery) -> bool:
        """POSTs to the checked address itself, naming the host in Host and TLS SNI."""
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(delivery.secret, delivery.body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else None
        try:
            response = client.post(
                target.connect_url, content=delivery.body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300

    def _count_push(self, activation_id: int) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(Activation)
                .where(col(Activation.id) == activation_id)
                .values(pushed=Activation.pushed + 1)
            )
            session.commit()
