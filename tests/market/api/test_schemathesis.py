"""Schemathesis over the OpenAPI schema: generated requests never cause a server error.

Requests go in as an FSP and as the market operator (the roles with the most writes), so
generated bodies reach the handlers rather than stopping at authentication. The operations
are driven one by one with Hypothesis (schemathesis' pytest plugin does not run under
pytest 9 yet).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from market.db.models import OrganisationKind
from tests.market.api.platform_world import Actor, PlatformWorld, start

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformWorld, Actor]]:
    running = start(Path(tmp_path_factory.mktemp("fuzz")))
    fsp = running.onboard(OrganisationKind.FSP, "Fuzz FSP")
    yield running, fsp
    running.close()


def test_no_server_errors(fuzz_world: tuple[PlatformWorld, Actor]) -> None:
    world, fsp = fuzz_world
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
