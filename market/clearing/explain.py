"""Human text for an :class:`~market.clearing.model.Explanation`; built on demand, not while
clearing, so a book of 100,000 orders pays for no strings it does not show."""

from typing import TYPE_CHECKING

from market.clearing.vocab import Reason
from oracle.types import Side

if TYPE_CHECKING:
    from market.clearing.model import Explanation

_BUY_CAUSE = {
    Reason.NO_QUALIFYING_OFFER: "no sell offer at or below node {node} in this slot group",
    Reason.PRICE_TOO_LOW: "the bid is below {ref} c/MWh, the cheapest qualifying ask left",
    Reason.BELOW_CLEARING_PRICE: "the bid is below {ref} c/MWh, the clearing price at node {node}",
    Reason.VOLUME_EXHAUSTED: "the qualifying offers at or below the bid are used up",
    Reason.ASSET_CAPACITY: (
        "the assets of the qualifying offers have no prequalified capacity left in these slots"
    ),
}
_SELL_CAUSE = {
    Reason.NO_QUALIFYING_OFFER: "no buy order at or above node {node} in this slot group",
    Reason.PRICE_TOO_HIGH: "the ask is above {ref} c/MWh, the best qualifying bid left",
    Reason.VOLUME_EXHAUSTED: "the qualifying demand at or above the ask is used up",
    Reason.ASSET_CAPACITY: (
        "the asset's prequalified capacity in a slot of the order is taken by its other trades"
    ),
}
_SHARED_CAUSE = {
    Reason.BELOW_MIN_ACCEPTANCE: (
        "every match at a fitting price would have traded less than a min_power_w"
    ),
    Reason.EXPIRED: "the order expired before the clearing time",
    Reason.ALREADY_FILLED: "the order was filled in full before this clearing",
}
_OWN_AON = "it is all-or-nothing and no single qualifying counter-order fits its whole power"
_OTHER_AON = "the counter-orders at a matching price are all-or-nothing and did not fit"


def render(explanation: "Explanation") -> str:
    """One sentence: what happened, and for anything left open, why."""
    e = explanation
    if e.reason is Reason.FILLED:
        return f"filled in full: {e.filled_w} W in this clearing"
    if e.reason is Reason.PARTIALLY_FILLED:
        cause = _cause(e, e.limited_by) if e.limited_by else "no reason recorded"
        return f"partly filled: {e.filled_w} W now, {e.remaining_w} W left open: {cause}"
    return f"not filled ({e.remaining_w} W open): {_cause(e, e.reason)}"


def _cause(e: "Explanation", reason: Reason) -> str:
    if reason is Reason.ALL_OR_NOTHING_NOT_MET:
        return _OTHER_AON if e.divisible else _OWN_AON
    table = _BUY_CAUSE if e.side is Side.BUY else _SELL_CAUSE
    template = table.get(reason) or _SHARED_CAUSE[reason]
    return template.format(node=e.node_id, ref=e.reference_price_cents_per_mwh)
