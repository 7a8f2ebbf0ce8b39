"""Client calls for markets, orders, clearing, trades and activations.

Orders are signed here with the wallet's EIP-712 key for the market contract the API names
(``GET /chain``), exactly as MetaMask's ``eth_signTypedData_v4`` would sign them, and sent
as signed (on-chain units).
"""

from collections.abc import Sequence
from typing import Any

from market.client.base import ClientBase
from oracle.eip712 import Order
from oracle.types import Address


class OrderCalls(ClientBase):
    _market_address: Address | None = None

    def market_address(self) -> Address:
        """The FlexMarket contract orders are signed for (asked once, then kept)."""
        if self._market_address is None:
            chain: dict[str, Any] = self.get("/chain")
            self._market_address = Address(chain["contracts"]["FlexMarket"])
        return self._market_address

    def signed_order(self, order: Order) -> dict[str, Any]:
        """``{"order": ..., "signature": ...}`` as the order endpoints take it."""
        signature = self.wallet.sign_order(order, self.market_address())
        return {"order": order_json(order), "signature": "0x" + signature.hex()}

    def markets(self, slot_start: int | None = None) -> list[dict[str, Any]]:
        params = None if slot_start is None else {"slot_start": slot_start}
        found: list[dict[str, Any]] = self.get("/markets", params)
        return found

    def place_order(self, order: Order, market: str) -> dict[str, Any]:
        placed: dict[str, Any] = self.post(
            "/orders", {"market": market, **self.signed_order(order)}
        )
        return placed

    def place_orders(self, orders: Sequence[Order], market: str) -> dict[str, Any]:
        """Up to 500 orders in one request; all are stored or none."""
        body = {"market": market, "orders": [self.signed_order(order) for order in orders]}
        placed: dict[str, Any] = self.post("/orders/batch", body)
        return placed

    def cancel_order(self, order_hash: str) -> dict[str, Any]:
        cancelled: dict[str, Any] = self.delete(f"/orders/{order_hash}")
        return cancelled

    def orders(self, **filters: Any) -> list[dict[str, Any]]:
        """Filters: market, status, slot_from, slot_to, limit, offset."""
        found: list[dict[str, Any]] = self.get("/orders", filters or None)
        return found

    def order(self, order_hash: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/orders/{order_hash}")
        return found

    def orderbook(self, market: str, slot_start: int) -> dict[str, Any]:
        book: dict[str, Any] = self.get(
            "/orderbook", {"market": market, "slot_start": slot_start}, auth=False
        )
        return book

    def run_clearing(
        self, market: str, period_start: int, period_end: int, pricing: str | None = None
    ) -> dict[str, Any]:
        """Market operator: clear ``[period_start, period_end)`` (unix s) of ``market``."""
        body: dict[str, Any] = {"period_start": period_start, "period_end": period_end}
        if pricing is not None:
            body["pricing"] = pricing
        run: dict[str, Any] = self.post(f"/markets/{market}/clearing", body)
        return run

    def clearing_run(self, run_id: int) -> dict[str, Any]:
        run: dict[str, Any] = self.get(f"/clearing/runs/{run_id}")
        return run

    def trades(self, **filters: Any) -> list[dict[str, Any]]:
        """Filters: run_id, status, limit, offset."""
        found: list[dict[str, Any]] = self.get("/trades", filters or None)
        return found

    def activations(self, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/activations", {"since": since, "limit": limit})
        return found

    def acknowledge(self, activation_id: int) -> dict[str, Any]:
        acknowledged: dict[str, Any] = self.post(f"/activations/{activation_id}/acknowledge")
        return acknowledged

    def register_webhook(self, url: str) -> dict[str, Any]:
        """Returns the webhook with its secret (shown only this once)."""
        webhook: dict[str, Any] = self.post("/webhooks", {"url": url})
        return webhook


def order_json(order: Order) -> dict[str, Any]:
    """The order's fields as the API takes them (plain ints, on-chain units)."""
    return order.fields()
