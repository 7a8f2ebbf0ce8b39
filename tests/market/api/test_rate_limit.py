"""Rate limits: a token bucket per signed-in participant, and one per client host for callers
without a session. One participant running out leaves every other caller unaffected."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from market.api import create_app
from market.platform import RateLimit
from tests.market.api.platform_world import Actor, PlatformWorld

BURST = 3
PER_SECOND = 0.01  # a token back every 100 s: nothing refills while the test runs


@pytest.fixture
def limited(world: PlatformWorld) -> Iterator[TestClient]:
    """A second app on the same platform whose limiter allows ``BURST`` requests."""
    default = world.platform.rate_limit
    world.platform.rate_limit = RateLimit(per_second=PER_SECOND, burst=BURST)
    try:
        app = create_app(world.platform)  # reads the platform's limit once, here
    finally:
        world.platform.rate_limit = default
    client = TestClient(app, base_url=str(world.client.base_url))
    yield client
    client.close()


def _me(client: TestClient, actor: Actor) -> int:
    return client.get("/api/v1/auth/me", headers=actor.headers).status_code


def test_a_participant_over_its_limit_gets_429_with_retry_after(
    world: PlatformWorld, limited: TestClient
) -> None:
    greedy = world.new_actor()
    assert [_me(limited, greedy) for _ in range(BURST)] == [200] * BURST
    refused = limited.get("/api/v1/auth/me", headers=greedy.headers)
    assert refused.status_code == 429
    assert refused.json()["detail"][0]["type"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 1 / PER_SECOND


def test_other_participants_and_anonymous_callers_are_unaffected(
    world: PlatformWorld, limited: TestClient
) -> None:
    greedy, patient = world.new_actor(), world.new_actor()
    for _ in range(BURST + 2):
        _me(limited, greedy)
    assert _me(limited, greedy) == 429
    assert _me(limited, patient) == 200
    assert limited.get("/api/v1/markets").status_code == 200  # the host's own bucket
    assert _me(world.client, greedy) == 200  # another app, another limiter


def test_anonymous_callers_share_their_hosts_bucket_but_not_with_participants(
    world: PlatformWorld, limited: TestClient
) -> None:
    statuses = [limited.get("/api/v1/markets").status_code for _ in range(BURST + 1)]
    assert statuses == [200] * BURST + [429]
    forged = {"Authorization": "Bearer forged"}  # an invalid session counts as anonymous
    assert limited.get("/api/v1/markets", headers=forged).status_code == 429
    assert _me(limited, world.new_actor()) == 200


def test_the_activation_stream_handshake_is_limited_too(
    world: PlatformWorld, limited: TestClient
) -> None:
    greedy = world.new_actor()
    for _ in range(BURST):
        _me(limited, greedy)
    token = greedy.headers["Authorization"].removeprefix("Bearer ")
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        limited.websocket_connect(f"/api/v1/activations/stream?token={token}"),
    ):
        pass
    assert denied.value.status_code == 429
    assert int(denied.value.headers["Retry-After"]) >= 1
