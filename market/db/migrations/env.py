"""Alembic environment for the market's tables (the oracle creates its own tables)."""

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from market.db.models import TABLES

TARGET = SQLModel.metadata
MARKET_TABLES = {model.__tablename__ for model in TABLES}


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    if type_ == "table":
        return name in MARKET_TABLES
    return True


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as fresh:
        _run(fresh)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET,
        include_object=include_object,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        version_table="market_alembic_version",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
