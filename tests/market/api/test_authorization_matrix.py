"""The authorisation matrix: every endpoint of the API, called by every kind of caller.

The callers (columns): ``anonymous`` (no token), ``visitor`` (a signed-in wallet without an
organisation), ``fsp`` (owns the battery, the open order, the baseline, the trade, the
activation and the webhook under test), ``other_fsp``, ``dso`` (operates the battery's node),
``other_dso`` and ``tso`` (system operators whose licence areas lie elsewhere), ``auditor``
and ``operator`` (the market operator).

The rule the table pins, endpoint by endpoint:

- anonymous callers get 401 everywhere but the public market data: sign-in (nonce, sign-in),
  the chain's contracts, the markets' gate rules, the EIP-712 order types and the
  anonymised order book;
- a role the caller does not hold on chain, operator-only jobs included, is 403;
- a write that names an asset or a grid node outside the caller's ownership or licence area
  is 403 naming that field (assets and nodes are public in the chain's GridRegistry);
- another participant's private record (asset details, order, trade, baselines, meter
  readings, activation, webhook, relayed transaction) is 404 when read, and when written
  through its id in the path: the API does not disclose that it exists;
- the auditor and the market operator read everything; the auditor writes nothing.

Two deliberate exceptions: registering an organisation is open to every signed-in wallet
(the registered get 409), and ``POST /transactions`` relays whatever registry call the
caller's own wallet signed: the registry contract checks the role on chain (see
test_transactions.py); here every caller's transaction calls no registry function (422).

Refused callers run first in every row, and the platform's tables must not change while
they do; allowed callers run last, and may write.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select
from starlette.websockets import WebSocketDisconnect

from market.access import licence_area
from market.db.models import (
    TABLES,
    Activation,
    Asset,
    GridNode,
    MarketOrder,
    MarketTrade,
    Organisation,
    OrganisationKind,
    Webhook,
)
from market.grid_service import in_licence_area
from oracle.outbox.models import OutboxMessage
from oracle.relay import RELAY_KIND
from oracle.types import SLOT_SECONDS
from tests.market.api.market_cast import (
    FEEDER_A,
    HOUSE_A,
    OTHER_ROOT,
    ROOT,
    MarketCast,
    build_cast,
    buy,
    close_gate,
    fresh_slot,
    placed,
    sell,
    signed,
)
from tests.market.api.platform_world import COMPANY, Actor, sign_in, start

PREFIX = "/api/v1"
ROLES = (
    "anonymous",
    "visitor",
    "fsp",
    "other_fsp",
    "dso",
    "other_dso",
    "tso",
    "auditor",
    "operator",
)
WS_OPEN = 101  # the stream accepted the caller and sent an activation
WS_REFUSED = 1008  # the stream closed: policy violation (no valid session, or not allowed)
REFUSALS = {401, 403, 404, WS_REFUSED}
SLOTS = 4
COUNTED: tuple[type[SQLModel], ...] = (*TABLES, OutboxMessage)  # every table a write touches


@dataclass
class Scene:
    """The platform, one caller per role (anonymous is None) and the ids of the records
    the rows act on."""

    cast: MarketCast
    callers: dict[str, Actor | None]
    ids: dict[str, Any] = field(default_factory=dict)


Body = Callable[[Scene, Actor], Any]


@dataclass(frozen=True)
class Row:
    method: str  # GET, POST, DELETE, or WS for the websocket
    path: str  # under /api/v1, with {names} from Scene.ids
    expected: dict[str, int]
    body: Body | None = None  # the caller's request body (anonymous sends the fsp's)
    params: dict[str, str] = field(default_factory=dict)  # values may name Scene.ids too
    fields: dict[str, str] = field(default_factory=dict)  # role -> the field its 403 names
    own_session: bool = False  # call with a fresh session of the caller (logout revokes it)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}" + ("?" + "&".join(self.params) if self.params else "")


def expect(default: int, *, anonymous: int = 401, **by_role: int) -> dict[str, int]:
    """``default`` for every signed-in caller not named, 401 for anonymous unless given."""
    assert set(by_role) <= set(ROLES), set(by_role) - set(ROLES)
    return {"anonymous": anonymous, **{role: default for role in ROLES[1:]}, **by_role}


PUBLIC = expect(200, anonymous=200)
SIGNED_IN = expect(200)
PARTICIPANTS = expect(200, visitor=403)  # any FSP, DSO, TSO, auditor or the operator
OPERATOR_JOB = expect(403, operator=200)
# Private records of the fsp at the dso's node: their parties read them, nobody else sees them.
FSP_ASSET_READ = expect(200, visitor=403, other_fsp=404, other_dso=404, tso=404)
FSP_RECORD_READ = expect(404, visitor=403, fsp=200, auditor=200, operator=200)
TRADE_READ = expect(404, visitor=403, fsp=200, dso=200, auditor=200, operator=200)
FSP_OWN_WRITE = expect(403, fsp=201)
OUTSIDE_THE_AREA = ("other_dso", "tso")


# -- request bodies: each caller signs its own ----------------------------------------------


def _registration(scene: Scene, caller: Actor) -> Any:
    # An FSP with a licence area is refused by the service (422) after its other checks, so
    # the allowed calls of wallets without an organisation (the visitor, the market
    # operator) write nothing; wallets that registered get 409 first.
    return {"kind": "fsp", "company": {"name": "Late", **COMPANY}, "licence_area_nodes": [1]}


def _foreign_transaction(scene: Scene, caller: Actor) -> Any:
    """A transaction the caller's wallet signed that calls no registry function."""
    world = scene.cast.world
    settlement = world.platform.oracle.suite.manifest.address_of("FlexSettlement")
    fields = {
        "to": settlement,
        "data": "0x",
        "nonce": 0,
        "gas": 100_000,
        "chainId": world.platform.chain_id,
        "value": 0,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    return {"raw_transaction": caller.wallet.sign_transaction(fields)}


def _grid_import(scene: Scene, caller: Actor) -> Any:
    return {"nodes": [{"node_id": ROOT, "parent_id": 0, "name": "N1", "voltage_kv": 10}]}


def _asset_registration(scene: Scene, caller: Actor) -> Any:
    """The battery's meter point again: the FSPs' allowed call is a 409, nothing written."""
    return {
        "name": "another battery",
        "technology": "battery",
        "meter_point_id": scene.ids["meter_point"],
        "latitude": 50.0,
        "longitude": 10.0,
        "prequalified_up_kw": 5,
        "prequalified_down_kw": 5,
    }


def _map_battery(scene: Scene, caller: Actor) -> Any:
    return {"node_id": HOUSE_A}


def _nomination(asset: str, period_start: int) -> dict[str, Any]:
    return {
        "asset_id": asset,
        "method": "nominated",
        "period_start": period_start,
        "slot_count": SLOTS,
        "values_kwh": [2.0] * SLOTS,
        "market": "intraday",
    }


def _baseline(scene: Scene, caller: Actor) -> Any:
    """After the open order's slots, still before their gate."""
    return _nomination(scene.ids["asset"], scene.ids["order_slot"] + SLOTS * SLOT_SECONDS)


def _baseline_batch(scene: Scene, caller: Actor) -> Any:
    """One nomination after the single one's period, in the batch's shape."""
    period = scene.ids["order_slot"] + 2 * SLOTS * SLOT_SECONDS
    return {"baselines": [_nomination(scene.ids["asset"], period)]}


def _portfolio(scene: Scene, caller: Actor) -> Any:
    """The fsp's battery over its EV and PV: they sit at another house, not below the
    battery's node, so the fsp's allowed call is a 422 and writes nothing."""
    assets = scene.cast.assets
    return {
        "name": "homes",
        "asset_id": assets["battery"],
        "member_asset_ids": [assets["ev"], assets["pv"]],
    }


def _dispute(scene: Scene, caller: Actor) -> Any:
    return {"reason": "far above what the battery ever drew"}


def _readings(scene: Scene, caller: Actor) -> Any:
    """The reading the dso stored already: its allowed call stores nothing new."""
    reading = {"meter_point_id": scene.ids["meter_point"], "slot_start": scene.ids["metered_slot"]}
    return {"readings": [{**reading, "energy_kwh": 1.0}]}


def _sell_battery(scene: Scene, caller: Actor) -> Any:
    order = sell(scene.cast, caller, "battery", scene.ids["order_slot"], 5_000, 15_000)
    return {"market": "intraday", **signed(scene.cast, caller, order)}


def _sell_battery_batch(scene: Scene, caller: Actor) -> Any:
    order = sell(scene.cast, caller, "battery", scene.ids["order_slot"], 5_000, 15_000)
    return {"market": "intraday", "orders": [signed(scene.cast, caller, order)]}


def _buy_at_the_battery(scene: Scene, caller: Actor) -> Any:
    order = buy(caller, HOUSE_A, scene.ids["order_slot"], 5_000, 25_000)
    return {"market": "intraday", **signed(scene.cast, caller, order)}


def _clear_open_period(scene: Scene, caller: Actor) -> Any:
    """A period whose gate is still open: the operator's allowed call is a 409."""
    start = scene.ids["order_slot"]
    return {"period_start": start, "period_end": start + SLOT_SECONDS}


def _webhook(scene: Scene, caller: Actor) -> Any:
    return {"url": "http://localhost:9/flex"}  # loopback: the test platform allows it


def _sign_in(scene: Scene, caller: Actor) -> Any:
    client = scene.cast.world.client
    challenge = client.get(f"{PREFIX}/auth/nonce").json()
    message, signature = caller.wallet.sign_in_message(
        challenge["domain"], challenge["uri"], challenge["nonce"]
    )
    return {"message": message, "signature": signature}


def _revocation(scene: Scene, caller: Actor) -> Any:
    """Every session of a wallet no caller uses: only the market operator may."""
    return {"address": "0x000000000000000000000000000000000000dEaD"}


# -- the matrix ----------------------------------------------------------------------------

ROWS = (
    # sign-in
    Row("GET", "/auth/nonce", PUBLIC),
    Row("POST", "/auth/sign-in", PUBLIC, _sign_in),
    Row("GET", "/auth/me", SIGNED_IN),
    Row("POST", "/auth/logout", expect(204), own_session=True),
    Row(
        "POST",
        "/auth/revoke",
        expect(403, operator=200),
        _revocation,
        fields=dict.fromkeys(ROLES[1:-1], "address"),
    ),
    # organisations
    Row("POST", "/organisations", expect(409, visitor=422, operator=422), _registration),
    Row("GET", "/organisations", SIGNED_IN),
    Row("GET", "/organisations/{fsp_org}", SIGNED_IN),
    Row("POST", "/organisations/{pending_org}/approve", OPERATOR_JOB),
    Row("POST", "/organisations/{unknown_org}/revoke", expect(403, operator=404)),
    Row(
        "GET",
        "/organisations/{fsp_org}/credential",
        expect(403, fsp=200, auditor=200, operator=200),
    ),
    # chain and relayed registry transactions
    Row("GET", "/chain", PUBLIC),
    Row(
        "POST",
        "/transactions",
        expect(422, visitor=403, auditor=403, operator=403),
        _foreign_transaction,
    ),
    Row("GET", "/transactions/{tx_hash}", expect(404, fsp=200, auditor=200, operator=200)),
    Row("GET", "/chain/flags", expect(403, auditor=200, operator=200)),
    # grid
    Row("GET", "/grid/networks", SIGNED_IN),
    Row("POST", "/grid/import", expect(403, dso=409, other_dso=409, tso=409), _grid_import),
    Row("GET", "/grid/nodes", SIGNED_IN),
    Row("GET", "/grid/nodes/{node}", SIGNED_IN),
    # assets
    Row("POST", "/assets", expect(403, fsp=409, other_fsp=409), _asset_registration),
    Row("GET", "/assets", PARTICIPANTS),
    Row("GET", "/assets/{asset}", FSP_ASSET_READ),
    Row("GET", "/assets/{asset}/node-proposal", FSP_ASSET_READ),
    Row(
        "POST",
        "/assets/{asset}/node",
        expect(403, dso=200),
        _map_battery,
        fields=dict.fromkeys(OUTSIDE_THE_AREA, "asset_id") | {"fsp": "authorization"},
    ),
    Row(
        "POST",
        "/assets/batch",
        expect(403, fsp=409, other_fsp=409),
        lambda scene, caller: {"assets": [_asset_registration(scene, caller)]},
    ),
    Row(
        "POST",
        "/assets/nodes",
        expect(403, dso=200),
        lambda scene, caller: {"assets": [{"asset_id": scene.ids["asset"], "node_id": HOUSE_A}]},
        fields=dict.fromkeys(OUTSIDE_THE_AREA, "assets.0.asset_id") | {"fsp": "authorization"},
    ),
    # baselines and metering
    Row("POST", "/baselines", FSP_OWN_WRITE, _baseline, fields={"other_fsp": "asset_id"}),
    Row("GET", "/baselines", FSP_ASSET_READ, params={"asset": "{asset}"}),
    Row(
        "POST",
        "/baselines/batch",
        FSP_OWN_WRITE,
        _baseline_batch,
        fields={"other_fsp": "baselines.0.asset_id"},
    ),
    Row("GET", "/baselines", PARTICIPANTS, params={"flagged": "true"}),
    Row(
        "POST",
        "/portfolios",
        expect(403, fsp=422),
        _portfolio,
        fields={"other_fsp": "asset_id"},
    ),
    Row("GET", "/portfolios", PARTICIPANTS),
    Row(
        "POST",
        "/baselines/{baseline}/dispute",
        expect(403, dso=200, other_dso=404, tso=404),
        _dispute,
        fields=dict.fromkeys(OUTSIDE_THE_AREA, "baseline_id"),
    ),
    Row(
        "GET",
        "/baselines/accuracy",
        expect(422, visitor=403, other_fsp=404, other_dso=404, tso=404),  # 422: no history
        params={"asset": "{asset}"},
    ),
    Row(
        "POST",
        "/meter-readings",
        expect(403, dso=200, other_dso=404, tso=404),  # outside the area: an unknown meter point
        _readings,
        fields=dict.fromkeys(OUTSIDE_THE_AREA, "readings.0.meter_point_id"),
    ),
    Row(
        "GET",
        "/meter-readings",
        FSP_ASSET_READ,
        params={"meter_point_id": "{meter_point}", "from": "{metered_slot}", "to": "{slot}"},
    ),
    Row(
        "GET",
        "/meter-readings/corrections",
        FSP_ASSET_READ,
        params={"meter_point_id": "{meter_point}"},
    ),
    # markets and orders
    Row("GET", "/markets", PUBLIC),
    Row("GET", "/eip712", PUBLIC),
    Row("GET", "/orderbook", PUBLIC, params={"market": "intraday", "slot_start": "{order_slot}"}),
    Row(
        "POST",
        "/orders",
        FSP_OWN_WRITE,
        _sell_battery,
        fields={"other_fsp": "order.asset", "dso": "order.side", "auditor": "authorization"},
    ),
    Row(
        "POST",
        "/orders",
        expect(403, dso=201),
        _buy_at_the_battery,
        fields=dict.fromkeys(OUTSIDE_THE_AREA, "order.node_id") | {"fsp": "order.side"},
    ),
    Row(
        "POST",
        "/orders/batch",
        FSP_OWN_WRITE,
        _sell_battery_batch,
        fields={"other_fsp": "orders.0.order.asset"},
    ),
    Row("GET", "/orders", PARTICIPANTS),
    Row("GET", "/orders/{order}", FSP_RECORD_READ),
    Row(
        "DELETE",
        "/orders/{order}",
        expect(404, visitor=403, auditor=403, operator=403, fsp=200),
    ),
    # clearing and trades
    Row("POST", "/markets/{market}/clearing", expect(403, operator=409), _clear_open_period),
    Row("GET", "/clearing/runs", PARTICIPANTS),
    Row("GET", "/clearing/runs/{run}", PARTICIPANTS),
    Row("GET", "/trades", PARTICIPANTS),
    Row("GET", "/trades/{trade}", TRADE_READ),
    # activations and webhooks
    Row("GET", "/activations", expect(403, fsp=200, other_fsp=200, auditor=200, operator=200)),
    Row("POST", "/activations/{activation}/acknowledge", expect(403, fsp=200, other_fsp=404)),
    Row(
        "WS",
        "/activations/stream",
        expect(
            WS_REFUSED,
            anonymous=WS_REFUSED,
            fsp=WS_OPEN,
            other_fsp=WS_OPEN,
            auditor=WS_OPEN,
            operator=WS_OPEN,
        ),
    ),
    Row("POST", "/webhooks", expect(403, fsp=201, other_fsp=201), _webhook),
    Row("GET", "/webhooks", expect(403, fsp=200, other_fsp=200)),
    Row("DELETE", "/webhooks/{webhook}", expect(403, fsp=204, other_fsp=404)),
    # settlement
    Row("POST", "/settlements/run", OPERATOR_JOB),
    Row("POST", "/settlements/finalise", OPERATOR_JOB),
    Row("GET", "/settlements", PARTICIPANTS),
    Row(
        "GET",
        "/settlements/statement",
        PARTICIPANTS,
        params={"from": "{day_before}", "to": "{slot}"},
    ),
    Row(
        "GET",
        "/settlements/statement",
        expect(403, fsp=200, auditor=200, operator=200),
        params={"from": "{day_before}", "to": "{slot}", "organisation": "{fsp_org}"},
        fields={"other_fsp": "organisation", "dso": "organisation"},
    ),
)


# -- the scene -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    world = start(Path(tmp_path_factory.mktemp("authorization")))
    try:
        cast = build_cast(world)
        tso = world.onboard(OrganisationKind.TSO, "TSO", licence_area_nodes=[OTHER_ROOT])
        callers: dict[str, Actor | None] = {
            "anonymous": None,
            "visitor": world.new_actor(),
            "fsp": cast.alpha,
            "other_fsp": cast.beta,
            "dso": cast.dso,
            "other_dso": cast.other_dso,
            "tso": tso,
            "auditor": cast.auditor,
            "operator": world.operator,
        }
        scene = Scene(cast, callers)
        _name_the_battery(scene)
        _trade_and_activate(scene)
        _record_the_rest(scene)
        _nominate_to_dispute(scene)
        yield scene
    finally:
        world.close()


def _name_the_battery(scene: Scene) -> None:
    cast = scene.cast
    with Session(cast.world.platform.engine) as session:
        battery = session.get(Asset, cast.assets["battery"])
        assert battery is not None
    scene.ids.update(
        fsp_org=cast.alpha.organisation_id,
        asset=battery.id,
        meter_point=battery.meter_point_id,
        node=HOUSE_A,
        market="intraday",
    )


def _trade_and_activate(scene: Scene) -> None:
    """The fsp's battery and the other fsp's heat pump sell to the dso; cleared and recorded
    on chain, each trade becomes its seller's activation. The fsp nominated a baseline."""
    cast, world = scene.cast, scene.cast.world
    slot = fresh_slot(world, SLOTS)
    baseline = cast.post(cast.alpha, "/baselines", _nomination(scene.ids["asset"], slot))
    assert baseline.status_code == 201, baseline.text
    placed(cast, cast.dso, buy(cast.dso, FEEDER_A, slot, 20_000, 25_000))
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 10_000, 15_000))
    placed(cast, cast.beta, sell(cast, cast.beta, "heat pump", slot, 10_000, 15_000))
    world.settle()
    close_gate(world, slot + (SLOTS - 1) * SLOT_SECONDS)
    period = {"period_start": slot, "period_end": slot + SLOTS * SLOT_SECONDS}
    run = cast.post(world.operator, "/markets/intraday/clearing", period)
    assert run.status_code == 201 and run.json()["trade_count"] == 2, run.text
    world.settle()
    with Session(world.platform.engine) as session:
        trade = session.exec(
            select(MarketTrade).where(MarketTrade.asset == cast.assets["battery"])
        ).one()
        activation = session.exec(select(Activation).where(Activation.trade_id == trade.id)).one()
    day_before = slot - 24 * 3600
    scene.ids.update(
        slot=slot,
        day_before=day_before,
        run=run.json()["id"],
        trade=trade.id,
        activation=activation.id,
    )


