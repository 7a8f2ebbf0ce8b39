"""market.clearing: the grid-aware clearing engine (pure functions, no I/O, no web3).

    from market.clearing import GridTopology, PricingRule, clear

    grid = GridTopology({1: None, 2: 1, 3: 1})  # node -> parent
    result = clear(orders, grid, PricingRule.PAY_AS_CLEAR, now_s=now, filled_w=on_chain_fills)
    result.trades                      # Trade(buy_id, sell_id, power_w, price_cents_per_mwh), ...
    result.clearing_prices             # {(SlotGroup, buy node): price} under pay-as-clear
    result.explanations["o-17"].reason # Reason.PARTIALLY_FILLED
    result.explanations["o-17"].text   # "partly filled: 4000 W now, 6000 W left open: ..."

Units are the contract's (W, euro cents per MWh, unix s). Malformed input raises
:class:`ClearingInputError` (a ``ValueError``) naming the field. Rules, tie-breaks and the
pay-as-clear proof: :mod:`market.clearing.engine`; how reasons are chosen:
:mod:`market.clearing.outcome`.
"""

from market.clearing.engine import clear
from market.clearing.errors import ClearingError, ClearingInputError
from market.clearing.model import ClearingOrder, ClearingResult, Explanation, SlotGroup, Trade
from market.clearing.topology import MAX_DEPTH, GridTopology
from market.clearing.vocab import PricingRule, Reason

__all__ = [
    "MAX_DEPTH",
    "ClearingError",
    "ClearingInputError",
    "ClearingOrder",
    "ClearingResult",
    "Explanation",
    "GridTopology",
    "PricingRule",
    "Reason",
    "SlotGroup",
    "Trade",
    "clear",
]
