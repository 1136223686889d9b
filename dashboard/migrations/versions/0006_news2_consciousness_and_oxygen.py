"""encounters: consciousness (ACVPU), supplemental oxygen and SpO2 scale, for NEWS2

Recorded by the assistant at rooming; each is NULL until assessed, and the briefing's NEWS2
then says what it assumed (alert, room air, scale 1).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("encounters") as batch:
        batch.add_column(sa.Column("consciousness", sa.String(length=1), nullable=True))
        batch.add_column(sa.Column("on_oxygen", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("spo2_scale", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("encounters") as batch:
        batch.drop_column("spo2_scale")
        batch.drop_column("on_oxygen")
        batch.drop_column("consciousness")
