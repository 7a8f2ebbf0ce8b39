"""Database set-up for the platform: the oracle's tables, then the market's migrations."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from market.db.models import TABLES

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "market_alembic_version"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the market's tables to the newest migration (idempotent)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending_model_changes(engine: Engine) -> list[object]:
    """Differences between the migrated schema and the models (empty when in step)."""
    names = {model.__tablename__ for model in TABLES}
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": lambda obj, name, type_, *_: type_ != "table" or name in names,
                "version_table": VERSION_TABLE,
            },
        )
        diff: list[object] = compare_metadata(context, SQLModel.metadata)
    return diff
