"""OpenAPI links: which later call a response's fields feed (an id or hash it returns).

A client generator or a stateful tester (Schemathesis) follows them: ``POST /orders`` answers
with ``order_hash``, which ``GET`` and ``DELETE /orders/{order_hash}`` take. Routes declare
them with ``responses=links(201, get_order=link("get", "/orders/{order_hash}", ...))``; FastAPI
merges them into the response it generates for that status, model and all.
"""

from typing import Any

API_PREFIX = "/api/v1"  # market.api.app.PREFIX (app imports the routes: not imported from there)


def link(method: str, path: str, **parameters: str) -> dict[str, Any]:
    """A link to ``method path`` (the path below /api/v1, as the route declares it) whose
    ``parameters`` are runtime expressions such as ``$response.body#/id``."""
    pointer = (API_PREFIX + path).replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "parameters": parameters}


def links(status_code: int, **named: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` argument of a route decorator: ``named`` links on ``status_code``."""
    return {status_code: {"links": named}}


# The links of each route that declares them, named after the route.
_ORDER = {"order_hash": "$response.body#/order_hash"}
ORDER_PLACED = links(
    201,
    GetOrder=link("get", "/orders/{order_hash}", **_ORDER),
    CancelOrder=link("delete", "/orders/{order_hash}", **_ORDER),
)
_FIRST_ORDER = {"order_hash": "$response.body#/order_hashes/0"}
ORDERS_PLACED = links(
    201,
    GetFirstOrder=link("get", "/orders/{order_hash}", **_FIRST_ORDER),
    CancelFirstOrder=link("delete", "/orders/{order_hash}", **_FIRST_ORDER),
)
_LISTED_ORDER = {"order_hash": "$response.body#/0/order_hash"}
ORDERS_LISTED = links(
    200,
    GetListedOrder=link("get", "/orders/{order_hash}", **_LISTED_ORDER),
    CancelListedOrder=link("delete", "/orders/{order_hash}", **_LISTED_ORDER),
)
_ASSET = {"asset_id": "$response.body#/asset/id"}
ASSET_REGISTERED = links(
    201,
    GetAsset=link("get", "/assets/{asset_id}", **_ASSET),
    GetNodeProposal=link("get", "/assets/{asset_id}/node-proposal", **_ASSET),
)
_ORGANISATION = {"organisation_id": "$response.body#/id"}
ORGANISATION_REGISTERED = links(
    201,
    GetOrganisation=link("get", "/organisations/{organisation_id}", **_ORGANISATION),
    ApproveOrganisation=link("post", "/organisations/{organisation_id}/approve", **_ORGANISATION),
    GetCredential=link("get", "/organisations/{organisation_id}/credential", **_ORGANISATION),
)
CLEARING_RUN = links(
    201, GetClearingRun=link("get", "/clearing/runs/{run_id}", run_id="$response.body#/id")
)
WEBHOOK_REGISTERED = links(
    201, DeleteWebhook=link("delete", "/webhooks/{webhook_id}", webhook_id="$response.body#/id")
)