def _record_the_rest(scene: Scene) -> None:
    """An open order, a meter reading, a webhook, a pending registration and the ids."""
    cast, world = scene.cast, scene.cast.world
    order_slot = fresh_slot(world, 2 * SLOTS)
    order = placed(cast, cast.alpha, sell(cast, cast.alpha, "ev", order_slot, 10_000, 9_000))
    metered_slot = (world.platform.now() // SLOT_SECONDS - 1) * SLOT_SECONDS
    with Session(world.platform.engine) as session:
        relayed = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.sender == cast.alpha.address)
            .where(OutboxMessage.kind == RELAY_KIND)
        ).first()
        assert relayed is not None
    scene.ids.update(
        order=order,
        order_slot=order_slot,
        metered_slot=metered_slot,
        tx_hash=relayed.key.removeprefix("tx:"),
    )
    stored = cast.post(cast.dso, "/meter-readings", _readings(scene, cast.dso))
    assert stored.status_code == 200 and stored.json()["stored"] == 1, stored.text
    hook = cast.post(cast.alpha, "/webhooks", _webhook(scene, cast.alpha))
    assert hook.status_code == 201, hook.text
    pending = world.new_actor()
    body = {"kind": "auditor", "company": {"name": "Pending", **COMPANY}}
    registered = cast.post(pending, "/organisations", body)
    assert registered.status_code == 201, registered.text
    scene.ids.update(
        webhook=hook.json()["id"],
        pending_org=registered.json()["id"],
        unknown_org="00000000-0000-4000-8000-000000000000",
    )


