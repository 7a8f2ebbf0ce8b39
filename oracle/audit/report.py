"""The audit report: what was checked and every mismatch found."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One check that failed: ``subject`` is e.g. ``trade 7``, ``check`` what was verified."""

    subject: str
    check: str
    expected: Any
    actual: Any
    block_number: int


@dataclass(slots=True)
class AuditReport:
    chain_id: int
    market: str
    from_block: int
    to_block: int
    events: int = 0
    trades: int = 0
    settlements: int = 0
    finalised: int = 0
    disputed: int = 0
    orders_verified: int = 0
    baselines_locked: int = 0
    duration_s: float = 0.0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches

    @property
    def settlements_per_s(self) -> float:
        return self.settlements / self.duration_s if self.duration_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        data["settlements_per_s"] = round(self.settlements_per_s, 1)
        data["duration_s"] = round(self.duration_s, 3)
        return data
