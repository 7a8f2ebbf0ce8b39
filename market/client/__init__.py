"""A Python client of the flexledger API for users' scripts, the demo and the tests.

:class:`FlexledgerClient` combines one mixin of calls per resource; each mixin lives in its
own module next to this one.
"""

from market.client.assets import AssetCalls
from market.client.base import ApiError, ClientBase
from market.client.orders import OrderCalls
from market.client.organisations import OrganisationCalls
from market.client.settlement import SettlementCalls


class FlexledgerClient(OrganisationCalls, AssetCalls, SettlementCalls, OrderCalls):
    """All calls of the API for one wallet."""


__all__ = ["ApiError", "ClientBase", "FlexledgerClient"]
