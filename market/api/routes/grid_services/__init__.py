"""REST endpoints of the grid services for system operators, one module per service.

Each module exposes ``router`` (prefix ``/grid/<service>``); the endpoints are role-checked
for DSO/TSO (:func:`common.operator`), take the network as :class:`common.NetworkIn`, and
answer with the service's :class:`grid.results.ResultTable` as JSON.
"""

from market.api.routes.grid_services import (
    ageing,
    congestion,
    day,
    estimate,
    forecast,
    publications,
    ratings,
)

ROUTERS = (
    forecast.router,
    day.router,
    estimate.router,
    ratings.router,
    ageing.router,
    congestion.router,
    publications.router,
)
