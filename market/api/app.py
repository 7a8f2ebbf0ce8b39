"""The FastAPI application: routers under /api/v1, errors mapped to statuses."""

import functools
from collections.abc import Callable

from fastapi import Depends, FastAPI

from market.api import errors
from market.api.deps import rate_limited, token_problem
from market.api.limits import EdgeLimits, bound_recursion
from market.api.ratelimit import RateLimiter
from market.api.routes import (
    activations,
    assets,
    auth,
    baselines,
    chain,
    clearing,
    eip712,
    grid,
    grid_services,
    markets,
    meter_readings,
    orders,
    organisations,
    portfolios,
    settlements,
    trades,
)
from market.platform import Platform
from oracle.types import Address

PREFIX = "/api/v1"
ROUTERS = (
    auth.router,
    organisations.router,
    chain.router,
    grid.router,
    assets.router,
    baselines.router,
    meter_readings.router,
    portfolios.router,
    settlements.router,
    markets.router,
    eip712.router,
    orders.router,
    clearing.router,
    trades.router,
    activations.router,
    *grid_services.ROUTERS,
)


def create_app(platform: Platform, *, fund: Callable[[Address], None] | None = None) -> FastAPI:
    """The API over ``platform``; ``fund`` pays gas money to newly approved wallets (dev)."""
    app = FastAPI(
        title="flexledger",
        version="1",
        summary="Local flexibility market: registration, grid, assets, baselines, orders, "
        "clearing, activation, metering and settlement on chain.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        dependencies=[Depends(rate_limited)],
    )
    app.state.platform = platform
    app.state.rate_limiter = RateLimiter(platform.rate_limit)
    app.state.fund = fund
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    # Body size, session and JSON depth are checked before FastAPI reads or parses a body.
    app.add_middleware(
        EdgeLimits, prefix=PREFIX, token_check=functools.partial(token_problem, platform)
    )
    bound_recursion()  # py-evm and py_ecc raised it on import; see market/api/limits.py
    return app
