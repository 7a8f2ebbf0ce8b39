"""scheduler: market jobs done (issue 7)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_scheduler_job",
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("market", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["market_clearing_run.id"]),
        sa.PrimaryKeyConstraint("job", "market", "period_start"),
    )


def downgrade() -> None:
    op.drop_table("market_scheduler_job")
