"""Activations: a trade recorded on chain becomes the seller's activation, pushed to its
webhook (a real HTTP server on 127.0.0.1, signed, retried) and its websocket stream, and
pollable and acknowledgeable through the API. The platform's pump creates them (its
``after_sync`` step), so clearing a period is all it takes."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect

from market.activation import dispatch_new_activations, push_of
from market.client import FlexledgerClient
from market.db.models import Activation
from market.webhooks import SIGNATURE_HEADER, WebhookTargets
from oracle.types import SLOT_SECONDS
from tests.market.api.market_cast import (
    FEEDER_A,
    MarketCast,
    buy,
    close_gate,
    counts,
    error_field,
    fresh_slot,
    placed,
    sell,
    shared_cast,
)

SLOTS = 4


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> MarketCast:
    return shared_cast(Path(tmp_path_factory.getbasetemp()) / "market")


@dataclass
class Receiver:
    """What the FSP's webhook endpoint saw; it answers 500 to the next ``fail_next``."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    seen = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with seen.lock:
                seen.requests.append((dict(self.headers), body))
                failing = seen.fail_next > 0
                seen.fail_next -= int(failing)
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/flex/activations"
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def webhook(cast: MarketCast, receiver: Receiver) -> Iterator[dict[str, Any]]:
    response = cast.post(cast.alpha, "/webhooks", {"url": receiver.url})
    assert response.status_code == 201, response.text
    yield response.json()
    cast.delete(cast.alpha, f"/webhooks/{response.json()['id']}")


def trade_the_battery(cast: MarketCast, power_w: int = 10_000) -> int:
    """A DSO buy matched by alpha's battery, cleared and recorded; returns the slot."""
    slot = fresh_slot(cast.world)
    placed(cast, cast.dso, buy(cast.dso, FEEDER_A, slot, power_w, 25_000))
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, power_w, 15_000))
    close_gate(cast.world, slot + (SLOTS - 1) * SLOT_SECONDS)
    body = {"period_start": slot, "period_end": slot + SLOTS * SLOT_SECONDS}
    response = cast.post(cast.world.operator, "/markets/intraday/clearing", body)
    assert response.status_code == 201 and response.json()["trade_count"] == 1, response.text
    return slot


def last_activation_id(cast: MarketCast) -> int:
    seen = cast.get(cast.world.operator, "/activations", since=0, limit=1000).json()
    return max((a["id"] for a in seen), default=0)


def new_activation(cast: MarketCast, since: int) -> dict[str, Any]:
    [created] = cast.get(cast.alpha, "/activations", since=since).json()
    assert isinstance(created, dict)
    return created


def pushed(cast: MarketCast, activation_id: int) -> int:
    with Session(cast.world.platform.engine) as session:
        activation = session.get(Activation, activation_id)
        assert activation is not None
        return activation.pushed


