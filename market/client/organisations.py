"""Client calls for registration and approval."""

from typing import Any

from market.client.base import ClientBase


class OrganisationCalls(ClientBase):
    def me(self) -> dict[str, Any]:
        me: dict[str, Any] = self.get("/auth/me")
        return me

    def register(
        self,
        kind: str,
        company: dict[str, str],
        *,
        licence_area_nodes: list[int] | None = None,
        licence_area_polygon: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "company": company}
        if licence_area_nodes is not None:
            body["licence_area_nodes"] = licence_area_nodes
        if licence_area_polygon is not None:
            body["licence_area_polygon"] = licence_area_polygon
        organisation: dict[str, Any] = self.post("/organisations", body)
        return organisation

    def approve(
        self, organisation_id: str, *, allow_overlap_with: list[str] | None = None
    ) -> dict[str, Any]:
        """Operator: approve; an overlapping licence area needs its operators listed."""
        body = None if allow_overlap_with is None else {"allow_overlap_with": allow_overlap_with}
        organisation: dict[str, Any] = self.post(f"/organisations/{organisation_id}/approve", body)
        return organisation

    def revoke(self, organisation_id: str) -> dict[str, Any]:
        """Operator: revoke an active organisation's role (revoked once indexed)."""
        organisation: dict[str, Any] = self.post(f"/organisations/{organisation_id}/revoke")
        return organisation

    def organisations(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/organisations", filters or None)
        return found

    def chain(self) -> dict[str, Any]:
        info: dict[str, Any] = self.get("/chain")
        return info
