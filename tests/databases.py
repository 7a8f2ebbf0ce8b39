"""The databases the oracle's tables are tested on: SQLite (embedded) and PostgreSQL.

PostgreSQL runs on 127.0.0.1:5432 on developer machines and in CI; when CI=true a missing
server fails the test instead of skipping it.
"""

import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from oracle.db import TABLES, make_engine

POSTGRES_URL = os.environ.get(
    "FLEXLEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def engine_for(backend: str, tmp_path: Path) -> Engine:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/oracle.db")
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    tables = [model.__table__ for model in TABLES]  # type: ignore[attr-defined]
    SQLModel.metadata.drop_all(engine, tables=tables)
    SQLModel.metadata.create_all(engine, tables=tables)
    return engine
