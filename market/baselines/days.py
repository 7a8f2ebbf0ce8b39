"""Local days: which day a slot belongs to, which days count, and the same wall-clock time on
another day.

"Day" and "working day" are judged in a local time zone (default Europe/Berlin), not UTC:
households and businesses live by the wall clock, so the 18:00 peak must be compared with
18:00 on earlier days in winter and in summer alike, and a UTC day would cut the German
evening at 01:00/02:00 local. On the two daylight-saving days a local day has 92 or 100
slots; a wall-clock time that does not exist on an earlier day (02:15 on the spring-forward
Sunday) counts as missing data for that day.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from market.baselines.errors import BaselineError

SATURDAY = 5


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; raises naming the field when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BaselineError("tz", f"unknown time zone {tz!r}; use an IANA name") from exc


def local_time(slot_start: int, tz: ZoneInfo) -> datetime:
    """The slot start as an aware local datetime (``fold`` set inside a repeated hour)."""
    return datetime.fromtimestamp(slot_start, UTC).astimezone(tz)


def local_day(slot_start: int, tz: ZoneInfo) -> date:
    """The local calendar day the slot starts in."""
    return local_time(slot_start, tz).date()


def wall_clock_to_slot(day: date, clock: time, tz: ZoneInfo, fold: int = 0) -> int | None:
    """The unix time of ``clock`` on ``day`` in ``tz``; ``None`` when that time is skipped."""
    wanted = datetime.combine(day, clock, tzinfo=tz).replace(fold=fold)
    unix = int(wanted.timestamp())
    if local_time(unix, tz).replace(fold=0) != wanted.replace(fold=0):
        return None  # the clock jumped over it (spring forward)
    return unix


def same_wall_clock(slot_start: int, from_day: date, to_day: date, tz: ZoneInfo) -> int | None:
    """The slot at the same local time as ``slot_start``, moved from ``from_day`` to ``to_day``.

    The slot may lie on a neighbouring date of ``from_day`` (an adjustment slot before
    midnight); the date offset is kept. ``None`` when that time does not exist there.
    """
    local = local_time(slot_start, tz)
    target_day = local.date() + (to_day - from_day)
    return wall_clock_to_slot(target_day, local.time(), tz, local.fold)


def day_slots(day: date, tz: ZoneInfo) -> list[int]:
    """Every slot start of the local day, from local midnight to the next (92, 96 or 100)."""
    first = int(datetime.combine(day, time(0), tzinfo=tz).timestamp())
    end = int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp())
    return list(range(first, end, 900))


@dataclass(frozen=True, slots=True)
class DayRule:
    """Which days may serve as reference days.

    ``working_days_only`` keeps Monday to Friday; ``holidays`` and ``exclude_days`` (flagged
    activation days) are never used.
    """

    working_days_only: bool = True
    holidays: Collection[date] = ()
    exclude_days: Collection[date] = ()

    def allows(self, day: date) -> bool:
        if day in self.holidays or day in self.exclude_days:
            return False
        return not (self.working_days_only and day.weekday() >= SATURDAY)
