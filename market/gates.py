"""Markets and their gate closures.

A market is a named trading window for delivery slots. Its gate closure is the last moment
an order for a slot may be placed or cancelled; clearing runs after it. Two rules cover the
markets system operators run today:

* ``day_ahead``: the gate for every slot of delivery day D closes at ``gate_time`` local
  time on day D-``days_before`` (e.g. 12:00 Europe/Berlin on D-1, as in the EPEX and NODES
  day-ahead products). Local time because that is how the market is announced; a UTC rule
  would move the gate by an hour twice a year.
* ``lead_time``: the gate for a slot closes ``lead_s`` seconds before it starts (intraday,
  e.g. 1 h before delivery).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from market.errors import MarketValueError, NotFoundError
from oracle.types import SLOT_SECONDS


class GateRule(StrEnum):
    DAY_AHEAD = "day_ahead"
    LEAD_TIME = "lead_time"


@dataclass(frozen=True, slots=True)
class MarketSpec:
    name: str
    rule: GateRule
    description: str
    timezone: str = "Europe/Berlin"
    gate_time: time = time(12, 0)  # day_ahead only
    days_before: int = 1  # day_ahead only
    lead_s: int = 3600  # lead_time only

    def gate_closure(self, slot_start: int) -> int:
        """Unix seconds at which orders for the slot starting at ``slot_start`` close."""
        if slot_start % SLOT_SECONDS:
            raise MarketValueError("slot_start", f"{slot_start} is not a multiple of 900 s")
        if self.rule is GateRule.LEAD_TIME:
            return slot_start - self.lead_s
        zone = ZoneInfo(self.timezone)
        delivery_day = datetime.fromtimestamp(slot_start, UTC).astimezone(zone).date()
        gate_day: date = delivery_day - timedelta(days=self.days_before)
        return int(datetime.combine(gate_day, self.gate_time, tzinfo=zone).timestamp())

    def is_open(self, slot_start: int, now: int) -> bool:
        return now < self.gate_closure(slot_start)


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(
        "day-ahead",
        GateRule.DAY_AHEAD,
        "Local flexibility for tomorrow; gate closes 12:00 Europe/Berlin the day before.",
    ),
    MarketSpec(
        "intraday",
        GateRule.LEAD_TIME,
        "Continuous local flexibility; gate closes 1 h before each slot.",
        lead_s=3600,
    ),
)


class MarketCatalogue:
    """The markets this platform runs, by name."""

    def __init__(self, markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS) -> None:
        self._markets = {market.name: market for market in markets}

    def get(self, name: str) -> MarketSpec:
        market = self._markets.get(name)
        if market is None:
            raise NotFoundError(
                "market", f"no market {name!r}; markets: {', '.join(self._markets)}"
            )
        return market

    def all(self) -> list[MarketSpec]:
        return list(self._markets.values())
