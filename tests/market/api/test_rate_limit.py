"""Rate limits: a token bucket per registered participant, and one per client host for
callers without a session or without an active organisation (a fresh wallet costs nothing,
so it must not bring a fresh bucket). One participant running out leaves every other
registered participant unaffected, and the bucket table stays bounded."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from market.api import create_app
from market.api.ratelimit import RateLimiter
from market.db.models import OrganisationKind
from market.errors import RateLimitedError
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


@pytest.fixture(scope="module")
def fsps(world: PlatformWorld) -> tuple[Actor, Actor]:
    """Two registered, active participants: each has a bucket of its own."""
    return (
        world.onboard(OrganisationKind.FSP, "Greedy FSP"),
        world.onboard(OrganisationKind.FSP, "Patient FSP"),
    )


def _me(client: TestClient, actor: Actor) -> int:
    return client.get("/api/v1/auth/me", headers=actor.headers).status_code


def test_a_participant_over_its_limit_gets_429_with_retry_after(
    fsps: tuple[Actor, Actor], limited: TestClient
) -> None:
    greedy = fsps[0]
    assert [_me(limited, greedy) for _ in range(BURST)] == [200] * BURST
    refused = limited.get("/api/v1/auth/me", headers=greedy.headers)
    assert refused.status_code == 429
    assert refused.json()["detail"][0]["type"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 1 / PER_SECOND


def test_other_participants_and_anonymous_callers_are_unaffected(
    world: PlatformWorld, fsps: tuple[Actor, Actor], limited: TestClient
) -> None:
    greedy, patient = fsps
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
    assert _me(limited, world.operator) == 200  # the market operator has its own


def test_fresh_wallets_spend_their_hosts_bucket(world: PlatformWorld, limited: TestClient) -> None:
    """The regression: each new wallet (signing in is free) had a full bucket of its own."""
    statuses = [_me(limited, world.new_actor()) for _ in range(BURST + 1)]
    assert statuses == [200] * BURST + [429]
    assert limited.get("/api/v1/markets").status_code == 429  # the same host bucket
    assert limited.get("/api/v1/auth/nonce").status_code == 429  # sign-in spends it too


def test_the_activation_stream_handshake_is_limited_too(
    fsps: tuple[Actor, Actor], limited: TestClient
) -> None:
    greedy = fsps[1]
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


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buckets_that_refilled_to_full_are_dropped() -> None:
    clock = _Clock()
    limiter = RateLimiter(RateLimit(per_second=1.0, burst=2), clock)
    for key in ("a", "b", "c"):
        limiter.take(key)
    assert len(limiter) == 3
    clock.now = 1.5  # not yet full again (2 tokens take 2 s)
    limiter.take("d")
    assert len(limiter) == 4
    clock.now = 2.0  # a, b and c have refilled: a new bucket would be the same
    limiter.take("a")
    assert len(limiter) == 2  # a (spent again) and d


def test_the_bucket_table_is_bounded_least_recently_used_first() -> None:
    clock = _Clock()
    limiter = RateLimiter(RateLimit(per_second=0.001, burst=1), clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.take(key)
    with pytest.raises(RateLimitedError):
        limiter.take("a")  # a is now the most recently used
    limiter.take("d")  # evicts b, the least recently used
    assert len(limiter) == 3
    with pytest.raises(RateLimitedError):
        limiter.take("a")  # kept: still empty
    limiter.take("b")  # evicted, so it starts full again
    for key in range(1000):
        limiter.take(f"wallet-{key}")
    assert len(limiter) == 3