def _nominate_to_dispute(scene: Scene) -> None:
    """A nomination of the fsp's battery for the dso to dispute (after the batch's)."""
    period = scene.ids["order_slot"] + 3 * SLOTS * SLOT_SECONDS
    cast = scene.cast
    nominated = cast.post(cast.alpha, "/baselines", _nomination(scene.ids["asset"], period))
    assert nominated.status_code == 201, nominated.text
    scene.ids.update(baseline=nominated.json()["id"])


# -- calling a row -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    text: str = ""


def call(scene: Scene, row: Row, role: str) -> Answer:
    caller = scene.callers[role]
    if row.method == "WS":
        return _stream(scene, caller)
    path = PREFIX + row.path.format(**scene.ids)
    params = {name: value.format(**scene.ids) for name, value in row.params.items()}
    body = None if row.body is None else row.body(scene, caller or _stand_in(scene))
    headers = caller.headers if caller else {}
    if caller is not None and row.own_session:
        headers = sign_in(scene.cast.world.client, caller.wallet)
    response = scene.cast.world.client.request(
        row.method, path, params=params, json=body, headers=headers
    )
    return Answer(response.status_code, response.text)


def _stand_in(scene: Scene) -> Actor:
    """Whose body an anonymous caller sends (the fsp's): refused before it is read."""
    fsp = scene.callers["fsp"]
    assert fsp is not None
    return fsp


