"""orders: an index for the per-asset capacity check (issue 7)

Placement sums the power an asset already offers per slot and direction
(``market.orders``), reading the asset's sells by ``asset``; without an index that read
scans every order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 21:00:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("market_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_order_asset"), ["asset"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_order_asset"))
