"""Client calls for grid node structures and assets.

Writes return unsigned registry transactions; these calls sign each with the client's
wallet and relay it (in the order the API gave them, which is their nonce order), and
return the API's answer with the relay receipts under ``"relayed"``.
"""

from typing import Any

from market.client.base import ClientBase

ASSET_BATCH = 50  # POST /assets/batch takes at most this many (GridRegistry.MAX_ASSET_BATCH)
MAPPING_BATCH = 200  # POST /assets/nodes (GridRegistry.MAX_CONFIRM_BATCH)


class AssetCalls(ClientBase):
    def grid_networks(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/grid/networks")
        return found

    def import_grid(
        self,
        *,
        network: str | None = None,
        pandapower_json: str | None = None,
        nodes: list[dict[str, Any]] | None = None,
        cim: dict[str, Any] | None = None,
        name: str | None = None,
        node_id_offset: int = 0,
        attach_under: int | None = None,
        exclude_disconnected: bool = False,
    ) -> dict[str, Any]:
        """Publish a grid (exactly one of network, pandapower_json, nodes, cim) and relay
        its registerNodes transactions (up to 100 nodes each)."""
        sources = {"network": network, "pandapower_json": pandapower_json, "nodes": nodes}
        body: dict[str, Any] = {key: value for key, value in sources.items() if value is not None}
        if cim is not None:
            body["cim"] = cim
        if name is not None:
            body["name"] = name
        if attach_under is not None:
            body["attach_under"] = attach_under
        body["node_id_offset"] = node_id_offset
        body["exclude_disconnected"] = exclude_disconnected
        imported: dict[str, Any] = self.post("/grid/import", body)
        imported["relayed"] = [self.relay(tx) for tx in imported["transactions"]]
        return imported

    def grid_nodes(
        self,
        *,
        operator_id: str | None = None,
        network: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if operator_id is not None:
            params["operator_id"] = operator_id
        if network is not None:
            params["network"] = network
        found: list[dict[str, Any]] = self.get("/grid/nodes", params)
        return found

    def grid_node(self, node_id: int) -> dict[str, Any]:
        node: dict[str, Any] = self.get(f"/grid/nodes/{node_id}")
        return node

    def register_asset(
        self,
        *,
        name: str,
        technology: str,
        meter_point_id: str,
        latitude: float,
        longitude: float,
        prequalified_up_kw: float = 0.0,
        prequalified_down_kw: float = 0.0,
    ) -> dict[str, Any]:
        """Register an asset and relay its registerAsset transaction."""
        body = {
            "name": name,
            "technology": technology,
            "meter_point_id": meter_point_id,
            "latitude": latitude,
            "longitude": longitude,
            "prequalified_up_kw": prequalified_up_kw,
            "prequalified_down_kw": prequalified_down_kw,
        }
        registered: dict[str, Any] = self.post("/assets", body)
        registered["relayed"] = self.relay(registered["transaction"])
        return registered

    def register_assets(self, assets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Register many assets (each a body of POST /assets), ASSET_BATCH per request and
        one registerAssets transaction each, relayed; returns the stored assets in order."""
        registered: list[dict[str, Any]] = []
        for start in range(0, len(assets), ASSET_BATCH):
            answer = self.post("/assets/batch", {"assets": assets[start : start + ASSET_BATCH]})
            self.relay(answer["transaction"])
            registered.extend(answer["assets"])
        return registered

    def confirm_asset_nodes(self, mappings: list[tuple[str, int | None]]) -> list[dict[str, Any]]:
        """Map many assets ((asset id, node id or None for the proposed node)), MAPPING_BATCH
        per request and one confirmAssetNodes transaction each, relayed."""
        mapped: list[dict[str, Any]] = []
        for start in range(0, len(mappings), MAPPING_BATCH):
            chunk = mappings[start : start + MAPPING_BATCH]
            body = {
                "assets": [
                    {"asset_id": asset_id} | ({} if node_id is None else {"node_id": node_id})
                    for asset_id, node_id in chunk
                ]
            }
            answer = self.post("/assets/nodes", body)
            self.relay(answer["transaction"])
            mapped.extend(answer["assets"])
        return mapped

    def confirm_asset_node(self, asset_id: str, node_id: int | None = None) -> dict[str, Any]:
        """Map an asset to ``node_id`` (default: its proposed node) and relay the call."""
        body = {} if node_id is None else {"node_id": node_id}
        confirmed: dict[str, Any] = self.post(f"/assets/{asset_id}/node", body)
        confirmed["relayed"] = self.relay(confirmed["transaction"])
        return confirmed

    def assets(
        self, *, status: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        found: list[dict[str, Any]] = self.get("/assets", params)
        return found

    def asset(self, asset_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/assets/{asset_id}")
        return found

    def node_proposal(self, asset_id: str, count: int = 5) -> dict[str, Any]:
        proposal: dict[str, Any] = self.get(f"/assets/{asset_id}/node-proposal", {"count": count})
        return proposal