def test_a_recorded_trade_is_pushed_to_the_webhook_and_the_stream(
    cast: MarketCast, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    since = last_activation_id(cast)
    token = cast.alpha.headers["Authorization"].removeprefix("Bearer ")
    stream = f"/api/v1/activations/stream?token={token}&since={since}"
    with cast.world.client.websocket_connect(stream) as websocket:
        slot = trade_the_battery(cast)
        message = websocket.receive_json()
    assert message["event"] == "activation.scheduled"
    activation = message["activation"]
    assert activation == new_activation(cast, since)
    assert activation["asset"] == cast.assets["battery"]
    assert activation["schedule"] == [
        {"slot_start": slot + n * SLOT_SECONDS, "power_kw": 10.0, "direction": "up"}
        for n in range(SLOTS)
    ]
    assert push_of(cast.world.platform).webhooks.wait_idle(timeout_s=10)
    headers, body = receiver.requests[-1]
    expected = hmac.new(webhook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert json.loads(body) == message
    assert pushed(cast, activation["id"]) == 1
    assert dispatch_new_activations(cast.world.platform) == []  # each trade activates once


def test_a_failed_delivery_is_retried(
    cast: MarketCast, receiver: Receiver, webhook: dict[str, Any]
) -> None:
    since = last_activation_id(cast)
    assert push_of(cast.world.platform).webhooks.wait_idle(timeout_s=10)
    requests_before = len(receiver.requests)
    receiver.fail_next = 1
    trade_the_battery(cast)
    assert push_of(cast.world.platform).webhooks.wait_idle(timeout_s=10)
    assert len(receiver.requests) == requests_before + 2  # a 500, then the retry
    assert receiver.requests[-1][1] == receiver.requests[-2][1]
    assert pushed(cast, new_activation(cast, since)["id"]) == 1


def test_fsps_poll_and_acknowledge_their_own_activations(cast: MarketCast) -> None:
    since = last_activation_id(cast)
    trade_the_battery(cast, power_w=8_000)
    client = FlexledgerClient(cast.alpha.wallet, cast.world.client)
    client.sign_in()
    [activation] = client.activations(since=since)
    assert activation["schedule"][0]["power_kw"] == 8.0
    assert (
        cast.post(cast.beta, f"/activations/{activation['id']}/acknowledge", None).status_code
        == 404
    )
    assert client.acknowledge(activation["id"])["status"] == "acknowledged"
    assert cast.get(cast.beta, "/activations", since=since).json() == []
    assert [a["id"] for a in cast.get(cast.auditor, "/activations", since=since).json()] == [
        activation["id"]
    ]
    assert cast.get(cast.dso, "/activations").status_code == 403
    assert cast.get(None, "/activations").status_code == 401


def test_the_stream_takes_the_token_as_first_message_and_refuses_bad_ones(
    cast: MarketCast,
) -> None:
    since = last_activation_id(cast)
    with cast.world.client.websocket_connect(f"/api/v1/activations/stream?since={since}") as ws:
        ws.send_json({"token": cast.alpha.headers["Authorization"].removeprefix("Bearer ")})
        trade_the_battery(cast, power_w=6_000)
        assert ws.receive_json()["activation"]["schedule"][0]["power_kw"] == 6.0
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        cast.world.client.websocket_connect("/api/v1/activations/stream?token=forged") as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 1008
    dso_token = cast.dso.headers["Authorization"].removeprefix("Bearer ")
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        cast.world.client.websocket_connect(f"/api/v1/activations/stream?token={dso_token}") as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 1008


def test_webhook_registration_rules(cast: MarketCast) -> None:
    before = counts(cast.world)
    bad = cast.post(cast.beta, "/webhooks", {"url": "ftp://example.org/hook"})
    assert bad.status_code == 422 and error_field(bad) == "url"
    assert cast.post(cast.dso, "/webhooks", {"url": "https://dso.example/hook"}).status_code == 403
    assert counts(cast.world) == before
    created = cast.post(cast.beta, "/webhooks", {"url": "http://localhost:9/hook"}).json()
    listed = cast.get(cast.beta, "/webhooks").json()
    assert [hook["id"] for hook in listed] == [created["id"]] and "secret" not in listed[0]
    assert cast.delete(cast.alpha, f"/webhooks/{created['id']}").status_code == 404
    assert cast.delete(cast.beta, f"/webhooks/{created['id']}").status_code == 204
    assert cast.get(cast.beta, "/webhooks").json() == []


SSRF_TARGETS = [
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.7/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://user@localhost:9/hook",
    "https://nowhere.invalid/hook",
]


@pytest.mark.parametrize("url", SSRF_TARGETS)
def test_webhooks_to_private_or_disguised_addresses_are_refused(cast: MarketCast, url: str) -> None:
    before = counts(cast.world)
    refused = cast.post(cast.beta, "/webhooks", {"url": url})
    assert refused.status_code == 422 and error_field(refused) == "url", refused.text
    assert counts(cast.world) == before and cast.get(cast.beta, "/webhooks").json() == []


def test_a_platform_refuses_loopback_webhooks_unless_configured(cast: MarketCast) -> None:
    platform = cast.world.platform
    allowed = platform.webhook_targets
    try:
        platform.webhook_targets = WebhookTargets()  # the default of every real deployment
        refused = cast.post(cast.beta, "/webhooks", {"url": "http://127.0.0.1:9/hook"})
        assert refused.status_code == 422 and error_field(refused) == "url", refused.text
    finally:
        platform.webhook_targets = allowed
    assert WebhookTargets().allow_loopback is False
