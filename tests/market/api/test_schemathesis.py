"""Schemathesis over the OpenAPI schema: generated requests never cause a server error.

Two runs: every operation alone (requests as an FSP and as the market operator, the roles
with the most writes, so generated bodies reach the handlers rather than stopping at
authentication), and stateful scenarios that chain calls along the schema's OpenAPI links
as an FSP, a DSO and the operator (tests/market/api/stateful_fuzz.py; a CI-sized run here,
minutes in benchmarks/schemathesis_stateful.py). The operations are driven with Hypothesis
directly (schemathesis' pytest plugin does not run under pytest 9 yet).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.market.api.market_cast import MarketCast, build_cast
from tests.market.api.platform_world import start
from tests.market.api.stateful_fuzz import actors, run_actor, seed_orders

EXAMPLES_PER_OPERATION = 25
STATEFUL_SECONDS_PER_ACTOR = 15.0  # the CI run: about a minute for the three actors
STATEFUL_SCENARIOS_PER_ROUND = 10
STATEFUL_STEPS_PER_SCENARIO = 8
STATEFUL_MAX_ROUNDS = 20


@pytest.fixture(scope="module")
def fuzz_cast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketCast]:
    """Grids, mapped assets and a few orders, so that generated ids can hit real rows."""
    cast = build_cast(start(Path(tmp_path_factory.mktemp("fuzz")), rate_limit_burst=100_000))
    seed_orders(cast, count=3)
    yield cast
    cast.world.close()


def test_no_server_errors(fuzz_cast: MarketCast) -> None:
    world, fsp = fuzz_cast.world, fuzz_cast.alpha
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.client.app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            for headers in (fsp.headers, world.operator.headers):
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as error:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)


def test_stateful_links_no_server_errors(fuzz_cast: MarketCast) -> None:
    """Scenarios along the links, as an FSP, a DSO and the operator: links are followed
    (the declared ones of market/api/links.py among them) and no call answers 5xx."""
    errors: list[str] = []
    for name, actor in actors(fuzz_cast).items():
        figures = run_actor(
            fuzz_cast,
            name,
            actor,
            scenarios_per_round=STATEFUL_SCENARIOS_PER_ROUND,
            steps_per_scenario=STATEFUL_STEPS_PER_SCENARIO,
            seconds=STATEFUL_SECONDS_PER_ACTOR,
            max_rounds=STATEFUL_MAX_ROUNDS,
        )
        assert figures.calls > figures.scenarios, figures.as_dict()  # chained, not single calls
        assert figures.links_followed > 0, figures.as_dict()
        errors.extend(f"{name}: {error}" for error in figures.server_errors)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("path", ["/baselines", "/baselines/batch"])
def test_baseline_period_past_the_calendar_is_refused(fuzz_cast: MarketCast, path: str) -> None:
    """Found by the stateful run: a period start past year 9999 (2**40 s was allowed) made
    the method's messages format a date Python cannot hold, and the request answered 500."""
    entry = {
        "asset_id": fuzz_cast.assets["battery"],
        "method": "meter_before",
        "period_start": 364_178_186_100,
        "slot_count": 4,
    }
    body = {"baselines": [entry]} if path.endswith("batch") else entry
    fsp = fuzz_cast.world.sign_in(fuzz_cast.alpha.wallet)  # the fuzz runs log sessions out
    response = fuzz_cast.world.client.post(f"/api/v1{path}", json=body, headers=fsp.headers)
    assert response.status_code == 422, response.text
    assert "period_start" in response.json()["detail"][0]["loc"]
