"""GET /eip712: a wallet integrator signs an order from the endpoint's answer alone."""

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from oracle.eip712 import ORDER_FIELDS
from oracle.types import SLOT_SECONDS
from tests.market.api.market_cast import HOUSE_A, MarketCast, build_cast, fresh_slot
from tests.market.api.platform_world import PlatformWorld


@pytest.fixture(scope="module")
def cast(world: PlatformWorld) -> MarketCast:
    return build_cast(world)


def _published(cast: MarketCast) -> dict[str, Any]:
    response = cast.world.client.get("/api/v1/eip712")  # anonymous: it is public
    assert response.status_code == 200, response.text
    published: dict[str, Any] = response.json()
    return published


def test_the_domain_names_the_chain_and_the_market_contract(cast: MarketCast) -> None:
    published = _published(cast)
    assert published["domain"] == {
        "name": "flexledger Market",
        "version": "1",
        "chainId": cast.world.platform.chain_id,
        "verifyingContract": cast.market_address,
    }
    assert published["primaryType"] == "Order"
    assert published["types"]["Order"] == ORDER_FIELDS
    units = {member["name"]: member["unit"] for member in published["order_fields"]}
    assert units["powerW"] == "W" and units["priceCentsPerMWh"] == "euro cents per MWh"
    assert [m["name"] for m in published["order_fields"]] == [f["name"] for f in ORDER_FIELDS]


def test_an_order_signed_from_only_the_published_json_is_accepted(cast: MarketCast) -> None:
    published = _published(cast)
    slot = fresh_slot(cast.world)
    message = {
        "maker": cast.alpha.address,
        "side": 1,
        "direction": 0,
        "nodeId": HOUSE_A,
        "asset": cast.assets["battery"],
        "slotStart": slot,
        "slotCount": 4,
        "powerW": 5_000,
        "minPowerW": 1_000,
        "divisible": True,
        "priceCentsPerMWh": 12_345,
        "nonce": 424_242,
        "expiry": slot + 4 * SLOT_SECONDS,
    }
    typed = {
        "types": published["types"],
        "primaryType": published["primaryType"],
        "domain": published["domain"],
        "message": message,
    }
    key = cast.alpha.wallet._account.key  # the FSP's wallet, as MetaMask holds it
    signed = Account.sign_message(encode_typed_data(full_message=typed), private_key=key)
    order = {m["body_field"]: message[m["name"]] for m in published["order_fields"]}
    body = {"market": "intraday", "order": order, "signature": "0x" + signed.signature.hex()}
    response = cast.post(cast.alpha, "/orders", body)
    assert response.status_code == 201, response.text
    assert response.json()["order_hash"] == "0x" + bytes(signed.message_hash).hex()


def test_the_openapi_points_post_orders_at_the_endpoint(cast: MarketCast) -> None:
    spec = cast.world.client.get("/api/v1/openapi.json").json()
    assert "GET /api/v1/eip712" in spec["paths"]["/api/v1/orders"]["post"]["description"]
    assert "Eip712Out" in spec["components"]["schemas"]
    ok = spec["paths"]["/api/v1/eip712"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/Eip712Out")
