"""market.baselines: baseline methods, the baseline hash and their accuracy on history.

    from market.baselines import x_of_y, baseline_hash, compare_methods, BaselineMethod

    baseline = x_of_y(history_wh, event_slots, x=4, y=5, high=True, adjustment_slots=4)
    digest = baseline_hash(fsp, "asset-17", BaselineMethod.HIGH_X_OF_Y, baseline)
    reports = compare_methods(history_wh, days=20)   # {method: AccuracyReport}

Series are ``Mapping[int, int]``: slot start (unix s, UTC, multiple of 900) -> Wh, consumption
positive. Formulas: :mod:`market.baselines.methods`; hash encoding:
:mod:`market.baselines.hashing`; error measures: :mod:`market.baselines.accuracy`. Bad input
raises :class:`BaselineError` (a ``ValueError``) naming the field. Pure functions: no I/O.
"""

from market.baselines.accuracy import (
    COMPUTABLE,
    AccuracyReport,
    EvaluationWindow,
    backtest,
    compare_methods,
    evaluation_windows,
)
from market.baselines.compute import MethodParams, compute_baseline
from market.baselines.errors import BaselineError
from market.baselines.hashing import DOMAIN_TAG, baseline_hash
from market.baselines.methods import (
    DEFAULT_TZ,
    meter_before,
    meter_before_after,
    nominated,
    x_of_y,
)
from market.baselines.series import EnergySeries
from market.baselines.vocab import BaselineMethod

__all__ = [
    "COMPUTABLE",
    "DEFAULT_TZ",
    "DOMAIN_TAG",
    "AccuracyReport",
    "BaselineError",
    "BaselineMethod",
    "EnergySeries",
    "EvaluationWindow",
    "MethodParams",
    "backtest",
    "baseline_hash",
    "compare_methods",
    "compute_baseline",
    "evaluation_windows",
    "meter_before",
    "meter_before_after",
    "nominated",
    "x_of_y",
]
