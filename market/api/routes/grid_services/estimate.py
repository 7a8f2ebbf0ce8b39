"""REST endpoints of this grid service (filled in by its service module)."""

from fastapi import APIRouter

router = APIRouter(prefix="/grid/estimate", tags=["grid services"])
