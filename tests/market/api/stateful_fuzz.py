"""Stateful Schemathesis over the whole API: scenarios of calls chained by OpenAPI links.

Schemathesis builds a Hypothesis state machine from the schema: each rule is one operation,
and a rule may take its path parameters from an earlier response through a link, declared
(``market/api/links.py``: ``POST /orders`` -> ``GET``/``DELETE /orders/{order_hash}``, ...)
or inferred from matching names (``GET /assets`` -> ``GET /assets/{asset_id}``). The world
is the market cast of the API tests (two DSOs with grids, two FSPs with mapped assets, an
auditor) plus a few real orders, so links land on rows that exist. One actor's scenarios
run with that actor's bearer token; after each scenario the pump runs one round, so writes
reach the chain and come back through the sync as they would under ``flexledger serve``.

Nothing but server errors is checked: a 5xx is recorded with the operation and the request
that caused it, and the run goes on, so one run reports every 5xx rather than the first.
The test (CI-sized) and ``benchmarks/schemathesis_stateful.py`` (minutes) share this code.
"""

import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.core.transport import Response
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepInput, StepOutput

from market.db.models import OrganisationKind
from tests.market.api.market_cast import HOUSE_A, MarketCast, buy, fresh_slot, placed, sell
from tests.market.api.platform_world import Actor

# Logging out or revoking one's own sessions ends the run's token: test_sessions.py covers them.
SESSION_ENDING = r"/auth/(logout|revoke)$"
SERVER_ERROR = 500
REQUEST_EXCERPT_CHARS = 300


@dataclass
class Figures:
    """What one actor's stateful run did."""

    actor: str
    scenarios: int = 0
    calls: int = 0
    links_followed: int = 0  # calls whose parameters came from an earlier response
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    pump_errors: int = 0
    restarted_rounds: int = 0  # rounds Hypothesis ended as flaky: the API's state moved on
    wall_s: float = 0.0

    def record(self, step: StepInput, response: Response, raised: str) -> None:
        self.calls += 1
        if step.transition is not None and step.is_applied:
            self.links_followed += 1
        self.statuses[response.status_code] += 1
        self.operations[step.case.operation.label] += 1
        if response.status_code >= SERVER_ERROR:
            self.server_errors.append(f"{_describe(step, response)} [{raised}]")

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "scenarios": self.scenarios,
            "calls": self.calls,
            "links_followed": self.links_followed,
            "server_errors": len(self.server_errors),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "operations_called": len(self.operations),
            "pump_errors": self.pump_errors,
            "restarted_rounds": self.restarted_rounds,
            "wall_s": round(self.wall_s, 1),
            "first_server_errors": self.server_errors[:10],
        }


Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


class AnswerServerErrors:
    """The app as uvicorn runs it: an exception the app lets through was already answered
    500 by Starlette's ServerErrorMiddleware, which then re-raises it for the server to log.
    In process the re-raise would end the run; here it is logged in ``raised`` (the last
    frame and the message) and the 500 stands."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.raised: list[str] = []

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            self.raised.append(
                f"{type(error).__name__}: {error} at {frame.filename}:{frame.lineno}"
            )


def _describe(step: StepInput, response: Response) -> str:
    """The failing operation and the request that made it fail, short enough for a report."""
    case = step.case
    request = (
        f"path={case.path_parameters} query={case.query} body={str(case.body)[:200]}"
        if case.body is not None
        else f"path={case.path_parameters} query={case.query}"
    )
    via = f" via {step.transition.id}" if step.transition is not None else ""
    text = response.text[:REQUEST_EXCERPT_CHARS] if response.text else ""
    return f"{case.operation.label}{via}: {response.status_code} {request} -> {text}"


def seed_orders(cast: MarketCast, count: int) -> list[str]:
    """Real orders of the DSO and of FSP alpha, so links reach rows that exist."""
    hashes = []
    for number in range(count):
        slot = fresh_slot(cast.world)
        bid = buy(cast.dso, HOUSE_A, slot, 2_000 + number, 30_000)
        offer = sell(cast, cast.alpha, "battery", slot, 2_000, 10_000)
        hashes.extend((placed(cast, cast.dso, bid), placed(cast, cast.alpha, offer)))
    cast.world.settle()
    return hashes


def actors(cast: MarketCast) -> dict[str, Actor]:
    """The run's roles, in the order they run: the operator last, since its approvals and
    revocations change what the others may do. Each signs in afresh: an earlier run may
    have logged the cast's sessions out (``POST /auth/logout``, ``/auth/revoke``)."""
    roles = {
        OrganisationKind.FSP.value: cast.alpha,
        OrganisationKind.DSO.value: cast.dso,
        "operator": cast.world.operator,
    }
    return {name: cast.world.sign_in(actor.wallet) for name, actor in roles.items()}


def machine_for(
    cast: MarketCast, headers: dict[str, str], figures: Figures
) -> type[APIStateMachine]:
    """The schema's state machine, calling as one actor and recording into ``figures``."""
    app = AnswerServerErrors(cast.world.client.app)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    base = schema.exclude(path_regex=SESSION_ENDING).as_state_machine()
    platform = cast.world.platform

    class ActorMachine(base):  # type: ignore[misc, valid-type]
        def step(self, input: StepInput) -> StepOutput:
            response = self.call(input.case, headers=headers)
            self.after_call(response, input.case)
            figures.record(input, response, app.raised[-1] if app.raised else "")
            app.raised.clear()
            return StepOutput(response, input.case)

        def teardown(self) -> None:
            figures.scenarios += 1
            report, _ = platform.pump()  # one round, as serve's pump would run meanwhile
            figures.pump_errors += len(report.errors)

    return ActorMachine


def run_actor(
    cast: MarketCast,
    name: str,
    actor: Actor,
    *,
    scenarios_per_round: int,
    steps_per_scenario: int,
    seconds: float,
    max_rounds: int,
    progress: Callable[[Figures], None] | None = None,
) -> Figures:
    """Rounds of ``scenarios_per_round`` scenarios for one actor until ``seconds`` have
    passed (at least one round, at most ``max_rounds``). Like schemathesis' own runner, a
    round that Hypothesis ends as flaky (a rule's precondition or bundle differs from an
    earlier draw, because the API's state changed) is counted and the next one starts."""
    figures = Figures(name)
    machine = machine_for(cast, actor.headers, figures)
    options = settings(
        max_examples=scenarios_per_round,
        stateful_step_count=steps_per_scenario,
        phases=[Phase.generate],  # no replay or shrinking: the API's state is not replayable
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=False,
    )
    started = time.monotonic()
    for _ in range(max_rounds):
        try:
            machine.run(settings=options)
        except Flaky:  # a scenario drew differently on a changed state; schemathesis restarts too
            figures.restarted_rounds += 1
        figures.wall_s = time.monotonic() - started
        if progress is not None:
            progress(figures)
        if figures.wall_s >= seconds:
            break
    return figures
