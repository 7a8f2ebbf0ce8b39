"""baselines and metering: disputes, corrections, portfolios (issue 7)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("market_baseline", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("flag_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("disputed_by", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "dispute_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
            )
        )
        batch_op.add_column(sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_market_baseline_flagged"), ["flagged"], unique=False)

    op.create_table(
        "market_meter_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_point_id", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=False),
        sa.Column("slot_start", sa.BigInteger(), nullable=False),
        sa.Column("old_wh", sa.BigInteger(), nullable=False),
        sa.Column("new_wh", sa.BigInteger(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("corrected_by", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["corrected_by"], ["market_organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("market_meter_correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_market_meter_correction_meter_point_id"),
            ["meter_point_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_market_meter_correction_slot_start"), ["slot_start"], unique=False
        )

    op.create_table(
        "market_portfolio",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("asset_id", sqlmodel.sql.sqltypes.AutoString(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["market_asset.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["market_organisation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("asset_id"),
    )
    with op.batch_alter_table("market_portfolio", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_market_portfolio_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "market_portfolio_member",
        sa.Column("asset_id", sqlmodel.sql.sqltypes.AutoString(length=42), nullable=False),
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["market_asset.id"]),
        sa.ForeignKeyConstraint(["portfolio_id"], ["market_portfolio.id"]),
        sa.PrimaryKeyConstraint("asset_id"),
    )
    with op.batch_alter_table("market_portfolio_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_market_portfolio_member_portfolio_id"), ["portfolio_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("market_portfolio_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_portfolio_member_portfolio_id"))
    op.drop_table("market_portfolio_member")
    with op.batch_alter_table("market_portfolio", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_portfolio_owner_id"))
    op.drop_table("market_portfolio")
    with op.batch_alter_table("market_meter_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_meter_correction_slot_start"))
        batch_op.drop_index(batch_op.f("ix_market_meter_correction_meter_point_id"))
    op.drop_table("market_meter_correction")
    with op.batch_alter_table("market_baseline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_baseline_flagged"))
        batch_op.drop_column("disputed_at")
        batch_op.drop_column("dispute_reason")
        batch_op.drop_column("disputed_by")
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flagged")