def _stream(scene: Scene, caller: Actor | None) -> Answer:
    """Connects to the activation stream; WS_OPEN once an activation arrives."""
    url = f"{PREFIX}/activations/stream?since=0"
    if caller is not None:
        url += "&token=" + caller.headers["Authorization"].removeprefix("Bearer ")
    try:
        with scene.cast.world.client.websocket_connect(url) as websocket:
            if caller is None:
                websocket.send_json({})  # a first message without a token
            websocket.receive_json()
            return Answer(WS_OPEN)
    except WebSocketDisconnect as closed:
        return Answer(closed.code, closed.reason or "")


# -- what a refused call must leave unchanged --------------------------------------------------


def snapshot(scene: Scene) -> tuple[object, ...]:
    """Row counts of every platform and outbox table, and the states the rows' writes
    would change (order and activation status, the pending registration, the webhook)."""
    ids = scene.ids
    with Session(scene.cast.world.platform.engine) as session:
        counts = tuple(
            session.exec(select(func.count()).select_from(model)).one() for model in COUNTED
        )
        order = session.get(MarketOrder, ids["order"])
        activation = session.get(Activation, ids["activation"])
        pending = session.get(Organisation, ids["pending_org"])
        assert order is not None and activation is not None and pending is not None
        states = (
            order.status,
            activation.status,
            pending.status,
            session.get(Webhook, ids["webhook"]) is not None,
        )
    return counts + states


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_authorization(scene: Scene, row: Row) -> None:
    refused = [role for role in ROLES if row.expected[role] in REFUSALS]
    allowed = [role for role in ROLES if role not in refused]
    before = snapshot(scene)
    answers = {role: call(scene, row, role) for role in refused}
    assert snapshot(scene) == before, "a refused call changed the platform's tables"
    answers |= {role: call(scene, row, role) for role in allowed}
    seen = {role: answers[role].status for role in ROLES}
    wrong = {role: answers[role].text[:300] for role in ROLES if seen[role] != row.expected[role]}
    assert seen == row.expected, wrong
    named = {role: _field(answers[role].text) for role in refused if seen[role] in (403, 404)}
    assert all(named.values()), named  # every refusal names the field it is about
    assert {role: named[role] for role in row.fields} == row.fields


