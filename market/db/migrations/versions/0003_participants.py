"""participants: role revocation mirror, licence-area decisions (issue 7)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # OrganisationStatus gains REVOKED. SQLite stores the enum as VARCHAR(8) without a check
    # constraint; PostgreSQL has a native enum type that needs the new value.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE organisationstatus ADD VALUE IF NOT EXISTS 'REVOKED'")
    with op.batch_alter_table("market_organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("licence_conflicts", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("overlap_accepted", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; a REVOKED row must be changed before downgrading.
    with op.batch_alter_table("market_organisation", schema=None) as batch_op:
        batch_op.drop_column("overlap_accepted")
        batch_op.drop_column("licence_conflicts")
