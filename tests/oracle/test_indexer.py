"""The indexer reads events incrementally, resumes from its cursor and never duplicates."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from oracle.indexer.indexer import EventIndexer
from oracle.indexer.models import IndexedEvent, IndexerCursor
from tests.world import World, new_world, publish_nodes, world_settings


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = new_world(world_settings(tmp_path))
    yield world
    world.close()


def stored(world: World, event: str) -> list[IndexedEvent]:
    with Session(world.oracle.engine) as session:
        query = select(IndexedEvent).where(IndexedEvent.event == event)
        return list(session.exec(query).all())


def test_indexes_every_event_once_and_resumes_from_the_cursor(world: World) -> None:
    publish_nodes(world, range(1, 4))
    world.oracle.drain()
    first = world.oracle.index()
    assert first.events >= 3 + 3  # three role grants, three nodes, plus the deployment's
    assert [e.block_number for e in stored(world, "NodeRegistered")] == sorted(
        e.block_number for e in stored(world, "NodeRegistered")
    )

    publish_nodes(world, range(4, 6))
    world.oracle.drain()
    second = world.oracle.index()
    assert second.from_block == first.to_block + 1
    assert second.events == 2
    assert world.oracle.index().events == 0  # nothing new, nothing re-read
    assert len(stored(world, "NodeRegistered")) == 5


def test_a_new_indexer_continues_where_the_last_stopped(world: World) -> None:
    publish_nodes(world, range(1, 3))
    world.oracle.drain()
    world.oracle.index()
    restarted = EventIndexer(world.oracle.engine, world.oracle.suite, chunk_blocks=2)
    publish_nodes(world, range(3, 6))
    world.oracle.drain()
    report = restarted.run_once()
    assert report.events == 3
    node_ids = sorted(json.loads(e.args)["nodeId"] for e in stored(world, "NodeRegistered"))
    assert node_ids == [1, 2, 3, 4, 5]
    with Session(world.oracle.engine) as session:
        cursors = session.exec(select(IndexerCursor)).all()
    assert len(cursors) == 1 and cursors[0].last_block == report.to_block


def test_decoded_arguments_are_plain_json(world: World) -> None:
    world.oracle.index()
    grants = stored(world, "RoleGranted")
    assert grants and all('"credentialHash": "0x' in g.args for g in grants)
