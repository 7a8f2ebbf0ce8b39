"""Client calls for baselines, metering, settlement on chain and statements.

Units are the API's: kWh per 15-minute slot, unix seconds for slot starts and periods.
"""

from collections.abc import Sequence
from typing import Any, Literal

from market.client.base import ClientBase


class SettlementCalls(ClientBase):
    def nominate_baseline(
        self,
        asset_id: str,
        period_start: int,
        values_kwh: Sequence[float],
        *,
        market: str = "day-ahead",
    ) -> dict[str, Any]:
        """Nominate one kWh value per slot from ``period_start``; its hash is locked on chain."""
        body = {
            "asset_id": asset_id,
            "method": "nominated",
            "period_start": period_start,
            "slot_count": len(values_kwh),
            "values_kwh": list(values_kwh),
            "market": market,
        }
        baseline: dict[str, Any] = self.post("/baselines", body)
        return baseline

    def nominate_baselines(
        self,
        nominations: Sequence[tuple[str, int, Sequence[float]]],
        *,
        market: str = "day-ahead",
    ) -> list[dict[str, Any]]:
        """Nominate many baselines in one request (``POST /baselines/batch``, at most 1,000),
        all or none: each item is ``(asset_id, period_start, values_kwh)``."""
        body = {
            "baselines": [
                {
                    "asset_id": asset_id,
                    "method": "nominated",
                    "period_start": period_start,
                    "slot_count": len(values_kwh),
                    "values_kwh": list(values_kwh),
                    "market": market,
                }
                for asset_id, period_start, values_kwh in nominations
            ]
        }
        created: list[dict[str, Any]] = self.post("/baselines/batch", body)
        return created

    def dispute_baseline(self, baseline_id: int, reason: str) -> dict[str, Any]:
        """DSO/TSO: dispute a nomination of an asset in its area (settled on X of Y then)."""
        disputed: dict[str, Any] = self.post(
            f"/baselines/{baseline_id}/dispute", {"reason": reason}
        )
        return disputed

    def flagged_baselines(self, limit: int = 100) -> list[dict[str, Any]]:
        """The flagged baselines of assets you own or operate (all for auditors)."""
        found: list[dict[str, Any]] = self.get("/baselines", {"flagged": "true", "limit": limit})
        return found

    def create_portfolio(
        self, name: str, asset_id: str, member_asset_ids: Sequence[str]
    ) -> dict[str, Any]:
        """Group member assets under the registered portfolio asset ``asset_id``."""
        body = {"name": name, "asset_id": asset_id, "member_asset_ids": list(member_asset_ids)}
        created: dict[str, Any] = self.post("/portfolios", body)
        return created

    def portfolios(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/portfolios")
        return found

    def compute_baseline(
        self, asset_id: str, method: str, period_start: int, slot_count: int
    ) -> dict[str, Any]:
        """Have the platform compute a baseline (x_of_y, high_x_of_y, meter_before, ...)."""
        body = {
            "asset_id": asset_id,
            "method": method,
            "period_start": period_start,
            "slot_count": slot_count,
        }
        baseline: dict[str, Any] = self.post("/baselines", body)
        return baseline

    def baselines(self, asset_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/baselines", {"asset": asset_id})
        return found

    def baseline_accuracy(self, asset_id: str, days: int = 10) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(
            "/baselines/accuracy", {"asset": asset_id, "days": days}
        )
        return found

    def submit_meter_readings(
        self, readings: Sequence[dict[str, Any]], *, correction_note: str | None = None
    ) -> dict[str, Any]:
        """``readings``: ``{"meter_point_id", "slot_start", "energy_kwh"}`` each; a
        ``correction_note`` replaces stored values (correct=true)."""
        body: dict[str, Any] = {"readings": list(readings)}
        path = "/meter-readings"
        if correction_note is not None:
            body["note"] = correction_note
            path += "?correct=true"
        report: dict[str, Any] = self.post(path, body)
        return report

    def meter_readings(self, meter_point_id: str, start: int, end: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(
            "/meter-readings", {"meter_point_id": meter_point_id, "from": start, "to": end}
        )
        return found

    def meter_corrections(
        self, meter_point_id: str, start: int = 0, end: int = 2**40
    ) -> list[dict[str, Any]]:
        """The audit trail of a meter point's corrections in ``[start, end)``."""
        found: list[dict[str, Any]] = self.get(
            "/meter-readings/corrections",
            {"meter_point_id": meter_point_id, "from": start, "to": end},
        )
        return found

    def run_settlement(self) -> dict[str, Any]:
        """Market operator: attest every delivered, metered trade on chain."""
        report: dict[str, Any] = self.post("/settlements/run")
        return report

    def finalise(self) -> dict[str, Any]:
        """Market operator: finalise the settlements whose dispute window has passed."""
        report: dict[str, Any] = self.post("/settlements/finalise")
        return report

    def settlements(self, **filters: Any) -> list[dict[str, Any]]:
        """Filters: ``status``, ``from``/``to`` (unix s), ``organisation`` (operator, auditor)."""
        found: list[dict[str, Any]] = self.get("/settlements", filters or None)
        return found

    def statement(
        self,
        start: int,
        end: int,
        format: Literal["json", "csv"] = "json",
        *,
        organisation: str | None = None,
    ) -> dict[str, Any] | str:
        """The statement for ``[start, end)``: a dict (json) or the CSV text (csv)."""
        params: dict[str, Any] = {"from": start, "to": end, "format": format}
        if organisation is not None:
            params["organisation"] = organisation
        found: dict[str, Any] | str = self.get("/settlements/statement", params)
        return found
