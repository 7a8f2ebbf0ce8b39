"""Contract test fixtures: one deployment per session, rolled back after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contracts.world import World, deploy_world


@pytest.fixture(scope="session")
def deployed() -> World:
    """The six contracts deployed once, with roles, grid nodes and assets."""
    return deploy_world()


@pytest.fixture
def world(deployed: World) -> Iterator[World]:
    """The deployed world; every change a test makes is reverted afterwards."""
    snapshot = deployed.tester.take_snapshot()
    yield deployed
    deployed.tester.revert_to_snapshot(snapshot)
