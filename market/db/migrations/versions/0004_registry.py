"""registry: flagged chain events (issue 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_chain_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("args", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tx_hash", sqlmodel.sql.sqltypes.AutoString(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("market_chain_flag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_chain_flag_event"), ["event"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_chain_flag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_chain_flag_event"))
    op.drop_table("market_chain_flag")
