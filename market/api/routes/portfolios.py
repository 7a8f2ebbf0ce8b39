"""Portfolios: a group of an FSP's assets that trades, is baselined and settles as one."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from market import portfolios
from market.api.deps import ParticipantDep, SessionDep
from market.api.routes.scoping import reader_scope
from market.portfolios import MAX_MEMBERS, MIN_MEMBERS, PortfolioView
from oracle.types import Role

router = APIRouter(prefix="/portfolios", tags=["portfolios"])

ASSET_ID = r"^0x[0-9a-fA-F]{40}$"


class PortfolioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    asset_id: str = Field(
        pattern=ASSET_ID,
        description="The portfolio's own registered asset: what its orders name, at the node "
        "at or above every member.",
    )
    member_asset_ids: list[str] = Field(
        min_length=MIN_MEMBERS,
        max_length=MAX_MEMBERS,
        description="The member assets: yours, at or below the portfolio asset's node, in no "
        "other portfolio.",
    )


class PortfolioOut(BaseModel):
    id: int
    name: str
    owner_id: str
    asset_id: str
    member_asset_ids: list[str]
    created_at: datetime

    @classmethod
    def of(cls, view: PortfolioView) -> "PortfolioOut":
        row = view.portfolio
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            owner_id=row.owner_id,
            asset_id=row.asset_id,
            member_asset_ids=[member.id for member in view.members],
            created_at=row.created_at,
        )


@router.post("", status_code=201, summary="FSP: group its assets under one portfolio asset")
def create_portfolio(
    body: PortfolioIn, participant: ParticipantDep, session: SessionDep
) -> PortfolioOut:
    fsp = participant.require(Role.FSP)
    view = portfolios.create_portfolio(
        session, fsp, body.name, body.asset_id, body.member_asset_ids
    )
    return PortfolioOut.of(view)


@router.get("", summary="Portfolios you own or operate (all for auditors)")
def list_portfolios(participant: ParticipantDep, session: SessionDep) -> list[PortfolioOut]:
    views = portfolios.portfolios_of(session, reader_scope(participant))
    return [PortfolioOut.of(view) for view in views]