def _field(text: str) -> str:
    """The dotted field an error body names: ["body", "order", "asset"] -> order.asset."""
    loc: list[str] = json.loads(text)["detail"][0]["loc"]
    return ".".join(str(part) for part in loc[1:])


def _template(path: str) -> str:
    """The path with its parameters unnamed: /orders/{order_hash} -> /orders/{}."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_matrix_covers_every_route(scene: Scene) -> None:
    """One row at least for every route under /api/v1 (but the docs), and no stale rows."""
    app: Any = scene.cast.world.client.app
    routes = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(PREFIX) or path in (app.openapi_url, app.docs_url):
            continue
        websocket = isinstance(route.original_route, APIWebSocketRoute)
        for method in ["WS"] if websocket else sorted(route.methods or ()):
            routes.add((method, _template(path.removeprefix(PREFIX))))
    assert routes == {(row.method, _template(row.path)) for row in ROWS}


def test_one_licence_area_rule_for_reads_and_writes(scene: Scene) -> None:
    """market.access (reads, metering) and market.grid_service (orders, mapping) agree."""
    expected = {"dso": {1, 2, 3, 4, 5}, "other_dso": {101, 102}, "tso": {101, 102}}
    with Session(scene.cast.world.platform.engine) as session:
        nodes = session.exec(select(GridNode.node_id)).all()
        for role, area in expected.items():
            caller = scene.callers[role]
            assert caller is not None and caller.organisation_id is not None
            organisation = session.get(Organisation, caller.organisation_id)
            assert organisation is not None
            assert licence_area(session, organisation) == area
            assert {n for n in nodes if in_licence_area(session, organisation, n)} == area
