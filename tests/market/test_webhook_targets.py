"""Webhook targets: what registration refuses, and delivery to the address it checked."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from market.errors import MarketValueError
from market.webhooks import Delivery, DeliveryPolicy, WebhookSender, WebhookTargets, check_target

PUBLIC_IP = "93.184.215.14"


def resolver(table: dict[str, list[str]]) -> Any:
    return lambda host, port: table.get(host, [])


STRICT = WebhookTargets(resolve=resolver({"hooks.test": [PUBLIC_IP]}))
LOOPBACK_OK = WebhookTargets(allow_loopback=True, resolve=resolver({"hooks.test": [PUBLIC_IP]}))

REFUSED_ALWAYS = [
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/hook",  # hex
    "http://0177.0.0.1/hook",  # octal
    "http://127.1/hook",  # shortened
    "http://0x7f.1/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/hook",
    "http://10.0.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",  # cloud metadata, link-local
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://0.0.0.0/hook",
    "http://8.8.8.8/hook",  # a literal even when public: name the host
    "http://user:pw@hooks.test/hook",
    "http://hooks.test@10.0.0.1/hook",
    "ftp://hooks.test/hook",
    "file:///etc/passwd",
    "http://unknown.test/hook",  # does not resolve
    "http://hooks.test:99999/hook",
    "http://hooks.test/a b",
    "http://hooks.test\\@10.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED_ALWAYS)
def test_refused_with_or_without_loopback(url: str) -> None:
    for targets in (STRICT, LOOPBACK_OK):
        with pytest.raises(MarketValueError) as refused:
            check_target(url, targets)
        assert refused.value.field == "url"


@pytest.mark.parametrize(
    "private", ["127.0.0.1", "10.1.2.3", "172.16.0.5", "169.254.1.1", "::1", "fc00::2"]
)
def test_a_name_that_resolves_to_any_private_address_is_refused(private: str) -> None:
    targets = WebhookTargets(resolve=resolver({"mixed.test": [PUBLIC_IP, private]}))
    with pytest.raises(MarketValueError, match="private, loopback"):
        check_target("https://mixed.test/hook", targets)


def test_loopback_is_refused_by_default_and_allowed_only_when_asked() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost:8080/hook", "http://[::1]/h"):
        with pytest.raises(MarketValueError):
            check_target(url, WebhookTargets())
    allowed = WebhookTargets(allow_loopback=True)
    assert str(check_target("http://127.0.0.1:8080/hook", allowed).address) == "127.0.0.1"
    assert check_target("http://localhost:8080/hook", allowed).address.is_loopback


def test_a_public_name_is_accepted_and_keeps_its_host() -> None:
    target = check_target("https://hooks.test/flex?x=1", STRICT)
    assert target.connect_url == f"https://{PUBLIC_IP}:443/flex?x=1"
    assert target.host_header == "hooks.test"


class Seen:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.done = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[int, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()
            seen.done.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def _sender(targets: WebhookTargets) -> WebhookSender:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    return WebhookSender(engine, DeliveryPolicy(timeout_s=1.0, attempts=1), targets)


def test_delivery_connects_to_the_checked_address_with_the_host_header(
    receiver: tuple[int, Seen],
) -> None:
    port, seen = receiver
    targets = WebhookTargets(allow_loopback=True, resolve=resolver({"hook.test": ["127.0.0.1"]}))
    sender = _sender(targets)
    sender.submit([Delivery(1, f"http://hook.test:{port}/flex", "secret", b"{}")])
    assert sender.wait_idle(timeout_s=10)
    assert seen.hosts == [f"hook.test:{port}"]


def test_delivery_rechecks_the_name_so_dns_rebinding_reaches_nothing(
    receiver: tuple[int, Seen],
) -> None:
    port, seen = receiver
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])  # public when registered, loopback later
    targets = WebhookTargets(resolve=lambda host, _: next(answers))
    url = f"http://rebind.test:{port}/flex"
    check_target(url, targets)  # what registration saw
    sender = _sender(targets)
    sender.submit([Delivery(1, url, "secret", b"{}")])
    assert sender.wait_idle(timeout_s=10)
    assert not seen.done.wait(0.2) and seen.hosts == []
