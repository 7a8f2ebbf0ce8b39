"""The closed vocabularies of clearing, in one place."""

from enum import StrEnum


class PricingRule(StrEnum):
    """How a matched pair is priced (see :mod:`market.clearing.engine`)."""

    PAY_AS_BID = "pay_as_bid"  # each accepted offer is paid its own ask
    PAY_AS_CLEAR = "pay_as_clear"  # one uniform price per (buy node, slot group)


class Reason(StrEnum):
    """Why an order ended where it did: one per order; ``limited_by`` reuses the losing ones."""

    FILLED = "filled"  # nothing left open after this clearing
    PARTIALLY_FILLED = "partially_filled"  # some filled now; ``limited_by`` says why not more
    NO_QUALIFYING_OFFER = "no_qualifying_offer"  # no counter-order in the group at a valid node
    PRICE_TOO_LOW = "price_too_low"  # a bid under every qualifying ask
    PRICE_TOO_HIGH = "price_too_high"  # an ask over every qualifying bid
    BELOW_CLEARING_PRICE = "below_clearing_price"  # pay-as-clear: bid under its node's price
    ALL_OR_NOTHING_NOT_MET = "all_or_nothing_not_met"  # no single trade could fill an AON side
    BELOW_MIN_ACCEPTANCE = "below_min_acceptance"  # a fill would undercut a min_power_w
    VOLUME_EXHAUSTED = "volume_exhausted"  # the matching counter-volume is used up
    ASSET_CAPACITY = "asset_capacity"  # a sell's asset has no prequalified power left in a slot
    EXPIRED = "expired"  # expiry <= clearing time; not considered
    ALREADY_FILLED = "already_filled"  # filled in full before this clearing; not considered
