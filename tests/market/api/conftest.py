from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.market.api.platform_world import PlatformWorld, start


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformWorld]:
    running = start(Path(tmp_path_factory.mktemp("platform")))
    yield running
    running.close()
