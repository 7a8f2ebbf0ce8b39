"""What every grid-service endpoint shares: the network a request names, the DSO/TSO role
check, and the answer shape."""

from typing import Any

from pandapower.auxiliary import pandapowerNet
from pydantic import BaseModel, ConfigDict, Field

from grid.networks import open_network
from grid.results import ResultTable
from market.api.deps import Participant
from market.db.models import Organisation
from oracle.types import Role

NETWORK_PATTERN = r"^(simbench:[A-Za-z0-9_-]{1,60}|[a-z0-9][a-z0-9-]{0,60})$"


class NetworkIn(BaseModel):
    """The network a service runs on: a catalogue name or ``simbench:<code>``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    network: str = Field(
        pattern=NETWORK_PATTERN,
        description="A catalogue network (GET /grid/networks) or simbench:<code>.",
        examples=["cigre-mv", "simbench:1-LV-rural1--0-sw"],
    )

    def open(self) -> pandapowerNet:
        return open_network(self.network)


class ResultOut(BaseModel):
    """A grid service's result: the rows, their units and the key figures; with
    ``publication_id`` when the request asked for it to be published through the oracle."""

    service: str
    title: str
    columns: list[str]
    units: dict[str, str]
    key_figures: dict[str, Any]
    rows: list[dict[str, Any]]
    publication_id: str | None = Field(
        default=None, description="GET /grid/publications/{id}: its hash and chain status."
    )

    @classmethod
    def of(cls, table: ResultTable[Any], publication_id: str | None = None) -> "ResultOut":
        return cls.model_validate({**table.to_json_dict(), "publication_id": publication_id})


def operator(participant: Participant) -> Organisation:
    """The caller's organisation, which must hold the DSO or TSO role on chain."""
    return participant.require(Role.DSO, Role.TSO)
