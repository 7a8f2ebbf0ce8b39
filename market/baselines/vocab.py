"""The closed vocabulary of baseline methods, in one place (its values go into the hash)."""

from enum import StrEnum


class BaselineMethod(StrEnum):
    """How a baseline is made (formulas in :mod:`market.baselines.methods`)."""

    NOMINATED = "nominated"  # FSP-provided values, hash locked on chain before gate closure
    X_OF_Y = "x_of_y"  # average of the X most recent of Y eligible days
    HIGH_X_OF_Y = "high_x_of_y"  # average of the X highest of Y eligible days (PJM, NYISO)
    METER_BEFORE = "meter_before"  # last n slots before activation, held flat
    METER_BEFORE_AFTER = "meter_before_after"  # mean of n slots before and n slots after
