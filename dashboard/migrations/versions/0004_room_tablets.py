"""room tablets and physicians' tablet PINs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tablets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=128), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("pairing_hash", sa.String(length=64), nullable=True),
        sa.Column("pairing_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("paired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("unlocked_by", sa.Integer(), nullable=True),
        sa.Column("unlocked_encounter_id", sa.Integer(), nullable=True),
        sa.Column("unlocked_active_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_tablets_room_id_rooms")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tablets_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_tablets_revoked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["unlocked_by"], ["users.id"], name=op.f("fk_tablets_unlocked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["unlocked_encounter_id"],
            ["encounters.id"],
            name=op.f("fk_tablets_unlocked_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tablets")),
        sa.UniqueConstraint("pairing_hash", name=op.f("uq_tablets_pairing_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tablets_token_hash")),
    )
    with op.batch_alter_table("tablets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tablets_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tablets_site"), ["site"], unique=False)

    op.create_table(
        "user_pins",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_pins_user_id_users")),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_user_pins_set_by_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_pins")),
    )


def downgrade() -> None:
    op.drop_table("user_pins")
    with op.batch_alter_table("tablets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tablets_site"))
        batch_op.drop_index(batch_op.f("ix_tablets_room_id"))
    op.drop_table("tablets")
